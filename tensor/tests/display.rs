//! `Display` (and `Debug`): the shape line, values nested like numpy, elision of long axes.

use tensor::{Tensor, Window2d};

fn arange(shape: &[usize]) -> Tensor<f32> {
    let mut k = 0.0;
    Tensor::from_fn(shape, |_| {
        k += 1.0;
        k - 1.0
    })
    .unwrap()
}

#[test]
fn small_matrix_prints_nested() {
    let x = arange(&[2, 3]);
    assert_eq!(x.to_string(), "Tensor[2, 3]\n[[0, 1, 2],\n [3, 4, 5]]");
    assert_eq!(format!("{x:?}"), x.to_string());
}

#[test]
fn rank_three_nests_with_growing_indent() {
    let x = arange(&[2, 2, 2]);
    assert_eq!(x.to_string(), "Tensor[2, 2, 2]\n[[[0, 1],\n  [2, 3]],\n [[4, 5],\n  [6, 7]]]");
}

#[test]
fn views_print_in_logical_order() {
    let x = arange(&[2, 3]).t().unwrap();
    assert_eq!(x.to_string(), "Tensor[3, 2]\n[[0, 3],\n [1, 4],\n [2, 5]]");
    let b = Tensor::<f64>::from_vec(&[2], vec![1.5, -2.0]).unwrap().broadcast_to(&[2, 2]).unwrap();
    assert_eq!(b.to_string(), "Tensor[2, 2]\n[[1.5, -2],\n [1.5, -2]]");
}

#[test]
fn scalars_empties_and_precision() {
    assert_eq!(Tensor::scalar(3.5f64).to_string(), "Tensor[]\n3.5");
    assert_eq!(Tensor::<f32>::zeros(&[0]).unwrap().to_string(), "Tensor[0]\n[]");
    assert_eq!(Tensor::<f32>::zeros(&[2, 0]).unwrap().to_string(), "Tensor[2, 0]\n[[],\n []]");
    let x = Tensor::<f64>::from_vec(&[2], vec![1.0, 2.5]).unwrap();
    assert_eq!(format!("{x:.2}"), "Tensor[2]\n[1.00, 2.50]");
}

#[test]
fn long_axes_are_elided() {
    // Up to 8 entries print in full; beyond, the first and last 3 with "..." between.
    assert_eq!(arange(&[8]).to_string(), "Tensor[8]\n[0, 1, 2, 3, 4, 5, 6, 7]");
    assert_eq!(arange(&[9]).to_string(), "Tensor[9]\n[0, 1, 2, ..., 6, 7, 8]");
    assert_eq!(arange(&[20]).to_string(), "Tensor[20]\n[0, 1, 2, ..., 17, 18, 19]");
}

#[test]
fn large_matrix_is_elided_on_every_axis() {
    let s = arange(&[10, 10]).to_string();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 8, "{s}");
    assert_eq!(lines[0], "Tensor[10, 10]");
    assert_eq!(lines[1], "[[0, 1, 2, ..., 7, 8, 9],");
    assert_eq!(lines[4], " ...,");
    assert_eq!(lines[7], " [90, 91, 92, ..., 97, 98, 99]]");
    // Elided rows and columns print nothing.
    assert!(!s.contains("45") && !s.contains("53"));
    // A big tensor prints in a bounded number of characters.
    let big = Tensor::<f64>::zeros(&[100, 100, 100]).unwrap().to_string();
    assert!(big.contains("...") && big.len() < 2000, "{} characters", big.len());
}

/// A window reads as a layer spec writes it: stride and padding only when not 1 and 0, an
/// axis pair when the axes differ.
#[test]
fn a_window_displays_in_the_spec_style() {
    let cases = [
        (Window2d::square(5, 1, 0), "5×5"),
        (Window2d::square(3, 2, 1), "3×3, s=2, p=1"),
        (Window2d::square(2, 2, 0), "2×2, s=2"),
        (Window2d { kernel: [3, 1], stride: [2, 1], padding: [1, 0] }, "3×1, s=(2,1), p=(1,0)"),
    ];
    for (window, text) in cases {
        assert_eq!(window.to_string(), text, "{window:?}");
    }
}
