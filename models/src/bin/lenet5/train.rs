//! `lenet5 train`: train LeNet-5 or any `--arch` network on an IDX or image folder, with
//! checkpoints as it goes; `--resume STATE` continues a run where it stopped.
//!
//! Every `--checkpoint-every` steps and at each epoch's end it writes the weights (`--out`,
//! a PyTorch `state_dict` with the network, its preprocessing and the data folder in the
//! metadata, named after the network by default: [`models::outputs`]) and, beside them,
//! the state a run resumes from (`<out stem>.state.safetensors`, see [`models::resume`])
//! and the metrics (`<out stem>.metrics.csv`); each atomically, and none before the run's
//! first successful step, so that a run that fails early leaves existing files as they
//! were. An existing file of another network is refused without `--overwrite`. The
//! network's memory is estimated from its shapes and refused over `--max-memory` before
//! anything is allocated. The resumed run's hyper-parameters, network, preprocessing and
//! data folder come from the file: an option that disagrees with them is a usage error
//! (leave it out when resuming); `--data`, `--out`, `--metrics` and `--checkpoint-every`
//! may be given anew.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use clap::ArgMatches;
use indicatif::ProgressStyle;
use layers::Module;
use layers::checkpoint::remove_stale_temporaries;
use models::arch::Arch;
use models::data::{Dataset, Preprocess, parse_list};
use models::memory::{Budget, MemoryEstimate, Workload};
use models::network::{NetworkInfo, load_network};
use models::outputs::{RunIdentity, check_replaceable, default_weights, metrics_path, probe_folder};
use models::resume::{Checkpointer, StateFile, state_path, weights_path};
use models::train::{MetricsCsv, TrainConfig, TrainError, Trainer};

use crate::hyper_flags::{check_conflicts, config_from, conflict, given};
use crate::progress::CliObserver;
use crate::{Failure, MemoryArg, check_memory, data};

#[derive(clap::Args)]
pub struct TrainArgs {
    #[arg(
        long,
        help = "The data: an IDX folder with MNIST's four file names, an image folder \
                (DIR/train/CLASS/*.png|jpg, DIR/test/CLASS/...), or CIFAR-10's binary version \
                (data_batch_1.bin … test_batch.bin, batches.meta.txt, in DIR or DIR/cifar-10-batches-bin, or \
                DIR/cifar-10-binary.tar.gz). Default: $MNIST_DIR, else data/mnist; missing MNIST files are \
                downloaded into it, and CIFAR-10's tarball into a folder whose name contains cifar (from \
                $CIFAR10_URL if set, MD5 checked; a folder named here or by $MNIST_DIR must exist; \
                data/mnist is created). A resumed run remembers its folder"
    )]
    data: Option<PathBuf>,
    #[arg(
        long,
        value_name = "SPEC",
        help = models::arch::Kinds::builtin().arch_help()
    )]
    arch: Option<String>,
    /// Zero padding on every side of each image (default: 2 for lenet5, else 0).
    #[arg(long, value_name = "N")]
    pad: Option<usize>,
    /// Per-channel means to subtract, comma-separated (default: the training set's own).
    #[arg(long, value_name = "M[,M…]", allow_negative_numbers = true)]
    mean: Option<String>,
    /// Per-channel standard deviations to divide by (default: the training set's own).
    #[arg(long, value_name = "S[,S…]", allow_negative_numbers = true)]
    std: Option<String>,
    /// Start from a checkpoint's weights (its network and preprocessing too).
    #[arg(long)]
    init_from: Option<PathBuf>,
    #[arg(
        long,
        value_name = "FILE",
        help = "Where to write the weights; the state to resume from goes beside it, in STEM.state.safetensors. \
                Default: named after the network, lenet5.safetensors for lenet5, lenet5-1998.safetensors for \
                lenet5-1998, else DATA-HASH.safetensors (the data folder's name and 8 hex digits of the spec's \
                hash, e.g. fashion-3f2a9c1e.safetensors); when resuming, beside the state file. An existing file \
                of another network or data folder is refused without --overwrite; nothing is written before the \
                first successful step"
    )]
    out: Option<PathBuf>,
    /// One CSV row per epoch (rows of later epochs of an earlier run are replaced; default:
    /// STEM.metrics.csv beside the weights).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Replace --out, its state file and its metrics even when they hold another network.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    memory: MemoryArg,
    /// Resume the run whose state file (STEM.state.safetensors) this is; its
    /// hyper-parameters, network, preprocessing and data folder are kept.
    #[arg(long, value_name = "STATE")]
    resume: Option<PathBuf>,
    /// Write a checkpoint every this many steps, besides each epoch's end (0: only there).
    #[arg(long, default_value_t = 500, value_name = "STEPS", allow_negative_numbers = true)]
    checkpoint_every: u64,
}

/// The preprocessing the flags ask for, with defaults from `fallback` (or the training
/// set's statistics when there is none).
fn preprocess_from(args: &TrainArgs, pad: usize, train: &dyn Dataset) -> Result<Preprocess, Failure> {
    let list = |flag: &str, text: &Option<String>| -> Result<Option<Vec<f32>>, Failure> {
        text.as_deref().map(|t| parse_list(t).map_err(|e| Failure::Usage(format!("{flag}: {e}")))).transpose()
    };
    let (mean, std) = (list("--mean", &args.mean)?, list("--std", &args.std)?);
    let fitted = match (&mean, &std) {
        (Some(_), Some(_)) => None,
        _ => Some(Preprocess::fit(train, pad)?),
    };
    let mean = mean.unwrap_or_else(|| fitted.as_ref().map(|f| f.mean().to_vec()).unwrap_or_default());
    let std = std.unwrap_or_else(|| fitted.as_ref().map(|f| f.std().to_vec()).unwrap_or_default());
    let preprocess = Preprocess::new(pad, mean, std).map_err(|e| Failure::Usage(format!("--mean/--std: {e}")))?;
    preprocess.output_shape(train.image_shape()).map_err(|e| Failure::Usage(format!("--mean/--std: {e}")))?;
    Ok(preprocess)
}

pub fn run(args: TrainArgs, matches: &ArgMatches) -> Result<(), Failure> {
    let cli_config = config_from(matches)?;
    // Until training starts, Ctrl-C (or SIGTERM) exits at once; from then on it asks the
    // run to stop after the current step and write a checkpoint (a second one exits).
    crate::progress::handle_interrupts();
    let budget = args.memory.budget()?;
    if args.resume.is_some() && args.init_from.is_some() {
        return Err(Failure::Usage(
            "--init-from and --resume exclude each other (a resumed run has its weights)".into(),
        ));
    }
    let arch_flag: Option<Arch> =
        args.arch.as_deref().map(str::parse).transpose().map_err(|e| Failure::Usage(format!("--arch: {e}")))?;

    // Where the checkpoints go: --out, or beside the state file when resuming, or (decided
    // once the network is known) a name after the network in the current folder.
    let out = match (&args.out, &args.resume) {
        (Some(out), _) => Some(out.clone()),
        (None, Some(state)) => weights_path(state),
        (None, None) => None,
    };
    for target in out.iter().chain(&args.metrics).cloned().chain(out.is_none().then(|| PathBuf::from("x"))) {
        check_folder(&target)?;
    }

    // A resumed run: its file first (it may name the data folder).
    let resumed = args.resume.as_deref().map(StateFile::read).transpose()?;
    let remembered = resumed.as_ref().and_then(|s| s.metadata("data.dir")).map(PathBuf::from);

    // The data folder: an explicitly named one must exist.
    let explicit_data = args.data.is_some() || std::env::var_os("MNIST_DIR").is_some() || remembered.is_some();
    let dir = data::data_dir(args.data.clone().or(remembered));
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::Usage(format!("{}: not a folder (pass --data DIR)", dir.display())));
    }
    if !dir.exists() && explicit_data && dir != Path::new(data::DEFAULT_DATA) {
        return Err(Failure::Usage(format!("{}: no such data folder (pass --data DIR)", dir.display())));
    }

    // The run: from the state file, or fresh.
    let Some(state) = resumed else {
        // The file to start from first: a bad one fails before any download.
        let init = args.init_from.as_deref().map(load_network).transpose()?;
        let data = data::load(&dir, true, &budget)?;
        return train_fresh(args, arch_flag, init, cli_config, out, &dir, data, &budget);
    };
    check_conflicts(matches, &cli_config, &state.config, &state.path)?;
    if let Some(a) = &arch_flag
        && *a != state.info.arch
    {
        return Err(conflict("--arch", "arch", &state.info.arch.to_string(), &state.path));
    }
    for flag in ["pad", "mean", "std"] {
        if given(matches, flag) {
            let theirs = state.metadata(&format!("preprocess.{flag}")).unwrap_or_default();
            return Err(conflict(&format!("--{flag}"), flag, theirs, &state.path));
        }
    }
    let plan =
        state.info.plan(&state.preprocess).map_err(|e| Failure::Run(format!("{}: {e}", state.path.display())))?;
    let (path, config) = (state.path.clone(), state.config.clone());
    // Built for the file's values (so no larger than the file): checked before the data.
    let resumed = state.resume()?;
    let data = data::load(&dir, true, &budget)?;
    let workload = Workload::training(&config, data.train.len());
    check_memory(MemoryEstimate::of(&plan, workload).with_data(data::bytes(&data)), &budget, &training_words(&config))?;
    resumed.check_data(data.train.len(), &path)?;
    let models::resume::Resumed { mut trainer, info, .. } = resumed;
    let out = out.unwrap_or_else(|| default_weights(&info.arch, &dir));
    let files = RunFiles::new(out, args.metrics.clone(), &args, &info, &dir)?;
    let mut checkpoints = Checkpointer::new(files.weights.clone(), args.checkpoint_every, run_metadata(&info, &dir));
    checkpoints.last = Some(trainer.steps);
    if trainer.finished() {
        eprintln!(
            "the run in {} is already complete ({} epoch(s), {} step(s)); nothing to do",
            checkpoints.state.display(),
            trainer.epoch,
            trainer.steps
        );
        return Ok(());
    }
    train_loop(&mut trainer, &info, &data, checkpoints, &files, true)
}

/// `training this network at batch 64 with 2 thread(s)`.
fn training_words(config: &TrainConfig) -> String {
    format!(
        "training this network at batch {} with {} thread(s) and {}",
        config.batch_size, config.threads, config.optimizer
    )
}

/// That the folder of `target` exists and can be written (a probe file created and
/// removed; no existing file is touched).
fn check_folder(target: &Path) -> Result<(), Failure> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Failure::Usage(format!("{}: no such folder {}", target.display(), dir.display())));
    }
    probe_folder(target).map_err(|e| Failure::Usage(format!("{}: cannot write there: {e}", dir.display())))
}

/// The files a run writes, checked: the weights, the state beside them, the metrics.
struct RunFiles {
    weights: PathBuf,
    metrics: PathBuf,
    /// Whether the metrics file is the default one beside the weights.
    default_metrics: bool,
}

impl RunFiles {
    /// The run's files, each refused when it holds another network (unless
    /// `--overwrite`), with its folder writable.
    fn new(
        weights: PathBuf,
        metrics: Option<PathBuf>,
        args: &TrainArgs,
        info: &NetworkInfo,
        dir: &Path,
    ) -> Result<Self, Failure> {
        let default_metrics = metrics.is_none();
        let metrics = metrics.unwrap_or_else(|| metrics_path(&weights));
        check_folder(&weights)?;
        check_folder(&metrics)?;
        if !args.overwrite {
            let run = RunIdentity { info: info.clone(), data: Some(canonical(dir)) };
            for path in [weights.clone(), state_path(&weights)] {
                check_replaceable(&path, &run).map_err(|e| Failure::Usage(e.to_string()))?;
            }
        }
        Ok(RunFiles { weights, metrics, default_metrics })
    }
}

/// `dir` made absolute, as the metadata records it.
fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The metadata every checkpoint of the run carries: the network and the data folder.
fn run_metadata(info: &NetworkInfo, dir: &Path) -> Vec<(String, String)> {
    let mut meta = info.metadata();
    meta.push(("data.dir".into(), canonical(dir).display().to_string()));
    meta
}

#[allow(clippy::too_many_arguments)]
fn train_fresh(
    args: TrainArgs,
    arch_flag: Option<Arch>,
    init: Option<models::network::LoadedNetwork>,
    config: TrainConfig,
    out: Option<PathBuf>,
    dir: &Path,
    data: models::data::TrainTest<models::data::ImageSet>,
    budget: &Budget,
) -> Result<(), Failure> {
    // --init-from: the file's network and preprocessing, unless the flags say otherwise.
    let arch = match (&arch_flag, &init) {
        (Some(a), Some(init)) if *a != init.info.arch => {
            return Err(Failure::Usage(format!(
                "--arch {a} differs from the network of --init-from ({}); leave --arch out",
                init.info.arch
            )));
        }
        (Some(a), _) => a.clone(),
        (None, Some(init)) => init.info.arch.clone(),
        (None, None) => Arch::lenet5(),
    };
    let pad = args.pad.or(init.as_ref().map(|i| i.preprocess.pad())).unwrap_or_else(|| arch.default_pad());
    let preprocess = match (&init, args.mean.is_none() && args.std.is_none() && args.pad.is_none()) {
        (Some(init), true) => init.preprocess.clone(),
        _ => preprocess_from(&args, pad, &data.train)?,
    };
    let info = NetworkInfo::for_data(arch, &data.train);
    // The whole network checked from its shapes, and its memory, before anything is built.
    let plan = info.plan(&preprocess).map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
    let workload = Workload::training(&config, data.train.len());
    let estimate = MemoryEstimate::of(&plan, workload).with_data(data::bytes(&data));
    check_memory(estimate, budget, &training_words(&config))?;
    let out = out.unwrap_or_else(|| default_weights(&info.arch, dir));
    let files = RunFiles::new(out, args.metrics.clone(), &args, &info, dir)?;
    let mut model = info.build(&preprocess, config.seed).map_err(|e| Failure::Usage(format!("--arch: {e}")))?;
    if let Some(init) = init {
        let names = |m: &dyn Module<f32>| {
            m.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect::<Vec<_>>()
        };
        if names(model.as_ref()) != names(init.model.as_ref()) {
            return Err(Failure::Usage("--init-from: its network does not fit the data".into()));
        }
        model = init.model;
    }
    let mut trainer = Trainer::new(model, config, preprocess)?;
    trainer.train_images = data.train.len();
    let mut checkpoints = Checkpointer::new(files.weights.clone(), args.checkpoint_every, run_metadata(&info, dir));
    if trainer.finished() {
        // `--max-steps 0`: nothing to train; write the starting weights as asked.
        checkpoints.write(&trainer)?;
        eprintln!("wrote {} (no step taken)", checkpoints.weights.display());
        return Ok(());
    }
    train_loop(&mut trainer, &info, &data, checkpoints, &files, false)
}

fn train_loop(
    trainer: &mut Trainer<Box<dyn Module<f32>>>,
    info: &NetworkInfo,
    data: &models::data::TrainTest<models::data::ImageSet>,
    checkpoints: Checkpointer,
    files: &RunFiles,
    resumed: bool,
) -> Result<(), Failure> {
    remove_stale_temporaries(&checkpoints.weights);
    remove_stale_temporaries(&checkpoints.state);
    remove_stale_temporaries(&files.metrics);
    let steps_per_epoch = trainer.steps_per_epoch(data.train.len());
    let network = info.arch.title();
    eprintln!(
        "{} {network} on {} images ({} test, {:?} each), batch {}, {} epoch(s), {} thread(s){}; checkpoints: {} and {}, metrics: {}",
        if resumed { "resuming" } else { "training" },
        data.train.len(),
        data.test.len(),
        data.train.shape,
        trainer.config.batch_size,
        trainer.config.epochs,
        trainer.config.threads,
        if resumed {
            format!(" from epoch {}, step {}/{steps_per_epoch}", trainer.epoch + 1, trainer.progress.step)
        } else {
            String::new()
        },
        checkpoints.weights.display(),
        checkpoints.state.display(),
        files.metrics.display(),
    );
    eprintln!("recipe: {}", trainer.config);
    // The folders were probed; the files themselves are first written after a step.
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .map_err(|e| Failure::Run(e.to_string()))?
        .progress_chars("=> ");
    let mut observer =
        CliObserver::new(style, steps_per_epoch, checkpoints, Some(MetricsCsv { path: files.metrics.clone() }));
    crate::progress::TRAINING.store(true, Ordering::SeqCst);
    let fit = trainer.fit(&data.train, &data.test, &mut observer);
    observer.clear();
    match fit {
        Ok(history) if history.finished => {
            eprintln!(
                "wrote {} (and {}, to resume from)",
                observer.checkpoints.weights.display(),
                observer.checkpoints.state.display()
            );
            Ok(())
        }
        Ok(_) => {
            let c = &observer.checkpoints;
            let resume = resume_command(files, c);
            let at = if trainer.progress.step > 0 {
                format!(
                    "step {} (epoch {}, step {}/{steps_per_epoch})",
                    trainer.steps,
                    trainer.epoch + 1,
                    trainer.progress.step
                )
            } else {
                format!("epoch {} (step {})", trainer.epoch, trainer.steps)
            };
            Err(Failure::Interrupted(format!(
                "interrupted after {at}; wrote {} and {}; resume with: {resume}",
                c.weights.display(),
                c.state.display()
            )))
        }
        Err(TrainError::NonFinite(nf)) => Err(Failure::Run(format!(
            "training stopped at {nf}; {} (a lower --lr or --clip-grad-norm may help)",
            observer.checkpoints.last_words()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The command that resumes this run (the data folder is in the state file).
fn resume_command(files: &RunFiles, checkpoints: &Checkpointer) -> String {
    let mut cmd = format!("lenet5 train --resume {}", checkpoints.state.display());
    if weights_path(&checkpoints.state).as_deref() != Some(checkpoints.weights.as_path()) {
        cmd += &format!(" --out {}", checkpoints.weights.display());
    }
    if !files.default_metrics {
        cmd += &format!(" --metrics {}", files.metrics.display());
    }
    cmd
}
