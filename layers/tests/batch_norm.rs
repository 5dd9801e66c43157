//! `BatchNorm`: gradients against central differences in training mode (unsplit), the
//! batch split over 2 shards on 2 threads against the unsplit batch, evaluation mode and
//! the running statistics against naive loops, and the buffers through a checkpoint.

use crate::common;

use std::sync::Arc;

use autograd::{GradcheckConfig, ReduceGroup, StepContext, Tape, Var};
use common::{ScratchDir, assert_close, random_tensor};
use layers::checkpoint::{load_module, save_module};
use layers::gradcheck::gradcheck_module;
use layers::{BatchNorm, LayerError, Module};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::Tensor;

/// A layer with random `γ`, `β` (so the affine part is exercised), for `[N, C]` (`rank` 2)
/// or `[N, C, H, W]` (`rank` 4).
fn layer(rank: usize, channels: usize, seed: u64) -> BatchNorm<f64> {
    let mut bn = if rank == 2 { BatchNorm::new_1d(channels) } else { BatchNorm::new_2d(channels) }.unwrap();
    bn.weight.value = random_tensor(&[channels], seed).map(|v| 1.0 + 0.5 * v);
    bn.bias.value = random_tensor(&[channels], seed + 1);
    bn
}

/// A random shape `[N, C]` or `[N, C, H, W]` with at least two samples.
fn random_shape(rng: &mut StdRng, rank: usize) -> Vec<usize> {
    let mut shape = vec![rng.random_range(2..6), rng.random_range(1..4)];
    if rank == 4 {
        shape.extend([rng.random_range(1..4), rng.random_range(1..4)]);
    }
    shape
}

#[test]
fn training_mode_gradients_match_central_differences_on_random_shapes() {
    let mut rng = StdRng::seed_from_u64(13);
    for case in 0..8 {
        let rank = if case % 2 == 0 { 2 } else { 4 };
        let shape = random_shape(&mut rng, rank);
        let mut bn = layer(rank, shape[1], 100 + case);
        let x = random_tensor::<f64>(&shape, 200 + case);
        let report = gradcheck_module(&mut bn, &x, &GradcheckConfig::default())
            .unwrap_or_else(|e| panic!("shape {shape:?}: {e}"));
        let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["input", "weight", "bias"]);
        for t in &report.tensors {
            assert!(t.max_abs_error < 1e-6, "shape {shape:?}: {t:?}");
        }
    }
}

#[test]
fn evaluation_mode_gradients_match_central_differences() {
    let bn = layer(4, 3, 5);
    bn.output_shape(&[2, 3, 2, 2]).unwrap();
    // Move the running statistics away from (0, 1) first.
    let tape = Tape::new();
    bn.forward(tape.constant(random_tensor(&[4, 3, 2, 2], 6).map(|v| 3.0 * v + 1.0))).unwrap();
    let mut bn = bn;
    bn.set_training(false);
    let report = gradcheck_module(&mut bn, &random_tensor(&[3, 3, 2, 2], 7), &GradcheckConfig::default()).unwrap();
    assert_eq!(report.tensors.len(), 3);
}

/// `Σ w·y` for the rows `start..start + len` of a fixed weighting of the whole output.
fn weighted<'t>(y: Var<'t, f64>, weights: &Tensor<f64>, start: usize, len: usize) -> Var<'t, f64> {
    let w = weights.narrow(0, start, len).unwrap().to_contiguous();
    let n = w.numel();
    let w = y.tape().constant(w.reshape(&[n, 1]).unwrap());
    y.reshape(&[1, n]).unwrap().matmul(w).unwrap()
}

/// What a forward and backward pass gave: the output, `∇x`, `∇γ`, `∇β`.
struct Pass {
    y: Vec<f64>,
    grad_x: Vec<f64>,
    grad_weight: Vec<f64>,
    grad_bias: Vec<f64>,
}

/// The forward and backward pass of `Σ w·bn(x)` with the batch split into `shards`
/// contiguous slices, each on its own thread and tape, the tapes joined by one
/// `ReduceGroup` (as the training stack does); the slices' outputs and input gradients
/// concatenated, their parameter gradients added.
fn sharded(bn: &BatchNorm<f64>, x: &Tensor<f64>, weights: &Tensor<f64>, shards: usize) -> Pass {
    let n = x.shape()[0];
    let group = Arc::new(ReduceGroup::new(shards).unwrap());
    let bounds: Vec<(usize, usize)> =
        (0..shards).map(|s| (s * n / shards, (s + 1) * n / shards - s * n / shards)).collect();
    let parts: Vec<Pass> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .iter()
            .enumerate()
            .map(|(shard, &(start, len))| {
                let group = group.clone();
                scope.spawn(move || {
                    let context =
                        StepContext { shard, shards, first_sample: start, group: Some(group), seed: 0, step: 0 };
                    let tape = Tape::with_context(context);
                    let xs = tape.leaf(x.narrow(0, start, len).unwrap().to_contiguous());
                    let y = bn.forward(xs).unwrap();
                    let y_value = y.value().to_vec();
                    let grads = tape.backward(weighted(y, weights, start, len)).unwrap();
                    Pass {
                        y: y_value,
                        grad_x: grads.get(xs).unwrap().to_vec(),
                        grad_weight: grads.param(&bn.weight).unwrap().to_vec(),
                        grad_bias: grads.param(&bn.bias).unwrap().to_vec(),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut total = Pass {
        y: Vec::new(),
        grad_x: Vec::new(),
        grad_weight: vec![0.0; bn.weight.value.numel()],
        grad_bias: Vec::new(),
    };
    total.grad_bias = total.grad_weight.clone();
    for p in parts {
        total.y.extend(p.y);
        total.grad_x.extend(p.grad_x);
        total.grad_weight.iter_mut().zip(&p.grad_weight).for_each(|(a, b)| *a += b);
        total.grad_bias.iter_mut().zip(&p.grad_bias).for_each(|(a, b)| *a += b);
    }
    total
}

/// The same pass on one tape without a context (the unsplit batch).
fn unsplit(bn: &BatchNorm<f64>, x: &Tensor<f64>, weights: &Tensor<f64>) -> Pass {
    let tape = Tape::new();
    let xv = tape.leaf(x.clone());
    let y = bn.forward(xv).unwrap();
    let y_value = y.value().to_vec();
    let grads = tape.backward(weighted(y, weights, 0, x.shape()[0])).unwrap();
    Pass {
        y: y_value,
        grad_x: grads.get(xv).unwrap().to_vec(),
        grad_weight: grads.param(&bn.weight).unwrap().to_vec(),
        grad_bias: grads.param(&bn.bias).unwrap().to_vec(),
    }
}

#[test]
fn two_shards_on_two_threads_give_the_unsplit_batchs_outputs_and_gradients() {
    let mut rng = StdRng::seed_from_u64(21);
    for case in 0..6 {
        let rank = if case % 2 == 0 { 2 } else { 4 };
        let mut shape = random_shape(&mut rng, rank);
        shape[0] += 1; // at least 3 samples, so that 2 shards are uneven for odd N
        let bn = layer(rank, shape[1], 300 + case);
        let x = random_tensor::<f64>(&shape, 400 + case).map(|v| 2.0 * v + 0.5);
        let weights = random_tensor::<f64>(&shape, 500 + case);
        let whole = unsplit(&bn, &x, &weights);
        let split = sharded(&bn, &x, &weights, 2);
        assert_close(&split.y, &whole.y, 1e-12, 1e-12);
        assert_close(&split.grad_x, &whole.grad_x, 1e-10, 1e-12);
        assert_close(&split.grad_weight, &whole.grad_weight, 1e-10, 1e-12);
        assert_close(&split.grad_bias, &whole.grad_bias, 1e-10, 1e-12);
    }
}

/// Per channel of `x: [N, C, …]` (row-major): the mean and the unbiased variance, by loops.
fn naive_stats(x: &[f64], shape: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let (n, c, inner) = (shape[0], shape[1], shape[2..].iter().product::<usize>());
    let values = |ch: usize| -> Vec<f64> {
        let mut v = Vec::new();
        for s in 0..n {
            for k in 0..inner {
                v.push(x[(s * c + ch) * inner + k]);
            }
        }
        v
    };
    let mut means = Vec::new();
    let mut vars = Vec::new();
    for ch in 0..c {
        let v = values(ch);
        let m = v.iter().sum::<f64>() / v.len() as f64;
        means.push(m);
        vars.push(v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (v.len() - 1) as f64);
    }
    (means, vars)
}

#[test]
fn running_statistics_after_several_steps_match_a_naive_computation_with_1_and_2_shards() {
    let shape = [5, 3, 2, 3];
    let batches: Vec<Tensor<f64>> =
        (0..4).map(|s| random_tensor(&shape, 600 + s).map(|v| 2.0 * v + s as f64)).collect();
    let (mut mean, mut var) = (vec![0.0; 3], vec![1.0; 3]);
    for b in &batches {
        let (m, v) = naive_stats(&b.to_vec(), &shape);
        for ch in 0..3 {
            mean[ch] = 0.9 * mean[ch] + 0.1 * m[ch];
            var[ch] = 0.9 * var[ch] + 0.1 * v[ch];
        }
    }
    for shards in [1, 2] {
        let bn = layer(4, 3, 7);
        let weights = random_tensor::<f64>(&shape, 8);
        for b in &batches {
            sharded(&bn, b, &weights, shards);
        }
        assert_close(&bn.running_mean().to_vec(), &mean, 1e-12, 1e-12);
        assert_close(&bn.running_var().to_vec(), &var, 1e-12, 1e-12);
        assert_eq!(bn.num_batches_tracked(), 4, "{shards} shards: shard 0 alone updates, once per step");
    }
}

#[test]
fn evaluation_mode_uses_the_running_statistics_and_leaves_them_alone() {
    let mut bn = layer(2, 4, 9);
    let tape = Tape::new();
    bn.forward(tape.constant(random_tensor(&[6, 4], 10).map(|v| 4.0 * v - 1.0))).unwrap();
    bn.set_training(false);
    let (rm, rv) = (bn.running_mean().to_vec(), bn.running_var().to_vec());
    let (g, b) = (bn.weight.value.to_vec(), bn.bias.value.to_vec());
    let x = random_tensor::<f64>(&[3, 4], 11);
    let y = bn.predict(&x).unwrap().to_vec();
    let xv = x.to_vec();
    let expected: Vec<f64> =
        (0..12).map(|i| g[i % 4] * (xv[i] - rm[i % 4]) / (rv[i % 4] + 1e-5).sqrt() + b[i % 4]).collect();
    assert_close(&y, &expected, 1e-12, 1e-12);
    // One sample alone gives its row of the batch's output (no batch statistics).
    let alone = bn.predict(&x.narrow(0, 1, 1).unwrap().to_contiguous()).unwrap().to_vec();
    assert_close(&alone, &expected[4..8], 1e-15, 0.0);
    assert_eq!(bn.running_mean().to_vec(), rm);
    assert_eq!(bn.running_var().to_vec(), rv);
    assert_eq!(bn.num_batches_tracked(), 1);
}

#[test]
fn shapes_are_checked_and_output_shape_does_not_touch_the_statistics() {
    let bn = BatchNorm::<f32>::new_2d(3).unwrap();
    assert_eq!(bn.output_shape(&[1, 3, 4, 4]).unwrap(), vec![1, 3, 4, 4]);
    assert_eq!(bn.num_batches_tracked(), 0);
    for bad in [vec![2, 3], vec![2, 4, 4, 4], vec![2, 3, 4]] {
        let err = bn.output_shape(&bad).unwrap_err();
        assert!(matches!(&err, LayerError::InputShape { got, .. } if *got == bad), "{err}");
        assert!(err.to_string().contains("BatchNorm2d(3"), "{err}");
    }
    let bn1 = BatchNorm::<f32>::new_1d(5).unwrap();
    assert!(bn1.output_shape(&[2, 5, 1, 1]).is_err());
    assert!(BatchNorm::<f32>::new_1d(0).is_err());
    assert!(BatchNorm::<f32>::new_1d(2).unwrap().with_eps(0.0).is_err());
    assert!(BatchNorm::<f32>::new_1d(2).unwrap().with_momentum(1.5).is_err());
    // One value per channel in training mode is an error (as PyTorch), not a NaN.
    let tape = Tape::new();
    assert!(bn1.forward(tape.constant(Tensor::zeros(&[1, 5]).unwrap())).is_err());
}

#[test]
fn parameters_and_buffers_survive_a_checkpoint_round_trip() {
    let bn = layer(4, 3, 12);
    let tape = Tape::new();
    for s in 0..3 {
        bn.forward(tape.constant(random_tensor(&[4, 3, 2, 2], 13 + s).map(|v| 3.0 * v))).unwrap();
    }
    let names: Vec<String> = bn.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["running_mean", "running_var", "num_batches_tracked"]);
    assert_eq!(bn.named_buffers()[2].1.shape(), Vec::<usize>::new(), "a scalar, as PyTorch's");
    let dir = ScratchDir::new("batch-norm-checkpoint");
    let path = dir.join("bn.safetensors");
    save_module(&bn, &path).unwrap();
    let mut loaded = BatchNorm::<f64>::new_2d(3).unwrap();
    load_module(&mut loaded, &path).unwrap();
    assert_eq!(loaded.running_mean().to_vec(), bn.running_mean().to_vec());
    assert_eq!(loaded.running_var().to_vec(), bn.running_var().to_vec());
    assert_eq!(loaded.num_batches_tracked(), 3);
    assert_eq!(loaded.weight.value.to_vec(), bn.weight.value.to_vec());
    let (mut a, mut b) = (bn, loaded);
    a.set_training(false);
    b.set_training(false);
    let x = random_tensor::<f64>(&[2, 3, 2, 2], 20);
    assert_eq!(a.predict(&x).unwrap().to_vec(), b.predict(&x).unwrap().to_vec());
    // A checkpoint of a layer with other channels does not load.
    let mut other = BatchNorm::<f64>::new_2d(4).unwrap();
    assert!(load_module(&mut other, &path).is_err());
}
