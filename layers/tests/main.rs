//! The integration tests of this crate as one test binary (one link, not one per file):
//! each file of `tests/` is a module here.

mod common;

mod avg_pool_and_activations;
mod batch_norm;
mod build;
mod checkpoint;
mod dense_chain;
mod dropout;
mod folded_batch_norm;
mod gap_and_bias_free_conv;
mod module_api;
mod module_gradcheck;
mod modules_forward;
mod modules_gradients;
mod optimizers;
mod pair_chain;
mod pooled_chain;
mod pytorch_fixture;
mod residual;
mod train_small_cnn;
