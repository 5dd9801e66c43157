//! Batch normalisation: training mode against a naive per-channel loop and central finite
//! differences (f64, 2-D and 4-D, contiguous and permuted inputs); the batch statistics and
//! the running-statistics update; evaluation mode likewise; and the sharded op — a batch
//! split over 2–3 threads, each on its own tape, joined by a `ReduceGroup` — equal to the
//! whole batch on one tape to 1e-12, and failing instead of hanging when a shard fails.

mod common;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use autograd::strategies::{self, tensor_away_from_zero};
use autograd::{AutogradError, BatchStats, ReduceGroup, StepContext, Tape};
use common::*;
use proptest::prelude::*;
use tensor::Tensor;

const EPS: f64 = 1e-5;

/// `[N, C]` with N ≥ 2, or `[N, C, H, W]` with N·H·W ≥ 2 (at least two values per channel).
fn bn_shape() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        (2..=6usize, 1..=3usize).prop_map(|(n, c)| vec![n, c]),
        (1..=3usize, 1..=3usize, 1..=3usize, 1..=3usize)
            .prop_filter("two values per channel", |(n, _, h, w)| n * h * w >= 2)
            .prop_map(|(n, c, h, w)| vec![n, c, h, w]),
    ]
}

/// An input of `shape` with `gamma` (away from 0) and `beta` of its channel count.
fn bn_inputs(shape: Vec<usize>) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    let c = shape[1];
    (strategies::tensor::<f64>(shape), tensor_away_from_zero::<f64>(vec![c], 0.3), strategies::tensor::<f64>(vec![c]))
}

/// The naive training-mode batch norm: per channel mean, biased and unbiased variance, and
/// `y`, by loops over a row-major `[N, C, inner]` buffer.
struct Naive {
    y: Vec<f64>,
    mean: Vec<f64>,
    var: Vec<f64>,
    unbiased: Vec<f64>,
}

fn naive(x: &Tensor<f64>, gamma: &[f64], beta: &[f64]) -> Naive {
    let s = x.shape();
    let (n, c, inner): (usize, usize, usize) = (s[0], s[1], s[2..].iter().product());
    let data = x.to_vec();
    let at = |i: usize, ch: usize, k: usize| data[(i * c + ch) * inner + k];
    let m = (n * inner) as f64;
    let mut mean = vec![0.0; c];
    let mut ss = vec![0.0; c];
    for ch in 0..c {
        mean[ch] = (0..n).flat_map(|i| (0..inner).map(move |k| (i, k))).map(|(i, k)| at(i, ch, k)).sum::<f64>() / m;
        ss[ch] = (0..n)
            .flat_map(|i| (0..inner).map(move |k| (i, k)))
            .map(|(i, k)| (at(i, ch, k) - mean[ch]).powi(2))
            .sum::<f64>();
    }
    let var: Vec<f64> = ss.iter().map(|v| v / m).collect();
    let mut y = vec![0.0; data.len()];
    for i in 0..n {
        for ch in 0..c {
            for k in 0..inner {
                y[(i * c + ch) * inner + k] = gamma[ch] * (at(i, ch, k) - mean[ch]) / (var[ch] + EPS).sqrt() + beta[ch];
            }
        }
    }
    Naive { y, mean, unbiased: ss.iter().map(|v| v / (m - 1.0)).collect(), var }
}

/// Finite differences of a normalisation are ill-conditioned when a channel is almost
/// constant; keep the variance of every channel above 0.01.
fn well_spread(x: &Tensor<f64>) -> bool {
    let c = x.shape()[1];
    naive(x, &vec![1.0; c], &vec![0.0; c]).var.iter().all(|&v| v > 0.01)
}

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

/// What one shard returns: y, ∇x, ∇γ, ∇β, and the batch statistics it saw.
type ShardResult = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// Batch norm of `x` on one tape, the loss `Σ w ⊙ y`, and its gradients.
fn one_shard(
    x: Tensor<f64>,
    gamma: Tensor<f64>,
    beta: Tensor<f64>,
    w: Tensor<f64>,
    context: Option<StepContext>,
) -> autograd::Result<ShardResult> {
    let tape = match context {
        Some(c) => Tape::with_context(c),
        None => Tape::new(),
    };
    let (xv, gv, bv) = (tape.leaf(x), tape.leaf(gamma), tape.leaf(beta));
    let group = tape.context().and_then(StepContext::shard_of_group);
    let out = xv.batch_norm_train(gv, bv, EPS, group)?;
    let loss = out.y.mul(tape.constant(w))?.sum()?;
    let grads = tape.backward(loss)?;
    let get = |v| grads.get(v).map(Tensor::to_vec).unwrap_or_default();
    Ok((out.y.value().to_vec(), get(xv), get(gv), get(bv), out.stats.mean.to_vec(), out.stats.unbiased_var.to_vec()))
}

/// Rows `cuts[i]..cuts[i + 1]` of a tensor along axis 0.
fn split_rows(t: &Tensor<f64>, cuts: &[usize]) -> Vec<Tensor<f64>> {
    cuts.windows(2).map(|c| t.narrow(0, c[0], c[1] - c[0]).unwrap().to_contiguous()).collect()
}

proptest! {
    #![proptest_config(config(24))]

    /// A batch split into 2 or 3 shards of random sizes, each on its own thread and tape,
    /// the loss the sum of the shards': outputs, input gradients and statistics equal the
    /// single tape's on the whole batch, and the shards' ∇γ, ∇β add up to its.
    #[test]
    fn shards_on_threads_equal_the_whole_batch(
        (x, gamma, beta) in prop_oneof![
            (3..=6usize, 1..=3usize).prop_map(|(n, c)| vec![n, c]),
            (3..=4usize, 1..=3usize, 1..=3usize, 1..=3usize).prop_map(|(n, c, h, w)| vec![n, c, h, w]),
        ].prop_flat_map(bn_inputs),
        (shards, cut_seed) in (2..=3usize, any::<u64>()),
        seed in any::<u64>(),
    ) {
        prop_assume!(well_spread(&x));
        let n = x.shape()[0];
        // Cut points: 0 < … < n, from the seed.
        let mut inner_cuts: Vec<usize> = (1..n).collect();
        let mut s = cut_seed;
        while inner_cuts.len() > shards - 1 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            inner_cuts.remove((s >> 33) as usize % inner_cuts.len());
        }
        let cuts: Vec<usize> = std::iter::once(0).chain(inner_cuts).chain(std::iter::once(n)).collect();
        let w = random_tensor(x.shape(), seed);
        let whole = one_shard(x.clone(), gamma.clone(), beta.clone(), w.clone(), None)?;

        let group = Arc::new(ReduceGroup::new(shards).unwrap());
        let (xs, ws) = (split_rows(&x, &cuts), split_rows(&w, &cuts));
        let results: Vec<ShardResult> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..shards)
                .map(|shard| {
                    let context = StepContext {
                        shard,
                        shards,
                        first_sample: cuts[shard],
                        group: Some(group.clone()),
                        seed: 0,
                        step: 0,
                    };
                    let (xs, ws, g, b) = (xs[shard].clone(), ws[shard].clone(), gamma.clone(), beta.clone());
                    scope.spawn(move || one_shard(xs, g, b, ws, Some(context)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("no panic").expect("the shard succeeds")).collect()
        });
        let concat = |k: fn(&ShardResult) -> &Vec<f64>| results.iter().flat_map(|r| k(r).clone()).collect::<Vec<f64>>();
        prop_close(&concat(|r| &r.0), &whole.0, 1e-12)?;
        prop_close(&concat(|r| &r.1), &whole.1, 1e-12)?;
        let c = gamma.numel();
        let total = |k: fn(&ShardResult) -> &Vec<f64>| {
            (0..c).map(|ch| results.iter().map(|r| k(r)[ch]).sum()).collect::<Vec<f64>>()
        };
        prop_close(&total(|r| &r.2), &whole.2, 1e-12)?;
        prop_close(&total(|r| &r.3), &whole.3, 1e-12)?;
        for r in &results {
            prop_close(&r.4, &whole.4, 1e-12)?;
            prop_close(&r.5, &whole.5, 1e-12)?;
        }
    }
}

/// The error a panicking shard's result is replaced with.
const PANICKED: &str = "the shard panicked";

/// Runs two shards on threads and returns their results (a panic as an error naming
/// [`PANICKED`]), failing the test if they have not
/// finished within 20 s (a deadlock).
fn two_shards(
    body: impl Fn(usize, Arc<ReduceGroup>) -> autograd::Result<()> + Send + Sync + 'static,
) -> Vec<autograd::Result<()>> {
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let body = Arc::new(body);
    let (tx, rx) = mpsc::channel();
    for shard in 0..2 {
        let (tx, body, group) = (tx.clone(), body.clone(), group.clone());
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // Held as the training stack would: a panic in `body` aborts the group.
                let _guard = group.abort_on_panic(shard);
                body(shard, group.clone())
            }));
            let result =
                result.unwrap_or_else(|_| Err(AutogradError::InvalidArgument { op: PANICKED, reason: String::new() }));
            tx.send((shard, result)).unwrap();
        });
    }
    let mut results = vec![Ok(()), Ok(())];
    for _ in 0..2 {
        let (shard, r) = rx.recv_timeout(Duration::from_secs(20)).expect("a shard is stuck: deadlock");
        results[shard] = r;
    }
    results
}

fn is_collective<T: std::fmt::Debug>(r: &autograd::Result<T>) -> bool {
    matches!(r, Err(AutogradError::Collective { .. }))
}

#[test]
fn a_shard_failing_in_the_forward_pass_fails_the_other() {
    let results = two_shards(|shard, group| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(random_tensor(&[3, 2, 2, 2], shard as u64));
        // Shard 1 brings a γ of the wrong length: its batch_norm fails and aborts the group.
        let gamma = tape.leaf(Tensor::ones(&[2 + shard]).unwrap());
        let beta = tape.leaf(Tensor::zeros(&[2]).unwrap());
        x.batch_norm_train(gamma, beta, EPS, Some((group, shard))).map(|_| ())
    });
    assert!(matches!(results[1], Err(AutogradError::Tensor(_))), "{:?}", results[1]);
    assert!(is_collective(&results[0]), "{:?}", results[0]);
}

#[test]
fn a_shard_failing_before_the_backward_pass_fails_the_other() {
    let results = two_shards(|shard, group| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(random_tensor(&[2, 3], shard as u64));
        let (gamma, beta) = (tape.leaf(Tensor::ones(&[3]).unwrap()), tape.leaf(Tensor::zeros(&[3]).unwrap()));
        let y = x.batch_norm_train(gamma, beta, EPS, Some((group.clone(), shard)))?.y;
        if shard == 1 {
            // e.g. its loss failed: the training stack aborts the group on any error.
            group.abort("shard 1: the loss failed");
            return Err(AutogradError::InvalidArgument { op: "loss", reason: "bad labels".into() });
        }
        tape.backward(weighted_sum(y, 1)?).map(|_| ())
    });
    assert!(matches!(results[1], Err(AutogradError::InvalidArgument { op: "loss", .. })));
    assert!(is_collective(&results[0]), "{:?}", results[0]);
}

#[test]
fn a_shard_panicking_mid_step_fails_the_other() {
    let results = two_shards(|shard, group| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(random_tensor(&[2, 3], shard as u64));
        let (gamma, beta) = (tape.leaf(Tensor::ones(&[3]).unwrap()), tape.leaf(Tensor::zeros(&[3]).unwrap()));
        let y = x.batch_norm_train(gamma, beta, EPS, Some((group, shard)))?.y;
        assert!(shard == 0, "shard 1 panics after its forward pass");
        tape.backward(weighted_sum(y, 1)?).map(|_| ())
    });
    assert!(matches!(results[1], Err(AutogradError::InvalidArgument { op: PANICKED, .. })), "{:?}", results[1]);
    assert!(is_collective(&results[0]), "{:?}", results[0]);
}

/// Shards with different channel counts contribute slices of different lengths: both fail.
#[test]
fn shards_with_different_channels_both_fail() {
    let results = two_shards(|shard, group| {
        let tape = Tape::<f64>::new();
        let c = 2 + shard;
        let x = tape.leaf(random_tensor(&[2, c], shard as u64));
        let (gamma, beta) = (tape.leaf(Tensor::ones(&[c]).unwrap()), tape.leaf(Tensor::zeros(&[c]).unwrap()));
        x.batch_norm_train(gamma, beta, EPS, Some((group, shard))).map(|_| ())
    });
    assert!(results.iter().all(is_collective), "{results:?}");
}

/// One value per channel has no variance: an error, as in PyTorch; but two shards of one
/// sample each make a batch of two.
#[test]
fn a_single_value_per_channel_is_an_error_unless_the_shards_make_more() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(random_tensor(&[1, 3], 0));
    let (gamma, beta) = (tape.leaf(Tensor::ones(&[3]).unwrap()), tape.leaf(Tensor::zeros(&[3]).unwrap()));
    assert!(matches!(
        x.batch_norm_train(gamma, beta, EPS, None),
        Err(AutogradError::InvalidArgument { op: "batch_norm_train", .. })
    ));
    assert!(matches!(x.batch_norm_train(gamma, beta, 0.0, None), Err(AutogradError::InvalidArgument { .. })));
    assert!(matches!(
        tape.leaf(random_tensor(&[4], 0)).batch_norm_train(gamma, beta, EPS, None),
        Err(AutogradError::Tensor(_))
    ));
    let results = two_shards(|shard, group| {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(random_tensor(&[1, 3], shard as u64));
        let (gamma, beta) = (tape.leaf(Tensor::ones(&[3]).unwrap()), tape.leaf(Tensor::zeros(&[3]).unwrap()));
        let out = x.batch_norm_train(gamma, beta, EPS, Some((group, shard)))?;
        assert_eq!(out.stats.count, 2);
        tape.backward(weighted_sum(out.y, 3)?).map(|_| ())
    });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
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

/// A shard with no sample (a batch smaller than the thread count) contributes nothing and
/// gets empty gradients; the other shard normalises with the whole batch.
#[test]
fn an_empty_shard_takes_part_without_samples() {
    let x = random_tensor(&[3, 2, 2, 2], 9);
    let (gamma, beta) = (random_tensor(&[2], 10).add_scalar(2.0), random_tensor(&[2], 11));
    let w = random_tensor(&[3, 2, 2, 2], 12);
    let whole = one_shard(x.clone(), gamma.clone(), beta.clone(), w.clone(), None).unwrap();
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let results: Vec<ShardResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = [(0, 0), (0, 3)]
            .into_iter()
            .enumerate()
            .map(|(shard, (start, end))| {
                let context =
                    StepContext { shard, shards: 2, first_sample: start, group: Some(group.clone()), seed: 0, step: 0 };
                let xs = x.narrow(0, start, end - start).unwrap().to_contiguous();
                let ws = w.narrow(0, start, end - start).unwrap().to_contiguous();
                let (g, b) = (gamma.clone(), beta.clone());
                scope.spawn(move || one_shard(xs, g, b, ws, Some(context)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    assert!(results[0].0.is_empty() && results[0].1.is_empty());
    assert_close(&results[1].0, &whole.0, 1e-12);
    assert_close(&results[1].1, &whole.1, 1e-12);
    let total: Vec<f64> = (0..2).map(|c| results[0].2[c] + results[1].2[c]).collect();
    assert_close(&total, &whole.2, 1e-12);
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
