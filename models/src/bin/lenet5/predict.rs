//! `lenet5 predict`: classify image files with a checkpoint (its network, image size and
//! preprocessing from the checkpoint's metadata).

use std::path::PathBuf;

use models::network::load_network;
use models::predict::{classify, load_image};

use crate::Failure;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The checkpoint (safetensors weights written by `train`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Image files (PNG or JPEG).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let net = load_network(&args.checkpoint)?;
    let shape = net.info.input;
    let images = args.images.iter().map(|p| load_image(p, shape)).collect::<Result<Vec<_>, _>>()?;
    for (path, (class, p)) in args.images.iter().zip(classify(net.model.as_ref(), &net.preprocess, shape, &images)?) {
        let name = net.info.class_names.get(class).cloned().unwrap_or_else(|| class.to_string());
        println!("{}: {name} (p = {p:.4})", path.display());
    }
    Ok(())
}
