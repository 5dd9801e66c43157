//! `lenet5 export`: one test image of a data set as a PNG file (gray or RGB, its own size),
//! e.g. to try `predict` on an image the network has not trained on.

use std::path::PathBuf;

use image::ImageEncoder;
use models::data::Dataset;

use crate::{Failure, MemoryArg, data};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The data folder (an IDX or image folder; default: $MNIST_DIR, else data/mnist).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Which test image, counting from 0.
    #[arg(long, default_value_t = 0, value_name = "N")]
    index: usize,
    /// The PNG to write (default: test-N.png).
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
    #[command(flatten)]
    memory: MemoryArg,
}

pub fn run(args: ExportArgs) -> Result<(), Failure> {
    let out = args.out.unwrap_or_else(|| PathBuf::from(format!("test-{}.png", args.index)));
    if out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some("png") {
        return Err(Failure::Usage(format!("--out {}: the file must end in .png", out.display())));
    }
    let dir = data::data_dir(args.data);
    data::existing(&dir)?;
    let test = data::load(&dir, false, &args.memory.budget()?)?.test;
    if args.index >= test.len() {
        return Err(Failure::Usage(format!(
            "--index {}: {} has {} test images (0 to {})",
            args.index,
            dir.display(),
            test.len(),
            test.len() - 1
        )));
    }
    let [c, h, w] = test.image_shape();
    let planes = test.image(args.index);
    let (pixels, color) = match c {
        1 => (planes.to_vec(), image::ExtendedColorType::L8),
        3 => (
            (0..h * w).flat_map(|i| [planes[i], planes[h * w + i], planes[2 * h * w + i]]).collect(),
            image::ExtendedColorType::Rgb8,
        ),
        _ => return Err(Failure::Run(format!("{}: images of {c} channels have no PNG form", dir.display()))),
    };
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&pixels, w as u32, h as u32, color)
        .map_err(|e| Failure::Run(format!("{}: {e}", out.display())))?;
    layers::checkpoint::write_atomic(&out, &png)?;
    let label = test.class_name(test.label(args.index));
    println!("wrote {}: test image {} of {}, labelled {label}", out.display(), args.index, dir.display());
    Ok(())
}
