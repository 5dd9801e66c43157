//! The gradients of the whole LeNet-5 (softmax cross-entropy of a batch of 2) in f64,
//! against central differences: the input (all 2,048 elements) through
//! `autograd::gradcheck`, the parameters (c1.weight … f7.bias) by perturbing a parameter
//! element in place, `p ± 1e-6`, and re-running the forward pass on a no-grad tape.
//!
//! The input is drawn at random and redrawn until the point is smooth: no ReLU
//! pre-activation within 1e-4 of 0 and no pooling window whose runner-up is within 1e-4
//! of its (positive) maximum, computed stage by stage from `model.stages()`. A step of
//! 1e-6 then never crosses a kink, so the two sides agree to the tolerances of
//! `GradcheckConfig::default()` (PyTorch's: atol 1e-5, rtol 1e-3).
//!
//! Cost, measured: a forward pass of batch 2 in f64 takes about 1.4 ms here, so all 61,706
//! parameter elements (123k passes) take about 3 minutes — too slow for every run. The
//! default tests check every element of c1.weight and of every bias, every element of
//! f7.weight (840), and a seeded random sample of 1,000 elements of each of c3.weight,
//! c5.weight and f6.weight: 4,226 elements, about 12 s over two tests that run in
//! parallel. The exhaustive check is the ignored test `every_parameter_element_…`
//! (`cargo test -p models --test integration gradcheck_lenet5 -- --ignored`).
//!
//! Training runs in f32: its gradients are compared with the f64 ones at batch 64.

use crate::common;

use autograd::{GradcheckConfig, Tape, Var, gradcheck};
use layers::Module;
use models::LeNet5;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use common::ag;

const MODEL_SEED: u64 = 5;
const LABELS: [usize; 2] = [3, 8];
/// How far from a kink every ReLU input and pooling runner-up must stay.
const MARGIN: f64 = 1e-4;

fn model() -> LeNet5<f64> {
    models::lenet5::new(&mut StdRng::seed_from_u64(MODEL_SEED)).unwrap()
}

fn loss<'t>(model: &LeNet5<f64>, x: Var<'t, f64>) -> autograd::Result<Var<'t, f64>> {
    ag(model.forward(x))?.softmax_cross_entropy(&LABELS)
}

/// The loss at `x` on a no-grad tape.
fn loss_value(model: &LeNet5<f64>, x: &Tensor<f64>) -> f64 {
    let tape = Tape::no_grad();
    loss(model, tape.constant(x.clone())).unwrap().value().item().unwrap()
}

/// Where `x` is within `MARGIN` of a kink: ReLU inputs near 0, and 2×2 pooling windows
/// whose two largest values are within `MARGIN` of each other (when the maximum is
/// positive; an all-zero window is the ReLU clamping every entry, which is locally
/// constant as the ReLU check guarantees). Computed with index loops over each stage's
/// input.
fn kinks(model: &LeNet5<f64>, x: &Tensor<f64>) -> Vec<String> {
    let tape = Tape::no_grad();
    let mut v = tape.constant(x.clone());
    let mut found = Vec::new();
    for (i, (name, stage)) in model.named_layers().enumerate() {
        let input = v.value();
        let values = input.to_vec();
        match name {
            "c1.relu" | "c3.relu" | "c5.relu" | "f6.relu" => {
                let near = values.iter().filter(|z| z.abs() <= MARGIN).count();
                if near > 0 {
                    found.push(format!("stage {i} (relu): {near} input(s) within {MARGIN} of 0"));
                }
            }
            "s2" | "s4" => {
                let s = input.shape().to_vec();
                let (planes, h, w) = (s[0] * s[1], s[2], s[3]);
                let mut ties = 0;
                for p in 0..planes {
                    for r in (0..h).step_by(2) {
                        for c in (0..w).step_by(2) {
                            let mut win: Vec<f64> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                                .iter()
                                .map(|(dr, dc)| values[p * h * w + (r + dr) * w + c + dc])
                                .collect();
                            win.sort_by(|a, b| b.total_cmp(a));
                            if win[0] > 0.0 && win[0] - win[1] <= MARGIN {
                                ties += 1;
                            }
                        }
                    }
                }
                if ties > 0 {
                    found.push(format!("stage {i} ({name}): {ties} window(s) with a near tie at the maximum"));
                }
            }
            _ => {}
        }
        v = stage.forward(v).unwrap();
    }
    found
}

/// A random input `[2, 1, 32, 32]`, uniform in ±1.5, redrawn until it is `MARGIN` away
/// from every kink.
fn smooth_input(model: &LeNet5<f64>) -> Tensor<f64> {
    for seed in 0..5000 {
        let x = Tensor::rand_uniform(&[2, 1, 32, 32], -1.5, 1.5, &mut StdRng::seed_from_u64(seed)).unwrap();
        if kinks(model, &x).is_empty() {
            return x;
        }
    }
    panic!("no smooth input among 5000 draws");
}

#[test]
fn the_kink_check_finds_ties_and_zeros() {
    // The checker itself: an all-zero input makes every C1 pre-activation its bias, so
    // the pooling windows of C1's output tie; the drawn input has no kink.
    let m = model();
    let zeros = Tensor::zeros(&[2, 1, 32, 32]).unwrap();
    let found = kinks(&m, &zeros);
    assert!(found.iter().any(|f| f.contains("(s2)")), "{found:?}");
    assert!(kinks(&m, &smooth_input(&m)).is_empty());
}

#[test]
fn input_gradient_passes_gradcheck() {
    let m = model();
    let x = smooth_input(&m);
    let started = std::time::Instant::now();
    let report = gradcheck(|_tape, v| loss(&m, v[0]), std::slice::from_ref(&x), &GradcheckConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    println!("input gradient: {:?} in {:.2} s", report.inputs[0], started.elapsed().as_secs_f64());
    assert_eq!(report.inputs[0].checked, 2 * 32 * 32);
}

/// How many elements of each weight tensor the sampled check takes.
const SAMPLE: usize = 1000;

/// The flat indices of the named parameter to check: all of them for c1.weight, the
/// biases and any tensor of at most `SAMPLE` elements (`sample == false`: always all);
/// else `SAMPLE` drawn without replacement from a generator seeded by the name.
fn elements(name: &str, numel: usize, sample: bool) -> Vec<usize> {
    if !sample || name == "c1.weight" || name.ends_with(".bias") || numel <= SAMPLE {
        return (0..numel).collect();
    }
    let seed = name.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut picked = rand::seq::index::sample(&mut StdRng::seed_from_u64(seed), numel, SAMPLE).into_vec();
    picked.sort_unstable();
    picked
}

/// Compares the recorded gradient of the named parameters' elements (see [`elements`])
/// with the central difference `(L(p + h) − L(p − h)) / 2h`, `h = 1e-6`, failing with
/// the first mismatches (`|a − n| > 1e-5 + 1e-3·|n|`).
fn check_parameters(names: &[&str], sample: bool) {
    let mut m = model();
    let x = smooth_input(&m);
    let config = GradcheckConfig::default();

    let analytic: Vec<(String, Vec<f64>)> = {
        let tape = Tape::new();
        let out = loss(&m, tape.constant(x.clone())).unwrap();
        let grads = tape.backward(out).unwrap();
        m.named_parameters()
            .into_iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(n, p)| {
                let g = grads.param(p).unwrap_or_else(|| panic!("{n} has no gradient"));
                assert_eq!(g.shape(), p.shape(), "{n}: gradient shape");
                (n, g.to_vec())
            })
            .collect()
    };
    assert_eq!(analytic.len(), names.len(), "every name is a parameter of LeNet5");

    let started = std::time::Instant::now();
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for (name, grad) in &analytic {
        let index = m.named_parameters().iter().position(|(n, _)| n == name).unwrap();
        let values = m.named_parameters()[index].1.value.to_vec();
        let picked = elements(name, values.len(), sample);
        let mut max_abs = 0f64;
        for &i in &picked {
            let mut at = |value: f64| {
                m.named_parameters_mut()[index].1.value.as_mut_slice()[i] = value;
                loss_value(&m, &x)
            };
            let plus = at(values[i] + config.eps);
            let minus = at(values[i] - config.eps);
            at(values[i]);
            let numeric = (plus - minus) / (2.0 * config.eps);
            let diff = (grad[i] - numeric).abs();
            max_abs = max_abs.max(diff);
            if diff.is_nan() || diff > config.atol + config.rtol * numeric.abs() {
                failures.push(format!("{name}[{i}]: analytic {:e}, numeric {numeric:e}", grad[i]));
            }
        }
        checked += picked.len();
        println!("{name}: {} of {} elements, max |analytic − numeric| {max_abs:e}", picked.len(), values.len());
    }
    println!("{checked} parameter elements checked in {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} mismatches, the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

const ALL: [&str; 10] = [
    "c1.weight",
    "c1.bias",
    "c3.weight",
    "c3.bias",
    "c5.weight",
    "c5.bias",
    "f6.weight",
    "f6.bias",
    "f7.weight",
    "f7.bias",
];

#[test]
fn c5_and_f6_weight_gradients_match_central_differences() {
    check_parameters(&["c5.weight", "f6.weight"], true);
}

#[test]
fn other_parameter_gradients_match_central_differences() {
    check_parameters(
        &["c1.weight", "c1.bias", "c3.weight", "c3.bias", "c5.bias", "f6.bias", "f7.weight", "f7.bias"],
        true,
    );
}

#[test]
#[ignore = "slow (about 3 minutes): the exhaustive check of all 61,706 parameter elements; run with --ignored"]
fn every_parameter_element_matches_central_differences() {
    check_parameters(&ALL, false);
}

#[test]
fn the_parameters_are_the_61706_of_lenet5() {
    // 6·25 + 6 + 16·150 + 16 + 120·400 + 120 + 84·120 + 84 + 10·84 + 10 = 61,706.
    let m = model();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "c1.weight",
            "c1.bias",
            "c3.weight",
            "c3.bias",
            "c5.weight",
            "c5.bias",
            "f6.weight",
            "f6.bias",
            "f7.weight",
            "f7.bias"
        ]
    );
    assert_eq!(m.num_parameters(), 61_706);
}

#[test]
fn f32_gradients_agree_with_f64_at_batch_64() {
    // Training runs in f32: its gradients (whatever kernels f32 takes) must be those of
    // the f64 model with the same weights, to f32 rounding.
    let m32: LeNet5<f32> = models::lenet5::new(&mut StdRng::seed_from_u64(MODEL_SEED)).unwrap();
    let mut m64 = model();
    layers::copy_state(&mut m64, &m32).unwrap();
    let x64 = Tensor::<f64>::rand_uniform(&[64, 1, 32, 32], -0.42, 2.8, &mut StdRng::seed_from_u64(9)).unwrap();
    let x32 = Tensor::from_vec(&[64, 1, 32, 32], x64.iter().map(|v| v as f32).collect()).unwrap();
    let labels: Vec<usize> = (0..64).map(|i| (i * 7) % 10).collect();

    let g64: Vec<Vec<f64>> = {
        let tape = Tape::new();
        let out = ag(m64
            .forward(tape.constant(Tensor::from_vec(&[64, 1, 32, 32], x32.iter().map(f64::from).collect()).unwrap())))
        .unwrap()
        .softmax_cross_entropy(&labels)
        .unwrap();
        let grads = tape.backward(out).unwrap();
        m64.parameters().iter().map(|p| grads.param(p).unwrap().to_vec()).collect()
    };
    let tape = Tape::new();
    let out = m32.forward(tape.constant(x32)).unwrap().softmax_cross_entropy(&labels).unwrap();
    let grads = tape.backward(out).unwrap();
    for ((name, p), want) in m32.named_parameters().into_iter().zip(&g64) {
        let got = grads.param(p).unwrap().to_vec();
        let scale = want.iter().fold(0f64, |a, v| a.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-3 * scale + 1e-6,
                "{name}[{i}]: f32 gradient {g}, f64 gradient {w} (largest |f64 gradient| {scale})"
            );
        }
    }
}
