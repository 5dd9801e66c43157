//! Data sets and preprocessing, against loops written here: the statistics `Preprocess::fit`
//! computes, the batches it fills (padding, per-channel normalisation, bytes and floats),
//! image folders (sorted classes, gray or RGB, one size), and the typed errors.

use crate::common;
use layers::WithPath;
use models::data::image_folder::ImageFolderFault;

use models::data::image_folder;
use models::data::{Dataset, ImageSet, Pixels, Preprocess, TensorSet};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tensor::Tensor;

use common::Scratch;

fn random_set(n: usize, shape: [usize; 3], seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let len: usize = shape.iter().product();
    ImageSet {
        shape,
        images: (0..n * len).map(|_| rng.random_range(0..=255u8)).collect(),
        labels: (0..n).map(|_| rng.random_range(0..3u16)).collect(),
        class_names: ImageSet::numbered_classes(3),
    }
}

#[test]
fn fit_computes_each_channels_mean_and_std() {
    let set = random_set(7, [3, 5, 4], 1);
    let p = Preprocess::fit(&set, 1).unwrap();
    for c in 0..3 {
        let values: Vec<f64> = (0..7)
            .flat_map(|i| set.image(i)[c * 20..(c + 1) * 20].iter().map(|&b| f64::from(b) / 255.0).collect::<Vec<_>>())
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
        assert!((f64::from(p.mean()[c]) - mean).abs() < 1e-6, "channel {c}");
        assert!((f64::from(p.std()[c]) - var.sqrt()).abs() < 1e-6, "channel {c}");
    }
    assert_eq!(p.pad(), 1);
    // The same images as floats (`b/255`, used as they are): the same statistics.
    let floats: Vec<f32> = set.images.iter().map(|&b| f32::from(b) / 255.0).collect();
    let floats = TensorSet::new(&Tensor::from_vec(&[7, 3, 5, 4], floats).unwrap(), vec![0; 7], 1).unwrap();
    let q = Preprocess::fit(&floats, 1).unwrap();
    for c in 0..3 {
        assert!((q.mean()[c] - p.mean()[c]).abs() < 1e-6 && (q.std()[c] - p.std()[c]).abs() < 1e-6, "channel {c}");
    }
    // A channel of constant pixels has no spread: an error, not a division by zero.
    let flat = ImageSet { images: vec![7; 2 * 3 * 20], ..random_set(2, [3, 5, 4], 2) };
    assert!(Preprocess::fit(&flat, 0).is_err());
}

#[test]
fn batches_are_padded_and_normalised_per_channel() {
    let set = random_set(4, [2, 3, 5], 3);
    let p = Preprocess::new(2, vec![0.25, 0.5], vec![0.5, 2.0]).unwrap();
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    p.fill_batch(&set, &[3, 0], &mut x, &mut labels).unwrap();
    assert_eq!(p.output_shape([2, 3, 5]).unwrap(), [2, 7, 9]);
    assert_eq!(x.len(), 2 * 2 * 7 * 9);
    assert_eq!(labels, vec![usize::from(set.labels[3]), usize::from(set.labels[0])]);
    for (k, &i) in [3usize, 0].iter().enumerate() {
        for c in 0..2 {
            for r in 0..7 {
                for q in 0..9 {
                    let raw = if (2..5).contains(&r) && (2..7).contains(&q) {
                        f32::from(set.image(i)[c * 15 + (r - 2) * 5 + q - 2]) / 255.0
                    } else {
                        0.0
                    };
                    let expected = (raw - p.mean()[c]) / p.std()[c];
                    let got = x[((k * 2 + c) * 7 + r) * 9 + q];
                    assert!((got - expected).abs() < 1e-6, "image {i} channel {c} ({r}, {q}): {got} vs {expected}");
                }
            }
        }
    }
    // Floats are used as they are (no /255).
    let floats = TensorSet::new(&Tensor::from_vec(&[1, 2, 1, 1], vec![0.75, -1.0]).unwrap(), vec![0], 1).unwrap();
    p.fill_batch(&floats, &[0], &mut x, &mut labels).unwrap();
    assert_eq!(x[2 * 5 + 2], (0.75 - 0.25) / 0.5);
    assert_eq!(x[25 + 2 * 5 + 2], (-1.0 - 0.5) / 2.0);
    // The wrong channel count is a typed error.
    let gray = random_set(1, [1, 3, 5], 4);
    assert!(p.fill_batch(&gray, &[0], &mut x, &mut labels).is_err());
    assert!(Preprocess::new(0, vec![0.1], vec![0.0]).is_err());
    assert!(Preprocess::new(0, vec![0.1, 0.2], vec![1.0]).is_err());
    assert!(TensorSet::new(&Tensor::zeros(&[2, 1, 1, 1]).unwrap(), vec![0, 3], 3).is_err());
}

#[test]
fn preprocessing_round_trips_through_metadata() {
    let p = Preprocess::new(3, vec![0.1307, 0.2], vec![0.3081, 1.5]).unwrap();
    let meta = p.metadata().into_iter().collect();
    assert_eq!(Preprocess::from_metadata(&meta).unwrap(), p);
    let mut broken = meta.clone();
    broken.insert("preprocess.std".into(), "0.3,x".into());
    assert!(Preprocess::from_metadata(&broken).unwrap_err().to_string().contains("preprocess.std"));
}

fn write_png(path: &std::path::Path, img: image::DynamicImage) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

#[test]
fn image_folders_read_sorted_classes_in_gray_or_rgb() {
    let root = Scratch::new("image-folder");
    let gray = |v: u8| image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4, 3, image::Luma([v])));
    // Classes are the sorted folder names: "b" before "cat", whatever the order written.
    write_png(&root.join("train/cat/2.png"), gray(30));
    write_png(&root.join("train/cat/1.png"), gray(20));
    write_png(&root.join("train/b/x.PNG"), gray(10));
    std::fs::write(root.join("train/b/notes.txt"), "not an image").unwrap();
    write_png(&root.join("test/cat/1.png"), gray(40));
    let data = image_folder::load(root.path()).unwrap();
    assert_eq!(data.train.class_names, vec!["b", "cat"]);
    assert_eq!(data.train.shape, [1, 3, 4]);
    assert_eq!(data.train.labels, vec![0, 1, 1]);
    assert_eq!((data.train.image(0)[0], data.train.image(1)[0], data.train.image(2)[0]), (10, 20, 30));
    assert_eq!(data.test.labels, vec![1]);
    assert_eq!(data.test.class_name(1), "cat");

    // One RGB image makes every image RGB, as channel planes.
    let rgb = image::RgbImage::from_fn(4, 3, |x, y| image::Rgb([x as u8, y as u8, 200]));
    write_png(&root.join("test/b/rgb.png"), image::DynamicImage::ImageRgb8(rgb));
    let data = image_folder::load(root.path()).unwrap();
    assert_eq!(data.test.shape, [3, 3, 4]);
    let img = data.test.image(0);
    assert_eq!(&img[..4], &[0, 1, 2, 3], "red plane, row 0");
    assert_eq!(&img[12..16], &[0, 0, 0, 0], "green plane, row 0");
    assert!(img[24..].iter().all(|&b| b == 200), "blue plane");
    assert_eq!(&data.train.image(0)[..12], &[10; 12], "a gray image in all three channels");

    // Another size is an error naming the file and both sizes.
    write_png(&root.join("train/cat/3.png"), image::DynamicImage::ImageLuma8(image::GrayImage::new(5, 3)));
    let e = image_folder::load(root.path()).unwrap_err();
    assert!(matches!(&e, WithPath { source: ImageFolderFault::Size { width: 5, height: 3, .. }, .. }), "{e:?}");
    assert!(e.to_string().contains("3.png") && e.to_string().contains("4×3"), "{e}");
    std::fs::remove_file(root.join("train/cat/3.png")).unwrap();

    // A test class unknown to train/, and a class folder without images, are errors.
    write_png(&root.join("test/dog/1.png"), gray(1));
    assert!(image_folder::load(root.path()).unwrap_err().to_string().contains("dog"));
    std::fs::remove_dir_all(root.join("test/dog")).unwrap();
    std::fs::create_dir_all(root.join("train/empty")).unwrap();
    assert!(image_folder::load(root.path()).unwrap_err().to_string().contains("empty"));
}

#[test]
fn pixels_of_an_image_set_are_its_bytes() {
    let set = random_set(3, [2, 2, 2], 9);
    assert_eq!(set.pixels(1), Pixels::U8(&set.images[8..16]));
    assert_eq!((set.len(), set.classes(), set.image_shape()), (3, 3, [2, 2, 2]));
}
