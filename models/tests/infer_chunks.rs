//! `train::infer` splits a batch over threads and each thread's share into calls of at
//! most `INFER_CHUNK` images: on a batch of 150 (whole chunks and a remainder on 1, 2 and 3
//! threads) a residual network with batch norm and a plain chain in evaluation give each
//! image the output of its own one-image prediction, bit for bit, and the recorded ops'
//! output (nothing fused) within f32 rounding.

use autograd::Tape;
use layers::Module;
use models::arch::Arch;
use models::train::{INFER_CHUNK, infer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

const NETWORKS: [&str; 2] = [
    "conv(16,3,p=1,bias=false) batchnorm relu res(conv(16,3,p=1,bias=false) batchnorm relu conv(16,3,p=1,bias=false) batchnorm) relu gap flatten linear(10)",
    "conv(8,5) relu maxpool(2) conv(16,3,p=1) relu flatten linear(10)",
];

#[test]
fn chunks_and_threads_give_each_image_its_own_prediction() {
    let n = 2 * INFER_CHUNK + 22;
    for spec in NETWORKS {
        let mut rng = StdRng::seed_from_u64(3);
        let mut model = spec.parse::<Arch>().unwrap().build::<f32, _>([1, 12, 12], Some(10), &mut rng).unwrap();
        // Training batches so that the running statistics are not the initial ones.
        for seed in 0..2 {
            let x = Tensor::<f32>::rand_normal(&[8, 1, 12, 12], 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap();
            model.forward(Tape::new().constant(x)).unwrap();
        }
        model.set_training(false);
        let x = Tensor::<f32>::rand_normal(&[n, 1, 12, 12], 0.0, 1.0, &mut rng).unwrap();
        let alone: Vec<f32> =
            (0..n).flat_map(|i| model.predict(&x.narrow(0, i, 1).unwrap()).unwrap().to_vec()).collect();
        let recorded = model.forward(Tape::new().constant(x.clone())).unwrap().value().to_vec();
        for (a, r) in alone.iter().zip(&recorded) {
            assert!((a - r).abs() <= 1e-4 * (1.0 + r.abs()), "{spec}: {a} vs recorded {r}");
        }
        for threads in [1, 2, 3] {
            let y = infer(model.as_ref(), &x, threads).unwrap();
            assert_eq!(y.shape(), [n, 10]);
            assert_eq!(y.to_vec(), alone, "{spec} on {threads} threads");
        }
    }
}
