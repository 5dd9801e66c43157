//! The speed benchmark of `lenet5 bench`, with the protocol of `bench/pytorch_lenet5.py`:
//! one fixed seeded batch of N(0, 1) inputs (N×1×32×32 for LeNet-5, any `--arch` and
//! `--input`) and random labels of the network's output classes; a train step is
//! forward + backward + SGD (momentum 0.9, weight decay 5e-4, lr 0.01); a warm-up, then R
//! repetitions of K steps, reporting the median. Inference is the no-grad forward of the
//! same batch in evaluation mode.

use std::time::Instant;

use layers::{DecayFilter, LayerError, Module, Optimizer, Sgd, SgdConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::{BufferPool, Tensor};

use crate::arch::Arch;
use crate::train::{TrainError, forward_backward};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchConfig {
    /// Images per step.
    pub batch: usize,
    /// Threads per step.
    pub threads: usize,
    /// Steps per repetition.
    pub steps: usize,
    /// Repetitions (the median is reported).
    pub reps: usize,
    /// One input's shape `[C, H, W]`.
    pub input: [usize; 3],
}

/// The figures of a benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// The configuration measured.
    pub config: BenchConfig,
    /// The network measured (its canonical spec).
    pub arch: String,
    /// Median training throughput.
    pub train_img_per_s: f64,
    /// Median inference throughput.
    pub infer_img_per_s: f64,
    /// Heap allocations per training step in the steady state (from the caller's counter).
    pub allocs_per_step: f64,
    /// Peak resident set size of the process, bytes (Linux; 0 elsewhere).
    pub peak_rss_bytes: u64,
}

impl BenchReport {
    /// One JSON line with the fields the comparison script reads, and the process's
    /// convolution kernels (`tensor::KernelPath::selected`).
    pub fn json(&self) -> String {
        format!(
            "{{\"system\":\"lenet5-rs\",\"kernels\":\"{}\",\"arch\":\"{}\",\"input\":\"{}\",\"batch\":{},\"threads\":{},\"train_img_per_s\":{:.1},\"infer_img_per_s\":{:.1},\"peak_rss_bytes\":{},\"allocs_per_step\":{:.1}}}",
            tensor::KernelPath::selected().name(),
            self.arch,
            self.config.input.map(|d| d.to_string()).join(","),
            self.config.batch,
            self.config.threads,
            self.train_img_per_s,
            self.infer_img_per_s,
            self.peak_rss_bytes,
            self.allocs_per_step
        )
    }
}

/// Runs the benchmark of `arch`. `allocations` reads a process-wide allocation counter
/// (the binary's counting allocator); pass `|| 0` where there is none.
pub fn run(config: BenchConfig, arch: &Arch, allocations: impl Fn() -> u64) -> Result<BenchReport, TrainError> {
    // The steps reuse their buffers as a `Trainer`'s do.
    let buffers = BufferPool::new();
    let _entered = buffers.enter();
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = arch
        .build::<f32, _>(config.input, None, &mut rng)
        .map_err(|e| LayerError::Config { what: format!("--arch {arch}"), reason: e.to_string() })?;
    let [c, h, w] = config.input;
    let classes = model.output_shape(&[1, c, h, w])?.last().copied().unwrap_or(1);
    let x = Tensor::<f32>::rand_normal(&[config.batch, c, h, w], 0.0, 1.0, &mut rng)?;
    let labels: Vec<usize> = (0..config.batch).map(|_| rng.random_range(0..classes)).collect();
    let mut opt = Sgd::new(SgdConfig::new(0.01).momentum(0.9).weight_decay(5e-4).decay(DecayFilter::All))?;

    let mut train_step = || -> Result<(), TrainError> {
        let outcome = forward_backward(&model, &x, &labels, config.threads)?;
        opt.step(model.named_parameters_mut(), &outcome.grads)?;
        Ok(())
    };
    for _ in 0..3 {
        train_step()?;
    }
    let mut train_rates = Vec::with_capacity(config.reps);
    let mut allocs = Vec::with_capacity(config.reps);
    for _ in 0..config.reps {
        let (a0, t0) = (allocations(), Instant::now());
        for _ in 0..config.steps {
            train_step()?;
        }
        let seconds = t0.elapsed().as_secs_f64();
        allocs.push((allocations() - a0) as f64 / config.steps as f64);
        train_rates.push((config.batch * config.steps) as f64 / seconds);
    }

    // Inference as PyTorch's `model.eval()`: running statistics, no dropout.
    model.set_training(false);
    let infer = |model: &dyn Module<f32>| -> Result<(), TrainError> {
        crate::train::infer(model, &x, config.threads)?;
        Ok(())
    };
    infer(model.as_ref())?;
    let mut infer_rates = Vec::with_capacity(config.reps);
    for _ in 0..config.reps {
        let t0 = Instant::now();
        for _ in 0..config.steps {
            infer(model.as_ref())?;
        }
        infer_rates.push((config.batch * config.steps) as f64 / t0.elapsed().as_secs_f64());
    }
    Ok(BenchReport {
        config,
        arch: arch.to_string(),
        train_img_per_s: median(&mut train_rates),
        infer_img_per_s: median(&mut infer_rates),
        allocs_per_step: median(&mut allocs),
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// The process's peak resident set size (`VmHWM` of /proc/self/status), or 0 when unknown.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
