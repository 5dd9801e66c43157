//! A small all-reduce across the shards of a batch, for ops that couple the whole batch
//! (batch normalisation) while each shard records on its own [`Tape`](crate::Tape) on its
//! own thread.
//!
//! [`ReduceGroup::all_reduce_sum`] is a barrier that also sums: every shard deposits its
//! values, the last to arrive adds them **in shard order** (shard 0 first), and every shard
//! leaves with the same sum. The order is fixed, so the result is bit-identical whatever
//! the threads' timing. The group is reusable: successive calls are successive rounds, and
//! every shard must make the same sequence of calls with slices of equal lengths.
//!
//! **Failure.** A shard that fails between two rounds would leave the others waiting
//! forever; so on any error a shard calls [`ReduceGroup::abort`] (or holds an
//! [`AbortOnPanic`] guard, which aborts if the thread panics), and every waiting and future
//! call on the group returns [`AutogradError::Collective`]. An aborted group stays aborted;
//! make a new one for the next step.
//!
//! ```
//! use autograd::ReduceGroup;
//! let group = ReduceGroup::new(2)?;
//! let sums = std::thread::scope(|scope| {
//!     let handles: Vec<_> = (0..2)
//!         .map(|shard| {
//!             let group = &group;
//!             scope.spawn(move || {
//!                 let _guard = group.abort_on_panic(shard);
//!                 let mut v = [shard as f64 + 1.0, 10.0];
//!                 group.all_reduce_sum(shard, &mut v).map(|()| v)
//!             })
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().expect("no panic")).collect::<Result<Vec<_>, _>>()
//! })?;
//! assert_eq!(sums, vec![[3.0, 20.0], [3.0, 20.0]]);
//! # Ok::<(), autograd::AutogradError>(())
//! ```

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{AutogradError, Result};

/// An all-reduce (sum) group of a fixed number of shards; see the module documentation.
/// Share it between threads in an `Arc`.
#[derive(Debug)]
pub struct ReduceGroup {
    shards: usize,
    state: Mutex<Round>,
    changed: Condvar,
}

#[derive(Debug)]
struct Round {
    /// Counts completed rounds; a waiter leaves when it moves on.
    generation: u64,
    /// This round's deposits, by shard.
    deposits: Vec<Option<Vec<f64>>>,
    arrived: usize,
    /// The last completed round's sum.
    sum: Vec<f64>,
    /// Why the group was aborted, once it is.
    aborted: Option<String>,
}

const OP: &str = "all_reduce_sum";

impl ReduceGroup {
    /// A group of `shards` participants (at least 1), numbered `0..shards`.
    pub fn new(shards: usize) -> Result<Self> {
        if shards == 0 {
            return Err(AutogradError::Collective { op: "ReduceGroup::new", reason: "a group needs a shard".into() });
        }
        let round = Round { generation: 0, deposits: vec![None; shards], arrived: 0, sum: Vec::new(), aborted: None };
        Ok(ReduceGroup { shards, state: Mutex::new(round), changed: Condvar::new() })
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Replaces `values` by the sum over every shard of their `values`, added in shard
    /// order; blocks until every shard has contributed to this round. Errors (for every
    /// shard) when the group is or becomes aborted, when `shard` is out of range or has
    /// already contributed to this round, or when the shards' lengths differ.
    pub fn all_reduce_sum(&self, shard: usize, values: &mut [f64]) -> Result<()> {
        if shard >= self.shards {
            let reason = format!("shard {shard} is out of range for a group of {}", self.shards);
            self.abort(&reason);
            return Err(AutogradError::Collective { op: OP, reason });
        }
        if self.shards == 1 {
            return self.check_alive();
        }
        let mut round = self.lock()?;
        if let Some(reason) = &round.aborted {
            return Err(aborted(reason));
        }
        if round.deposits[shard].is_some() {
            let reason = format!("shard {shard} contributed twice to one round");
            drop(round);
            self.abort(&reason);
            return Err(AutogradError::Collective { op: OP, reason });
        }
        round.deposits[shard] = Some(values.to_vec());
        round.arrived += 1;
        if round.arrived == self.shards {
            let deposits: Vec<Vec<f64>> = round.deposits.iter_mut().map(|d| d.take().unwrap_or_default()).collect();
            round.arrived = 0;
            if let Some(bad) = deposits.iter().position(|d| d.len() != values.len()) {
                let reason = format!(
                    "shards contributed slices of different lengths (shard {bad}: {}, shard {shard}: {})",
                    deposits[bad].len(),
                    values.len()
                );
                round.aborted = Some(reason.clone());
                self.changed.notify_all();
                return Err(aborted(&reason));
            }
            let mut sum = deposits[0].clone();
            for deposit in &deposits[1..] {
                for (s, v) in sum.iter_mut().zip(deposit) {
                    *s += v;
                }
            }
            values.copy_from_slice(&sum);
            round.sum = sum;
            round.generation += 1;
            self.changed.notify_all();
            return Ok(());
        }
        let generation = round.generation;
        while round.generation == generation && round.aborted.is_none() {
            round = self.changed.wait(round).map_err(|_| poisoned())?;
        }
        if round.generation == generation {
            return Err(aborted(round.aborted.as_deref().unwrap_or("aborted")));
        }
        values.copy_from_slice(&round.sum);
        Ok(())
    }

    /// Aborts the group: every shard waiting in [`ReduceGroup::all_reduce_sum`], and every
    /// later call, returns an error naming `reason`. The first reason given is kept.
    pub fn abort(&self, reason: &str) {
        let mut round = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        round.aborted.get_or_insert_with(|| reason.to_string());
        self.changed.notify_all();
    }

    /// Whether the group has been aborted.
    pub fn is_aborted(&self) -> bool {
        self.state.lock().map(|r| r.aborted.is_some()).unwrap_or(true)
    }

    /// A guard that aborts the group if it is dropped while its thread panics: hold one in
    /// each shard's thread for the whole step, so that a panicking shard releases the others.
    pub fn abort_on_panic(&self, shard: usize) -> AbortOnPanic<'_> {
        AbortOnPanic { group: self, shard }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Round>> {
        self.state.lock().map_err(|_| poisoned())
    }

    fn check_alive(&self) -> Result<()> {
        match &self.lock()?.aborted {
            Some(reason) => Err(aborted(reason)),
            None => Ok(()),
        }
    }
}

/// Aborts its [`ReduceGroup`] when dropped during a panic; see
/// [`ReduceGroup::abort_on_panic`].
#[derive(Debug)]
pub struct AbortOnPanic<'g> {
    group: &'g ReduceGroup,
    shard: usize,
}

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.group.abort(&format!("shard {} panicked", self.shard));
        }
    }
}

fn aborted(reason: &str) -> AutogradError {
    AutogradError::Collective { op: OP, reason: format!("the group was aborted: {reason}") }
}

fn poisoned() -> AutogradError {
    AutogradError::Collective { op: OP, reason: "a shard panicked while holding the group's lock".into() }
}
