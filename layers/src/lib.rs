//! Modules, optimizers and checkpoints (work in progress: see issue 4).
