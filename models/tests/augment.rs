//! `--augment crop:P,flip`: the crop and flip of one image against a naive reference (pad
//! with the background, cut the window, mirror the rows); draws that depend on (seed,
//! epoch, image) only, so any split of a batch (threads, batch sizes, order) gives the same
//! images; a run with augmentation resumed after any step ends bit-identical to the run
//! straight through, with the augmentation read back from the state file; evaluation never
//! augments; the text form and its errors.

use crate::resume_support;

use layers::Module;
use models::data::{Augment, Draw, Preprocess};
use models::resume::{load_state, save_state};
use models::train::{Advance, Flow, TrainConfig, Trainer};
use models::{LeNet5, Split};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use resume_support::{Scratch, synthetic_split};

const CROP_FLIP: Augment = Augment { crop: Some(3), flip: true };

/// The image padded by `p` with `background(c)`, the `h×w` window at `(top, left)` cut from
/// it, each row reversed when `flip`: torchvision's `RandomCrop(padding=p)` then a flip.
fn naive(image: &[f32], [c, h, w]: [usize; 3], p: usize, d: Draw, background: &[f32]) -> Vec<f32> {
    let (ph, pw) = (h + 2 * p, w + 2 * p);
    let mut out = Vec::new();
    for k in 0..c {
        let mut padded = vec![background[k]; ph * pw];
        for y in 0..h {
            for x in 0..w {
                padded[(y + p) * pw + x + p] = image[(k * h + y) * w + x];
            }
        }
        for y in 0..h {
            for x in 0..w {
                let x = if d.flip { w - 1 - x } else { x };
                out.push(padded[(d.top + y) * pw + d.left + x]);
            }
        }
    }
    out
}

#[test]
fn crops_and_flips_match_a_naive_reference() {
    let mut rng = StdRng::seed_from_u64(1);
    for (shape, p) in [([3, 5, 6], 2), ([1, 4, 4], 4), ([2, 3, 7], 9), ([3, 32, 32], 4), ([1, 1, 1], 1)] {
        let augment = Augment { crop: Some(p), flip: true };
        let background: Vec<f32> = (0..shape[0]).map(|c| -1.0 - c as f32).collect();
        let len: usize = shape.iter().product();
        let (mut tops, mut flips) = (std::collections::BTreeSet::new(), [0usize; 2]);
        for index in 0..300 {
            let image: Vec<f32> = (0..len).map(|_| rng.random_range(0.0..1.0)).collect();
            let d = augment.draw(7, 2, index);
            assert!(d.top <= 2 * p && d.left <= 2 * p, "{d:?}");
            tops.insert(d.top);
            flips[usize::from(d.flip)] += 1;
            let mut got = image.clone();
            augment.apply(d, shape, |c| background[c], &mut got);
            assert_eq!(got, naive(&image, shape, p, d, &background), "{shape:?} p {p} {d:?}");
        }
        assert_eq!(tops.len(), (2 * p + 1).min(300), "every offset is drawn: {tops:?}");
        assert!(flips[0] > 100 && flips[1] > 100, "about half flipped: {flips:?}");
    }
    // Flip alone keeps the image in place; crop alone never flips.
    let flip = Augment { crop: None, flip: true };
    assert!((0..50).all(|i| {
        let d = flip.draw(0, 0, i);
        (d.top, d.left) == (0, 0)
    }));
    let crop = Augment { crop: Some(2), flip: false };
    assert!((0..50).all(|i| !crop.draw(0, 0, i).flip));
}

#[test]
fn draws_depend_on_seed_epoch_and_image_only() {
    let d = |seed, epoch, index| CROP_FLIP.draw(seed, epoch, index);
    assert_eq!(d(1, 2, 3), d(1, 2, 3));
    let differ = |f: &dyn Fn(usize) -> Draw| (0..40).filter(|&i| f(i) != d(1, 2, i)).count() > 20;
    assert!(differ(&|i| d(2, 2, i)), "another seed");
    assert!(differ(&|i| d(1, 3, i)), "another epoch");

    // A batch augmented whole, or in any slices (threads), in any order, gives the same
    // images: each is keyed by its index in the data set.
    let split = synthetic_split(24, 3);
    let pre = Preprocess::mnist();
    let indices: Vec<usize> = (0..24).rev().collect();
    let fill = |idx: &[usize]| {
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        pre.fill_batch(&split, idx, &mut x, &mut labels).unwrap();
        CROP_FLIP.apply_batch(&mut x, idx, [1, 28, 28], &pre, 5, 1).unwrap();
        x
    };
    let whole = fill(&indices);
    let len = 32 * 32;
    for slices in [1, 2, 3, 5] {
        let mut pieces = Vec::new();
        for part in indices.chunks(indices.len().div_ceil(slices)) {
            pieces.extend(fill(part));
        }
        assert_eq!(pieces, whole, "{slices} slices");
    }
    let one = fill(&[7]);
    let at = indices.iter().position(|&i| i == 7).unwrap();
    assert_eq!(one, whole[at * len..(at + 1) * len]);
    assert_ne!(whole, {
        let (mut x, mut l) = (Vec::new(), Vec::new());
        pre.fill_batch(&split, &indices, &mut x, &mut l).unwrap();
        x
    });
}

fn config(threads: usize, augment: Augment) -> TrainConfig {
    TrainConfig { epochs: 2, batch_size: 16, seed: 4, threads, augment, ..TrainConfig::lenet5_recipe() }
}

fn trainer(config: TrainConfig) -> Trainer<LeNet5<f32>> {
    let model = models::lenet5::new(&mut config.weight_rng()).unwrap();
    Trainer::new(model, config, Preprocess::mnist()).unwrap()
}

fn run<M: Module<f32>>(t: &mut Trainer<M>, train: &Split, test: &Split, stop: Option<u64>) {
    while !t.finished() {
        let pause =
            |r: &models::train::StepReport| if Some(r.global_step) == stop { Flow::Pause } else { Flow::Continue };
        if let Advance::Paused = t.advance(train, test, pause).unwrap() {
            return;
        }
    }
}

fn weights<M: Module<f32>>(t: &Trainer<M>) -> Vec<Vec<u32>> {
    t.model.named_parameters().into_iter().map(|(_, p)| p.value.iter().map(f32::to_bits).collect()).collect()
}

#[test]
fn an_augmented_run_resumed_after_any_step_ends_bit_identical() {
    let (train, test) = (synthetic_split(48, 1), synthetic_split(10, 2));
    for threads in [1, 2] {
        let mut straight = trainer(config(threads, CROP_FLIP));
        run(&mut straight, &train, &test, None);
        let expected = weights(&straight);
        let mut plain = trainer(config(threads, Augment::NONE));
        run(&mut plain, &train, &test, None);
        assert_ne!(weights(&plain), expected, "augmentation changes the run");

        let scratch = Scratch::new("augment-resume");
        let path = scratch.join("run.state.safetensors");
        for stop in [1, 3, 4] {
            let mut first = trainer(config(threads, CROP_FLIP));
            run(&mut first, &train, &test, Some(stop));
            save_state(&first, &path, &[]).unwrap();
            let mut second = load_state(&path).unwrap().trainer;
            assert_eq!(second.config.augment, CROP_FLIP, "read back from the state file");
            run(&mut second, &train, &test, None);
            assert_eq!(weights(&second), expected, "{threads} thread(s), stopped after step {stop}");
        }
    }
}

#[test]
fn evaluation_is_never_augmented() {
    let test = synthetic_split(40, 9);
    let mut with = trainer(config(1, Augment { crop: Some(8), flip: true }));
    let mut without = trainer(config(1, Augment::NONE));
    let (a, b) = (with.evaluate(&test).unwrap(), without.evaluate(&test).unwrap());
    assert_eq!(a.loss.to_bits(), b.loss.to_bits());
    assert_eq!(a.confusion, b.confusion);
}

#[test]
fn the_text_form_reads_back_and_names_what_is_wrong() {
    for (text, augment, canonical) in [
        ("none", Augment::NONE, "none"),
        ("crop:4,flip", Augment { crop: Some(4), flip: true }, "crop:4,flip"),
        ("flip, crop:2", Augment { crop: Some(2), flip: true }, "crop:2,flip"),
        ("flip", Augment { crop: None, flip: true }, "flip"),
        ("crop:1", Augment { crop: Some(1), flip: false }, "crop:1"),
    ] {
        let parsed: Augment = text.parse().unwrap();
        assert_eq!(parsed, augment, "{text}");
        assert_eq!(parsed.to_string(), canonical);
    }
    for (text, needle) in [
        ("crop", "crop needs its padding: crop:P"),
        ("crop:0", "P must be 1 to 1024"),
        ("crop:9999", "P must be 1 to 1024"),
        ("crop:x", "P is a whole number"),
        ("flip,flip", "\"flip\" is given twice"),
        ("crop:2,crop:3", "given twice"),
        ("rotate", "\"rotate\" is not an augmentation"),
        ("", "is not an augmentation"),
    ] {
        let e = text.parse::<Augment>().unwrap_err();
        assert!(e.contains(needle), "{text}: {e}");
    }
}

#[test]
fn the_command_refuses_a_bad_augmentation_in_one_line_with_exit_2() {
    let run = crate::common::lenet5(&["train", "--augment", "crop:0,flip", "--max-steps", "0"]);
    run.assert_one_line_error("--augment crop:0", 2, &["--augment", "crop:0"]);
    let help = crate::common::lenet5(&["train", "--help"]);
    help.assert_ok("train --help");
    assert!(help.stdout.contains("--augment"), "{}", help.stdout);
}
