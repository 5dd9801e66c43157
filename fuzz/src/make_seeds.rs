//! Writes the seed corpora of the fuzz targets into `corpus/<target>/`: small valid files
//! of each kind (the fuzzers mutate from there). Run by `run.sh` before fuzzing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use image::{ImageBuffer, ImageFormat, Luma, Rgb, Rgba};
use tensor::Tensor;

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = (0x0800u32 | dims.len() as u32).to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus folder");
    std::fs::write(dir.join(name), bytes).expect("seed file");
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(bytes);
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");

    // IDX: two 28×28 images and their labels, plain and gzip, alone and as a split.
    let dir = root.join("idx");
    let pixels: Vec<u8> = (0..2 * 784).map(|i| (i * 7 % 256) as u8).collect();
    let images = idx(&[2, 28, 28], &pixels);
    let labels = idx(&[2], &[3, 9]);
    write(&dir, "images", &with_mode(0, &images));
    write(&dir, "images-gz", &with_mode(0, &gzip(&images)));
    write(&dir, "labels", &with_mode(1, &labels));
    write(&dir, "labels-gz", &with_mode(1, &gzip(&labels)));
    for (name, a, b) in [("split", images.clone(), labels.clone()), ("split-gz", gzip(&images), gzip(&labels))] {
        let at = u16::try_from(a.len()).expect("a small file");
        let mut seed = vec![2];
        seed.extend_from_slice(&at.to_be_bytes());
        seed.extend_from_slice(&a);
        seed.extend_from_slice(&b);
        write(&dir, name, &seed);
    }

    // Checkpoints: a PyTorch-made file, f32 and f64 tensors with metadata, and the
    // metadata of a training state around one small tensor.
    let dir = root.join("checkpoint");
    write(&dir, "pytorch", include_bytes!("../../layers/tests/fixtures/pytorch_cnn.safetensors"));
    let w = Tensor::from_vec(&[2, 3], vec![1.0f32, -2.0, 0.5, 0.0, 3.25, -0.125]).expect("shape");
    let b = Tensor::from_vec(&[3], vec![0.1f32, 0.2, 0.3]).expect("shape");
    let dir_tmp = std::env::temp_dir().join(format!("lenet5-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir_tmp).expect("temporary folder");
    let save = |name: &str, tensors: &[(String, &Tensor<f32>)], meta: &BTreeMap<String, String>| {
        let path = dir_tmp.join(name);
        layers::checkpoint::write_tensors(&path, tensors, meta).expect("written");
        write(&dir, name, &std::fs::read(&path).expect("read back"));
    };
    save("small", &[("fc.weight".into(), &w), ("fc.bias".into(), &b)], &BTreeMap::from([("k".into(), "v".into())]));
    let w64 = Tensor::from_vec(&[2, 2], vec![1.0f64, 2.0, 3.0, 4.0]).expect("shape");
    let path = dir_tmp.join("f64");
    layers::checkpoint::write_tensors(&path, &[("x".into(), &w64)], &BTreeMap::new()).expect("written");
    write(&dir, "f64", &std::fs::read(&path).expect("read back"));
    let state_meta: BTreeMap<String, String> = [
        ("format", "lenet5-train-state"),
        ("version", "1"),
        ("epoch", "0"),
        ("step_in_epoch", "1"),
        ("steps", "1"),
        ("optimizer.step", "1"),
        ("epoch.loss_sum", "147.25"),
        ("epoch.correct", "6"),
        ("epoch.seen", "64"),
        ("epoch.train_seconds", "0.01"),
        ("data.train_images", "60000"),
        ("config.epochs", "10"),
        ("config.batch_size", "64"),
        ("config.optimizer", "sgd"),
        ("config.lr", "0.05"),
        ("config.momentum", "0.9"),
        ("config.weight_decay", "0.0005"),
        ("config.seed", "0"),
        ("config.threads", "2"),
        ("config.max_steps", "none"),
        ("config.shuffle", "true"),
        ("config.clip_grad_norm", "none"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let bias = Tensor::from_vec(&[6], vec![0.0f32; 6]).expect("shape");
    save("state", &[("model.c1.bias".into(), &bias), ("optimizer.momentum.c1.bias".into(), &bias)], &state_meta);
    let _ = std::fs::remove_dir_all(&dir_tmp);

    // Images: PNG in grey, RGB, RGBA and 16-bit grey; JPEG in grey and RGB.
    let dir = root.join("image");
    let encode = |img: image::DynamicImage, format: ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encodes");
        out.into_inner()
    };
    let grey =
        ImageBuffer::from_fn(28, 28, |x, y| Luma([if (x as i32 - 14).abs() < 3 && y > 4 && y < 24 { 255 } else { 0 }]));
    let rgb = ImageBuffer::from_fn(9, 7, |x, y| Rgb([(x * 20) as u8, (y * 30) as u8, 200]));
    let rgba = ImageBuffer::from_fn(3, 3, |x, y| Rgba([(x * 80) as u8, (y * 80) as u8, 10, 128]));
    let grey16 = ImageBuffer::from_fn(5, 4, |x, y| Luma([(x * 9000 + y * 3000) as u16]));
    write(&dir, "grey.png", &encode(image::DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png));
    write(&dir, "rgb.png", &encode(image::DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png));
    write(&dir, "rgba.png", &encode(image::DynamicImage::ImageRgba8(rgba), ImageFormat::Png));
    write(&dir, "grey16.png", &encode(image::DynamicImage::ImageLuma16(grey16), ImageFormat::Png));
    write(&dir, "grey.jpg", &encode(image::DynamicImage::ImageLuma8(grey), ImageFormat::Jpeg));
    write(&dir, "rgb.jpg", &encode(image::DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg));
    println!("seed corpora written to {}", root.display());
}
