//! The explorer's matrices against independent computations.
//!
//! - Forward: `z⁽¹⁾` against a naive convolution loop, S2's argmax against a naive window
//!   scan, the logits `z⁽⁷⁾` and `P` against the fused `Module::forward` (the `conv2d` op,
//!   not the im2col chain), the input against `mnist::preprocess_into`.
//! - Backward: every `∇W`, `∇b` against `tape.backward` through the fused forward pass,
//!   `∇z⁽⁷⁾` against `P − Y`, sampled elements against central differences in f64.
//! - SGD step: `ΔW = −η·∇W`, the label's probability rises, the caller's weights unchanged.

use crate::explorer_support;

use autograd::Tape;
use layers::Module;
use models::LeNet5;
use models::data::Preprocess;
use models::explorer::{ExplorerError, Image, Net, Pass, StepResult};
use models::network::NetworkInfo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

use explorer_support::{
    GRAD_IDS, digit, find, fused, lenet_pass, max_abs_diff, mnist_input, model, noisy_digit, softmax,
};

/// `steps` SGD steps of the explorer on LeNet-5 `m` (copied into the explorer's network).
fn step(
    m: &LeNet5<f32>,
    preprocess: &Preprocess,
    image: &Image,
    label: usize,
    lr: f32,
    steps: usize,
) -> Result<StepResult, ExplorerError> {
    let net = Net::from_module(&NetworkInfo::lenet5_mnist(), preprocess, m)?;
    models::explorer::step(&net, &image.input(preprocess, [1, 28, 28])?, label, lr, steps)
}

#[test]
fn forward_matrices_match_independent_computations() {
    let m = model(3);
    let bytes = digit();
    let p = lenet_pass(&m, &Image::from_bytes(&bytes), Some(7)).unwrap();
    let x = mnist_input(&bytes);
    assert_eq!(find(&p.forward, "x").data, x, "the input is preprocessed as training does");

    // z⁽¹⁾ by a naive convolution loop.
    let params = m.named_parameters();
    let w = params[0].1.value.to_contiguous().to_vec();
    let b = params[1].1.value.to_vec();
    assert_eq!((params[0].0.as_str(), params[1].0.as_str()), ("c1.weight", "c1.bias"));
    let z1 = find(&p.forward, "z1");
    assert_eq!(z1.shape, [784, 6]);
    let mut worst = 0.0f32;
    for i in 0..28 {
        for j in 0..28 {
            for f in 0..6 {
                let mut s = b[f];
                for u in 0..5 {
                    for v in 0..5 {
                        s += w[f * 25 + u * 5 + v] * x[(i + u) * 32 + j + v];
                    }
                }
                worst = worst.max((s - z1.at(i * 28 + j, f)).abs());
            }
        }
    }
    assert!(worst < 1e-4, "z1 differs from the naive convolution by {worst}");
    // a⁽⁰⁾: row r holds the 5×5 window at (r/28, r%28).
    let a0 = find(&p.forward, "a0");
    assert_eq!(a0.at(5 * 28 + 9, 2 * 5 + 3), x[(5 + 2) * 32 + 9 + 3]);

    // S2: each window row and its first maximum, by scanning the C1 maps.
    let out1 = find(&p.forward, "out1");
    let a1 = find(&p.forward, "a1");
    let argmax = a1.argmax.as_ref().unwrap();
    for c in 0..6 {
        for i in 0..14 {
            for j in 0..14 {
                let r = c * 196 + i * 14 + j;
                let cells: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(di, dj)| out1.data[c * 784 + (2 * i + di) * 28 + 2 * j + dj])
                    .collect();
                assert_eq!(cells, a1.data[r * 4..r * 4 + 4], "window {r}");
                let first = (0..4).fold(0, |k, q| if cells[q] > cells[k] { q } else { k });
                assert_eq!(usize::from(argmax[r]), first, "argmax of window {r}");
                assert_eq!(find(&p.forward, "z2").data[r], cells[first]);
            }
        }
    }

    // z⁽⁷⁾ and P against the fused forward pass.
    let (logits, _) = fused(&m, &x, 7);
    let z7 = &find(&p.forward, "z7").data;
    assert!(max_abs_diff(z7, &logits) < 1e-4, "z7 {z7:?} vs fused {logits:?}");
    assert!(max_abs_diff(&p.probabilities, &softmax(&logits)) < 1e-5);
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(p.prediction, (0..10).fold(0, |b, i| if logits[i] > logits[b] { i } else { b }));
}

#[test]
fn backward_matrices_match_the_fused_tape_and_finite_differences() {
    let m = model(4);
    let bytes = noisy_digit();
    let label = 2;
    let p: Pass = lenet_pass(&m, &Image::from_bytes(&bytes), Some(label)).unwrap();
    assert_eq!(p.label, label);
    let x = mnist_input(&bytes);

    // ∇z⁽⁷⁾ = P − Y.
    let dz7 = &find(&p.backward, "dz7").data;
    for (k, (g, pk)) in dz7.iter().zip(&p.probabilities).enumerate() {
        let y = if k == label { 1.0 } else { 0.0 };
        assert!((g - (pk - y)).abs() < 1e-6, "dz7[{k}]");
    }

    // Every parameter gradient against the fused conv2d/linear path.
    let (_, grads) = fused(&m, &x, label);
    for (id, (name, g)) in GRAD_IDS.iter().zip(&grads) {
        let mine = find(&p.backward, id);
        assert_eq!(mine.data.len(), g.numel(), "{id} vs {name}");
        let scale = g.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-6);
        let d = max_abs_diff(&mine.data, &g.to_vec());
        assert!(d <= 1e-4 * scale + 1e-7, "{id} differs from the tape's {name} by {d} (scale {scale})");
    }
    // ∇b is the column sum of ∇z.
    let dz1 = find(&p.backward, "dz1");
    let db1 = &find(&p.backward, "db1").data;
    for (f, b) in db1.iter().enumerate() {
        let s: f32 = (0..784).map(|r| dz1.at(r, f)).sum();
        assert!((s - b).abs() < 1e-4 * s.abs().max(1e-3), "db1[{f}]");
    }
    // The routing: ∇a⁽¹⁾ is zero off each row's argmax and ∇z⁽²⁾ on it.
    let da1 = find(&p.backward, "da1");
    let dz2 = &find(&p.backward, "dz2").data;
    let argmax = da1.argmax.as_ref().unwrap();
    for r in 0..1176 {
        for q in 0..4 {
            let want = if q == usize::from(argmax[r]) { dz2[r] } else { 0.0 };
            assert_eq!(da1.at(r, q), want, "da1[{r}, {q}]");
        }
    }

    // Central differences in f64 on the largest-gradient element of each parameter and on
    // one input pixel (through ∇x = col2im(∇a⁽⁰⁾)).
    let mut m64 = models::lenet5::new::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    layers::copy_state(&mut m64, &m).unwrap();
    let x64: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    let loss = |m: &LeNet5<f64>, x: &[f64]| -> f64 {
        let tape = Tape::no_grad();
        let z = m.forward(tape.constant(Tensor::from_vec(&[1, 1, 32, 32], x.to_vec()).unwrap())).unwrap();
        layers::cross_entropy(z, &[label]).unwrap().value().item().unwrap()
    };
    let h = 1e-5;
    for (k, id) in GRAD_IDS.iter().enumerate() {
        let mine = find(&p.backward, id);
        // The derivation's layout back to PyTorch's: element (row, col) of Wᵀ.
        let (row, col) = {
            let i = (0..mine.data.len()).fold(0, |b, i| if mine.data[i].abs() > mine.data[b].abs() { i } else { b });
            (i / mine.shape[1], i % mine.shape[1])
        };
        let flat = if mine.shape[0] == 1 { col } else { col * mine.shape[0] + row };
        let nudge = |m: &mut LeNet5<f64>, d: f64| m.named_parameters_mut()[k].1.value.as_mut_slice()[flat] += d;
        nudge(&mut m64, h);
        let plus = loss(&m64, &x64);
        nudge(&mut m64, -2.0 * h);
        let minus = loss(&m64, &x64);
        nudge(&mut m64, h);
        let numeric = (plus - minus) / (2.0 * h);
        let analytic = f64::from(mine.at(row, col));
        assert!(
            (analytic - numeric).abs() <= 1e-4 + 2e-3 * numeric.abs(),
            "{id}[{row}, {col}]: explorer {analytic}, central difference {numeric}"
        );
    }
    let dx = tensor::col2im(
        &Tensor::from_vec(&[784, 25], find(&p.backward, "da0").data.clone()).unwrap(),
        &[1, 1, 32, 32],
        &tensor::Window2d::square(5, 1, 0),
    )
    .unwrap()
    .to_vec();
    let pixel = (0..1024).fold(0, |b, i| if dx[i].abs() > dx[b].abs() { i } else { b });
    let mut xp = x64.clone();
    xp[pixel] += h;
    let plus = loss(&m64, &xp);
    xp[pixel] -= 2.0 * h;
    let minus = loss(&m64, &xp);
    let numeric = (plus - minus) / (2.0 * h);
    assert!(
        (f64::from(dx[pixel]) - numeric).abs() <= 1e-4 + 2e-3 * numeric.abs(),
        "∇x[{pixel}] = col2im(∇a0): {} vs central difference {numeric}",
        dx[pixel]
    );
}

#[test]
fn one_sgd_step_moves_the_copy_by_minus_lr_grad() {
    let m = model(5);
    let image = Image::from_bytes(&digit());
    let label = 4;
    let before: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value.to_vec()).collect();
    let lr = 0.05;
    let s = step(&m, &Preprocess::mnist(), &image, label, lr, 1).unwrap();
    let p = lenet_pass(&m, &image, Some(label)).unwrap();
    for id in GRAD_IDS {
        let g = find(&p.backward, id);
        let delta = find(&s.deltas, &id.replacen('d', "D", 1));
        let want: Vec<f32> = g.data.iter().map(|v| -lr * v).collect();
        let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-8);
        assert!(max_abs_diff(&delta.data, &want) <= 1e-3 * scale + 1e-7, "{id}: ΔW ≠ −η·∇W");
    }
    assert!(s.after[label] > s.before[label], "P[label] {} → {}", s.before[label], s.after[label]);
    assert!(s.loss_after < s.loss_before);
    assert_eq!(s.before, p.probabilities);
    let after: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value.to_vec()).collect();
    assert_eq!(before, after, "the caller's network is unchanged");
    let three = step(&m, &Preprocess::mnist(), &image, label, lr, 3).unwrap();
    assert!(three.after[label] > s.after[label], "three steps move further than one");
}

#[test]
fn bad_inputs_are_errors() {
    let m = model(1);
    let short = Image(vec![0.0; 783]);
    assert!(lenet_pass(&m, &short, None).unwrap_err().to_string().contains("784"));
    let mut nan = vec![0.0; 784];
    nan[17] = f32::NAN;
    assert!(lenet_pass(&m, &Image(nan), None).unwrap_err().to_string().contains("pixel 17"));
    let mut big = vec![0.0; 784];
    big[3] = 256.0;
    assert!(lenet_pass(&m, &Image(big), None).is_err());
    let ok = Image::from_bytes(&digit());
    assert!(lenet_pass(&m, &ok, Some(10)).is_err());
    assert!(step(&m, &Preprocess::mnist(), &ok, 3, f32::NAN, 1).is_err());
    assert!(step(&m, &Preprocess::mnist(), &ok, 3, 0.1, 0).is_err());
    assert!(step(&m, &Preprocess::mnist(), &ok, 3, 0.1, 1000).is_err());
}
