//! Optimizers against hand-computed values (PyTorch's update rules), two steps each, with
//! gradients injected through a tape (`loss = Σ p ⊙ c`, so `∇p = c`); weight-decay
//! filtering; state save/restore; learning-rate schedules; invalid configurations.
//!
//! The rules (PyTorch's):
//! - SGD: `g = ∇ + wd·p; b = g` (first step) `else μ·b + (1−d)·g; g = g + μ·b` (Nesterov)
//!   `else b; p −= lr·g`.
//! - Adam: `g = ∇ + wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
//!   p −= lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)`.
//! - AdamW: `p *= 1 − lr·wd`, then Adam without the wd term.

use crate::common;

use autograd::{Gradients, Param, Tape};
use common::*;
use layers::optim::{Constant, Cosine, LinearWarmup, Product, Schedule, StepDecay};
use layers::{Adam, AdamConfig, DecayFilter, LayerError, Optimizer, OptimizerState, Sgd, SgdConfig};
use tensor::Tensor;

fn param(values: &[f64]) -> Param<f64> {
    Param::new(Tensor::from_vec(&[values.len()], values.to_vec()).unwrap())
}

/// Gradients where `∇p = c` for each `(p, c)`: `loss = Σ_p reshape(p, [1, n])·c`, with
/// `c` a constant `[n, 1]`.
fn grads_for(pairs: &[(&Param<f64>, &[f64])]) -> Gradients<f64> {
    let tape = Tape::new();
    let mut total = None;
    for (p, c) in pairs {
        let n = c.len();
        let cv = tape.constant(Tensor::from_vec(&[n, 1], c.to_vec()).unwrap());
        let term = tape.param(p).reshape(&[1, n]).unwrap().matmul(cv).unwrap();
        total = Some(match total {
            None => term,
            Some(t) => term.add(t).unwrap(),
        });
    }
    let grads = tape.backward(total.unwrap()).unwrap();
    for (p, c) in pairs {
        assert_eq!(grads.param(p).unwrap().to_vec(), c.to_vec(), "the injected gradient");
    }
    grads
}

/// One step of `opt` on a single parameter named `name` with gradient `g`.
fn step(opt: &mut dyn Optimizer<f64>, name: &str, p: &mut Param<f64>, g: &[f64]) {
    let grads = grads_for(&[(p, g)]);
    opt.step(vec![(name.to_string(), p)], &grads).unwrap();
}

const P0: [f64; 3] = [1.0, -2.0, 0.5];
const G1: [f64; 3] = [0.5, 0.1, -0.2];
const G2: [f64; 3] = [0.1, -0.3, 0.4];

#[test]
fn sgd_plain_with_weight_decay() {
    // lr 0.1, wd 0.01, no momentum: p −= 0.1·(∇ + 0.01·p).
    let mut opt = Sgd::new(SgdConfig::new(0.1).weight_decay(0.01)).unwrap();
    let mut p = param(&P0);
    step(&mut opt, "w", &mut p, &G1);
    // g = [0.5 + 0.01, 0.1 − 0.02, −0.2 + 0.005] = [0.51, 0.08, −0.195]
    // p = [1 − 0.051, −2 − 0.008, 0.5 + 0.0195] = [0.949, −2.008, 0.5195]
    assert_close(&p.value.to_vec(), &[0.949, -2.008, 0.5195], 1e-14, 1e-15);
    step(&mut opt, "w", &mut p, &G2);
    // g = [0.1 + 0.00949, −0.3 − 0.02008, 0.4 + 0.005195] = [0.10949, −0.32008, 0.405195]
    // p = [0.949 − 0.010949, −2.008 + 0.032008, 0.5195 − 0.0405195]
    assert_close(&p.value.to_vec(), &[0.938051, -1.975992, 0.4789805], 1e-14, 1e-15);
    assert!(opt.state().tensors.is_empty(), "plain SGD keeps no buffer");
    assert_eq!(opt.state().step, 2);
}

#[test]
fn sgd_momentum_with_weight_decay() {
    // lr 0.1, μ 0.9, wd 0.01.
    let mut opt = Sgd::new(SgdConfig::new(0.1).momentum(0.9).weight_decay(0.01)).unwrap();
    let mut p = param(&P0);
    step(&mut opt, "w", &mut p, &G1);
    // Step 1: g = [0.51, 0.08, −0.195]; b = g (first step, no dampening);
    // p = [1 − 0.051, −2 − 0.008, 0.5 + 0.0195] = [0.949, −2.008, 0.5195].
    assert_close(&p.value.to_vec(), &[0.949, -2.008, 0.5195], 1e-14, 1e-15);
    step(&mut opt, "w", &mut p, &G2);
    // Step 2: g = G2 + 0.01·p = [0.10949, −0.32008, 0.405195];
    // b = 0.9·[0.51, 0.08, −0.195] + g = [0.459 + 0.10949, 0.072 − 0.32008, −0.1755 + 0.405195]
    //   = [0.56849, −0.24808, 0.229695];
    // p = [0.949 − 0.056849, −2.008 + 0.024808, 0.5195 − 0.0229695]
    //   = [0.892151, −1.983192, 0.4965305].
    assert_close(&p.value.to_vec(), &[0.892151, -1.983192, 0.4965305], 1e-14, 1e-15);
    let state = opt.state();
    assert_eq!(state.step, 2);
    assert_eq!(state.tensors.len(), 1);
    assert_eq!(state.tensors[0].0, "momentum.w");
    assert_close(&state.tensors[0].1.to_vec(), &[0.56849, -0.24808, 0.229695], 1e-14, 1e-15);
}

#[test]
fn sgd_nesterov_with_weight_decay() {
    // lr 0.1, μ 0.9, wd 0.01, Nesterov.
    let mut opt = Sgd::new(SgdConfig::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01)).unwrap();
    let mut p = param(&P0);
    step(&mut opt, "w", &mut p, &G1);
    // Step 1: g = [0.51, 0.08, −0.195]; b = g; step = g + 0.9·b = 1.9·g = [0.969, 0.152, −0.3705];
    // p = [1 − 0.0969, −2 − 0.0152, 0.5 + 0.03705] = [0.9031, −2.0152, 0.53705].
    assert_close(&p.value.to_vec(), &[0.9031, -2.0152, 0.53705], 1e-14, 1e-15);
    step(&mut opt, "w", &mut p, &G2);
    // Step 2: g = G2 + 0.01·p = [0.109031, −0.320152, 0.4053705];
    // b = 0.9·b + g = [0.459 + 0.109031, 0.072 − 0.320152, −0.1755 + 0.4053705]
    //   = [0.568031, −0.248152, 0.2298705];
    // step = g + 0.9·b = [0.109031 + 0.5112279, −0.320152 − 0.2233368, 0.4053705 + 0.20688345]
    //      = [0.6202589, −0.5434888, 0.61225395];
    // p = [0.9031 − 0.06202589, −2.0152 + 0.05434888, 0.53705 − 0.061225395].
    assert_close(&p.value.to_vec(), &[0.84107411, -1.96085112, 0.475824605], 1e-14, 1e-15);
}

#[test]
fn sgd_momentum_with_dampening() {
    // lr 0.1, μ 0.9, dampening 0.5, no weight decay.
    let mut opt = Sgd::new(SgdConfig::new(0.1).momentum(0.9).dampening(0.5)).unwrap();
    let mut p = param(&P0);
    step(&mut opt, "w", &mut p, &G1);
    // Step 1: b = g = [0.5, 0.1, −0.2] (no dampening on the first step);
    // p = [0.95, −2.01, 0.52].
    assert_close(&p.value.to_vec(), &[0.95, -2.01, 0.52], 1e-14, 1e-15);
    step(&mut opt, "w", &mut p, &G2);
    // Step 2: b = 0.9·[0.5, 0.1, −0.2] + 0.5·[0.1, −0.3, 0.4] = [0.5, −0.06, 0.02];
    // p = [0.95 − 0.05, −2.01 + 0.006, 0.52 − 0.002] = [0.9, −2.004, 0.518].
    assert_close(&p.value.to_vec(), &[0.9, -2.004, 0.518], 1e-14, 1e-15);
}

#[test]
fn adam_with_l2_weight_decay() {
    // lr 0.1, β (0.9, 0.999), ε 0 (so step 1 is exactly lr·sign(g)), wd 0.1 in the gradient.
    let config = AdamConfig { eps: 0.0, ..AdamConfig::adam(0.1).weight_decay(0.1) };
    let mut opt = Adam::new(config).unwrap();
    let mut p = param(&[1.0, -2.0]);
    step(&mut opt, "w", &mut p, &[0.5, 0.1]);
    // Step 1 (t = 1): g = [0.5 + 0.1, 0.1 − 0.2] = [0.6, −0.1]; m = 0.1·g = [0.06, −0.01];
    // v = 0.001·g² = [0.00036, 0.00001]; m̂ = m/0.1 = [0.6, −0.1]; v̂ = v/0.001 = [0.36, 0.01];
    // p −= 0.1·m̂/√v̂ = 0.1·[1, −1] → [0.9, −1.9].
    assert_close(&p.value.to_vec(), &[0.9, -1.9], 1e-13, 1e-15);
    step(&mut opt, "w", &mut p, &[0.1, -0.3]);
    // Step 2 (t = 2): g = [0.1 + 0.09, −0.3 − 0.19] = [0.19, −0.49];
    // m = 0.9·[0.06, −0.01] + 0.1·g = [0.054 + 0.019, −0.009 − 0.049] = [0.073, −0.058];
    // v = 0.999·[0.00036, 0.00001] + 0.001·[0.0361, 0.2401] = [0.00039574, 0.00025009];
    // m̂ = m/(1 − 0.81) = [0.38421053, −0.30526316];
    // v̂ = v/(1 − 0.998001) = [0.19796898, 0.12510755]; √v̂ = [0.44493706, 0.35370546];
    // p = [0.9 − 0.1·0.38421053/0.44493706, −1.9 + 0.1·0.30526316/0.35370546]
    //   = [0.9 − 0.08635166, −1.9 + 0.08630434] = [0.81364834, −1.81369566].
    assert_close(&p.value.to_vec(), &[0.81364834, -1.81369566], 1e-8, 0.0);
    let state = opt.state();
    assert_eq!(state.step, 2);
    let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["exp_avg.w", "exp_avg_sq.w", "step.w"]);
    assert_eq!(state.tensors[2].1.to_vec(), vec![2.0]);
    assert_close(&state.tensors[0].1.to_vec(), &[0.073, -0.058], 1e-13, 0.0);
    assert_close(&state.tensors[1].1.to_vec(), &[0.00039574, 0.00025009], 1e-12, 0.0);
}

#[test]
fn adamw_with_decoupled_weight_decay() {
    // lr 0.1, β (0.9, 0.999), ε 0.01 (large, so its place — added to √v̂ — shows), wd 0.1.
    let config = AdamConfig { eps: 0.01, ..AdamConfig::adamw(0.1).weight_decay(0.1) };
    assert!(config.decoupled);
    let mut opt = Adam::new(config).unwrap();
    let mut p = param(&[1.0, -2.0]);
    step(&mut opt, "w", &mut p, &[0.5, 0.1]);
    // Step 1: p *= 1 − 0.1·0.1 → [0.99, −1.98]; g = [0.5, 0.1]; m̂ = g, √v̂ = |g|;
    // p −= 0.1·[0.5/0.51, 0.1/0.11] = [0.09803922, 0.09090909]
    // → [0.89196078, −2.07090909].
    assert_close(&p.value.to_vec(), &[0.89196078, -2.07090909], 1e-8, 0.0);
    step(&mut opt, "w", &mut p, &[0.1, -0.3]);
    // Step 2: p *= 0.99 → [0.88304118, −2.0502]; g = [0.1, −0.3] (no wd term);
    // m = 0.9·[0.05, 0.01] + 0.1·g = [0.055, −0.021]; v = 0.999·[0.00025, 0.00001] +
    // 0.001·[0.01, 0.09] = [0.00025975, 0.00009999]; m̂ = m/0.19 = [0.28947368, −0.11052632];
    // v̂ = v/0.001999 = [0.12993997, 0.05002001]; √v̂ = [0.36047187, 0.22365154];
    // p −= 0.1·[0.28947368/0.37047187, −0.11052632/0.23365154] = [0.07813648, −0.04730391]
    // → [0.88304118 − 0.07813648, −2.0502 + 0.04730391] = [0.80490470, −2.00289609].
    assert_close(&p.value.to_vec(), &[0.80490470, -2.00289609], 1e-8, 0.0);
}

/// WeightsOnly skips names ending in "bias", for SGD's L2 term and AdamW's decoupled decay.
#[test]
fn decay_filter_weights_only_skips_biases() {
    assert!(DecayFilter::All.applies("0.bias"));
    assert!(DecayFilter::WeightsOnly.applies("0.weight"));
    assert!(!DecayFilter::WeightsOnly.applies("0.bias"));
    assert!(!DecayFilter::WeightsOnly.applies("bias"));
    assert!(DecayFilter::WeightsOnly.applies("bias.weight"));
    assert_eq!(DecayFilter::default(), DecayFilter::All);

    // SGD, lr 0.1, wd 0.5, no momentum, gradient 0: the weight decays by 0.1·0.5·p = 5%,
    // the bias stays.
    let mut opt = Sgd::new(SgdConfig::new(0.1).weight_decay(0.5).decay(DecayFilter::WeightsOnly)).unwrap();
    let (mut w, mut b) = (param(&[2.0, -4.0]), param(&[2.0]));
    let grads = grads_for(&[(&w, &[0.0, 0.0]), (&b, &[0.0])]);
    opt.step(vec![("fc.weight".into(), &mut w), ("fc.bias".into(), &mut b)], &grads).unwrap();
    assert_close(&w.value.to_vec(), &[1.9, -3.8], 1e-15, 0.0);
    assert_eq!(b.value.to_vec(), vec![2.0]);

    // AdamW, lr 0.1, wd 0.5, gradient 1: the weight is first scaled by 0.95, the bias not;
    // both then move by lr·m̂/(√v̂ + ε) = 0.1·1/(1 + 1e-8).
    let mut opt = Adam::new(AdamConfig::adamw(0.1).weight_decay(0.5).decay(DecayFilter::WeightsOnly)).unwrap();
    let (mut w, mut b) = (param(&[2.0]), param(&[2.0]));
    let grads = grads_for(&[(&w, &[1.0]), (&b, &[1.0])]);
    opt.step(vec![("fc.weight".into(), &mut w), ("fc.bias".into(), &mut b)], &grads).unwrap();
    let adam_step = 0.1 / (1.0 + 1e-8);
    assert_close(&w.value.to_vec(), &[1.9 - adam_step], 1e-14, 0.0);
    assert_close(&b.value.to_vec(), &[2.0 - adam_step], 1e-14, 0.0);
}

/// A parameter without a gradient is left alone (and gets no state).
#[test]
fn parameters_without_gradients_are_skipped() {
    let mut opt = Sgd::new(SgdConfig::new(0.1).momentum(0.9)).unwrap();
    let (mut a, mut b) = (param(&[1.0]), param(&[1.0]));
    let grads = grads_for(&[(&a, &[1.0])]);
    opt.step(vec![("a".into(), &mut a), ("b".into(), &mut b)], &grads).unwrap();
    assert_eq!(a.value.to_vec(), vec![0.9]);
    assert_eq!(b.value.to_vec(), vec![1.0]);
    let names: Vec<String> = opt.state().tensors.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["momentum.a"]);
}

/// PyTorch counts Adam's step per parameter (`state[p]["step"]`): a parameter that gets
/// its first gradient on the optimizer's second step is bias-corrected with t = 1, so
/// (ε = 0) it moves by exactly lr·sign(g).
#[test]
fn adam_bias_correction_is_per_parameter() {
    let mut opt = Adam::new(AdamConfig { eps: 0.0, ..AdamConfig::adam(0.1) }).unwrap();
    let (mut a, mut b) = (param(&[1.0]), param(&[1.0]));
    let grads = grads_for(&[(&a, &[0.5])]);
    opt.step(vec![("a".into(), &mut a), ("b".into(), &mut b)], &grads).unwrap();
    assert_eq!(b.value.to_vec(), vec![1.0]);
    let grads = grads_for(&[(&a, &[0.5]), (&b, &[0.5])]);
    opt.step(vec![("a".into(), &mut a), ("b".into(), &mut b)], &grads).unwrap();
    // b's first step: m̂ = g, √v̂ = |g| → b = 1 − 0.1 = 0.9. With a global t = 2:
    // m̂ = 0.05/0.19, √v̂ = √(0.00025/0.001999) → b = 1 − 0.0744 = 0.9256.
    assert_close(&b.value.to_vec(), &[0.9], 1e-12, 0.0);
}

/// Runs three steps with gradients G1, G2, G1 in one go, and again with the state saved
/// after two steps and loaded into a fresh optimizer for the third: identical results.
/// A fresh optimizer without the state diverges (so the state matters).
fn check_state_round_trip(make: impl Fn() -> Box<dyn Optimizer<f64>>, kinds: &[&str]) {
    let gs = [G1, G2, G1];
    let mut straight = make();
    let mut p = param(&P0);
    for g in &gs {
        step(straight.as_mut(), "layer.w", &mut p, g);
    }

    let mut first = make();
    let mut q = param(&P0);
    for g in &gs[..2] {
        step(first.as_mut(), "layer.w", &mut q, g);
    }
    let state: OptimizerState<f64> = first.state();
    assert_eq!(state.step, 2);
    let names: Vec<&str> = state.tensors.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<String> = kinds.iter().map(|k| format!("{k}.layer.w")).collect();
    assert_eq!(names, expected);

    let mut fresh = make();
    let mut r = param(&q.value.to_vec());
    step(fresh.as_mut(), "layer.w", &mut r, &gs[2]);

    let mut resumed = make();
    resumed.load_state(state.clone()).unwrap();
    step(resumed.as_mut(), "layer.w", &mut q, &gs[2]);
    assert_eq!(q.value.to_vec(), p.value.to_vec(), "resumed run must equal the uninterrupted one");
    assert_ne!(r.value.to_vec(), p.value.to_vec(), "without the state the step differs");
    assert_eq!(resumed.state().step, 3);
}

#[test]
fn optimizer_state_round_trip() {
    check_state_round_trip(
        || Box::new(Sgd::new(SgdConfig::new(0.1).momentum(0.9).weight_decay(0.01)).unwrap()),
        &["momentum"],
    );
    check_state_round_trip(
        || Box::new(Sgd::new(SgdConfig::new(0.1).momentum(0.9).nesterov(true)).unwrap()),
        &["momentum"],
    );
    check_state_round_trip(
        || Box::new(Adam::new(AdamConfig::adam(0.01).weight_decay(0.1)).unwrap()),
        &["exp_avg", "exp_avg_sq", "step"],
    );
    check_state_round_trip(
        || Box::new(Adam::new(AdamConfig::adamw(0.01)).unwrap()),
        &["exp_avg", "exp_avg_sq", "step"],
    );
}

/// Restored state of the wrong kind or shape is a Config error.
#[test]
fn bad_optimizer_state_is_rejected() {
    let mut adam = Adam::<f64>::new(AdamConfig::adam(0.1)).unwrap();
    let mut p = param(&P0);
    step(&mut adam, "w", &mut p, &G1);
    let mut sgd = Sgd::<f64>::new(SgdConfig::new(0.1).momentum(0.9)).unwrap();
    assert!(matches!(sgd.load_state(adam.state()), Err(LayerError::Config { .. })));
    // A momentum buffer of shape [2] for a parameter of shape [3]: the step fails.
    let bad = OptimizerState { tensors: vec![("momentum.w".into(), Tensor::zeros(&[2]).unwrap())], step: 1 };
    sgd.load_state(bad).unwrap();
    let grads = grads_for(&[(&p, &G1)]);
    assert!(matches!(sgd.step(vec![("w".into(), &mut p)], &grads), Err(LayerError::Config { .. })));
    let mut adam2 = Adam::<f64>::new(AdamConfig::adam(0.1)).unwrap();
    let bad = OptimizerState { tensors: vec![("exp_avg.w".into(), Tensor::zeros(&[1]).unwrap())], step: 1 };
    adam2.load_state(bad).unwrap();
    assert!(matches!(adam2.step(vec![("w".into(), &mut p)], &grads), Err(LayerError::Config { .. })));
}

/// `set_learning_rate` changes the next step (how a schedule is applied).
#[test]
fn set_learning_rate_applies_to_the_next_step() {
    let mut opt = Sgd::new(SgdConfig::new(0.1)).unwrap();
    assert_eq!(Optimizer::<f64>::learning_rate(&opt), 0.1);
    Optimizer::<f64>::set_learning_rate(&mut opt, 0.5);
    assert_eq!(Optimizer::<f64>::learning_rate(&opt), 0.5);
    let mut p = param(&[1.0]);
    step(&mut opt, "w", &mut p, &[1.0]);
    assert_eq!(p.value.to_vec(), vec![0.5]);
    let mut adam = Adam::<f64>::new(AdamConfig::adam(0.1)).unwrap();
    adam.set_learning_rate(0.01);
    assert_eq!(adam.learning_rate(), 0.01);
    assert_eq!(adam.config().lr, 0.01);
}

#[test]
fn schedules_match_hand_values() {
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    for t in [0, 5, 100] {
        close(Constant.factor(t), 1.0);
    }
    // StepLR(step_size 3, γ 0.5): epochs 0–2 → 1, 3–5 → 0.5, 6–8 → 0.25.
    let s = StepDecay { step_size: 3, gamma: 0.5 };
    for (t, f) in [(0, 1.0), (2, 1.0), (3, 0.5), (5, 0.5), (6, 0.25), (9, 0.125)] {
        close(s.factor(t), f);
    }
    close(s.lr(0.2, 4), 0.1);
    // Cosine over 4 epochs to 0.1: 0.1 + 0.9·½(1 + cos(π·t/4)):
    // t=0 → 1; t=1 → 0.1 + 0.45·(1 + 0.70710678) = 0.86819805; t=2 → 0.55;
    // t=3 → 0.1 + 0.45·(1 − 0.70710678) = 0.23180195; t=4 and after → 0.1.
    let c = Cosine { total: 4, min_factor: 0.1 };
    for (t, f) in [(0, 1.0), (1, 0.868_198_051_533_946_4), (2, 0.55), (3, 0.231_801_948_466_053_6), (4, 0.1), (10, 0.1)]
    {
        close(c.factor(t), f);
    }
    // Warm-up over 4 epochs: (t+1)/5 for t < 4, then 1.
    let w = LinearWarmup { epochs: 4 };
    for (t, f) in [(0, 0.2), (1, 0.4), (3, 0.8), (4, 1.0), (50, 1.0)] {
        close(w.factor(t), f);
    }
    // Product: warm-up × step decay (γ 0.1 every 2 epochs).
    let p = w.and(StepDecay { step_size: 2, gamma: 0.1 });
    for (t, f) in [(0, 0.2), (1, 0.4), (2, 0.06), (3, 0.08), (4, 0.01), (6, 0.001)] {
        close(p.factor(t), f);
    }
    let explicit = Product(LinearWarmup { epochs: 4 }, Cosine { total: 4, min_factor: 0.1 });
    close(explicit.lr(2.0, 1), 2.0 * 0.4 * 0.868_198_051_533_946_4);
}

#[test]
fn invalid_optimizer_configs_are_config_errors() {
    let sgd = |c: SgdConfig| matches!(Sgd::<f32>::new(c), Err(LayerError::Config { .. }));
    assert!(sgd(SgdConfig::new(-0.1)));
    assert!(sgd(SgdConfig::new(f64::NAN)));
    assert!(sgd(SgdConfig::new(f64::INFINITY)));
    assert!(sgd(SgdConfig::new(0.1).momentum(-0.9)));
    assert!(sgd(SgdConfig::new(0.1).weight_decay(-1e-4)));
    assert!(sgd(SgdConfig::new(0.1).dampening(-0.1)));
    assert!(sgd(SgdConfig::new(0.1).nesterov(true)), "Nesterov without momentum");
    assert!(sgd(SgdConfig::new(0.1).momentum(0.9).dampening(0.1).nesterov(true)), "Nesterov with dampening");
    assert!(Sgd::<f32>::new(SgdConfig::new(0.1).momentum(0.9).nesterov(true)).is_ok());
    assert!(Sgd::<f32>::new(SgdConfig::new(0.0)).is_ok());

    let adam = |c: AdamConfig| matches!(Adam::<f32>::new(c), Err(LayerError::Config { .. }));
    assert!(adam(AdamConfig::adam(-1e-3)));
    assert!(adam(AdamConfig::adam(1e-3).betas(1.0, 0.999)));
    assert!(adam(AdamConfig::adam(1e-3).betas(0.9, 1.0)));
    assert!(adam(AdamConfig::adam(1e-3).betas(-0.1, 0.999)));
    assert!(adam(AdamConfig::adam(1e-3).betas(f64::NAN, 0.999)));
    assert!(adam(AdamConfig::adam(1e-3).weight_decay(-0.01)));
    assert!(adam(AdamConfig { eps: -1e-8, ..AdamConfig::adam(1e-3) }));
    assert!(adam(AdamConfig::adamw(f64::NAN)));
    assert!(Adam::<f32>::new(AdamConfig::adam(1e-3).betas(0.0, 0.0)).is_ok());
}

/// PyTorch's defaults.
#[test]
fn config_defaults_are_pytorchs() {
    let a = AdamConfig::adam(1e-3);
    assert_eq!((a.betas, a.eps, a.weight_decay, a.decoupled), ((0.9, 0.999), 1e-8, 0.0, false));
    let w = AdamConfig::adamw(1e-3);
    assert_eq!((w.betas, w.eps, w.weight_decay, w.decoupled), ((0.9, 0.999), 1e-8, 0.01, true));
    let s = SgdConfig::new(0.1);
    assert_eq!((s.momentum, s.dampening, s.nesterov, s.weight_decay), (0.0, 0.0, false, 0.0));
}

/// The optimizers run in f32 too, and agree with the f64 run to f32 precision.
#[test]
fn f32_matches_f64() {
    let mut p64 = param(&P0);
    let mut p32 = Param::new(Tensor::from_vec(&[3], P0.iter().map(|&v| v as f32).collect()).unwrap());
    let mut o64 = Adam::<f64>::new(AdamConfig::adamw(0.05)).unwrap();
    let mut o32 = Adam::<f32>::new(AdamConfig::adamw(0.05)).unwrap();
    for g in [G1, G2, G1] {
        step(&mut o64, "w", &mut p64, &g);
        let tape = Tape::<f32>::new();
        let c = tape.constant(Tensor::from_vec(&[3, 1], g.iter().map(|&v| v as f32).collect()).unwrap());
        let l = tape.param(&p32).reshape(&[1, 3]).unwrap().matmul(c).unwrap();
        let grads = tape.backward(l).unwrap();
        drop(tape);
        o32.step(vec![("w".into(), &mut p32)], &grads).unwrap();
    }
    assert_close(&to_f64(&p32.value), &p64.value.to_vec(), 1e-5, 1e-6);
}
