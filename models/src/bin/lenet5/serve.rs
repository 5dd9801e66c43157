//! `lenet5 serve`: the explorer page, every matrix of a network's forward and backward pass
//! for one image (LeNet-5's as the derivation names them, any `--arch` network layer by
//! layer), on a local web server (see [`models::explorer`]).

use std::path::PathBuf;

use models::explorer::{ServeOptions, serve};

use crate::{Failure, MemoryArg};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// A checkpoint written by `lenet5 train`, LeNet-5 or any --arch network (default:
    /// LeNet-5 with untrained random weights, and the page says so).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// An MNIST folder, whose test images the page offers to pick from (for networks of
    /// 1×28×28 images).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A metrics CSV to plot on the page (train writes one beside its weights, e.g.
    /// lenet5.metrics.csv).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// The address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[command(flatten)]
    memory: MemoryArg,
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let options = ServeOptions {
        checkpoint: args.checkpoint,
        data: args.data,
        metrics: args.metrics,
        host: args.host,
        port: args.port,
        max_memory: args.memory.max_memory()?,
        ..ServeOptions::default()
    };
    serve(options)?;
    Ok(())
}
