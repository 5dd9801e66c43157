//! Files from outside, spoiled: valid IDX files (plain and gzip), checkpoints (the
//! weights and the training state) and images (PNG, JPEG), truncated at random offsets
//! and with random bytes flipped, must give `Ok` or a typed error naming the file, never a
//! panic (a panic fails the test). Where the outcome is known from the format alone (a
//! truncated plain IDX file, one flipped byte of an IDX file), the exact error is checked.
//! Then one hand-made file per kind of fault the readers name.

use crate::resume_support;
use layers::WithPath;
use models::idx::IdxFault;
use models::mnist::MnistFault;
use models::predict::ImageFault;
use models::resume::StateFault;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use layers::checkpoint::{load_module, parse_checkpoint, save_module};
use layers::{CheckpointError, CheckpointFault};
use layers::{Module, checkpoint};
use models::idx::{IdxError, MAX_IDX_BYTES, parse_idx_auto, read_idx};
use models::mnist::{MnistError, load_split, split_from_idx};
use models::predict::{PredictError, digit_from_bytes, load_digit};
use models::resume::{ResumeError, load_state, resume_from, save_state};
use models::train::TrainConfig;
use models::{LeNet5, Split};
use proptest::prelude::*;
use resume_support::{Scratch, gzip, idx_bytes, lenet5_trainer, safetensors_bytes, synthetic_split};

/// Three 28×28 images with distinct pixels, and their labels.
fn images_and_labels() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..3 * 784).map(|i| (i * 31 % 251) as u8).collect();
    (idx_bytes(&[3, 28, 28], &pixels), idx_bytes(&[3], &[7, 0, 9]))
}

/// Loads a split from the two byte strings, written to files in `dir`.
fn load_bytes(dir: &Path, images: &[u8], labels: &[u8]) -> (Result<Split, MnistError>, PathBuf, PathBuf) {
    let (ip, lp) = (dir.join("images-idx3-ubyte"), dir.join("labels-idx1-ubyte"));
    std::fs::write(&ip, images).unwrap();
    std::fs::write(&lp, labels).unwrap();
    (load_split(&ip, &lp), ip, lp)
}

/// Asserts that an error's message starts with one of the paths.
fn names_a_file(msg: &str, paths: &[&Path]) {
    assert!(paths.iter().any(|p| msg.contains(&p.display().to_string())), "the error names no file: {msg}");
}

/// The bytes of a LeNet-5 weights file.
fn weights_file() -> Vec<u8> {
    let model = lenet5_trainer(TrainConfig { seed: 3, ..TrainConfig::lenet5_recipe() }).model;
    let scratch = Scratch::new("weights");
    let path = scratch.join("w.safetensors");
    save_module(&model, &path).unwrap();
    std::fs::read(&path).unwrap()
}

/// A training-state file after 3 SGD steps on synthetic data.
fn state_file() -> Vec<u8> {
    let train = synthetic_split(64, 1);
    let test = synthetic_split(8, 2);
    let config = TrainConfig { batch_size: 16, threads: 1, max_steps: Some(3), ..TrainConfig::lenet5_recipe() };
    let mut trainer = lenet5_trainer(config);
    trainer.run_epoch(&train, &test, |_| {}).unwrap();
    let scratch = Scratch::new("state");
    let path = scratch.join("s.state.safetensors");
    save_state(&trainer, &path, &[]).unwrap();
    std::fs::read(&path).unwrap()
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A 28×28 grey PNG and a 30×20 RGB JPEG of a bar.
fn image_files() -> (Vec<u8>, Vec<u8>) {
    let grey = image::GrayImage::from_fn(28, 28, |x, _| image::Luma([if (12..16).contains(&x) { 255 } else { 0 }]));
    let rgb = image::RgbImage::from_fn(30, 20, |x, y| image::Rgb([255 - (x * 8) as u8, 200, (y * 10) as u8]));
    (
        encode(image::DynamicImage::ImageLuma8(grey), image::ImageFormat::Png),
        encode(image::DynamicImage::ImageRgb8(rgb), image::ImageFormat::Jpeg),
    )
}

fn weight_bits(model: &LeNet5<f32>) -> Vec<u32> {
    model
        .named_parameters()
        .into_iter()
        .flat_map(|(_, p)| p.value.iter().map(f32::to_bits).collect::<Vec<_>>())
        .collect()
}

/// Flips `mask` into the byte at `pos % len` of each `(pos, mask)`.
fn flip(bytes: &mut [u8], flips: &[(usize, u8)]) {
    let len = bytes.len();
    for &(pos, mask) in flips {
        bytes[pos % len] ^= mask;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A plain IDX file cut anywhere is `Truncated`, whichever part the cut falls in.
    #[test]
    fn truncated_plain_idx_is_truncated(at in any::<prop::sample::Index>(), labels_file in any::<bool>()) {
        let scratch = Scratch::new("trunc-idx");
        let (images, labels) = images_and_labels();
        let (mut img, mut lab) = (images.clone(), labels.clone());
        if labels_file { lab.truncate(at.index(lab.len())) } else { img.truncate(at.index(img.len())) }
        let (result, ip, lp) = load_bytes(scratch.path(), &img, &lab);
        let err = result.unwrap_err();
        prop_assert!(matches!(err, MnistError::File(WithPath { source: MnistFault::Idx(IdxFault::Truncated { .. }), .. })), "{err:?}");
        names_a_file(&err.to_string(), &[if labels_file { &lp } else { &ip }]);
    }

    /// A gzip IDX file cut anywhere is an error (broken gzip, or truncated data).
    #[test]
    fn truncated_gzip_idx_is_an_error(at in any::<prop::sample::Index>(), labels_file in any::<bool>()) {
        let scratch = Scratch::new("trunc-gz");
        let (images, labels) = images_and_labels();
        let (mut img, mut lab) = (gzip(&images), gzip(&labels));
        if labels_file { lab.truncate(at.index(lab.len())) } else { img.truncate(at.index(img.len())) }
        let (result, ip, lp) = load_bytes(scratch.path(), &img, &lab);
        let err = result.unwrap_err();
        prop_assert!(
            matches!(err, MnistError::File(WithPath { source: MnistFault::Idx(IdxFault::Truncated { .. } | IdxFault::Gzip(_)), .. })),
            "{err:?}"
        );
        names_a_file(&err.to_string(), &[&ip, &lp]);
    }

    /// One flipped byte of a plain IDX file: the magic → `Magic`; a dimension → an error
    /// (the sizes no longer agree); a pixel → `Ok` with that pixel changed; a label → `Ok`
    /// with it changed (any byte is a class).
    #[test]
    fn one_flipped_byte_of_plain_idx_gives_the_predicted_outcome(
        pos in any::<prop::sample::Index>(), mask in 1u8..=255, labels_file in any::<bool>()
    ) {
        let scratch = Scratch::new("flip-idx");
        let (images, labels) = images_and_labels();
        let (mut img, mut lab) = (images.clone(), labels.clone());
        let (target, header) = if labels_file { (&mut lab, 8) } else { (&mut img, 16) };
        let p = pos.index(target.len());
        target[p] ^= mask;
        let (result, _, _) = load_bytes(scratch.path(), &img, &lab);
        match (p, labels_file) {
            (0..4, _) => prop_assert!(matches!(result, Err(MnistError::File(WithPath { source: MnistFault::Idx(IdxFault::Magic { .. }), .. }))), "{result:?}"),
            (p, _) if p < header => prop_assert!(matches!(result, Err(MnistError::File(WithPath { source: MnistFault::Idx(_), .. }))), "{result:?}"),
            (p, false) => {
                let split = result.unwrap();
                let mut expected = images[16..].to_vec();
                expected[p - 16] ^= mask;
                prop_assert_eq!(split.images, expected);
            }
            (p, true) => {
                // Any byte is a label: the classes are 0 … the largest label.
                let label = labels[p] ^ mask;
                let split = result.unwrap();
                prop_assert_eq!(split.labels[p - 8], u16::from(label));
                prop_assert!(split.class_names.len() > usize::from(label));
            }
        }
    }

    /// Random flips and cuts of plain or gzip IDX files: `Ok` (a valid split) or a typed
    /// error naming a file.
    #[test]
    fn spoiled_idx_files_give_ok_or_a_typed_error(
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
        gz in any::<bool>(),
        labels_file in any::<bool>(),
    ) {
        let scratch = Scratch::new("spoil-idx");
        let (images, labels) = images_and_labels();
        let (mut img, mut lab) = if gz { (gzip(&images), gzip(&labels)) } else { (images, labels) };
        let target = if labels_file { &mut lab } else { &mut img };
        flip(target, &flips);
        if let Some(c) = cut {
            let n = c.index(target.len());
            target.truncate(n);
        }
        let (result, ip, lp) = load_bytes(scratch.path(), &img, &lab);
        match result {
            Ok(split) => {
                prop_assert_eq!(split.images.len(), split.len() * split.image_len());
                prop_assert!(split.labels.iter().all(|&l| usize::from(l) < split.class_names.len()));
            }
            Err(e) => names_a_file(&e.to_string(), &[&ip, &lp]),
        }
    }

    /// A weights file cut anywhere is refused, and the model keeps its weights.
    #[test]
    fn truncated_weights_are_refused_and_change_nothing(at in any::<prop::sample::Index>()) {
        let bytes = weights_file_cached();
        let scratch = Scratch::new("trunc-w");
        let path = scratch.join("w.safetensors");
        std::fs::write(&path, &bytes[..at.index(bytes.len())]).unwrap();
        let mut model = lenet5_trainer(TrainConfig { seed: 99, ..TrainConfig::lenet5_recipe() }).model;
        let before = weight_bits(&model);
        let err = load_module(&mut model, &path).unwrap_err();
        prop_assert!(matches!(err, CheckpointError { source: CheckpointFault::Format(_), .. }), "{err:?}");
        names_a_file(&err.to_string(), &[&path]);
        prop_assert_eq!(weight_bits(&model), before);
    }

    /// Random flips (and maybe a cut) of a weights file: loaded, or refused with the model
    /// unchanged.
    #[test]
    fn spoiled_weights_load_or_are_refused_whole(
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = weights_file_cached().clone();
        // Half the flips land in the header, where they matter most.
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let flips: Vec<(usize, u8)> =
            flips.iter().enumerate().map(|(i, &(p, m))| (if i % 2 == 0 { p % header } else { p }, m)).collect();
        flip(&mut bytes, &flips);
        if let Some(c) = cut {
            let n = c.index(bytes.len());
            bytes.truncate(n);
        }
        let scratch = Scratch::new("spoil-w");
        let path = scratch.join("w.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let mut model = lenet5_trainer(TrainConfig { seed: 99, ..TrainConfig::lenet5_recipe() }).model;
        let before = weight_bits(&model);
        if let Err(e) = load_module(&mut model, &path) {
            names_a_file(&e.to_string(), &[&path]);
            prop_assert_eq!(weight_bits(&model), before);
        }
    }

    /// A training-state file cut anywhere is refused; flipped bytes give a state or a typed
    /// error naming the file.
    #[test]
    fn spoiled_state_files_resume_or_are_refused(
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = state_file_cached().clone();
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let flips: Vec<(usize, u8)> = flips.iter().map(|&(p, m)| (p % header, m)).collect();
        flip(&mut bytes, &flips);
        let cut = cut.map(|c| c.index(bytes.len()));
        if let Some(n) = cut {
            bytes.truncate(n);
        }
        let scratch = Scratch::new("spoil-s");
        let path = scratch.join("s.state.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        match load_state(&path) {
            Ok(r) => {
                prop_assert!(cut.is_none(), "a truncated state file was accepted");
                prop_assert!(r.trainer.config.validate().is_ok());
            }
            Err(e) => names_a_file(&e.to_string(), &[&path]),
        }
    }

    /// Images cut or with flipped bytes: 28×28 pixels or a typed error naming the file.
    #[test]
    fn spoiled_images_give_pixels_or_a_typed_error(
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
        jpeg in any::<bool>(),
    ) {
        let (png, jpg) = image_files();
        let mut bytes = if jpeg { jpg } else { png };
        flip(&mut bytes, &flips);
        if let Some(c) = cut {
            let n = c.index(bytes.len());
            bytes.truncate(n);
        }
        let scratch = Scratch::new("spoil-img");
        let path = scratch.join(if jpeg { "digit.jpg" } else { "digit.png" });
        std::fs::write(&path, &bytes).unwrap();
        for result in [load_digit(&path), digit_from_bytes(&bytes, &path)] {
            match result {
                Ok(pixels) => prop_assert_eq!(pixels.len(), 784),
                Err(e) => {
                    prop_assert!(
                        matches!(e, PredictError::File(WithPath { source: ImageFault::Image(_), .. }) | PredictError::File(WithPath { source: ImageFault::Empty, .. }) | PredictError::File(WithPath { source: ImageFault::TooManyPixels { .. }, .. })),
                        "{e:?}"
                    );
                    names_a_file(&e.to_string(), &[&path]);
                }
            }
        }
    }
}

fn weights_file_cached() -> &'static Vec<u8> {
    static W: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    W.get_or_init(weights_file)
}

fn state_file_cached() -> &'static Vec<u8> {
    static S: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    S.get_or_init(state_file)
}

#[test]
fn hand_made_idx_faults_get_their_named_errors() {
    let scratch = Scratch::new("idx-hand");
    let (images, labels) = images_and_labels();
    let p = scratch.join("f");
    let read = |bytes: &[u8], rank: usize| {
        std::fs::write(&p, bytes).unwrap();
        read_idx(&p, rank)
    };
    let mut tried = 0;
    let mut check = |name: &str, r: Result<models::idx::Idx, IdxError>, ok: fn(&IdxError) -> bool| {
        let e = r.expect_err(name);
        assert!(ok(&e), "{name}: {e:?}");
        assert!(e.to_string().starts_with(&p.display().to_string()), "{name}: {e}");
        tried += 1;
    };
    // Wrong magic: another dtype (0x09, signed bytes), another rank, a PNG.
    let mut signed = images.clone();
    signed[2] = 0x09;
    check("signed bytes", read(&signed, 3), |e| matches!(&e.source, IdxFault::Magic { found: 0x0903, .. }));
    check("rank 1 as 3", read(&labels, 3), |e| {
        matches!(&e.source, IdxFault::Magic { found: 0x0801, expected: 0x0803, .. })
    });
    check("png", read(b"\x89PNG\r\n\x1a\n....", 3), |e| matches!(&e.source, IdxFault::Magic { .. }));
    // Truncated: empty, in the magic, in the dimensions, in the data (plain and gzip).
    check("empty", read(&[], 3), |e| matches!(&e.source, IdxFault::Truncated { got: 0, .. }));
    check("in magic", read(&images[..3], 3), |e| matches!(&e.source, IdxFault::Truncated { .. }));
    check("in dims", read(&images[..10], 3), |e| {
        matches!(&e.source, IdxFault::Truncated { expected: 16, got: 10, .. })
    });
    check("in data", read(&images[..100], 3), |e| {
        matches!(&e.source, IdxFault::Truncated { expected: 2352, got: 84, .. })
    });
    check("gzip data", read(&gzip(&images[..100]), 3), |e| matches!(&e.source, IdxFault::Truncated { .. }));
    // Too much data for the header.
    let mut long = images.clone();
    long.push(0);
    check("trailing", read(&long, 3), |e| matches!(&e.source, IdxFault::TrailingBytes { .. }));
    // Dimensions whose product overflows usize, or exceeds the cap, or the file: refused
    // before anything of that size is allocated (the file is 16 bytes).
    let huge = idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    check("overflow", read(&huge, 3), |e| matches!(&e.source, IdxFault::TooLarge { .. }));
    let big = idx_bytes(&[(MAX_IDX_BYTES / 784 + 1) as u32, 28, 28], &[]);
    check("over the cap", read(&big, 3), |e| matches!(&e.source, IdxFault::TooLarge { .. }));
    let lying = idx_bytes(&[1_000_000, 28, 28], &[1, 2, 3]);
    check("past the file", read(&lying, 3), |e| {
        matches!(&e.source, IdxFault::Truncated { expected: 784_000_000, got: 3, .. })
    });
    // Broken gzip: a bad header after the magic, corrupt deflate data, a bad CRC.
    check("gzip header", read(&[0x1f, 0x8b, 0xff, 0xff, 0, 0], 3), |e| matches!(&e.source, IdxFault::Gzip(_)));
    let mut gz = gzip(&images);
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    gz[mid + 1] ^= 0x55;
    check("deflate data", read(&gz, 3), |e| matches!(&e.source, IdxFault::Gzip(_) | IdxFault::Truncated { .. }));
    let mut crc = gzip(&images);
    let n = crc.len();
    crc[n - 8] ^= 1;
    check("crc", read(&crc, 3), |e| matches!(&e.source, IdxFault::Gzip(_)));
    assert_eq!(tried, 15);

    // The split's checks: counts that disagree, a label out of range, not 28×28, empty.
    let (ip, lp) = (scratch.join("i"), scratch.join("l"));
    let split = |img: &[u8], lab: &[u8]| {
        std::fs::write(&ip, img).unwrap();
        std::fs::write(&lp, lab).unwrap();
        load_split(&ip, &lp).unwrap_err()
    };
    let e = split(&images, &idx_bytes(&[2], &[1, 2]));
    assert!(matches!(e, MnistError::CountMismatch { image_count: 3, label_count: 2, .. }), "{e:?}");
    let e = split(&idx_bytes(&[1, 28, 0], &[]), &idx_bytes(&[1], &[1]));
    assert!(
        matches!(e, MnistError::File(WithPath { source: MnistFault::NoPixels { rows: 28, cols: 0, .. }, .. })),
        "{e:?}"
    );
    let e = split(&idx_bytes(&[0, 28, 28], &[]), &idx_bytes(&[0], &[]));
    assert!(matches!(e, MnistError::File(WithPath { source: MnistFault::Empty, .. })), "{e:?}");
    // An Idx built by hand whose data does not fill its dimensions.
    let bad = models::idx::Idx { dims: vec![2, 28, 28], data: vec![0; 784] };
    let ok_labels = models::idx::Idx { dims: vec![2], data: vec![1, 2] };
    let e = split_from_idx(bad, ok_labels, &ip, &lp).unwrap_err();
    assert!(matches!(e, MnistError::File(WithPath { source: MnistFault::Layout(_), .. })), "{e:?}");
    // In memory, through the same reader the files use.
    assert!(parse_idx_auto(&gzip(&labels)[..], 1, &p).is_ok());
    println!("hand-made IDX faults: {} files, 5 splits", tried);
}

#[test]
fn hand_made_checkpoint_faults_get_their_named_errors() {
    let scratch = Scratch::new("ckpt-hand");
    let path = scratch.join("c.safetensors");
    let mut model = lenet5_trainer(TrainConfig::lenet5_recipe()).model;
    let shapes: Vec<(String, Vec<usize>)> =
        model.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    let f32_bytes = |shape: &[usize]| vec![0u8; 4 * shape.iter().product::<usize>()];
    let none = BTreeMap::new();
    let all = |dtype_of: &dyn Fn(&str) -> &'static str, shape_of: &dyn Fn(&str, &[usize]) -> Vec<usize>| {
        let entries: Vec<(String, &'static str, Vec<usize>)> =
            shapes.iter().map(|(n, s)| (n.clone(), dtype_of(n), shape_of(n, s))).collect();
        let owned: Vec<(&str, &str, &[usize], Vec<u8>)> = entries
            .iter()
            .map(|(n, d, s)| {
                let width = if *d == "F64" {
                    8
                } else if *d == "F16" || *d == "BF16" {
                    2
                } else {
                    4
                };
                (n.as_str(), *d, s.as_slice(), vec![0u8; width * s.iter().product::<usize>()])
            })
            .collect();
        safetensors_bytes(&owned, &BTreeMap::new())
    };
    let mut load = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        load_module(&mut model, &path)
    };
    let mut tried = 0;
    let mut check = |name: &str, r: Result<(), CheckpointError>, ok: &dyn Fn(&CheckpointError) -> bool| {
        let e = r.expect_err(name);
        assert!(ok(&e), "{name}: {e:?}");
        assert!(e.to_string().starts_with(&path.display().to_string()), "{name}: {e}");
        tried += 1;
    };
    // The valid file by hand loads (the helper writes real safetensors).
    load(&all(&|_| "F32", &|_, s| s.to_vec())).unwrap();
    // Wrong dtype: F16, BF16, I32, U8 and F64 (not loadable into f32) for c1.weight.
    for dtype in ["F16", "BF16", "I32", "F64"] {
        let bytes = all(&|n| if n == "c1.weight" { dtype } else { "F32" }, &|_, s| s.to_vec());
        check(
            dtype,
            load(&bytes),
            &|e| matches!(e, CheckpointError { source: CheckpointFault::Dtype { name, .. }, .. } if name == "c1.weight"),
        );
    }
    // Wrong shape, missing and unexpected tensors.
    let bytes = all(&|_| "F32", &|n, s| if n == "f7.weight" { vec![10, 83] } else { s.to_vec() });
    check(
        "shape",
        load(&bytes),
        &|e| matches!(e, CheckpointError { source: CheckpointFault::Shape { name, .. }, .. } if name == "f7.weight"),
    );
    let owned: Vec<(&str, &str, &[usize], Vec<u8>)> =
        shapes.iter().skip(1).map(|(n, s)| (n.as_str(), "F32", s.as_slice(), f32_bytes(s))).collect();
    check(
        "missing",
        load(&safetensors_bytes(&owned, &none)),
        &|e| matches!(e, CheckpointError { source: CheckpointFault::Missing { name, .. }, .. } if name == "c1.weight"),
    );
    let mut extra: Vec<(&str, &str, &[usize], Vec<u8>)> =
        shapes.iter().map(|(n, s)| (n.as_str(), "F32", s.as_slice(), f32_bytes(s))).collect();
    extra.push(("c9.weight", "F32", &[1], vec![0; 4]));
    check(
        "unexpected",
        load(&safetensors_bytes(&extra, &none)),
        &|e| matches!(e, CheckpointError { source: CheckpointFault::Unexpected { name, .. }, .. } if name == "c9.weight"),
    );
    // Not safetensors: empty, a header length past the file or of 2⁶⁴ − 1, JSON that is
    // not, data offsets past the file, a shape whose product overflows or disagrees with
    // the offsets.
    let format = |e: &CheckpointError| matches!(e, CheckpointError { source: CheckpointFault::Format(_), .. });
    check("empty", load(&[]), &format);
    check("header past file", load(&[255, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']), &format);
    check("header 2^64-1", load(&[255; 16]), &format);
    let mut json = 8u64.to_le_bytes().to_vec();
    json.extend_from_slice(b"{oops:1}");
    check("bad json", load(&json), &format);
    let mut past = safetensors_bytes(&[("c1.bias", "F32", &[6], vec![0; 24])], &none);
    past.truncate(past.len() - 4);
    check("offsets past file", load(&past), &format);
    let overflow = safetensors_bytes(&[("c1.bias", "F32", &[usize::MAX, 2], vec![0; 8])], &none);
    check("shape overflow", load(&overflow), &format);
    let disagree = safetensors_bytes(&[("c1.bias", "F32", &[7], vec![0; 24])], &none);
    check("shape vs offsets", load(&disagree), &format);
    // A zero-sized tensor of enormous declared dimensions holds no data: a shape error.
    let zero = safetensors_bytes(&[("c1.bias", "F32", &[0, 1 << 40, 1 << 40], vec![])], &none);
    check("zero-size huge", load(&zero), &|e| {
        matches!(e.source, CheckpointFault::Shape { .. } | CheckpointFault::Missing { .. } | CheckpointFault::Format(_))
    });
    assert_eq!(tried, 15);

    // Parsing alone (what the fuzzer drives) gives the same errors, into f32 and f64.
    assert!(parse_checkpoint::<f64>(&[1, 2, 3], &path).is_err());
    let f64_file = safetensors_bytes(&[("x", "F64", &[1], 1.5f64.to_le_bytes().to_vec())], &none);
    assert_eq!(parse_checkpoint::<f64>(&f64_file, &path).unwrap().tensors["x"].to_vec(), vec![1.5]);
    assert!(matches!(
        parse_checkpoint::<f32>(&f64_file, &path),
        Err(CheckpointError { source: CheckpointFault::Dtype { .. }, .. })
    ));
    // A state file's checks on a weights file: not a state.
    let weights = parse_checkpoint::<f32>(weights_file_cached(), &path).unwrap();
    let model =
        models::lenet5::new::<f32, _>(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0)).unwrap();
    assert!(matches!(
        resume_from(weights, model, &path),
        Err(ResumeError::State(WithPath { source: StateFault::NotState, .. }))
    ));
    let _ = checkpoint::Checkpoint::<f32>::default();
    println!("hand-made checkpoint faults: {tried}");
}

#[test]
fn hand_made_image_faults_get_typed_errors_without_huge_allocations() {
    let scratch = Scratch::new("img-hand");
    let path = scratch.join("x.png");
    let (png, jpg) = image_files();
    assert_eq!(digit_from_bytes(&png, &path).unwrap().len(), 784);
    assert_eq!(digit_from_bytes(&jpg, &path).unwrap().len(), 784);
    // A PNG whose header declares 100 000 × 100 000 pixels (40 GB as RGBA), with no data:
    // refused by the decoder's limits, not by running out of memory.
    let huge = png_header(100_000, 100_000, 6, 8);
    let e = digit_from_bytes(&huge, &path).unwrap_err();
    assert!(matches!(e, PredictError::File(WithPath { source: ImageFault::Image(_), .. })), "{e:?}");
    // 7 000 × 7 000 16-bit RGBA is within the side and pixel limits, but its 392 MB are
    // over the allocation limit: refused by the decoder before it allocates them.
    let e = digit_from_bytes(&png_header(7_000, 7_000, 6, 16), &path).unwrap_err();
    assert!(matches!(&e, PredictError::File(WithPath { source: ImageFault::Image(_), .. })), "{e:?}");
    // 8 000 × 7 000 grey is within both, but more pixels than are decoded: refused from
    // the header, before any pixel is decoded.
    let e = digit_from_bytes(&png_header(8_000, 7_000, 0, 8), &path).unwrap_err();
    assert!(
        matches!(
            e,
            PredictError::File(WithPath { source: ImageFault::TooManyPixels { width: 8_000, height: 7_000, .. }, .. })
        ),
        "{e:?}"
    );
    // 1 000 × 1 000 grey passes the header checks; with no image data it is an error.
    assert!(matches!(
        digit_from_bytes(&png_header(1_000, 1_000, 0, 8), &path),
        Err(PredictError::File(WithPath { source: ImageFault::Image(_), .. }))
    ));
    // A JPEG whose frame declares 65 000 × 65 000.
    let mut big_jpeg = jpg.clone();
    if let Some(i) = big_jpeg.windows(2).position(|w| w == [0xff, 0xc0]) {
        big_jpeg[i + 5..i + 9].copy_from_slice(&[0xfd, 0xe8, 0xfd, 0xe8]);
    }
    assert!(matches!(
        digit_from_bytes(&big_jpeg, &path),
        Err(PredictError::File(WithPath { source: ImageFault::Image(_), .. }))
    ));
    // Not an image at all, an empty file, a missing file.
    for bytes in [&b"hello, world"[..], &[][..], &b"\x89PNG\r\n\x1a\n"[..]] {
        std::fs::write(&path, bytes).unwrap();
        let e = load_digit(&path).unwrap_err();
        assert!(matches!(e, PredictError::File(WithPath { source: ImageFault::Image(_), .. })), "{e:?}");
        assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
    }
    assert!(matches!(
        load_digit(&scratch.join("nope.png")),
        Err(PredictError::File(WithPath { source: ImageFault::Io(_), .. }))
    ));
}

/// The signature and IHDR chunk of a PNG of `w × h`, PNG colour type `colour` (0 grey,
/// 6 RGBA) and `depth` bits a sample, with a valid CRC, the first two bytes of the image data, then IEND.
fn png_header(w: u32, h: u32, colour: u8, depth: u8) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An IDAT chunk holding only the start of a zlib stream: the header is complete.
    let idat = b"IDAT\x78\x9c";
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(idat);
    out.extend_from_slice(&crc32(idat).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(b"IEND");
    out.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    out
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
