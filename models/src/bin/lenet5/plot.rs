//! `lenet5 plot`: loss and accuracy per epoch, training and test, from a metrics CSV
//! (`train` writes one beside its weights, e.g. `lenet5.metrics.csv`), as a PNG or an SVG
//! (by the extension).

use std::path::PathBuf;

use models::plot::metrics_plot;

use crate::Failure;

#[derive(clap::Args)]
pub struct PlotArgs {
    /// The metrics CSV `lenet5 train` writes beside its weights (e.g. lenet5.metrics.csv).
    #[arg(long)]
    metrics: PathBuf,
    /// The picture to write: FILE.png or FILE.svg.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: PlotArgs) -> Result<(), Failure> {
    metrics_plot(&args.metrics, &args.out)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
