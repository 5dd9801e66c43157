//! Image folders against their limits, checked from the headers before any pixel is
//! decoded: one pixel limit for every loader (`predict`'s 50 megapixels, the stricter of
//! the two there were), and a cap on the decoded bytes of the whole set (`--max-memory`,
//! by default half the machine's memory).

use crate::common;
use layers::WithPath;
use models::data::image_folder::ImageFolderFault;
use models::predict::ImageFault;

use std::path::{Path, PathBuf};

use models::data::image_folder::load_limited;
use models::predict::{MAX_IMAGE_PIXELS, PredictError, digit_from_bytes};

use common::{Scratch, lenet5, s};

/// A PNG whose header declares `width`×`height` gray pixels and whose data is a few bytes
/// of nothing: enough for a header check, not for a decoder.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
        out
    };
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00]));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// An image folder of `per_class` 64×64 RGB images in each of two classes, train and test.
fn folder(root: &Path, per_class: usize) {
    for split in ["train", "test"] {
        for class in ["a", "b"] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..per_class {
                let img =
                    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, (i * 40) as u8]));
                img.save(dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

/// Found 6: the folder loader allowed 100 megapixels per image where `predict` allowed 50.
/// Both refuse the same header now, naming the file and its size, before decoding.
#[test]
fn one_pixel_limit_for_every_loader() {
    let scratch = Scratch::new("pixel-limit");
    let root = scratch.join("set");
    folder(&root, 1);
    // 8000×8000 = 64 MP: over 50, under the folder loader's old 100.
    let big = png_header(8000, 8000);
    std::fs::write(root.join("train/a/big.png"), &big).unwrap();
    let e = load_limited(&root, u64::MAX).unwrap_err();
    assert!(matches!(&e, WithPath { source: ImageFolderFault::Pixels { width: 8000, height: 8000, .. }, .. }), "{e:?}");
    assert!(e.to_string().contains("big.png") && e.to_string().contains(&MAX_IMAGE_PIXELS.to_string()), "{e}");
    let e = digit_from_bytes(&big, Path::new("big.png")).unwrap_err();
    assert!(
        matches!(
            e,
            PredictError::File(WithPath { source: ImageFault::TooManyPixels { width: 8000, height: 8000, .. }, .. })
        ),
        "{e:?}"
    );
    let run = lenet5(&[
        "train",
        "--data",
        s(&root),
        "--arch",
        "flatten linear(2)",
        "--out",
        s(&scratch.join("w.safetensors")),
    ]);
    run.assert_one_line_error("train on the folder", 1, &["big.png", "8000×8000"]);
    // Just under the limit (7000×7000 = 49 MP), the header passes in both and the
    // (missing) pixels are what fails.
    let under = png_header(7000, 7000);
    std::fs::write(root.join("train/a/big.png"), &under).unwrap();
    assert!(matches!(
        load_limited(&root, u64::MAX),
        Err(WithPath { source: ImageFolderFault::Size { .. }, .. }
            | WithPath { source: ImageFolderFault::Decode(_), .. })
    ));
    assert!(matches!(
        digit_from_bytes(&under, Path::new("under.png")),
        Err(PredictError::File(WithPath { source: ImageFault::Image(_), .. }))
    ));
}

/// Found 6: no cap on a set (18 PNGs of 10000², 1.8 MB on disk, trained at 8.9 GB). The
/// decoded bytes are counted from the headers and refused over the cap before a pixel is
/// decoded: a file whose pixels are broken goes unnoticed under a cap that refuses the set.
#[test]
fn the_decoded_set_is_capped_from_the_headers() {
    let scratch = Scratch::new("set-cap");
    let root = scratch.join("set");
    folder(&root, 3);
    // 12 images of 3×64×64 = 147 456 bytes decoded.
    let loaded = load_limited(&root, 147_456).unwrap();
    assert_eq!(loaded.train.shape, [3, 64, 64]);
    assert_eq!(loaded.train.len() + loaded.test.len(), 12);
    let e = load_limited(&root, 147_455).unwrap_err();
    assert!(
        matches!(
            &e,
            WithPath {
                source: ImageFolderFault::TooLarge {
                    images: 12,
                    shape: [3, 64, 64],
                    bytes: 147_456,
                    limit: 147_455,
                    ..
                },
                ..
            }
        ),
        "{e:?}"
    );
    // A file whose header is whole but whose pixels are cut short: the cap refuses the set
    // first; without it, decoding names the file.
    let cut: PathBuf = root.join("test/b/2.png");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..60]).unwrap();
    assert!(matches!(load_limited(&root, 100_000), Err(WithPath { source: ImageFolderFault::TooLarge { .. }, .. })));
    assert!(load_limited(&root, u64::MAX).unwrap_err().to_string().contains("2.png"));
    let out = scratch.join("w.safetensors");
    let run =
        lenet5(&["train", "--data", s(&root), "--arch", "flatten linear(2)", "--out", s(&out), "--max-memory", "100K"]);
    run.assert_one_line_error(
        "train under 100K",
        2,
        &["12 images of 3×64×64 decode to 144.0 KiB", "100.0 KiB", "--max-memory"],
    );
}
