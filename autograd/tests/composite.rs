//! One LeNet-5 stage end to end: im2col → matmul with a PyTorch-layout weight reshaped and
//! transposed → add_bias → ReLU → reshape/permute to N×F×oh×ow → pool_windows → max_rows →
//! flatten → matmul → softmax cross-entropy + 0.5·λ·(‖W1‖² + ‖W2‖²). Its value must match a
//! naive index-loop implementation, and its gradients w.r.t. x, W1, b1 and W2 must pass
//! gradcheck (half of the cases pool with the fused `max_pool2d` instead). Points within a margin of a ReLU kink or a max tie are discarded.

use crate::common;

use autograd::{GradcheckConfig, Param, Tape, gradcheck, strategies};
use common::*;
use proptest::prelude::*;
use tensor::Window2d;

/// Distance from a kink below which a case is discarded: a finite-difference step of 1e-6
/// moves a pre-activation or a pooled value by far less.
const MARGIN: f64 = 1e-4;

/// Small stages: N ≤ 2, C ≤ 2, H, W in 4..=7, F ≤ 3, kernels up to 3×3 (non-square),
/// conv stride ≤ 2 and padding ≤ 1, pool kernel 2–3, stride 1–2, padding ≤ 1, K in 2..=4.
fn stage() -> impl Strategy<Value = Stage> {
    let dims = (1..=2usize, 1..=2usize, 1..=3usize, 2..=4usize, 4..=7usize, 4..=7usize);
    let conv = (1..=3usize, 1..=3usize, 1..=2usize, 1..=2usize, 0..=1usize, 0..=1usize);
    let pool = (2..=3usize, 2..=3usize, 1..=2usize, 1..=2usize, 0..=1usize);
    (dims, conv, pool)
        .prop_map(|((n, c, f, k, h, w), (kh, kw, sh, sw, ph, pw), (pkh, pkw, psh, psw, pp))| {
            let conv = Window2d { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] };
            let pool = Window2d { kernel: [pkh, pkw], stride: [psh, psw], padding: [pp, pp] };
            (n, c, f, k, h, w, conv, pool)
        })
        .prop_filter("the pooling window must fit the conv output", |&(_, _, _, _, h, w, conv, pool)| {
            let oh = out_size(h, conv.kernel[0], conv.stride[0], conv.padding[0]);
            let ow = out_size(w, conv.kernel[1], conv.stride[1], conv.padding[1]);
            oh + 2 * pool.padding[0] >= pool.kernel[0] && ow + 2 * pool.padding[1] >= pool.kernel[1]
        })
        .prop_flat_map(|(n, c, f, k, h, w, conv, pool)| {
            let oh = out_size(h, conv.kernel[0], conv.stride[0], conv.padding[0]);
            let ow = out_size(w, conv.kernel[1], conv.stride[1], conv.padding[1]);
            let ph = out_size(oh, pool.kernel[0], pool.stride[0], pool.padding[0]);
            let pw = out_size(ow, pool.kernel[1], pool.stride[1], pool.padding[1]);
            (
                strategies::tensor::<f64>(vec![n, c, h, w]),
                strategies::tensor::<f64>(vec![f, c, conv.kernel[0], conv.kernel[1]]),
                strategies::tensor::<f64>(vec![f]).prop_map(|b| b.mul_scalar(0.5)),
                strategies::tensor::<f64>(vec![f * ph * pw, k]),
                proptest::collection::vec(0..k, n),
                0.0..0.1f64,
                (Just((conv, pool)), any::<bool>()),
            )
        })
        .prop_map(|(x, w1, b1, w2, labels, lambda, ((conv, pool), fused_pool))| Stage {
            x,
            w1,
            b1,
            w2,
            labels,
            lambda,
            conv,
            pool,
            fused_pool,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { max_global_rejects: 4096, ..config(64) })]

    #[test]
    fn lenet_stage_passes_gradcheck(stage in stage()) {
        let naive = stage.naive_forward();
        prop_assume!(naive.relu_margin > MARGIN && naive.pool_margin > MARGIN);

        // The tape computes the same loss as the index loops.
        let tape = Tape::<f64>::new();
        let vars: Vec<_> = stage.inputs().into_iter().map(|t| tape.leaf(t)).collect();
        let loss = stage.forward(&vars)?.value().item()?;
        prop_assert!((loss - naive.loss).abs() <= 1e-10 * (1.0 + naive.loss.abs()), "{} vs naive {}", loss, naive.loss);

        // And its gradients w.r.t. all four inputs match central differences.
        check_gradients(|_, v| stage.forward(v), &stage.inputs())?;
    }
}

/// A fixed, larger stage in LeNet-5's own geometry (5×5 conv with padding 2, 2×2 pooling
/// with stride 2), checked on a random subset of elements per input, and with parameters
/// brought on the tape as `Param`s (the way a layer does it).
#[test]
fn lenet_c1_s2_geometry_with_params() {
    let (n, c, h, f, k) = (2, 1, 12, 4, 10);
    let conv = Window2d::square(5, 1, 2);
    let pool = Window2d::square(2, 2, 0);
    let (ph, pw) = (6, 6);
    let mut seed = 0;
    let stage = loop {
        seed += 1;
        let stage = Stage {
            x: random_tensor(&[n, c, h, h], seed),
            w1: random_tensor(&[f, c, 5, 5], seed + 1000).mul_scalar(0.5),
            b1: random_tensor(&[f], seed + 2000).mul_scalar(0.1),
            w2: random_tensor(&[f * ph * pw, k], seed + 3000).mul_scalar(0.3),
            labels: vec![3, 7],
            lambda: 5e-3,
            conv,
            pool,
            fused_pool: false,
        };
        let naive = stage.naive_forward();
        assert_eq!(naive.pool_out, (ph, pw));
        if naive.relu_margin > MARGIN && naive.pool_margin > MARGIN {
            break stage;
        }
        assert!(seed < 200, "no kink-free draw found");
    };

    // The tape's loss equals the naive one, and the gradients of the `Param`s equal those
    // of the same tensors as plain leaves under gradcheck.
    let (w1, b1, w2) = (Param::new(stage.w1.clone()), Param::new(stage.b1.clone()), Param::new(stage.w2.clone()));
    let tape = Tape::<f64>::new();
    let vars = [tape.constant(stage.x.clone()), tape.param(&w1), tape.param(&b1), tape.param(&w2)];
    let loss = stage.forward(&vars).unwrap();
    assert!((loss.value().item().unwrap() - stage.naive_forward().loss).abs() < 1e-10);
    let grads = tape.backward(loss).unwrap();
    drop(tape);
    assert!(grads.param(&w1).is_some() && grads.param(&b1).is_some() && grads.param(&w2).is_some());

    let config = GradcheckConfig { max_elements: Some(40), seed: 7, ..GradcheckConfig::default() };
    let report = gradcheck(|_, v| stage.forward(v), &stage.inputs(), &config).unwrap();
    for (r, expected) in report.inputs.iter().zip([40, 40, f, 40]) {
        assert_eq!(r.checked, expected);
    }

    // Param gradients against central differences of the naive loss, at a few elements.
    let h = 1e-6;
    for (which, param) in [(1usize, &w1), (2, &b1), (3, &w2)] {
        let analytic = grads.param(param).unwrap().to_vec();
        for flat in [0, analytic.len() / 2, analytic.len() - 1] {
            let perturbed = |delta: f64| {
                let mut s = stage.clone();
                let t = [&mut s.x, &mut s.w1, &mut s.b1, &mut s.w2][which].as_mut_slice();
                t[flat] += delta;
                s.naive_forward().loss
            };
            let numeric = (perturbed(h) - perturbed(-h)) / (2.0 * h);
            assert!(
                (analytic[flat] - numeric).abs() <= 1e-5 + 1e-3 * numeric.abs(),
                "input {which} element {flat}: analytic {} numeric {numeric}",
                analytic[flat]
            );
        }
    }
}
