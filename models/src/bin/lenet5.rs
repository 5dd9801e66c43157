//! `lenet5`: train LeNet-5 on MNIST, evaluate a checkpoint, classify image files, and show
//! the derivation's matrix shapes.
//!
//! Exit status: 0 on success, 2 for a usage error (bad argument, missing data folder,
//! an option that conflicts with the run being resumed), 1 for a run that failed
//! (unreadable file, corrupt checkpoint, a failed checkpoint write, a NaN loss, …), 130
//! when training was interrupted (Ctrl-C or SIGTERM) after writing a checkpoint. Errors
//! are one line on stderr.
//!
//! `train` writes a checkpoint every `--checkpoint-every` steps and at each epoch's end:
//! the weights (`--out`, a PyTorch `state_dict`) and, beside them, the state a run resumes
//! from (`<out stem>.state.safetensors`, see [`models::resume`]); both atomically, so a
//! crash or a kill leaves the previous checkpoint or the new one. `train --resume STATE`
//! continues that run where the checkpoint left it and ends exactly as the run would
//! have. The file's hyper-parameters win: an option that disagrees with them is a usage
//! error (leave it out when resuming); `--data`, `--out`, `--metrics` and
//! `--checkpoint-every` may be given anew.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use layers::checkpoint::{load_module, save_module};
use models::resume::{config_metadata, load_state, save_state, state_path, weights_path};
use models::train::{
    Advance, Flow, OptimizerKind, TrainConfig, TrainError, Trainer, append_metrics, evaluate_on_threads,
    truncate_metrics,
};
use models::{CLASSES, LeNet5, mnist, predict, shapes};

#[derive(Parser)]
#[command(
    name = "lenet5",
    version,
    about = "LeNet-5 on MNIST, computed with im2col matrices and hand-derived gradients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train LeNet-5 on MNIST (or resume a run); writes checkpoints as it goes.
    Train(TrainArgs),
    /// Test loss and accuracy of a checkpoint, per class, and the confusion matrix.
    Eval {
        /// The checkpoint (safetensors).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The MNIST folder (default: $MNIST_DIR, else data/mnist).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Classify PNG or JPEG images of digits.
    Predict {
        /// The checkpoint (safetensors).
        #[arg(long)]
        checkpoint: PathBuf,
        /// Image files.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Training and inference speed on a fixed random batch (PyTorch's protocol).
    Bench {
        /// Images per step.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Threads per step (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Steps per repetition.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Print one JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The shape and size of every layer output and derivation matrix for a batch.
    Shapes {
        /// Images in the batch.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Sgd,
    Adam,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The MNIST folder (default: $MNIST_DIR, else data/mnist); missing files are downloaded
    /// into it (a folder named here or by $MNIST_DIR must exist; data/mnist is created).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs, allow_negative_numbers = true)]
    epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size, allow_negative_numbers = true)]
    batch_size: usize,
    /// The update rule.
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerArg,
    /// Base learning rate (cosine-annealed over the epochs).
    #[arg(long, default_value_t = TrainConfig::default().lr, allow_negative_numbers = true)]
    lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = TrainConfig::default().momentum, allow_negative_numbers = true)]
    momentum: f64,
    /// L2 weight decay on the weights.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay, allow_negative_numbers = true)]
    weight_decay: f64,
    /// Seed of the initial weights and the shuffles.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Threads per step (default: the machine's cores).
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Start from a checkpoint's weights.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Stop after this many optimizer steps (then write --out).
    #[arg(long, allow_negative_numbers = true)]
    max_steps: Option<u64>,
    /// Take the images in file order.
    #[arg(long)]
    no_shuffle: bool,
    /// Where to write the weights; the state to resume from goes beside it, in
    /// STEM.state.safetensors (default when resuming: beside the state file).
    #[arg(long, default_value = "lenet5.safetensors")]
    out: PathBuf,
    /// Append one CSV row per epoch to this file.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Resume the run whose state file (STEM.state.safetensors) this is; its
    /// hyper-parameters are kept.
    #[arg(long, value_name = "STATE")]
    resume: Option<PathBuf>,
    /// Write a checkpoint every this many steps, besides each epoch's end (0: only there).
    #[arg(long, default_value_t = 500, value_name = "STEPS", allow_negative_numbers = true)]
    checkpoint_every: u64,
    /// Scale the gradients so their global L2 norm is at most this.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    clip_grad_norm: Option<f64>,
}

/// A failure, with the exit status it deserves.
enum Failure {
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
    // A training step frees and reallocates the same few large buffers (im2col blocks,
    // activations): glibc would hand them back to the kernel (mmap above 128 KiB, heap
    // trimming) and pay page faults and zeroing on every step. Keep them in the heap.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("lenet5: internal error (please report): {info}");
    }));
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) if e.use_stderr() => {
            // One line: clap's message up to its usage block, joined, without its prefix.
            let message = if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                "a command is required: train, eval, predict, bench or shapes".to_string()
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
            train(args, &explicit)
        }
        Command::Eval { checkpoint, data } => eval(&checkpoint, data),
        Command::Predict { checkpoint, images } => predict_images(&checkpoint, &images),
        Command::Bench { batch_size, threads, steps, reps, json } => bench(batch_size, threads, steps, reps, json),
        Command::Shapes { batch_size } => show_shapes(batch_size),
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

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn bench(batch: usize, threads: Option<usize>, steps: usize, reps: usize, json: bool) -> Result<(), Failure> {
    let threads = threads.unwrap_or_else(default_threads);
    for (name, v) in [("--batch-size", batch), ("--threads", threads), ("--steps", steps), ("--reps", reps)] {
        if v == 0 {
            return Err(Failure::Usage(format!("{name} must be at least 1")));
        }
    }
    let config = models::bench::BenchConfig { batch, threads, steps, reps };
    let report = models::bench::run(config, || ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed))?;
    if json {
        println!("{}", report.json());
    } else {
        println!(
            "batch {batch}, {threads} thread(s): train {:.0} img/s, inference {:.0} img/s, peak RSS {:.1} MiB, {:.0} allocations per train step",
            report.train_img_per_s,
            report.infer_img_per_s,
            report.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            report.allocs_per_step
        );
    }
    Ok(())
}

fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("MNIST_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
}

/// The data folder used when neither `--data` nor `MNIST_DIR` names one; `train` creates it
/// and downloads MNIST into it. Any other folder must exist.
const DEFAULT_DATA: &str = "data/mnist";

/// Set by Ctrl-C (SIGINT) or SIGTERM; the training loop checks it after each step.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether `id` was given on the command line (not taken from its default).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The command-line options that set each hyper-parameter, by `config.*` metadata key.
const HYPER_OPTIONS: [(&str, &str, &str); 11] = [
    ("epochs", "--epochs", "config.epochs"),
    ("batch_size", "--batch-size", "config.batch_size"),
    ("optimizer", "--optimizer", "config.optimizer"),
    ("lr", "--lr", "config.lr"),
    ("momentum", "--momentum", "config.momentum"),
    ("weight_decay", "--weight-decay", "config.weight_decay"),
    ("seed", "--seed", "config.seed"),
    ("threads", "--threads", "config.threads"),
    ("max_steps", "--max-steps", "config.max_steps"),
    ("no_shuffle", "--no-shuffle", "config.shuffle"),
    ("clip_grad_norm", "--clip-grad-norm", "config.clip_grad_norm"),
];

/// An error for the first hyper-parameter given on the command line that disagrees with
/// the resumed run's.
fn check_conflicts(matches: &ArgMatches, cli: &TrainConfig, run: &TrainConfig, state: &Path) -> Result<(), Failure> {
    let (cli_meta, run_meta) = (config_metadata(cli), config_metadata(run));
    let value = |meta: &[(&str, String)], key: &str| meta.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    for (id, flag, key) in HYPER_OPTIONS {
        let (mine, theirs) = (value(&cli_meta, key), value(&run_meta, key));
        if given(matches, id) && mine != theirs {
            let name = key.trim_start_matches("config.");
            return Err(Failure::Usage(format!(
                "{flag} conflicts with the resumed run's {name} = {} in {}; a resumed run keeps its hyper-parameters (leave {flag} out)",
                theirs.unwrap_or_default(),
                state.display()
            )));
        }
    }
    Ok(())
}

/// Removes the temporary files a killed checkpoint write may have left beside `target`
/// (`.<name>.tmp<pid>-<n>`, see `layers::checkpoint::write_atomic`).
fn remove_stale_temporaries(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!(".{}.tmp", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let ours = rest.split_once('-').is_some_and(|(pid, n)| {
            !pid.is_empty() && !n.is_empty() && pid.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
        });
        if ours {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Where checkpoints go, and the last one written.
struct Checkpoints {
    weights: PathBuf,
    state: PathBuf,
    train_images: usize,
    /// The global step of the last checkpoint written by this process or resumed from.
    last: Option<u64>,
}

impl Checkpoints {
    /// Writes the weights, then the state (each atomically).
    fn write(&mut self, trainer: &Trainer) -> Result<(), Failure> {
        save_module(&trainer.model, &self.weights)?;
        save_state(trainer, self.train_images, &self.state)?;
        self.last = Some(trainer.steps);
        Ok(())
    }

    fn last_words(&self) -> String {
        match self.last {
            Some(step) => format!("the last good checkpoint, after step {step}, is {}", self.state.display()),
            None => "no checkpoint was written".into(),
        }
    }
}

fn train(args: TrainArgs, matches: &ArgMatches) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(default_threads);
    let cli_config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: match args.optimizer {
            OptimizerArg::Sgd => OptimizerKind::Sgd,
            OptimizerArg::Adam => OptimizerKind::Adam,
        },
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        seed: args.seed,
        threads,
        max_steps: args.max_steps,
        shuffle: !args.no_shuffle,
        clip_grad_norm: args.clip_grad_norm,
    };
    cli_config.validate().map_err(Failure::Usage)?;
    // From here on Ctrl-C (or SIGTERM) asks the run to stop after the current step and
    // write a checkpoint; a second one exits at once.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("lenet5: interrupted again: exiting without writing a checkpoint");
            std::process::exit(130);
        }
    });
    if args.resume.is_some() && args.init_from.is_some() {
        return Err(Failure::Usage(
            "--init-from and --resume exclude each other (a resumed run has its weights)".into(),
        ));
    }

    // Where the checkpoints go: --out, or beside the state file when resuming.
    let out = match &args.resume {
        Some(state) if !given(matches, "out") => weights_path(state).unwrap_or(args.out.clone()),
        _ => args.out.clone(),
    };
    let out_dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !out_dir.is_dir() {
        return Err(Failure::Usage(format!("--out {}: no such folder {}", out.display(), out_dir.display())));
    }

    // The data folder: an explicitly named one must exist.
    let explicit_data = args.data.is_some() || std::env::var_os("MNIST_DIR").is_some();
    let dir = data_dir(args.data.clone());
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(format!("{}: not a folder (pass --data DIR)", dir.display())));
    }
    if !dir.exists() && explicit_data && dir != Path::new(DEFAULT_DATA) {
        return Err(Failure::Usage(format!("{}: no such data folder (pass --data DIR)", dir.display())));
    }

    // The run: fresh, or from the state file.
    let mut trainer;
    let resumed_images;
    if let Some(state) = &args.resume {
        let resumed = load_state(state)?;
        check_conflicts(matches, &cli_config, &resumed.trainer.config, state)?;
        resumed_images = Some((resumed.train_images, state.clone()));
        trainer = resumed.trainer;
    } else {
        resumed_images = None;
        trainer = Trainer::new(cli_config)?;
        if let Some(init) = &args.init_from {
            load_module(&mut trainer.model, init)?;
        }
    }

    let data = load_or_fetch(&dir)?;
    let mut checkpoints =
        Checkpoints { state: state_path(&out), weights: out, train_images: data.train.len(), last: None };
    if let Some((images, state)) = &resumed_images {
        if *images != data.train.len() {
            let (path, expected, got) = (state.clone(), *images, data.train.len());
            return Err(models::resume::ResumeError::Data { path, expected, got }.into());
        }
        checkpoints.last = Some(trainer.steps);
        if let Some(path) = &args.metrics {
            truncate_metrics(path, trainer.epoch)?;
        }
    }
    remove_stale_temporaries(&checkpoints.weights);
    remove_stale_temporaries(&checkpoints.state);

    let steps_per_epoch = trainer.steps_per_epoch(data.train.len());
    if trainer.finished() && resumed_images.is_none() {
        // `--max-steps 0`: nothing to train; write the starting weights as asked.
        checkpoints.write(&trainer)?;
        eprintln!("wrote {} (no step taken)", checkpoints.weights.display());
        return Ok(());
    }
    if resumed_images.is_some() && trainer.finished() {
        eprintln!(
            "the run in {} is already complete ({} epoch(s), {} step(s)); nothing to do",
            checkpoints.state.display(),
            trainer.epoch,
            trainer.steps
        );
        return Ok(());
    }
    eprintln!(
        "{} LeNet-5 on {} images ({} test), batch {}, {} epoch(s), {} thread(s){}; checkpoints: {} and {}",
        if resumed_images.is_some() { "resuming" } else { "training" },
        data.train.len(),
        data.test.len(),
        trainer.config.batch_size,
        trainer.config.epochs,
        trainer.config.threads,
        if resumed_images.is_some() {
            format!(" from epoch {}, step {}/{steps_per_epoch}", trainer.epoch + 1, trainer.progress.step)
        } else {
            String::new()
        },
        checkpoints.weights.display(),
        checkpoints.state.display(),
    );
    // A first checkpoint before any work: a folder that cannot be written fails now, not
    // after the first hours of training.
    checkpoints.write(&trainer)?;

    let every = args.checkpoint_every;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .map_err(|e| Failure::Run(e.to_string()))?
        .progress_chars("=> ");
    // One bar per epoch, kept across the pauses for mid-epoch checkpoints, and cleared
    // however the loop is left (so an error's line stands alone).
    let mut epoch_bar: Option<ClearedBar> = None;
    while !trainer.finished() {
        let bar = epoch_bar
            .get_or_insert_with(|| {
                let b = ProgressBar::new(steps_per_epoch as u64).with_style(style.clone());
                b.set_prefix(format!("{}/{}", trainer.epoch + 1, trainer.config.epochs));
                b.set_position(trainer.progress.step as u64);
                ClearedBar(b)
            })
            .0
            .clone();
        let max_steps = trainer.config.max_steps;
        let advanced = trainer.advance(&data.train, &data.test, |r| {
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "loss {:.4} acc {:.2}% {:.0} img/s",
                r.loss,
                100.0 * r.accuracy,
                r.images_per_second
            ));
            let ends_epoch = r.step == r.steps || max_steps == Some(r.global_step);
            if INTERRUPTED.load(Ordering::SeqCst) || (every > 0 && r.global_step % every == 0 && !ends_epoch) {
                Flow::Pause
            } else {
                Flow::Continue
            }
        });
        let advanced = match advanced {
            Ok(a) => a,
            Err(TrainError::NonFinite(nf)) => {
                bar.finish_and_clear();
                return Err(Failure::Run(format!(
                    "training stopped at {nf}; {} (a lower --lr or --clip-grad-norm may help)",
                    checkpoints.last_words()
                )));
            }
            Err(e) => return Err(e.into()),
        };
        match advanced {
            Advance::Paused => {
                checkpoints.write(&trainer)?;
                if INTERRUPTED.load(Ordering::SeqCst) {
                    bar.finish_and_clear();
                    return Err(Failure::Interrupted(format!(
                        "interrupted after step {} (epoch {}, step {}/{steps_per_epoch}); wrote {} and {}; resume with: {}",
                        trainer.steps,
                        trainer.epoch + 1,
                        trainer.progress.step,
                        checkpoints.weights.display(),
                        checkpoints.state.display(),
                        resume_command(&args, &checkpoints, &dir, explicit_data)
                    )));
                }
            }
            Advance::EpochEnd(m) => {
                bar.finish_and_clear();
                epoch_bar = None;
                if let Some(path) = &args.metrics {
                    append_metrics(path, &m)?;
                }
                checkpoints.write(&trainer)?;
                eprintln!(
                    "epoch {:>2}: train loss {:.4} acc {:.2}% | test loss {:.4} acc {:.2}% | {:.1} s ({:.0} img/s)",
                    m.epoch,
                    m.train_loss,
                    100.0 * m.train_accuracy,
                    m.test.loss,
                    100.0 * m.test.accuracy,
                    m.seconds,
                    m.images_per_second
                );
                if INTERRUPTED.load(Ordering::SeqCst) && !trainer.finished() {
                    return Err(Failure::Interrupted(format!(
                        "interrupted after epoch {} (step {}); wrote {} and {}; resume with: {}",
                        trainer.epoch,
                        trainer.steps,
                        checkpoints.weights.display(),
                        checkpoints.state.display(),
                        resume_command(&args, &checkpoints, &dir, explicit_data)
                    )));
                }
            }
        }
    }
    eprintln!("wrote {} (and {}, to resume from)", checkpoints.weights.display(), checkpoints.state.display());
    Ok(())
}

/// A progress bar cleared from the terminal when dropped.
struct ClearedBar(ProgressBar);

impl Drop for ClearedBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// The command that resumes this run.
fn resume_command(args: &TrainArgs, checkpoints: &Checkpoints, data: &Path, explicit_data: bool) -> String {
    let mut cmd = format!("lenet5 train --resume {}", checkpoints.state.display());
    if weights_path(&checkpoints.state).as_deref() != Some(checkpoints.weights.as_path()) {
        cmd += &format!(" --out {}", checkpoints.weights.display());
    }
    if explicit_data {
        cmd += &format!(" --data {}", data.display());
    }
    if let Some(m) = &args.metrics {
        cmd += &format!(" --metrics {}", m.display());
    }
    cmd
}

/// Loads MNIST from `dir`, downloading missing files first when the feature is on.
fn load_or_fetch(dir: &Path) -> Result<mnist::Mnist, Failure> {
    let missing = mnist::FILES.iter().any(|f| mnist::find_file(dir, f).is_none());
    if missing {
        #[cfg(feature = "download")]
        {
            let mirrors: Vec<String> = match std::env::var("MNIST_MIRROR") {
                Ok(m) => vec![m],
                Err(_) => models::download::MIRRORS.iter().map(|s| s.to_string()).collect(),
            };
            models::download::fetch_missing(dir, &mirrors, |f| eprintln!("downloading {f} into {}", dir.display()))?;
        }
        #[cfg(not(feature = "download"))]
        return Err(Failure::Usage(format!("{}: the MNIST files are missing (pass --data DIR)", dir.display())));
    }
    Ok(mnist::load(dir)?)
}

fn load_model(checkpoint: &Path) -> Result<LeNet5<f32>, Failure> {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let mut model = LeNet5::new(&mut rng)?;
    load_module(&mut model, checkpoint)?;
    Ok(model)
}

fn eval(checkpoint: &Path, data: Option<PathBuf>) -> Result<(), Failure> {
    let model = load_model(checkpoint)?;
    let dir = data_dir(data);
    if !dir.is_dir() {
        return Err(Failure::Usage(format!("{}: no such data folder (pass --data DIR)", dir.display())));
    }
    let data = mnist::load(&dir)?;
    let e = evaluate_on_threads(&model, &data.test, 1000, default_threads())?;
    println!("test loss {:.4}, accuracy {:.2}% ({} images)", e.loss, 100.0 * e.accuracy, data.test.len());
    println!("accuracy per class:");
    for (c, a) in e.per_class().iter().enumerate() {
        println!("  {c}: {:.2}%", 100.0 * a);
    }
    println!("confusion matrix (rows: true digit, columns: predicted):");
    println!("     {}", (0..CLASSES).map(|c| format!("{c:>5}")).collect::<String>());
    for (c, row) in e.confusion.iter().enumerate() {
        println!("  {c}: {}", row.iter().map(|n| format!("{n:>5}")).collect::<String>());
    }
    Ok(())
}

fn predict_images(checkpoint: &Path, images: &[PathBuf]) -> Result<(), Failure> {
    let model = load_model(checkpoint)?;
    let digits = images.iter().map(|p| predict::load_digit(p)).collect::<Result<Vec<_>, _>>()?;
    for (path, (digit, p)) in images.iter().zip(predict::classify(&model, &digits)?) {
        println!("{}: {digit} (p = {p:.4})", path.display());
    }
    Ok(())
}

fn show_shapes(batch_size: usize) -> Result<(), Failure> {
    if batch_size == 0 {
        return Err(Failure::Usage("--batch-size must be at least 1".into()));
    }
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let model = LeNet5::new(&mut rng)?;
    print!("{}", shapes::render(&shapes::table(&model, batch_size)?));
    Ok(())
}
