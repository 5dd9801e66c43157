//! Batch normalisation on one tape: training mode against a naive per-channel loop and
//! central finite differences (f64, 2-D and 4-D, contiguous and permuted inputs), the batch
//! statistics and PyTorch's running-statistics update, evaluation mode likewise, f32 against
//! f64; with a fused ReLU, the same numbers as batch norm then ReLU, and finite differences
//! away from the kink. The sharded op is in `batch_norm_shards.rs`.

use crate::bn_common;
use crate::common;

use autograd::strategies;
use autograd::{AutogradError, BatchStats, Tape};
use bn_common::*;
use common::*;
use proptest::prelude::*;
use tensor::{Activation, Tensor};

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn training_mode_matches_the_naive_loop_and_finite_differences(
        (x, gamma, beta) in bn_shape().prop_flat_map(bn_inputs),
        seed in any::<u64>(),
    ) {
        prop_assume!(well_spread(&x));
        let want = naive(&x, &gamma.to_vec(), &beta.to_vec());
        let tape = Tape::new();
        let out = tape.leaf(x.clone()).batch_norm_train(tape.leaf(gamma.clone()), tape.leaf(beta.clone()), EPS, None)?;
        prop_assert_eq!(out.y.shape(), x.shape().to_vec());
        prop_close(&out.y.value().to_vec(), &want.y, 1e-12)?;
        prop_close(&out.stats.mean.to_vec(), &want.mean, 1e-12)?;
        prop_close(&out.stats.unbiased_var.to_vec(), &want.unbiased, 1e-12)?;
        prop_assert_eq!(out.stats.count, x.numel() / x.shape()[1]);

        check_gradients(
            |_, v| weighted_sum(v[0].batch_norm_train(v[1], v[2], EPS, None)?.y, seed),
            &[x, gamma, beta],
        )?;
    }

    /// A channels-last input (a permuted view) and a gradient arriving through a permute:
    /// the op's strided paths.
    #[test]
    fn training_mode_on_permuted_views(
        (x, gamma, beta) in (1..=3usize, 1..=3usize, 1..=3usize, 2..=3usize)
            .prop_flat_map(|(n, h, w, c)| bn_inputs(vec![n, c, h, w])),
        seed in any::<u64>(),
    ) {
        prop_assume!(well_spread(&x));
        let nhwc = x.permute(&[0, 2, 3, 1])?.to_contiguous();
        let want = naive(&x, &gamma.to_vec(), &beta.to_vec());
        let tape = Tape::new();
        let view = tape.leaf(nhwc.clone()).permute(&[0, 3, 1, 2])?;
        let y = view.batch_norm_train(tape.leaf(gamma.clone()), tape.leaf(beta.clone()), EPS, None)?.y;
        prop_close(&y.value().to_vec(), &want.y, 1e-12)?;
        check_gradients(
            |_, v| {
                let y = v[0].permute(&[0, 3, 1, 2])?.batch_norm_train(v[1], v[2], EPS, None)?.y;
                weighted_sum(y.permute(&[0, 2, 3, 1])?, seed)
            },
            &[nhwc, gamma, beta],
        )?;
    }

    #[test]
    fn evaluation_mode_matches_the_affine_map_and_finite_differences(
        ((x, gamma, beta), mean, var) in bn_shape().prop_flat_map(|s| {
            let c = s[1];
            (bn_inputs(s), strategies::tensor::<f64>(vec![c]), proptest::collection::vec(0.05f64..2.0, c))
        }),
        seed in any::<u64>(),
    ) {
        let var = Tensor::from_vec(&[var.len()], var)?;
        let (c, inner) = (x.shape()[1], x.numel() / x.shape()[0] / x.shape()[1]);
        let (g, b, m, v) = (gamma.to_vec(), beta.to_vec(), mean.to_vec(), var.to_vec());
        let want: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, xv)| {
                let ch = (i / inner) % c;
                g[ch] * (xv - m[ch]) / (v[ch] + EPS).sqrt() + b[ch]
            })
            .collect();
        let tape = Tape::new();
        let y = tape.leaf(x.clone()).batch_norm_eval(tape.leaf(gamma.clone()), tape.leaf(beta.clone()), &mean, &var, EPS)?;
        prop_close(&y.value().to_vec(), &want, 1e-12)?;
        check_gradients(|_, v| weighted_sum(v[0].batch_norm_eval(v[1], v[2], &mean, &var, EPS)?, seed), &[x, gamma, beta])?;
    }

    /// `act(batch_norm(x))` as one op: bit for bit the output and gradients of batch norm
    /// followed by the ReLU op, in training and evaluation mode; finite differences away
    /// from the kink.
    #[test]
    fn fused_relu_equals_batch_norm_then_relu((x, gamma, beta) in bn_shape().prop_flat_map(bn_inputs), seed in any::<u64>()) {
        prop_assume!(well_spread(&x));
        let relu = Some(Activation::Relu);
        let tape = Tape::new();
        let (xv, gv, bv) = (tape.leaf(x.clone()), tape.leaf(gamma.clone()), tape.leaf(beta.clone()));
        let pre = xv.batch_norm_train(gv, bv, EPS, None)?.y;
        prop_assume!(pre.value().iter().all(|v| v.abs() > 1e-3));
        let separate = pre.relu()?;
        let fused = xv.batch_norm_train_activated(gv, bv, EPS, None, relu)?.y;
        prop_assert_eq!(fused.value().to_vec(), separate.value().to_vec());
        let (gs, gf) = (tape.backward(weighted_sum(separate, seed)?)?, tape.backward(weighted_sum(fused, seed)?)?);
        for v in [xv, gv, bv] {
            prop_assert_eq!(gf.get(v).unwrap().to_vec(), gs.get(v).unwrap().to_vec());
        }
        check_gradients(
            |_, v| weighted_sum(v[0].batch_norm_train_activated(v[1], v[2], EPS, None, relu)?.y, seed),
            &[x.clone(), gamma.clone(), beta.clone()],
        )?;

        let c = x.shape()[1];
        let (mean, var) = (Tensor::from_fn(&[c], |i| i[0] as f64 * 0.1)?, Tensor::from_fn(&[c], |i| 0.5 + i[0] as f64)?);
        let eval_separate = xv.batch_norm_eval(gv, bv, &mean, &var, EPS)?.relu()?.value();
        let eval_fused = xv.batch_norm_eval_activated(gv, bv, &mean, &var, EPS, relu)?.value();
        prop_assert_eq!(eval_fused.to_vec(), eval_separate.to_vec());
        let no_grad = Tape::no_grad();
        let (xc, gc, bc) = (no_grad.constant(x), no_grad.constant(gamma), no_grad.constant(beta));
        let inference = xc.batch_norm_eval_activated(gc, bc, &mean, &var, EPS, relu)?.value();
        prop_assert_eq!(inference.to_vec(), eval_separate.to_vec());
    }

    /// With the batch's own mean and biased variance as running statistics, evaluation mode
    /// gives training mode's output.
    #[test]
    fn evaluation_with_the_batch_statistics_is_training_mode((x, gamma, beta) in bn_shape().prop_flat_map(bn_inputs)) {
        let want = naive(&x, &gamma.to_vec(), &beta.to_vec());
        let tape = Tape::new();
        let (xv, gv, bv) = (tape.leaf(x.clone()), tape.leaf(gamma.clone()), tape.leaf(beta.clone()));
        let train = xv.batch_norm_train(gv, bv, EPS, None)?;
        let c = want.var.len();
        let eval = xv.batch_norm_eval(gv, bv, &train.stats.mean, &Tensor::from_vec(&[c], want.var.clone())?, EPS)?;
        prop_close(&eval.value().to_vec(), &train.y.value().to_vec(), 1e-12)?;
    }
}

/// PyTorch's update: `r ← 0.9·r + 0.1·s` for the mean and the unbiased variance.
#[test]
fn running_statistics_follow_pytorchs_momentum_update() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Tensor::from_vec(&[4, 2], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 6.0, 60.0]).unwrap());
    let (gamma, beta) = (tape.constant(Tensor::ones(&[2]).unwrap()), tape.constant(Tensor::zeros(&[2]).unwrap()));
    let stats: BatchStats<f64> = x.batch_norm_train(gamma, beta, EPS, None).unwrap().stats;
    // Channel 0: mean 3, Σ(x − 3)² = 4 + 1 + 0 + 9 = 14, unbiased 14/3; channel 1 is ×10.
    assert_close(&stats.mean.to_vec(), &[3.0, 30.0], 1e-15);
    assert_close(&stats.unbiased_var.to_vec(), &[14.0 / 3.0, 1400.0 / 3.0], 1e-15);
    let mut running_mean = Tensor::zeros(&[2]).unwrap();
    let mut running_var = Tensor::ones(&[2]).unwrap();
    stats.update_running(&mut running_mean, &mut running_var, 0.1).unwrap();
    assert_close(&running_mean.to_vec(), &[0.3, 3.0], 1e-15);
    assert_close(&running_var.to_vec(), &[0.9 + 1.4 / 3.0, 0.9 + 140.0 / 3.0], 1e-15);
    let mut wrong = Tensor::zeros(&[3]).unwrap();
    assert!(stats.update_running(&mut wrong, &mut running_var, 0.1).is_err());
}

#[test]
fn evaluation_mode_rejects_bad_running_statistics() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::ones(&[2, 2]).unwrap());
    let (gamma, beta) = (tape.leaf(Tensor::ones(&[2]).unwrap()), tape.leaf(Tensor::zeros(&[2]).unwrap()));
    let mean = Tensor::zeros(&[2]).unwrap();
    let negative = Tensor::from_vec(&[2], vec![1.0, -1.0]).unwrap();
    assert!(matches!(
        x.batch_norm_eval(gamma, beta, &mean, &negative, 1e-5),
        Err(AutogradError::InvalidArgument { op: "batch_norm_eval", .. })
    ));
    assert!(matches!(
        x.batch_norm_eval(gamma, beta, &Tensor::zeros(&[3]).unwrap(), &mean, 1e-5),
        Err(AutogradError::Tensor(_))
    ));
}

/// In f32 (training precision) the op agrees with the f64 one to f32 rounding.
#[test]
fn f32_agrees_with_f64() {
    let x = random_tensor(&[8, 4, 3, 3], 21).mul_scalar(3.0).add_scalar(1.0);
    let (gamma, beta, w) =
        (random_tensor(&[4], 22).add_scalar(1.5), random_tensor(&[4], 23), random_tensor(&[8, 4, 3, 3], 24));
    let want = one_shard(x.clone(), gamma.clone(), beta.clone(), w.clone(), None).unwrap();
    let narrow = |t: &Tensor<f64>| Tensor::<f32>::from_vec(t.shape(), t.iter().map(|v| v as f32).collect()).unwrap();
    let tape = Tape::<f32>::new();
    let (xv, gv, bv) = (tape.leaf(narrow(&x)), tape.leaf(narrow(&gamma)), tape.leaf(narrow(&beta)));
    let y = xv.batch_norm_train(gv, bv, 1e-5, None).unwrap().y;
    let grads = tape.backward(y.mul(tape.constant(narrow(&w))).unwrap().sum().unwrap()).unwrap();
    let widen = |t: &Tensor<f32>| t.iter().map(f64::from).collect::<Vec<f64>>();
    assert_close(&widen(&y.value()), &want.0, 1e-5);
    assert_close(&widen(grads.get(xv).unwrap()), &want.1, 1e-5);
    assert_close(&widen(grads.get(gv).unwrap()), &want.2, 1e-4);
    assert_close(&widen(grads.get(bv).unwrap()), &want.3, 1e-4);
}
