//! How much memory a run needs, from the network's plan alone ([`crate::arch::plan`]), and
//! how much it may take: a run over its budget is refused before anything is allocated,
//! with the estimate in the message.
//!
//! The estimate (f32 values, 4 bytes each) adds up what a step holds at its peak:
//!
//! | part | training | inference |
//! |---|---|---|
//! | parameters | `P` | `P` |
//! | gradients | `P` per thread (each slice of the batch has its own) | — |
//! | optimizer | `P` per buffer: SGD's momentum (none without momentum), Adam's two moments | — |
//! | activations | `N · Σ` (input and every layer's output, and the outputs inside a residual block), kept for the backward pass, and as much again for their gradients; or evaluation's, when larger | the two largest neighbouring outputs of a batch (evaluation: of [`EVAL_BATCH`] images) |
//! | im2col | per thread, two blocks of the largest convolution (the forward block and the backward's `∇a`), each at least one image's matrix or the kernel's 64 Ki-element block | one block per thread |
//! | data | the decoded images held in memory (the caller adds them) | the same |
//!
//! It leaves out the allocator's slack and the page cache, which is why the default budget
//! ([`Budget::of_machine`]) is half the machine's memory, not all of it.

use std::fmt;

use crate::arch::NetworkPlan;
use crate::train::{EVAL_BATCH, OptimizerKind, TrainConfig};

/// The bytes of one value (training runs in f32).
const VALUE: u128 = 4;
/// Elements of one im2col block (`tensor`'s convolution builds at least this many rows'
/// worth, or one image's matrix when that is larger).
const IM2COL_BLOCK: u128 = 1 << 16;

/// The memory a run needs, by part, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    /// The weights and biases (and batch norm's buffers).
    pub parameters: u128,
    /// The gradients of the parameters.
    pub gradients: u128,
    /// The optimizer's buffers.
    pub optimizer: u128,
    /// A batch's activations (and, training, their gradients).
    pub activations: u128,
    /// The im2col blocks of the largest convolution.
    pub im2col: u128,
    /// The data set held in memory.
    pub data: u128,
}

/// What a network is used for, which decides what the estimate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Training steps on batches of `batch`, over `threads` slices, with an optimizer of
    /// `optimizer_buffers` values per parameter.
    Training {
        /// Images per step.
        batch: usize,
        /// Slices of the batch computed at once.
        threads: usize,
        /// The optimizer's buffers per parameter (SGD with momentum: 1, Adam: 2).
        optimizer_buffers: usize,
    },
    /// Forward passes of `batch` images over `threads` slices, without gradients.
    Inference {
        /// Images per pass.
        batch: usize,
        /// Slices of the batch computed at once.
        threads: usize,
    },
}

impl Workload {
    /// Training as `config` says (its batch size, threads and optimizer) on `images`
    /// training images (a batch is never more than those).
    pub fn training(config: &TrainConfig, images: usize) -> Self {
        let optimizer_buffers = match config.optimizer {
            OptimizerKind::Sgd => usize::from(config.momentum != 0.0),
            OptimizerKind::Adam | OptimizerKind::AdamW => 2,
        };
        let batch = config.batch_size.min(images.max(1));
        Workload::Training { batch, threads: config.threads, optimizer_buffers }
    }
}

impl MemoryEstimate {
    /// The estimate for `plan` under `workload` (no data counted yet). Training counts the
    /// larger of a step's activations and those of evaluating a batch of [`EVAL_BATCH`].
    pub fn of(plan: &NetworkPlan, workload: Workload) -> Self {
        let parameters = (plan.parameters() as u128 + plan.buffers() as u128) * VALUE;
        let outputs = || std::iter::once(&plan.input[..]).chain(plan.layers.iter().map(|(_, p)| &p.output[..]));
        let numel = |shape: &[usize]| shape.iter().fold(1u128, |acc, &d| acc.saturating_mul(d as u128));
        let im2col_block = plan
            .layers
            .iter()
            .filter(|(_, p)| p.im2col_per_image > 0)
            .map(|(_, p)| (p.im2col_per_image as u128).max(IM2COL_BLOCK))
            .max()
            .unwrap_or(0)
            .saturating_mul(VALUE);
        match workload {
            Workload::Training { batch, threads, optimizer_buffers } => {
                let inner = plan.layers.iter().fold(0u128, |acc, (_, p)| acc.saturating_add(p.inner as u128));
                let per_sample = outputs().fold(inner, |acc, s| acc.saturating_add(numel(s)));
                let evaluation = MemoryEstimate::of(plan, Workload::Inference { batch: EVAL_BATCH, threads });
                let threads = threads.clamp(1, batch.max(1)) as u128;
                let step = per_sample.saturating_mul(batch as u128).saturating_mul(2 * VALUE);
                MemoryEstimate {
                    parameters,
                    gradients: (plan.parameters() as u128 * VALUE).saturating_mul(threads),
                    optimizer: plan.parameters() as u128 * VALUE * optimizer_buffers as u128,
                    activations: step.max(evaluation.activations),
                    im2col: im2col_block.saturating_mul(2 * threads),
                    data: 0,
                }
            }
            Workload::Inference { batch, threads } => {
                let shapes: Vec<u128> = outputs().map(numel).collect();
                let widest = shapes.windows(2).map(|w| w[0].saturating_add(w[1])).max().unwrap_or(shapes[0]);
                let threads = threads.clamp(1, batch.max(1)) as u128;
                MemoryEstimate {
                    parameters,
                    activations: widest.saturating_mul(batch as u128).saturating_mul(VALUE),
                    im2col: im2col_block.saturating_mul(threads),
                    ..MemoryEstimate::default()
                }
            }
        }
    }

    /// The same estimate with `bytes` of data held in memory.
    pub fn with_data(self, bytes: u128) -> Self {
        MemoryEstimate { data: bytes, ..self }
    }

    /// All parts together.
    pub fn total(&self) -> u128 {
        [self.parameters, self.gradients, self.optimizer, self.activations, self.im2col, self.data]
            .into_iter()
            .fold(0u128, u128::saturating_add)
    }

    /// An error when the total is over `budget`.
    pub fn check(&self, budget: &Budget, what: &str) -> Result<(), MemoryError> {
        if self.total() > u128::from(budget.bytes) {
            return Err(MemoryError { what: what.to_string(), estimate: Box::new(*self), budget: budget.clone() });
        }
        Ok(())
    }
}

impl fmt::Display for MemoryEstimate {
    /// `≈ 1.2 GiB (parameters 240 KiB, gradients …)`, the parts that are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            ("parameters", self.parameters),
            ("gradients", self.gradients),
            ("optimizer", self.optimizer),
            ("activations", self.activations),
            ("im2col", self.im2col),
            ("data", self.data),
        ]
        .into_iter()
        .filter(|(_, b)| *b > 0)
        .map(|(name, b)| format!("{name} {}", bytes(b)))
        .collect();
        write!(f, "≈ {} ({})", bytes(self.total()), parts.join(", "))
    }
}

/// A run that would need more memory than its budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} needs {estimate}, over the memory budget of {budget}")]
pub struct MemoryError {
    /// What was estimated (`the network at batch 64 with 2 threads`).
    pub what: String,
    /// The estimate.
    pub estimate: Box<MemoryEstimate>,
    /// The budget it exceeds.
    pub budget: Budget,
}

/// How much memory a run may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure comes from, for messages.
    pub source: BudgetSource,
}

/// Where a budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// Half the machine's memory, of this many bytes.
    Machine(u64),
    /// The machine's memory could not be read: a fixed figure.
    Fallback,
    /// Given (`--max-memory`).
    Given,
}

/// The budget when the machine's memory cannot be read (`/proc/meminfo` is Linux's).
pub const FALLBACK_BUDGET: u64 = 4 << 30;

impl Budget {
    /// Half of the machine's memory (`MemTotal` in `/proc/meminfo`), else
    /// [`FALLBACK_BUDGET`]. Half, because the estimate leaves out the allocator's slack
    /// (freed buffers kept for reuse, one arena per thread), the page cache that holds the
    /// data's files, and whatever else the machine runs.
    pub fn of_machine() -> Self {
        match std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(mem_total) {
            Some(total) => Budget { bytes: total / 2, source: BudgetSource::Machine(total) },
            None => Budget { bytes: FALLBACK_BUDGET, source: BudgetSource::Fallback },
        }
    }

    /// `--max-memory SIZE`, else [`Budget::of_machine`].
    pub fn from_flag(flag: Option<&str>) -> Result<Self, String> {
        match flag {
            Some(text) => parse_size(text)
                .map(|bytes| Budget { bytes, source: BudgetSource::Given })
                .map_err(|e| format!("--max-memory: {e}")),
            None => Ok(Budget::of_machine()),
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            BudgetSource::Machine(total) => write!(
                f,
                "{} (half of this machine's {}; --max-memory to change it)",
                bytes(u128::from(self.bytes)),
                bytes(u128::from(total))
            ),
            BudgetSource::Fallback => write!(
                f,
                "{} (this machine's memory is unknown; --max-memory to change it)",
                bytes(u128::from(self.bytes))
            ),
            BudgetSource::Given => write!(f, "{} (--max-memory)", bytes(u128::from(self.bytes))),
        }
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// A size such as `8G`, `512M`, `1.5GiB`, `100k` or `4096` (bytes): binary units (K = 1024),
/// case-insensitive, an optional `B` or `iB` after the unit; at least 1 byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size (e.g. 8G, 512M, 4096)");
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix("IB").or_else(|| t.strip_suffix('B')).unwrap_or(&t);
    let (number, shift) = match t.char_indices().last() {
        Some((i, 'K')) => (&t[..i], 10),
        Some((i, 'M')) => (&t[..i], 20),
        Some((i, 'G')) => (&t[..i], 30),
        Some((i, 'T')) => (&t[..i], 40),
        _ => (t, 0),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(bad());
    }
    if bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is more than 16 EiB"));
    }
    Ok(bytes as u64)
}

/// `1.5 GiB`, `240 KiB`, `12 B`.
pub fn bytes(b: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if b >= 1 << 70 {
        return "more than 1024 EiB".into();
    }
    let (mut value, mut unit) = (b as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{b} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100KB"), Ok(102_400));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "G", "-1G", "0", "1X", "NaN", "inf", "1e30T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mem_total_is_read_in_kib() {
        assert_eq!(mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"), Some(24_576_000 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(u128::MAX), "more than 1024 EiB");
    }
}
