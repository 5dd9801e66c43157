//! How many images [`infer`](super::infer) gives one `predict` call: as many as keep a
//! chunk's largest activation within one core's L2 cache, so that each layer reads its
//! input from cache rather than memory (a layer-by-layer pass over a batch whose
//! activations outgrow the cache streams every one of them twice), and no fewer than
//! [`MIN_CHUNK`], below which the per-call costs and the linear layers' short products
//! grow.

use layers::{Module, Part};

/// The most images one `predict` call takes in [`infer`](super::infer).
pub const INFER_CHUNK: usize = 64;

/// The fewest images a chunk is cut to (the chunk's size when the batch is larger).
const MIN_CHUNK: usize = 16;

/// The bytes a chunk's largest activation may take: one core's L2 cache here (2 MiB).
const CACHE_BYTES: usize = 2 << 20;

/// The chunk for `model` on images of shape `image` (without the batch axis): the largest
/// power of two from [`MIN_CHUNK`] to [`INFER_CHUNK`] whose largest activation (f32) fits
/// [`CACHE_BYTES`]. Small residual network (16 × 28 × 28 floats an image): 32, +5–7 % at
/// batch 64 and 256 on one thread; LeNet-5 (6 × 28 × 28): 64, which 32 slows by 5 %.
pub(super) fn infer_chunk<M: Module<f32> + ?Sized>(model: &M, image: &[usize]) -> usize {
    let input: Vec<usize> = std::iter::once(1).chain(image.iter().copied()).collect();
    let bytes = largest_activation(model, &input) * std::mem::size_of::<f32>();
    let mut chunk = INFER_CHUNK;
    while chunk > MIN_CHUNK && chunk * bytes > CACHE_BYTES {
        chunk /= 2;
    }
    chunk
}

/// The most elements of one activation inside `module` on `input` (a batch of one): its
/// input, its output, and each child's, the children taken in order as a chain; a child
/// that does not take the chain's shape (a residual block's shortcut) takes `input`. Shapes
/// a module cannot compute count as nothing: the chunk is a matter of speed only. (A module
/// whose `output_shape` runs its forward pass, [`layers::output_shape_by_forward`], runs
/// it here on one image per call of `infer`.)
pub(crate) fn largest_activation<M: Module<f32> + ?Sized>(module: &M, input: &[usize]) -> usize {
    let mut largest = input.iter().product::<usize>();
    if let Ok(out) = module.output_shape(input) {
        largest = largest.max(out.iter().product());
    }
    let mut shape = input.to_vec();
    module.visit(&mut |part| {
        if let Part::Child(_, child) = part {
            let (from, out) = match child.output_shape(&shape) {
                Ok(out) => (shape.clone(), Ok(out)),
                Err(_) => (input.to_vec(), child.output_shape(input)),
            };
            largest = largest.max(largest_activation(child, &from));
            if let Ok(out) = out {
                shape = out;
            }
        }
    });
    largest
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::{infer_chunk, largest_activation};
    use crate::arch::Arch;

    /// The largest activation counted by hand from each spec (the first convolution's output
    /// in all three, the residual block's shortcut and body included), and the chunk it gives.
    #[test]
    fn chunks_keep_the_largest_activation_in_cache() {
        let cases = [
            (
                "conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) flatten linear(120) relu linear(10)",
                [1, 32, 32],
                6 * 28 * 28,
                64,
            ),
            (
                "conv(16,3,p=1,bias=false) batchnorm relu res(conv(16,3,p=1,bias=false) batchnorm relu conv(16,3,p=1,bias=false) batchnorm) relu res(conv(32,3,s=2,p=1,bias=false) batchnorm | conv(32,1,s=2,bias=false) batchnorm) relu gap flatten linear(10)",
                [1, 28, 28],
                16 * 28 * 28,
                32,
            ),
            (
                "conv(32,3,p=1) relu conv(32,3,p=1) relu maxpool(2) conv(64,3,p=1) relu maxpool(2) flatten linear(10)",
                [3, 32, 32],
                32 * 32 * 32,
                16,
            ),
        ];
        for (spec, image, largest, chunk) in cases {
            let model =
                spec.parse::<Arch>().unwrap().build::<f32, _>(image, Some(10), &mut StdRng::seed_from_u64(1)).unwrap();
            let input = [1, image[0], image[1], image[2]];
            assert_eq!(largest_activation(model.as_ref(), &input), largest, "{spec}");
            assert_eq!(infer_chunk(model.as_ref(), &image), chunk, "{spec}");
        }
    }
}
