//! `lenet5 eval`: test loss and accuracy of a checkpoint, per class, and the confusion
//! matrix. The network and its preprocessing come from the checkpoint's metadata, and so
//! does the data folder, unless `--data` names another.

use std::path::PathBuf;

use models::data::Dataset;
use models::memory::{MemoryEstimate, Workload};
use models::network::load_network;
use models::train::{EVAL_BATCH, evaluate};

use crate::{Failure, MemoryArg, check_memory, data, default_threads};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The checkpoint (safetensors weights written by `train`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// The data folder (default: the one the checkpoint was trained on, else $MNIST_DIR,
    /// else data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also draw the confusion matrix into this PNG file.
    #[arg(long, value_name = "FILE.png")]
    confusion_png: Option<PathBuf>,
    #[command(flatten)]
    memory: MemoryArg,
}

pub fn run(args: EvalArgs) -> Result<(), Failure> {
    if let Some(png) = &args.confusion_png
        && png.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some("png")
    {
        return Err(Failure::Usage(format!("--confusion-png {}: the file must end in .png", png.display())));
    }
    let budget = args.memory.budget()?;
    let net = load_network(&args.checkpoint)?;
    let plan = net.info.plan(&net.preprocess)?;
    let workload = Workload::Inference { batch: EVAL_BATCH, threads: default_threads() };
    let what = format!("evaluating this network in batches of {EVAL_BATCH}");
    check_memory(MemoryEstimate::of(&plan, workload), &budget, &what)?;
    let remembered = layers::checkpoint::read_checkpoint::<f32>(&args.checkpoint)?
        .metadata
        .get("data.dir")
        .map(PathBuf::from)
        .filter(|d| d.is_dir());
    let dir = data::data_dir(args.data.or(remembered));
    data::existing(&dir)?;
    let data = data::load(&dir, false, &budget)?;
    check_memory(MemoryEstimate::of(&plan, workload).with_data(data::bytes(&data)), &budget, &what)?;
    if data.test.image_shape() != net.info.input {
        return Err(Failure::Run(format!(
            "{}: images of {:?}, but the network takes {:?}",
            dir.display(),
            data.test.image_shape(),
            net.info.input
        )));
    }
    let e = evaluate(net.model.as_ref(), &data.test, &net.preprocess, EVAL_BATCH, default_threads())?;
    println!("test loss {:.4}, accuracy {:.2}% ({} images)", e.loss, 100.0 * e.accuracy, data.test.len());
    println!("accuracy per class:");
    let names: Vec<String> = (0..e.confusion.len()).map(|c| data.test.class_name(c)).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(1);
    for (name, a) in names.iter().zip(e.per_class()) {
        println!("  {name:>width$}: {:.2}%", 100.0 * a);
    }
    println!("confusion matrix (rows: true class, columns: predicted):");
    let cell = e.confusion.iter().flatten().max().map_or(1, |m| m.to_string().len()).max(width) + 1;
    println!("  {:>width$}  {}", "", (0..names.len()).map(|c| format!("{:>cell$}", names[c])).collect::<String>());
    for (name, row) in names.iter().zip(&e.confusion) {
        println!("  {name:>width$}: {}", row.iter().map(|n| format!("{n:>cell$}")).collect::<String>());
    }
    if let Some(png) = &args.confusion_png {
        models::plot::confusion_png(&e.confusion, &names, png)?;
        eprintln!("wrote {}", png.display());
    }
    Ok(())
}
