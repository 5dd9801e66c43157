//! Batch normalisation over shards: a batch split over 2–3 threads, each on its own tape,
//! joined by a `ReduceGroup`, equals the whole batch on one tape to 1e-12 (outputs, input
//! gradients, statistics, summed parameter gradients), also with a shard of one sample or of
//! none; and a shard that fails, panics or disagrees makes the others fail instead of hang.

use crate::bn_common;
use crate::common;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use autograd::{AutogradError, ReduceGroup, StepContext, Tape};
use bn_common::*;
use common::*;
use proptest::prelude::*;
use tensor::Tensor;

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
