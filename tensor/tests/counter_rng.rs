//! The counter-based stream (`CounterRng`): SplitMix64's published outputs, addressing by
//! index in any order, key separation, and the statistics and determinism of dropout masks.

use tensor::{CounterRng, Tensor, TensorError};

/// The first outputs of Vigna's reference `splitmix64.c` from the state 0.
#[test]
fn draws_are_splitmix64_outputs() {
    let rng = CounterRng::new(0);
    assert_eq!(rng.u64_at(0), 0xe220_a839_7b1d_cdaf);
    assert_eq!(rng.u64_at(1), 0x6e78_9e6a_a1b9_65f4);
    assert_eq!(rng.u64_at(2), 0x06c4_5d18_8009_454f);
}

/// Index `i` of the stream keyed `k` is the `i`-th output of a sequential SplitMix64 started
/// at state `k` (written here as the textbook state-advancing generator).
#[test]
fn draws_match_a_sequential_generator_in_any_order() {
    let key = 0x0123_4567_89ab_cdef;
    let mut state: u64 = key;
    let sequential: Vec<u64> = (0..1000)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect();
    let rng = CounterRng::new(key);
    for i in (0..1000).rev() {
        assert_eq!(rng.u64_at(i as u64), sequential[i], "index {i}");
    }
}

#[test]
fn keys_from_different_words_differ() {
    let base = CounterRng::from_words(&[7, 3, 1]);
    assert_eq!(base, CounterRng::from_words(&[7, 3, 1]));
    for other in [&[7u64, 3, 2][..], &[7, 4, 1], &[8, 3, 1], &[1, 3, 7], &[7, 3], &[7, 3, 1, 0]] {
        let rng = CounterRng::from_words(other);
        assert_ne!(rng.key(), base.key(), "{other:?}");
        let same = (0..64).filter(|&i| rng.u64_at(i) == base.u64_at(i)).count();
        assert_eq!(same, 0, "{other:?} shares draws with [7, 3, 1]");
    }
}

#[test]
fn uniform_draws_lie_in_the_unit_interval_with_mean_one_half() {
    let rng = CounterRng::from_words(&[42]);
    let n = 100_000;
    let draws: Vec<f64> = (0..n).map(|i| rng.uniform_at(i)).collect();
    assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
    let mean = draws.iter().sum::<f64>() / n as f64;
    // Standard error of the mean is sqrt(1/12 / n) ≈ 0.0009; allow 5 of them.
    assert!((mean - 0.5).abs() < 5.0 * (1.0 / 12.0 / n as f64).sqrt(), "mean {mean}");
}

/// The fraction kept is 1 − p within 5 binomial standard errors, for several p and keys.
#[test]
fn masks_keep_a_fraction_one_minus_p() {
    let shape = [64, 32, 4, 4];
    let n: usize = shape.iter().product();
    for (k, p) in [0.1, 0.25, 0.5, 0.8].into_iter().enumerate() {
        let mask = CounterRng::from_words(&[2026, k as u64]).keep_mask::<f32>(&shape, p, 0).unwrap();
        assert_eq!(mask.shape(), &shape);
        assert!(mask.iter().all(|m| m == 0.0 || m == 1.0));
        let kept = mask.iter().filter(|&m| m == 1.0).count() as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((kept - (1.0 - p)).abs() < 5.0 * se, "p {p}: kept {kept}");
    }
    let rng = CounterRng::new(5);
    assert!(rng.keep_mask::<f64>(&[10, 10], 0.0, 0).unwrap().iter().all(|m| m == 1.0));
    assert!(rng.keep_mask::<f64>(&[10, 10], 1.0, 0).unwrap().iter().all(|m| m == 0.0));
}

/// A mask is a pure function of (key, first index, shape): redrawn equal, and the masks of
/// the two halves of a batch, drawn at their offsets, are the whole batch's mask.
#[test]
fn masks_are_deterministic_and_shard_independent() {
    let rng = CounterRng::from_words(&[1, 2, 3]);
    let whole: Tensor<f64> = rng.keep_mask(&[6, 5], 0.5, 0).unwrap();
    assert_eq!(whole.to_vec(), rng.keep_mask::<f64>(&[6, 5], 0.5, 0).unwrap().to_vec());
    let top = rng.keep_mask::<f64>(&[4, 5], 0.5, 0).unwrap();
    let bottom = rng.keep_mask::<f64>(&[2, 5], 0.5, 20).unwrap();
    let joined: Vec<f64> = top.to_vec().into_iter().chain(bottom.to_vec()).collect();
    assert_eq!(joined, whole.to_vec());
    let other = CounterRng::from_words(&[1, 2, 4]).keep_mask::<f64>(&[6, 5], 0.5, 0).unwrap();
    assert_ne!(other.to_vec(), whole.to_vec());
}

#[test]
fn a_probability_outside_the_unit_interval_is_an_error() {
    let rng = CounterRng::new(0);
    for p in [-0.1, 1.5, f64::NAN] {
        assert!(matches!(rng.keep_mask::<f32>(&[2], p, 0), Err(TensorError::InvalidArgument { op: "keep_mask", .. })));
    }
}
