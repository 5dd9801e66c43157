//! `lenet5 export`: the PNG it writes decodes to the test image's own pixels (an IDX folder
//! in gray, an image folder in RGB), and a bad index or name is a usage error.

use crate::common::{Scratch, gzip, idx_bytes, lenet5, s};
use models::mnist::FILES;

#[test]
fn export_writes_the_test_image_as_it_is_stored() {
    let dir = Scratch::new("export-idx");
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    let pixels: Vec<u8> = (0..3 * 5 * 4).map(|i| (i * 37 % 256) as u8).collect();
    let images = idx_bytes(&[3, 5, 4], &pixels);
    let labels = idx_bytes(&[3], &[3, 1, 2]);
    for (name, bytes) in FILES.iter().zip([&images, &labels, &images, &labels]) {
        std::fs::write(data.join(name), gzip(bytes)).unwrap();
    }
    let out = dir.join("two.png");
    let run = lenet5(&["export", "--data", s(&data), "--index", "2", "--out", s(&out)]);
    run.assert_ok("export");
    assert!(run.stdout.contains("labelled 2"), "{}", run.stdout);
    let png = image::open(&out).unwrap();
    assert_eq!(png.color(), image::ColorType::L8);
    assert_eq!((png.width(), png.height()), (4, 5));
    assert_eq!(png.into_luma8().into_raw(), pixels[2 * 20..3 * 20]);

    let run = lenet5(&["export", "--data", s(&data), "--index", "3", "--out", s(&out)]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("3 test images"), "{}", run.stderr);
    let run = lenet5(&["export", "--data", s(&data), "--out", s(&dir.join("x.jpg"))]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn export_writes_an_rgb_image_of_an_image_folder() {
    let dir = Scratch::new("export-rgb");
    let picture = image::RgbImage::from_fn(6, 3, |x, y| image::Rgb([(40 * x) as u8, (80 * y) as u8, 200]));
    for split in ["train", "test"] {
        for class in ["cat", "dog"] {
            let folder = dir.join(&format!("set/{split}/{class}"));
            std::fs::create_dir_all(&folder).unwrap();
            picture.save(folder.join("a.png")).unwrap();
        }
    }
    let out = dir.join("cat.png");
    let run = lenet5(&["export", "--data", s(&dir.join("set")), "--out", s(&out)]);
    run.assert_ok("export");
    assert!(run.stdout.contains("labelled cat"), "{}", run.stdout);
    assert_eq!(image::open(&out).unwrap().into_rgb8(), picture);
}
