//! The all-reduce group: sums in shard order whatever the timing (bit-identical to a
//! sequential fold), reusable over many rounds, and failing (never hanging) when a shard
//! aborts, panics, passes a bad index or a slice of another length.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use autograd::{AutogradError, ReduceGroup};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Runs `shards` threads of `body(shard)` and returns their results, failing the test if
/// they have not all finished within 20 s (a deadlock).
fn run_shards<R: Send + 'static>(
    shards: usize,
    body: impl Fn(usize) -> R + Send + Sync + 'static,
) -> Vec<std::thread::Result<R>> {
    let body = Arc::new(body);
    let (tx, rx) = mpsc::channel();
    for shard in 0..shards {
        let (tx, body) = (tx.clone(), body.clone());
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(shard)));
            tx.send((shard, result)).unwrap();
        });
    }
    let mut results: Vec<Option<std::thread::Result<R>>> = (0..shards).map(|_| None).collect();
    for _ in 0..shards {
        let (shard, r) = rx.recv_timeout(Duration::from_secs(20)).expect("a shard is stuck: deadlock");
        results[shard] = Some(r);
    }
    results.into_iter().map(Option::unwrap).collect()
}

/// Values whose sum depends on the order of addition: `1e16 + 1 = 1e16` in f64.
fn order_sensitive(shard: usize, round: usize) -> Vec<f64> {
    let big = 1e16 * if (shard + round).is_multiple_of(2) { 1.0 } else { -1.0 };
    vec![big, 1.0 + shard as f64, 0.1 * (shard * round) as f64, -(shard as f64) / 3.0]
}

#[test]
fn sums_in_shard_order_whatever_the_timing_over_many_rounds() {
    for shards in [1, 2, 3, 4] {
        let rounds = 50;
        let group = Arc::new(ReduceGroup::new(shards).unwrap());
        let g = group.clone();
        let results = run_shards(shards, move |shard| {
            let mut rng = StdRng::seed_from_u64(shard as u64);
            (0..rounds)
                .map(|round| {
                    if rng.random_bool(0.3) {
                        std::thread::sleep(Duration::from_micros(rng.random_range(0..300)));
                    }
                    let mut v = order_sensitive(shard, round);
                    g.all_reduce_sum(shard, &mut v).unwrap();
                    v
                })
                .collect::<Vec<_>>()
        });
        for round in 0..rounds {
            let mut want = order_sensitive(0, round);
            for shard in 1..shards {
                for (w, v) in want.iter_mut().zip(order_sensitive(shard, round)) {
                    *w += v;
                }
            }
            for (shard, r) in results.iter().enumerate() {
                let got = &r.as_ref().expect("no panic")[round];
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(got), bits(&want), "{shards} shards, round {round}, shard {shard}");
            }
        }
        assert!(!group.is_aborted());
    }
}

#[test]
fn an_abort_releases_the_waiting_shards_and_later_calls() {
    let group = Arc::new(ReduceGroup::new(3).unwrap());
    let g = group.clone();
    let results = run_shards(3, move |shard| {
        let mut v = vec![1.0];
        g.all_reduce_sum(shard, &mut v)?;
        if shard == 2 {
            g.abort("shard 2 failed to read its batch");
            return Ok(());
        }
        g.all_reduce_sum(shard, &mut v)
    });
    for (shard, r) in results.into_iter().enumerate() {
        let r = r.expect("no panic");
        if shard == 2 {
            assert!(r.is_ok());
        } else {
            match r {
                Err(AutogradError::Collective { reason, .. }) => assert!(reason.contains("shard 2 failed"), "{reason}"),
                other => panic!("shard {shard}: {other:?}"),
            }
        }
    }
    assert!(group.is_aborted());
    assert!(group.all_reduce_sum(0, &mut [0.0]).is_err());
}

#[test]
fn a_panicking_shard_with_a_guard_releases_the_others() {
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let g = group.clone();
    let results = run_shards(2, move |shard| {
        let _guard = g.abort_on_panic(shard);
        if shard == 1 {
            panic!("shard 1 blew up");
        }
        g.all_reduce_sum(shard, &mut [1.0])
    });
    assert!(results[1].is_err(), "shard 1 panicked");
    match results.into_iter().next().unwrap().expect("shard 0 did not panic") {
        Err(AutogradError::Collective { reason, .. }) => assert!(reason.contains("shard 1 panicked"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mismatched_lengths_fail_every_shard() {
    let group = Arc::new(ReduceGroup::new(2).unwrap());
    let g = group.clone();
    let results = run_shards(2, move |shard| g.all_reduce_sum(shard, &mut vec![1.0; 2 + shard]));
    for r in results {
        assert!(matches!(r.expect("no panic"), Err(AutogradError::Collective { .. })));
    }
}

#[test]
fn bad_indices_and_empty_groups_are_errors() {
    assert!(matches!(ReduceGroup::new(0), Err(AutogradError::Collective { .. })));
    let group = ReduceGroup::new(2).unwrap();
    assert_eq!(group.shards(), 2);
    assert!(matches!(group.all_reduce_sum(2, &mut [0.0]), Err(AutogradError::Collective { .. })));
    // The bad call aborted the group, so shard 0 does not wait for a partner forever.
    assert!(group.all_reduce_sum(0, &mut [0.0]).is_err());
    // A single-shard group is the identity.
    let single = ReduceGroup::new(1).unwrap();
    let mut v = [1.5, -2.0];
    single.all_reduce_sum(0, &mut v).unwrap();
    assert_eq!(v, [1.5, -2.0]);
}
