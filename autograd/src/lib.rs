//! Reverse-mode automatic differentiation over `tensor` (work in progress: see issue 3).
