//! The plots: a metrics CSV gives a PNG that decodes to the expected size with drawn
//! content, and an SVG with the curves and the text; the confusion matrix likewise; bad
//! inputs are errors, not panics.

use layers::WithPath;
use models::plot::PlotFault;
use std::path::PathBuf;

use models::plot::{PlotError, confusion_plot, confusion_png, metrics_plot, read_metrics};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lenet5-plot-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A metrics file as `models::train::append_metrics` writes it.
const METRICS: &str =
    "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,seconds,images_per_second
1,0.05,0.237700,0.928300,0.058200,0.982600,21.400,22.100,3041.0
2,0.025,0.043100,0.987200,0.031600,0.990300,18.800,19.500,3376.0
3,0.0,0.030000,0.991000,0.029000,0.991500,18.700,19.400,3380.0
";

/// Distinct colours and the share of non-white pixels of an RGB image.
fn ink(img: &image::RgbImage) -> (usize, f64) {
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    for p in img.pixels() {
        colours.insert(p.0);
        if p.0 != [255, 255, 255] {
            inked += 1;
        }
    }
    (colours.len(), inked as f64 / (img.width() * img.height()) as f64)
}

#[test]
fn metrics_plot_writes_a_png_and_an_svg() {
    let dir = scratch("metrics");
    let csv = dir.join("metrics.csv");
    std::fs::write(&csv, METRICS).unwrap();
    let rows = read_metrics(&csv).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].epoch, 2);
    assert!((rows[1].test_accuracy - 0.9903).abs() < 1e-12);

    let png = dir.join("metrics.png");
    metrics_plot(&csv, &png).unwrap();
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1000, 420));
    let (colours, share) = ink(&img);
    assert!(colours > 20, "only {colours} colours: blank or flat");
    assert!(share > 0.02 && share < 0.6, "{share} of the pixels are drawn");
    // The train curve's blue and the test curve's orange are both there.
    let has = |c: [u8; 3]| img.pixels().any(|p| p.0 == c);
    assert!(has([31, 119, 180]) && has([230, 85, 13]), "the two curves");

    let svg = dir.join("metrics.svg");
    metrics_plot(&csv, &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    for needle in ["Loss per epoch", "Accuracy per epoch", "train", "test", "epoch", "#1F77B4"] {
        assert!(text.to_uppercase().contains(&needle.to_uppercase()), "the SVG lacks {needle}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn confusion_plot_writes_a_png_and_an_svg() {
    let dir = scratch("confusion");
    let confusion: Vec<Vec<usize>> =
        (0..10).map(|t| (0..10).map(|p| if t == p { 950 + t } else { (t + 2 * p) % 5 }).collect()).collect();
    let png = dir.join("confusion.png");
    confusion_png(&confusion, &[], &png).unwrap();
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (560, 560));
    let (colours, share) = ink(&img);
    assert!(colours > 10 && share > 0.05, "{colours} colours, {share} drawn");
    let svg = dir.join("confusion.svg");
    confusion_plot(&confusion, &[], &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Confusion matrix") && text.contains("\n959\n"), "the SVG lacks its title or a count");

    assert!(
        matches!(
            confusion_png(&confusion, &[], &svg),
            Err(PlotError::File(WithPath { source: PlotFault::Extension, .. }))
        ),
        "confusion_png wants .png"
    );
    assert!(matches!(confusion_plot(&[vec![1, 2]], &[], &png), Err(PlotError::Confusion(_))));
    assert!(matches!(confusion_plot(&[], &[], &png), Err(PlotError::Confusion(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn confusion_plot_names_the_classes() {
    // Fashion-MNIST's names (its classes.txt): every name on both axes of the SVG, the
    // one over the length limit shortened; the PNG grows so that the names fit their cells.
    let dir = scratch("confusion-names");
    let names: Vec<String> =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
            .map(String::from)
            .to_vec();
    let confusion: Vec<Vec<usize>> = (0..10).map(|t| (0..10).map(|p| usize::from(t == p) * 90 + 1).collect()).collect();
    let svg = dir.join("confusion.svg");
    confusion_plot(&confusion, &names, &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    for name in &names {
        assert_eq!(text.matches(&format!(">\n{name}\n<")).count(), 2, "{name} is not on both axes");
    }
    let mut long = names.clone();
    long[3] = "A class with a very long name".into();
    confusion_plot(&confusion, &long, &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(!text.contains("very long name") && text.contains("A class with…"), "the long name is not shortened");

    let png = dir.join("confusion.png");
    confusion_png(&confusion, &names, &png).unwrap();
    let img = image::open(&png).unwrap().to_rgb8();
    assert!(img.width() > 560 && img.width() == img.height(), "{}×{}", img.width(), img.height());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_metrics_are_errors() {
    let dir = scratch("bad");
    let csv = dir.join("m.csv");
    let out = dir.join("m.png");
    std::fs::write(&csv, "epoch,lr\n1,0.1\n").unwrap();
    assert!(
        matches!(metrics_plot(&csv, &out), Err(PlotError::File(WithPath { source: PlotFault::Csv { .. }, .. }))),
        "missing columns"
    );
    std::fs::write(&csv, METRICS.replace("0.982600", "oops")).unwrap();
    let e = metrics_plot(&csv, &out).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    std::fs::write(&csv, METRICS.lines().next().unwrap()).unwrap();
    assert!(matches!(metrics_plot(&csv, &out), Err(PlotError::File(WithPath { source: PlotFault::Empty, .. }))));
    std::fs::write(&csv, METRICS).unwrap();
    assert!(matches!(
        metrics_plot(&csv, &dir.join("m.jpg")),
        Err(PlotError::File(WithPath { source: PlotFault::Extension, .. }))
    ));
    assert!(matches!(
        metrics_plot(&dir.join("none.csv"), &out),
        Err(PlotError::File(WithPath { source: PlotFault::Io(_), .. }))
    ));
    assert!(!out.exists(), "nothing written on error");
    std::fs::remove_dir_all(&dir).unwrap();
}
