//! The integration tests of this crate as one test binary (one link, not one per file):
//! each file of `tests/` is a module here.

mod bn_common;
mod common;

mod batch_norm;
mod batch_norm_shards;
mod catalogue;
mod catalogue_planted;
mod collective;
mod composite;
mod conv2d_op;
mod global_avg_pool;
mod gradcheck;
mod memory;
mod new_ops;
mod op_gradients;
mod recompute;
mod tape;
mod torch_fixture;
mod vjp_literals;
