//! `lenet5 bench`: training and inference speed of any network on a fixed random batch,
//! peak memory and allocations per step (the protocol of `bench/pytorch_lenet5.py`).

use models::arch::Arch;

use models::memory::{MemoryEstimate, Workload};

use crate::{Failure, MemoryArg, check_memory, default_threads, parse_input};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Images per step.
    #[arg(long, default_value_t = 64, allow_negative_numbers = true)]
    batch_size: usize,
    /// Threads per step (default: the machine's cores).
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Steps per repetition.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    steps: usize,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true)]
    reps: usize,
    /// The network: `lenet5` or a spec (see `lenet5 train --help`).
    #[arg(long, default_value = "lenet5", value_name = "SPEC")]
    arch: String,
    /// One input's shape, C,H,W (default: 1,32,32 for lenet5, else 1,28,28).
    #[arg(long, value_name = "C,H,W")]
    input: Option<String>,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    memory: MemoryArg,
}

pub fn run(args: BenchArgs, allocations: impl Fn() -> u64) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(default_threads);
    for (name, v) in
        [("--batch-size", args.batch_size), ("--threads", threads), ("--steps", args.steps), ("--reps", args.reps)]
    {
        if v == 0 {
            return Err(Failure::Usage(format!("{name} must be at least 1")));
        }
    }
    let arch: Arch = args.arch.parse().map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
    let input = args.input.as_deref().map_or(Ok(arch.default_input()), parse_input)?;
    // A network that does not fit its input, or the memory, is a usage error, found before
    // anything is allocated.
    let plan = arch.plan(input, None).map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
    let workload = Workload::Training { batch: args.batch_size, threads, optimizer_buffers: 1 };
    let what = format!("benchmarking this network at batch {} with {threads} thread(s)", args.batch_size);
    check_memory(MemoryEstimate::of(&plan, workload), &args.memory.budget()?, &what)?;
    let config =
        models::bench::BenchConfig { batch: args.batch_size, threads, steps: args.steps, reps: args.reps, input };
    let report = models::bench::run(config, &arch, allocations)?;
    if args.json {
        println!("{}", report.json());
    } else {
        println!(
            "{arch}, input {input:?}, batch {}, {threads} thread(s), {} kernels: train {:.0} img/s, inference {:.0} img/s, peak RSS {:.1} MiB, {:.0} allocations per train step",
            args.batch_size,
            tensor::KernelPath::selected().name(),
            report.train_img_per_s,
            report.infer_img_per_s,
            report.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            report.allocs_per_step
        );
    }
    Ok(())
}
