//! A small non-LeNet network for the explorer's generic pass: padding, stride 2, an
//! overlapping padded max-pool, batch norm in both layouts with running statistics away from
//! 0 and 1, a padded average pool, every activation, dropout, flatten.

use autograd::Tape;
use layers::{Module, Sequential};
use models::arch::kinds::BatchNorm;
use models::arch::{Arch, LayerSpec, build_layers};
use models::data::Preprocess;
use models::explorer::Image;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::Tensor;

/// The spec (14 layers, 5 classes).
pub const SPEC: &str = "conv(4,3,p=1) batchnorm relu maxpool(3,s=2,p=1) conv(6,3,s=2,p=1) tanh avgpool(2,p=1) \
                        sigmoid flatten dropout(0.5) linear(8) batchnorm leakyrelu(0.1) linear(5)";
/// One image: 3×12×12.
pub const INPUT: [usize; 3] = [3, 12, 12];
/// The classes.
pub const CLASSES: usize = 5;

/// The spec's layers.
pub fn specs() -> Vec<LayerSpec> {
    SPEC.parse::<Arch>().unwrap().layers().to_vec()
}

/// The network with seeded weights, batch norm's γ, β and running statistics drawn too (so
/// that it is not the identity), in evaluation mode.
pub fn arch_net(seed: u64) -> Sequential<f32> {
    let specs = specs();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = build_layers::<f32, _>(&specs, INPUT, Some(CLASSES), &mut rng).unwrap();
    let mut draw = |n: usize, lo: f32, hi: f32| -> Tensor<f32> {
        Tensor::from_vec(&[n], (0..n).map(|_| rng.random_range(lo..hi)).collect()).unwrap()
    };
    for (name, b) in net.named_buffers() {
        let n = b.shape().iter().product();
        if name.ends_with("running_mean") {
            b.set(draw(n, -0.5, 0.5));
        } else if name.ends_with("running_var") {
            b.set(draw(n, 0.5, 2.0));
        }
    }
    for (name, p) in net.named_parameters_mut() {
        let i: usize = name.split('.').next().unwrap().parse().unwrap();
        if specs[i].is::<BatchNorm>() {
            let n = p.value.numel();
            p.value = if name.ends_with("weight") { draw(n, 0.5, 1.5) } else { draw(n, -0.3, 0.3) };
        }
    }
    net.set_training(false);
    net
}

/// How its images are preprocessed.
pub fn preprocess() -> Preprocess {
    Preprocess::new(0, vec![0.4, 0.5, 0.6], vec![0.25, 0.3, 0.2]).unwrap()
}

/// An image without ties between neighbours.
pub fn image() -> Image {
    let n: usize = INPUT.iter().product();
    Image((0..n).map(|i| ((i * 7919 + 13) % 251) as f32).collect())
}

/// `x: [1, 3, 12, 12]`, preprocessed.
pub fn input() -> Tensor<f32> {
    image().input(&preprocess(), INPUT).unwrap()
}

/// The output of every layer through the library's own `Module::forward`, layer by layer.
pub fn library_outputs(net: &Sequential<f32>, x: &Tensor<f32>) -> Vec<Vec<f32>> {
    let tape = Tape::no_grad();
    let mut h = tape.constant(x.clone());
    let mut out = Vec::new();
    for layer in net.layers() {
        h = layer.forward(h).unwrap();
        out.push(h.value().to_vec());
    }
    out
}
