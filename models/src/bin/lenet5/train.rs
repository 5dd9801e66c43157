//! `lenet5 train`: train LeNet-5 or any `--arch` network on an IDX or image folder, with
//! checkpoints as it goes; `--resume STATE` continues a run where it stopped.
//!
//! Every `--checkpoint-every` steps and at each epoch's end it writes the weights (`--out`,
//! a PyTorch `state_dict` with the network, its preprocessing and the data folder in the
//! metadata) and, beside them, the state a run resumes from (`<out stem>.state.safetensors`,
//! see [`models::resume`]); both atomically. The resumed run's hyper-parameters, network,
//! preprocessing and data folder come from the file: an option that disagrees with them is
//! a usage error (leave it out when resuming); `--data`, `--out`, `--metrics` and
//! `--checkpoint-every` may be given anew.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use indicatif::ProgressStyle;
use layers::Module;
use layers::checkpoint::{read_checkpoint, remove_stale_temporaries};
use models::arch::Arch;
use models::data::{Dataset, Preprocess, parse_list};
use models::network::{NetworkInfo, load_network};
use models::resume::{Checkpointer, ResumeError, check_format, resume_from, weights_path};
use models::train::{Fit, HYPER_PARAMETERS, MetricsCsv, TrainConfig, TrainError, Trainer, truncate_metrics};

use crate::progress::{CliObserver, INTERRUPTED};
use crate::{Failure, data, default_threads};

#[derive(clap::Args)]
pub struct TrainArgs {
    #[arg(
        long,
        help = "The data: an IDX folder with MNIST's four file names, or an image folder \
                (DIR/train/CLASS/*.png|jpg, DIR/test/CLASS/...). Default: $MNIST_DIR, else data/mnist; \
                missing MNIST files are downloaded into it (a folder named here or by $MNIST_DIR must \
                exist; data/mnist is created). A resumed run remembers its folder"
    )]
    data: Option<PathBuf>,
    #[arg(
        long,
        value_name = "SPEC",
        help = "The network: lenet5 (the default) or layers separated by spaces, e.g. \
                \"conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(10)\". \
                Layers: conv(OUT,K[,s=S][,p=P]), maxpool(K[,s=S][,p=P]), avgpool(K[,s=S][,p=P]), batchnorm, \
                dropout(P), relu, leakyrelu[(SLOPE)], tanh, sigmoid, flatten, linear(OUT). Presets: lenet5, lenet5-1998"
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
    /// Where to write the weights; the state to resume from goes beside it, in
    /// STEM.state.safetensors (default when resuming: beside the state file).
    #[arg(long, default_value = "lenet5.safetensors")]
    out: PathBuf,
    /// Append one CSV row per epoch to this file.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Resume the run whose state file (STEM.state.safetensors) this is; its
    /// hyper-parameters, network, preprocessing and data folder are kept.
    #[arg(long, value_name = "STATE")]
    resume: Option<PathBuf>,
    /// Write a checkpoint every this many steps, besides each epoch's end (0: only there).
    #[arg(long, default_value_t = 500, value_name = "STEPS", allow_negative_numbers = true)]
    checkpoint_every: u64,
}

/// Adds one flag per hyper-parameter ([`HYPER_PARAMETERS`]) to the `train` command.
pub fn with_hyper_parameters(cmd: clap::Command) -> clap::Command {
    let defaults = TrainConfig::default();
    cmd.args(HYPER_PARAMETERS.iter().map(|h| {
        let arg = Arg::new(h.name).help(h.help());
        match h.switch {
            Some((flag, _)) => arg.long(flag).action(ArgAction::SetTrue),
            None => {
                let default = (h.get)(&defaults);
                let arg = arg.long(h.flag().trim_start_matches("--").to_string()).value_name(h.value_name);
                let arg = arg.allow_negative_numbers(true).action(ArgAction::Set);
                if default == "none" || h.name == "threads" { arg } else { arg.default_value(default) }
            }
        }
    }))
}

/// Whether `id` was given on the command line (not taken from its default).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// The hyper-parameters the command line gives (defaults for the others; threads: the
/// machine's cores).
fn config_from(matches: &ArgMatches) -> Result<TrainConfig, Failure> {
    let mut config = TrainConfig { threads: default_threads(), ..TrainConfig::default() };
    for h in &HYPER_PARAMETERS {
        let value = match h.switch {
            Some((_, value)) => matches.get_flag(h.name).then(|| value.to_string()),
            None => matches.get_one::<String>(h.name).cloned(),
        };
        if let Some(value) = value {
            let flag = h.switch.map_or_else(|| h.flag(), |(f, _)| format!("--{f}"));
            (h.set)(&mut config, &value).map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
        }
    }
    config.validate().map_err(Failure::Usage)?;
    Ok(config)
}

/// An error for the first hyper-parameter given on the command line that disagrees with
/// the resumed run's.
fn check_conflicts(matches: &ArgMatches, cli: &TrainConfig, run: &TrainConfig, state: &Path) -> Result<(), Failure> {
    for h in &HYPER_PARAMETERS {
        let (mine, theirs) = ((h.get)(cli), (h.get)(run));
        if given(matches, h.name) && mine != theirs {
            let flag = h.switch.map_or_else(|| h.flag(), |(f, _)| format!("--{f}"));
            return Err(conflict(&flag, h.name, &theirs, state));
        }
    }
    Ok(())
}

fn conflict(flag: &str, name: &str, theirs: &str, state: &Path) -> Failure {
    Failure::Usage(format!(
        "{flag} conflicts with the resumed run's {name} = {theirs} in {}; a resumed run keeps its settings (leave {flag} out)",
        state.display()
    ))
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
    let arch_flag: Option<Arch> =
        args.arch.as_deref().map(str::parse).transpose().map_err(|e| Failure::Usage(format!("--arch: {e}")))?;

    // Where the checkpoints go: --out, or beside the state file when resuming.
    let out = match &args.resume {
        Some(state) if !given(matches, "out") => weights_path(state).unwrap_or(args.out.clone()),
        _ => args.out.clone(),
    };
    let out_dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !out_dir.is_dir() {
        return Err(Failure::Usage(format!("--out {}: no such folder {}", out.display(), out_dir.display())));
    }

    // A resumed run: its file first (it may name the data folder).
    let resumed = match &args.resume {
        Some(state) => {
            let checkpoint = read_checkpoint::<f32>(state)?;
            check_format(&checkpoint, state)?;
            Some((state.clone(), checkpoint))
        }
        None => None,
    };
    let remembered = resumed.as_ref().and_then(|(_, c)| c.metadata.get("data.dir")).map(PathBuf::from);

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
    let (mut trainer, info) = match resumed {
        Some((state, checkpoint)) => {
            let info =
                NetworkInfo::from_metadata(&checkpoint.metadata, &state)?.unwrap_or_else(NetworkInfo::lenet5_mnist);
            let config = TrainConfig::from_metadata(&checkpoint.metadata).unwrap_or(cli_config.clone());
            check_conflicts(matches, &cli_config, &config, &state)?;
            if let Some(a) = &arch_flag
                && *a != info.arch
            {
                return Err(conflict("--arch", "arch", &info.arch.to_string(), &state));
            }
            for flag in ["pad", "mean", "std"] {
                if given(matches, flag) {
                    let theirs = checkpoint.metadata.get(&format!("preprocess.{flag}")).cloned().unwrap_or_default();
                    return Err(conflict(&format!("--{flag}"), flag, &theirs, &state));
                }
            }
            let preprocess = Preprocess::from_metadata(&checkpoint.metadata).unwrap_or_else(|_| Preprocess::mnist());
            let model =
                info.build(&preprocess, config.seed).map_err(|e| Failure::Run(format!("{}: {e}", state.display())))?;
            let trainer = resume_from(checkpoint, model, &state)?;
            (trainer, info)
        }
        None => {
            // The file to start from first: a bad one fails before any download.
            let init = args.init_from.as_deref().map(load_network).transpose()?;
            let data = data::load(&dir, true)?;
            return train_fresh(args, arch_flag, init, cli_config, &out, &dir, data);
        }
    };
    let data = data::load(&dir, true)?;
    if trainer.train_images != data.train.len() {
        let path = args.resume.clone().unwrap_or_default();
        return Err(ResumeError::Data { path, expected: trainer.train_images, got: data.train.len() }.into());
    }
    if let Some(path) = &args.metrics {
        remove_stale_temporaries(path);
        truncate_metrics(path, trainer.epoch)?;
    }
    let mut checkpoints = Checkpointer::new(out, args.checkpoint_every, run_metadata(&info, &dir));
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
    train_loop(&mut trainer, &info, &data, checkpoints, &args, true)
}

/// The metadata every checkpoint of the run carries: the network and the data folder.
fn run_metadata(info: &NetworkInfo, dir: &Path) -> Vec<(String, String)> {
    let mut meta = info.metadata();
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    meta.push(("data.dir".into(), dir.display().to_string()));
    meta
}

fn train_fresh(
    args: TrainArgs,
    arch_flag: Option<Arch>,
    init: Option<models::network::LoadedNetwork>,
    config: TrainConfig,
    out: &Path,
    dir: &Path,
    data: models::data::TrainTest<models::data::ImageSet>,
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
        (None, None) => Arch::LeNet5,
    };
    let pad = args.pad.or(init.as_ref().map(|i| i.preprocess.pad())).unwrap_or_else(|| arch.default_pad());
    let preprocess = match (&init, args.mean.is_none() && args.std.is_none() && args.pad.is_none()) {
        (Some(init), true) => init.preprocess.clone(),
        _ => preprocess_from(&args, pad, &data.train)?,
    };
    let info = NetworkInfo::for_data(arch, &data.train);
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
    let mut checkpoints = Checkpointer::new(out.to_path_buf(), args.checkpoint_every, run_metadata(&info, dir));
    if trainer.finished() {
        // `--max-steps 0`: nothing to train; write the starting weights as asked.
        checkpoints.write(&trainer)?;
        eprintln!("wrote {} (no step taken)", checkpoints.weights.display());
        return Ok(());
    }
    train_loop(&mut trainer, &info, &data, checkpoints, &args, false)
}

fn train_loop(
    trainer: &mut Trainer<Box<dyn Module<f32>>>,
    info: &NetworkInfo,
    data: &models::data::TrainTest<models::data::ImageSet>,
    mut checkpoints: Checkpointer,
    args: &TrainArgs,
    resumed: bool,
) -> Result<(), Failure> {
    remove_stale_temporaries(&checkpoints.weights);
    remove_stale_temporaries(&checkpoints.state);
    if let Some(path) = &args.metrics {
        remove_stale_temporaries(path);
    }
    let steps_per_epoch = trainer.steps_per_epoch(data.train.len());
    let network = match info.arch {
        Arch::LeNet5 => "LeNet-5".to_string(),
        ref a => format!("\"{a}\""),
    };
    eprintln!(
        "{} {network} on {} images ({} test, {:?} each), batch {}, {} epoch(s), {} thread(s){}; checkpoints: {} and {}",
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
    );
    // A first checkpoint before any work: a folder that cannot be written fails now, not
    // after the first hours of training.
    checkpoints.write(trainer)?;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        .map_err(|e| Failure::Run(e.to_string()))?
        .progress_chars("=> ");
    let mut observer =
        CliObserver::new(style, steps_per_epoch, checkpoints, args.metrics.clone().map(|path| MetricsCsv { path }));
    let fit = trainer.fit(&data.train, &data.test, &mut observer);
    observer.clear();
    match fit {
        Ok(Fit::Finished) => {
            eprintln!(
                "wrote {} (and {}, to resume from)",
                observer.checkpoints.weights.display(),
                observer.checkpoints.state.display()
            );
            Ok(())
        }
        Ok(Fit::Paused) => {
            let c = &observer.checkpoints;
            let resume = resume_command(args, c);
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
fn resume_command(args: &TrainArgs, checkpoints: &Checkpointer) -> String {
    let mut cmd = format!("lenet5 train --resume {}", checkpoints.state.display());
    if weights_path(&checkpoints.state).as_deref() != Some(checkpoints.weights.as_path()) {
        cmd += &format!(" --out {}", checkpoints.weights.display());
    }
    if let Some(m) = &args.metrics {
        cmd += &format!(" --metrics {}", m.display());
    }
    cmd
}
