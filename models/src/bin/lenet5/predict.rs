//! `lenet5 predict`: classify image files with a checkpoint (its network, image size and
//! preprocessing from the checkpoint's metadata).

use std::path::PathBuf;

use models::memory::{MemoryEstimate, Workload};
use models::network::load_network;
use models::predict::{classify, load_image};

use crate::{Failure, MemoryArg, check_memory};

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The checkpoint (safetensors weights written by `train`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Image files (PNG or JPEG).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    memory: MemoryArg,
}

pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let budget = args.memory.budget()?;
    let net = load_network(&args.checkpoint)?;
    let plan = net.info.plan(&net.preprocess)?;
    let batch = args.images.len();
    let estimate = MemoryEstimate::of(&plan, Workload::Inference { batch, threads: 1 });
    check_memory(estimate, &budget, &format!("classifying {batch} image(s) with this network"))?;
    let shape = net.info.input;
    let images = args.images.iter().map(|p| load_image(p, shape)).collect::<Result<Vec<_>, _>>()?;
    for (path, (class, p)) in args.images.iter().zip(classify(net.model.as_ref(), &net.preprocess, shape, &images)?) {
        let name = net.info.class_names.get(class).cloned().unwrap_or_else(|| class.to_string());
        println!("{}: {name} (p = {p:.4})", path.display());
    }
    Ok(())
}
