//! Reverse-mode automatic differentiation with hand-derived vector-Jacobian rules.
//!
//! A [`Tape`] records one forward pass. [`Var`]s are `Copy` handles to values on it; each
//! op is a method on `Var` that computes its value with the `tensor` crate and records an
//! [`Op`] holding its VJP. [`Tape::backward`] walks the tape once in reverse and returns
//! [`Gradients`]. Each op lives in one file under `ops/` with its forward method, its VJP
//! and the VJP's matrix formula; nothing is differentiated symbolically.
//!
//! **Ownership.** Parameters ([`Param`]) live outside the tape, owned by the modules that
//! use them, and are brought onto a tape per step with [`Tape::param`] (sharing storage,
//! no copy). The tape is per step and uses interior mutability, so ops take `Var`s by
//! value and a model's forward pass needs no `&mut` and no `Rc<RefCell>` on tensors; the
//! `'t` lifetime of a `Var` keeps it from outliving its tape. Gradients are returned in a
//! value that borrows nothing, so the tape can be dropped before the optimizer writes the
//! parameters in place.
//!
//! **Shards.** A batch split across threads is recorded on one tape per shard. Ops that
//! need the whole batch (batch normalisation) join the shards through a [`ReduceGroup`]; a
//! layer finds the group, its shard and the step's random-stream keys in the tape's
//! [`StepContext`] ([`Tape::with_context`], [`Tape::context`]).
//!
//! **Checking.** [`gradcheck()`] compares the tape's gradients with central differences in
//! f64; `strategies` (feature `proptest`, on by default) gives proptest strategies for
//! tensors, shapes and convolution/pooling geometries, for property tests of your own.
//!
//! ```
//! use autograd::Tape;
//! use tensor::Tensor;
//! let tape = Tape::<f64>::new();
//! let x = tape.leaf(Tensor::from_vec(&[2, 2], vec![1.0, -2.0, 3.0, 4.0])?);
//! let w = tape.leaf(Tensor::from_vec(&[2, 1], vec![0.5, -1.0])?);
//! let loss = x.matmul(w)?.relu()?.sum()?; // relu([2.5, -2.5]) summed
//! let grads = tape.backward(loss)?;
//! // ∇w = xᵀ·(∇z ⊙ 1(z > 0)) = xᵀ·[1, 0]ᵀ
//! assert_eq!(grads.get(w).unwrap().to_vec(), vec![1.0, -2.0]);
//! # Ok::<(), autograd::AutogradError>(())
//! ```

#[cfg(feature = "proptest")]
pub mod catalogue;
mod collective;
mod context;
mod error;
mod gradcheck;
mod gradients;
mod kept;
mod op;
mod ops;
mod param;
#[cfg(feature = "proptest")]
pub mod strategies;
mod tape;

pub use collective::{AbortOnPanic, ReduceGroup};
pub use context::StepContext;
pub use error::{AutogradError, Result};
pub use gradcheck::{
    ElementMismatch, GradcheckConfig, GradcheckError, GradcheckReport, InputReport, check_tensor, gradcheck,
};
pub use gradients::Gradients;
pub use kept::Kept;
pub use op::Op;
pub use ops::{BatchNormOutput, BatchStats, softmax_rows};
pub use param::{Param, ParamId};
pub use tape::{NoGradGuard, Tape, Var};
