//! A counter-based random stream: the `i`-th draw is a pure function of a key and `i`, so
//! any element of a random mask can be computed on its own, in any order, on any thread.
//!
//! The draw at index `i` is SplitMix64's (Steele, Lea and Flood, 2014) `i`-th output from
//! the state `key`: `mix(key + (i + 1)·γ)` with `γ = 0x9E3779B97F4A7C15` and `mix` its
//! finaliser. A training run keys a stream by the words that identify one use of it, e.g.
//! `(run seed, global step, layer index)`, and indexes it by the element's position in the
//! whole batch; a shard of the batch then draws exactly the elements the whole batch would,
//! whatever the number of threads, and a resumed run redraws the same masks.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::checked_numel;
use crate::tensor::Tensor;

/// SplitMix64's increment, `⌊2⁶⁴/φ⌋` rounded to odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function, a bijective mixer of 64-bit words.
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random stream addressed by index: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterRng {
    key: u64,
}

impl CounterRng {
    /// The stream whose draws are SplitMix64's outputs from the state `key`.
    pub fn new(key: u64) -> Self {
        CounterRng { key }
    }

    /// The stream keyed by a sequence of words (seed, step, layer, ...): the key is
    /// `k ← mix((k + γ) ⊕ w)` folded over the words from `k = γ`, so streams of different
    /// words (or of the same words in another order) are unrelated.
    pub fn from_words(words: &[u64]) -> Self {
        let key = words.iter().fold(GAMMA, |k, &w| splitmix64_mix(k.wrapping_add(GAMMA) ^ w));
        CounterRng { key }
    }

    /// The stream's key.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The draw at `index`: SplitMix64's output number `index` (from 0) from state `key`.
    pub fn u64_at(&self, index: u64) -> u64 {
        splitmix64_mix(self.key.wrapping_add(index.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    /// The draw at `index` as a uniform float in `[0, 1)`: its top 53 bits times `2⁻⁵³`.
    pub fn uniform_at(&self, index: u64) -> f64 {
        (self.u64_at(index) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A dropout keep-mask of `shape`: element `e` (row-major) is 1 when
    /// `uniform_at(first_index + e) ≥ p` and 0 otherwise, so each element is kept with
    /// probability `1 − p`, independently. `p` must lie in `[0, 1]`. A shard holding rows
    /// `r₀..` of a batch passes `first_index = r₀·(elements per row)` to draw its part of
    /// the whole batch's mask.
    pub fn keep_mask<T: Element>(&self, shape: &[usize], p: f64, first_index: u64) -> Result<Tensor<T>> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "keep_mask",
                reason: format!("drop probability {p} is outside [0, 1]"),
            });
        }
        let n = checked_numel("keep_mask", shape)?;
        let data = (0..n as u64)
            .map(|e| if self.uniform_at(first_index.wrapping_add(e)) >= p { T::one() } else { T::zero() })
            .collect();
        Tensor::from_vec(shape, data)
    }
}
