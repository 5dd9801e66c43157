//! `lenet5`: train LeNet-5 on MNIST, evaluate a checkpoint, classify image files, and show
//! the derivation's matrix shapes.
//!
//! Exit status: 0 on success, 2 for a usage error (bad argument, missing data folder),
//! 1 for a run that failed (unreadable file, corrupt checkpoint, …). Errors are one line
//! on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use layers::checkpoint::{load_module, save_module};
use models::train::{OptimizerKind, TrainConfig, Trainer, append_metrics, evaluate};
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
    /// Train LeNet-5 on MNIST; writes a checkpoint at each epoch's end.
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
    /// The MNIST folder (default: $MNIST_DIR, else data/mnist); missing files are downloaded.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
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
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads per step (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Start from a checkpoint's weights.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Stop after this many optimizer steps (then write --out).
    #[arg(long)]
    max_steps: Option<u64>,
    /// Take the images in file order.
    #[arg(long)]
    no_shuffle: bool,
    /// Where to write the checkpoint.
    #[arg(long, default_value = "lenet5.safetensors")]
    out: PathBuf,
    /// Append one CSV row per epoch to this file.
    #[arg(long)]
    metrics: Option<PathBuf>,
}

/// A failure, with the exit status it deserves.
enum Failure {
    Usage(String),
    Run(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Run(e.to_string())
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("lenet5: internal error (please report): {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Eval { checkpoint, data } => eval(&checkpoint, data),
        Command::Predict { checkpoint, images } => predict_images(&checkpoint, &images),
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
    }
}

fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("MNIST_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("data/mnist"))
}

fn train(args: TrainArgs) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let config = TrainConfig {
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
    };
    config.validate().map_err(Failure::Usage)?;
    let dir = data_dir(args.data);
    let data = load_or_fetch(&dir)?;
    let mut trainer = Trainer::new(config)?;
    if let Some(init) = &args.init_from {
        load_module(&mut trainer.model, init)?;
    }
    eprintln!(
        "training LeNet-5 on {} images ({} test), batch {}, {} epoch(s), {} thread(s); checkpoint: {}",
        data.train.len(),
        data.test.len(),
        trainer.config.batch_size,
        trainer.config.epochs,
        trainer.config.threads,
        args.out.display()
    );
    while !trainer.finished() {
        let bar = ProgressBar::new(data.train.len().div_ceil(trainer.config.batch_size) as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .map_err(|e| Failure::Run(e.to_string()))?
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", trainer.epoch + 1, trainer.config.epochs));
        let m = trainer.run_epoch(&data.train, &data.test, |r| {
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "loss {:.4} acc {:.2}% {:.0} img/s",
                r.loss,
                100.0 * r.accuracy,
                r.images_per_second
            ));
        })?;
        bar.finish_and_clear();
        save_module(&trainer.model, &args.out)?;
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
        if let Some(path) = &args.metrics {
            append_metrics(path, &m)?;
        }
    }
    if trainer.epoch == 0 {
        // Stopped by --max-steps before an epoch ended: still write what was trained.
        save_module(&trainer.model, &args.out)?;
    }
    eprintln!("wrote {}", args.out.display());
    Ok(())
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
    let e = evaluate(&model, &data.test, 1000)?;
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
