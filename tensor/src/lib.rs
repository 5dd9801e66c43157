//! Strided, generic n-dimensional tensors: the numeric floor of the workspace.
//!
//! A [`Tensor<T>`] is a shape, strides and an offset over storage shared through an `Arc`.
//! Reshape, permute, narrow, select and broadcast are views that copy nothing; writes are
//! copy-on-write. The element type is generic over [`Element`] (f32 to train, f64 to check
//! gradients). Matrix products go through `matrixmultiply`, which takes row and column
//! strides, so a transposed view is multiplied without being copied. [`im2col`] and
//! [`col2im`] turn a convolution into one matrix product and back, in the layout of the
//! batched-matrix derivation of LeNet-5; [`pool_windows`] and [`max_argmax_rows`] do the same
//! for max-pooling. Every operation a caller can misuse returns [`Result`] with a
//! [`TensorError`] that names the operation and the shapes.
//!
//! A thread that has entered a [`BufferPool`] (a training loop's) takes its large buffers
//! from it and they go back to it when dropped, so a step reuses the previous step's memory
//! instead of asking the allocator again.
//!
//! `f32` convolutions run on direct SIMD kernels (AVX-512F, AVX2 + FMA, or a portable
//! set), chosen once per process: see [`KernelPath`] and the `TENSOR_KERNELS` variable.
//!
//! ```
//! use tensor::{Tensor, Window2d, im2col};
//! let x = Tensor::<f32>::from_fn(&[1, 1, 3, 3], |i| (i[2] * 3 + i[3]) as f32)?;
//! let cols = im2col(&x, &Window2d::square(2, 1, 0))?;
//! assert_eq!(cols.shape(), &[4, 4]); // 2×2 output positions, 2×2 taps each
//! assert_eq!(cols.select(0, 0)?.to_vec(), vec![0.0, 1.0, 3.0, 4.0]);
//! let w = Tensor::<f32>::ones(&[4, 1])?;
//! assert_eq!(cols.matmul(&w)?.to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
//! # Ok::<(), tensor::TensorError>(())
//! ```

mod activation;
mod avg_pool;
mod buffer;
mod buffer_pool;
mod cast;
mod columns;
mod conv2d;
mod conv2d_backward;
mod conv_dense;
mod conv_pair;
mod conv_pool;
mod counter_rng;
mod direct;
mod display;
mod element;
mod elementwise;
mod error;
mod im2col;
mod kernels;
mod layout;
mod matmul;
mod max_pool;
mod planes;
mod pool;
mod random;
mod reduce;
mod tensor;
mod view;
mod widened;
mod window;

pub use activation::Activation;
pub use avg_pool::{avg_pool2d, avg_pool2d_backward};
pub use buffer_pool::{BufferPool, EnteredPool, IDLE_PER_PEAK, MIN_POOLED_BYTES, PoolStats};
pub use conv_dense::{Dense, conv2d_dense};
pub use conv_pair::{SecondConv, conv2d_pair};
pub use conv_pool::{Pooling, conv2d_pooled};
pub use conv2d::{Conv2dGrads, conv2d, conv2d_activated, conv2d_inference};
pub use conv2d_backward::{
    ConvInput, ImageSource, conv2d_activated_backward, conv2d_activated_backward_with, conv2d_backward,
};
pub use counter_rng::{CounterRng, splitmix64_mix};
pub use element::Element;
pub use error::{Result, TensorError};
pub use im2col::{col2im, col2im_into, im2col, im2col_into};
pub use kernels::KernelPath;
pub use layout::{broadcast_shapes, contiguous_strides, is_dense};
pub use matmul::gemm;
pub use max_pool::{PoolArgmax, max_pool2d, max_pool2d_backward, max_pool2d_values};
pub use pool::{max_argmax_rows, pool_max_backward, pool_windows, pool_windows_adjoint};
pub use reduce::lane_sum;
pub use tensor::Tensor;
pub use widened::{widened_squared_deviations, widened_sum, widened_sum_and_dot};
pub use window::{Window2d, WindowDims};
