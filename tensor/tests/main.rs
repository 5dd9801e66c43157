//! The integration tests of this crate as one test binary (one link, not one per file):
//! each file of `tests/` is a module here.

#[macro_use]
mod common;

mod activation;
mod avg_pool;
mod buffer_pool;
mod counter_rng;
mod display;
mod elementwise;
mod errors;
mod fused;
mod im2col;
mod matmul;
mod pool;
mod reduce;
mod views;
