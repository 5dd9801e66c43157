//! `lenet5`: train LeNet-5 or any small CNN (`--arch`) on MNIST or another data set,
//! evaluate a checkpoint, classify image files, export a test image, show the
//! derivation's matrix shapes, and measure speed. One file per subcommand.
//!
//! Exit status: 0 on success, 2 for a usage error (bad argument, a spec that does not
//! parse or fit, missing data folder, an option that conflicts with the run being
//! resumed), 1 for a run that failed (unreadable file, corrupt checkpoint, a failed
//! checkpoint write, a NaN loss, …), 130 when training was interrupted (Ctrl-C or SIGTERM)
//! after writing a checkpoint. Errors are one line on stderr.

mod bench;
mod data;
mod eval;
mod export;
mod hyper_flags;
mod plot;
mod predict;
mod progress;
mod serve;
mod shapes;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lenet5",
    version,
    about = "LeNet-5 and other small CNNs, computed with im2col matrices and hand-derived gradients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train LeNet-5 (or any --arch network) on MNIST or another data set, or resume a run;
    /// writes checkpoints as it goes.
    Train(train::TrainArgs),
    /// Test loss and accuracy of a checkpoint, per class, and the confusion matrix.
    Eval(eval::EvalArgs),
    /// Classify PNG or JPEG images with a checkpoint.
    Predict(predict::PredictArgs),
    /// Write one test image of a data set as a PNG (to try predict on).
    Export(export::ExportArgs),
    /// Training and inference speed on a fixed random batch (PyTorch's protocol).
    Bench(bench::BenchArgs),
    /// The shape and size of every layer output and derivation matrix for a batch.
    Shapes(shapes::ShapesArgs),
    /// The explorer page: every matrix of LeNet-5's forward and backward pass for one image.
    Serve(serve::ServeArgs),
    /// Loss and accuracy per epoch from a metrics CSV, as a PNG or SVG picture.
    Plot(plot::PlotArgs),
}

/// A failure, with the exit status it deserves.
pub enum Failure {
    /// A bad argument: exit 2.
    Usage(String),
    /// A run that failed: exit 1.
    Run(String),
    /// Training interrupted after a checkpoint: the message says how to resume; exit 130.
    Interrupted(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Run(e.to_string())
    }
}

fn main() -> ExitCode {
    // Output piped into `head` and closed: end quietly, as other command-line tools do,
    // rather than fail a write.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("lenet5: internal error (please report): {info}");
    }));
    let command = Cli::command().mut_subcommand("train", hyper_flags::with_hyper_parameters);
    let matches = match command.try_get_matches() {
        Ok(m) => m,
        Err(e) if e.use_stderr() => {
            // One line: clap's message up to its usage block, joined, without its prefix.
            let message = if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                "a command is required: train, eval, predict, export, bench, shapes, serve or plot".to_string()
            } else {
                let rendered = e.render().to_string();
                let lines: Vec<&str> = rendered
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                lines.join(" ").trim_start_matches("error: ").to_string()
            };
            eprintln!("lenet5: error: {message} (see lenet5 --help)");
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Train(args) => {
            let explicit = matches.subcommand_matches("train").cloned().unwrap_or_default();
            train::run(args, &explicit)
        }
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Export(args) => export::run(args),
        Command::Bench(args) => bench::run(args, || ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)),
        Command::Shapes(args) => shapes::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Plot(args) => plot::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("lenet5: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("lenet5: error: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Interrupted(msg)) => {
            eprintln!("lenet5: {msg}");
            ExitCode::from(130)
        }
    }
}

/// Counts heap allocations, for `bench`'s allocations per step.
struct CountingAlloc;

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller upholds alloc's contract, which System's shares.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: as for alloc and dealloc.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// `--max-memory`: the most memory a command may take.
#[derive(clap::Args)]
pub struct MemoryArg {
    /// The most memory this run may take, e.g. 8G, 512M or 1.5GiB (binary units; default:
    /// half of this machine's memory, from /proc/meminfo, leaving room for the allocator's
    /// slack, the page cache and other programs). A network whose estimate (parameters,
    /// gradients, optimizer state, a batch's activations, im2col blocks) plus the decoded
    /// data exceeds it is refused before anything is allocated; an image folder's headers
    /// are checked against it before any pixel is decoded.
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<String>,
}

impl MemoryArg {
    /// The budget the flag gives, or the machine's default.
    pub fn budget(&self) -> Result<models::memory::Budget, Failure> {
        models::memory::Budget::from_flag(self.max_memory.as_deref()).map_err(Failure::Usage)
    }

    /// The bytes the flag gives, if given.
    pub fn max_memory(&self) -> Result<Option<u64>, Failure> {
        Ok(self.max_memory.is_some().then(|| self.budget()).transpose()?.map(|b| b.bytes))
    }
}

/// Checks `estimate` against `budget`: a usage error (exit 2) with the estimate when over.
pub fn check_memory(
    estimate: models::memory::MemoryEstimate,
    budget: &models::memory::Budget,
    what: &str,
) -> Result<(), Failure> {
    estimate.check(budget, what).map_err(|e| Failure::Usage(e.to_string()))
}

/// The machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `C,H,W` as a shape.
pub fn parse_input(text: &str) -> Result<[usize; 3], Failure> {
    let dims: Vec<usize> =
        text.split(',').map(|d| d.trim().parse::<usize>()).collect::<Result<_, _>>().map_err(|_| {
            Failure::Usage(format!("--input {text:?}: expected C,H,W, three whole numbers, e.g. 1,28,28"))
        })?;
    match dims.as_slice() {
        &[c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(Failure::Usage(format!("--input {text:?}: expected C,H,W, three numbers ≥ 1, e.g. 1,28,28"))),
    }
}
