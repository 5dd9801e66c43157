//! `lenet5 predict` on PNG files made from MNIST test images gets the digits the model
//! gives those images through the evaluation path (`train::evaluate` on a one-image
//! split), and the probability it prints is the softmax of the logits computed here;
//! light-background (inverted) and RGB versions of the images give the same digits.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use layers::checkpoint::save_module;
use models::data::Preprocess;
use models::predict::{classify, load_digit};
use models::train::evaluate;
use models::{LeNet5, Split};

use common::{Scratch, s};

/// The digit `model` predicts for test image `i`, read off the confusion matrix of an
/// evaluation of that image alone.
fn evaluated_digit(model: &LeNet5<f32>, split: &Split, i: usize) -> usize {
    let one = Split {
        shape: split.shape,
        images: split.image(i).to_vec(),
        labels: vec![split.labels[i]],
        class_names: split.class_names.clone(),
    };
    let e = evaluate(model, &one, &Preprocess::mnist(), 1, 1).unwrap();
    let row = &e.confusion[usize::from(split.labels[i])];
    assert_eq!(row.iter().sum::<usize>(), 1);
    row.iter().position(|&c| c == 1).unwrap()
}

/// `softmax(logits)[digit]` in f64 from the logits of test image `i`.
fn probability(model: &LeNet5<f32>, split: &Split, i: usize, digit: usize) -> f64 {
    let logits: Vec<f64> = common::logits(model, split, &[i]).iter().map(f64::from).collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logits.iter().map(|l| (l - max).exp()).sum();
    (logits[digit] - max).exp() / sum
}

/// Parses `PATH: DIGIT (p = P)` lines.
fn parse_predictions(stdout: &str) -> HashMap<PathBuf, (usize, f64)> {
    stdout
        .lines()
        .map(|line| {
            let (path, rest) = line.rsplit_once(": ").unwrap_or_else(|| panic!("{line:?}"));
            let (digit, p) = rest.split_once(" (p = ").unwrap_or_else(|| panic!("{line:?}"));
            let p = p.strip_suffix(')').unwrap_or_else(|| panic!("{line:?}"));
            (PathBuf::from(path), (digit.parse().unwrap(), p.parse().unwrap()))
        })
        .collect()
}

fn save_grey(path: &Path, pixels: &[u8]) {
    image::GrayImage::from_raw(28, 28, pixels.to_vec()).unwrap().save(path).unwrap();
}

#[test]
fn predict_on_pngs_matches_the_model_s_digits() {
    let Some(dir) = common::mnist_dir("predict_on_pngs_matches_the_model_s_digits") else { return };
    let data = common::mnist(&dir);
    let model = common::train_steps(data, 300, 6);
    let scratch = Scratch::new("predict");
    let ckpt = scratch.join("model.safetensors");
    save_module(&model, &ckpt).unwrap();

    let indices: Vec<usize> = (0..24).collect();
    let mut files = Vec::new(); // (path, test image)
    for &i in &indices {
        let pixels = data.test.image(i);
        let plain = scratch.join(&format!("digit-{i}.png"));
        save_grey(&plain, pixels);
        files.push((plain, i));
        if i % 3 == 0 {
            // Dark digit on a light background: inverted back before classifying.
            let inverted: Vec<u8> = pixels.iter().map(|p| 255 - p).collect();
            let path = scratch.join(&format!("inverted-{i}.png"));
            save_grey(&path, &inverted);
            files.push((path, i));
        }
        if i % 4 == 1 {
            // RGB with equal channels.
            let rgb = image::RgbImage::from_fn(28, 28, |x, y| {
                let v = pixels[(y * 28 + x) as usize];
                image::Rgb([v, v, v])
            });
            let path = scratch.join(&format!("rgb-{i}.png"));
            rgb.save(&path).unwrap();
            files.push((path, i));
        }
    }

    let mut args = vec!["predict", "--checkpoint", s(&ckpt)];
    args.extend(files.iter().map(|(p, _)| s(p)));
    let run = common::lenet5(&args);
    run.assert_ok("lenet5 predict");
    let predicted = parse_predictions(&run.stdout);
    assert_eq!(predicted.len(), files.len(), "one line per image:\n{}", run.stdout);

    let mut correct = 0;
    for (path, i) in &files {
        let (digit, p) = predicted[path];
        let want = evaluated_digit(&model, &data.test, *i);
        assert_eq!(digit, want, "{}: lenet5 predict says {digit}, the model says {want}", path.display());
        let q = probability(&model, &data.test, *i, want);
        assert!((p - q).abs() <= 1e-4, "{}: p = {p}, softmax gives {q}", path.display());
        correct += usize::from(digit == usize::from(data.test.labels[*i]));
    }
    // 300 steps make a usable model: most of these digits are right.
    assert!(correct * 10 >= files.len() * 8, "{correct} of {} right", files.len());
}

#[test]
fn the_library_reads_the_pngs_back_exactly() {
    // A 28×28 grey PNG is the image itself; its inverse is inverted back (MNIST's border
    // is black, so the inverse's border is white); equal RGB channels are that grey.
    let Some(dir) = common::mnist_dir("the_library_reads_the_pngs_back_exactly") else { return };
    let data = common::mnist(&dir);
    let scratch = Scratch::new("predict-lib");
    let model =
        models::lenet5::new::<f32, _>(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0)).unwrap();
    for i in [0, 1, 2, 77, 9999] {
        let pixels = data.test.image(i);
        let (plain, inverted) = (scratch.join("plain.png"), scratch.join("inverted.png"));
        save_grey(&plain, pixels);
        save_grey(&inverted, &pixels.iter().map(|p| 255 - p).collect::<Vec<_>>());
        assert!(load_digit(&plain).unwrap() == pixels, "image {i}");
        assert!(load_digit(&inverted).unwrap() == pixels, "image {i}, inverted");
        let results =
            classify(&model, &Preprocess::mnist(), [1, 28, 28], &[pixels.to_vec(), load_digit(&inverted).unwrap()])
                .unwrap();
        assert_eq!(results.len(), 2);
        let ((a, pa), (b, pb)) = (results[0], results[1]);
        assert_eq!((a, pa.to_bits()), (b, pb.to_bits()));
        assert_eq!(a, evaluated_digit(&model, &data.test, i));
    }
}
