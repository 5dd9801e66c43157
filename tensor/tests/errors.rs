//! Every `TensorError` variant, produced by the operations that can misuse their inputs;
//! each message names the operation (and the shapes involved).

use std::fmt::Debug;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{
    Tensor, TensorError, Window2d, col2im, col2im_into, gemm, im2col, im2col_into, max_argmax_rows, pool_max_backward,
    pool_windows, pool_windows_adjoint,
};

/// Unwraps the error and checks that its message starts with the operation's name.
fn err<T: Debug>(result: tensor::Result<T>, op: &str) -> TensorError {
    let e = result.expect_err("the call must fail");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{op}: ")), "message {msg:?} does not name {op}");
    e
}

fn m(shape: &[usize]) -> Tensor<f32> {
    Tensor::from_fn(shape, |i| i.iter().sum::<usize>() as f32).unwrap()
}

#[test]
fn length_mismatch() {
    let e = err(Tensor::<f32>::from_vec(&[2, 3], vec![0.0; 5]), "from_vec");
    assert!(matches!(e, TensorError::LengthMismatch { op: "from_vec", expected: 6, got: 5, .. }), "{e:?}");
    assert!(e.to_string().contains("[2, 3]"));
    let e = err(Tensor::<f64>::from_vec(&[], vec![]), "from_vec");
    assert!(matches!(e, TensorError::LengthMismatch { expected: 1, got: 0, .. }), "{e:?}");
}

#[test]
fn shape_mismatch() {
    let (a, b) = (m(&[2, 3]), m(&[4]));
    for (op, r) in [
        ("add", a.add(&b)),
        ("sub", a.sub(&b)),
        ("mul", a.mul(&b)),
        ("div", a.div(&b)),
        ("maximum", a.maximum(&b)),
        ("gt", a.gt(&b)),
        ("eq_mask", a.eq_mask(&b)),
    ] {
        let e = err(r, op);
        assert!(matches!(&e, TensorError::ShapeMismatch { lhs, rhs, .. } if lhs == &[2, 3] && rhs == &[4]), "{e:?}");
        assert!(e.to_string().contains("[2, 3]") && e.to_string().contains("[4]"));
    }
    // matmul: inner sizes differ, and batches that do not broadcast.
    let e = err(m(&[2, 3]).matmul(&m(&[4, 2])), "matmul");
    assert!(matches!(e, TensorError::ShapeMismatch { op: "matmul", .. }), "{e:?}");
    let e = err(m(&[2, 2, 3]).matmul(&m(&[3, 3, 2])), "matmul");
    assert!(matches!(e, TensorError::ShapeMismatch { op: "matmul", .. }), "{e:?}");
    // reshape to the wrong number of elements.
    let e = err(m(&[2, 3]).reshape(&[4]), "reshape");
    assert!(matches!(e, TensorError::ShapeMismatch { op: "reshape", .. }), "{e:?}");
    // col2im of a matrix that is not [N·oh·ow, C·kh·kw] (here [4, 9] is expected).
    let g = Window2d::square(3, 1, 0);
    let e = err(col2im(&m(&[4, 8]), &[1, 1, 4, 4], &g), "col2im");
    assert!(matches!(&e, TensorError::ShapeMismatch { op: "col2im", rhs, .. } if rhs == &[4, 9]), "{e:?}");
    let mut out = Tensor::<f32>::zeros(&[1, 1, 4, 4]).unwrap();
    let e = err(col2im_into(&m(&[9, 4]), &g, &mut out), "col2im_into");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let mut cols = Tensor::<f32>::zeros(&[4, 8]).unwrap();
    let e = err(im2col_into(&m(&[1, 1, 4, 4]), &g, &mut cols), "im2col_into");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    // broadcast_to a shape the tensor does not stretch to; in-place ops likewise, leaving
    // the target untouched.
    let e = err(m(&[3]).broadcast_to(&[2, 4]), "broadcast_to");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let e = err(m(&[2, 3]).broadcast_to(&[3]), "broadcast_to");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let mut x = m(&[2, 3]);
    let e = err(x.add_assign(&m(&[2, 1, 3])), "add_assign");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let e = err(x.axpy(2.0, &m(&[2])), "axpy");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let e = err(x.copy_from(&m(&[3, 3])), "copy_from");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    assert_eq!(x.to_vec(), m(&[2, 3]).to_vec());
    // gemm into an output of the wrong shape.
    let mut c = Tensor::<f32>::zeros(&[2, 3]).unwrap();
    let e = err(gemm(1.0, &m(&[2, 4]), &m(&[4, 2]), 0.0, &mut c), "gemm");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let e = err(gemm(1.0, &m(&[2, 4]), &m(&[3, 3]), 0.0, &mut c), "gemm");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    // item of more than one element; pooling scatters of the wrong size.
    let e = err(m(&[2]).item(), "item");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let p = Window2d::square(2, 2, 0);
    let e = err(pool_windows_adjoint(&m(&[4, 3]), &[1, 1, 4, 4], &p), "pool_windows_adjoint");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
    let arg = Tensor::<usize>::from_vec(&[4], vec![0; 4]).unwrap();
    let e = err(pool_max_backward(&m(&[3]), &arg, &[1, 1, 4, 4], &p), "pool_max_backward");
    assert!(matches!(e, TensorError::ShapeMismatch { .. }), "{e:?}");
}

#[test]
fn rank_mismatch() {
    let e = err(m(&[3]).matmul(&m(&[3, 2])), "matmul");
    assert!(matches!(&e, TensorError::RankMismatch { op: "matmul", shape, .. } if shape == &[3]), "{e:?}");
    let e = err(m(&[2, 3]).matmul(&m(&[3])), "matmul");
    assert!(matches!(&e, TensorError::RankMismatch { op: "matmul", shape, .. } if shape == &[3]), "{e:?}");
    let e = err(m(&[2, 2, 3]).matmul(&m(&[3, 2])), "matmul");
    assert!(matches!(e, TensorError::RankMismatch { op: "matmul", .. }), "{e:?}");
    let e = err(im2col(&m(&[1, 4, 4]), &Window2d::square(2, 1, 0)), "im2col");
    assert!(matches!(e, TensorError::RankMismatch { op: "im2col", expected: 4, .. }), "{e:?}");
    let e = err(pool_windows(&m(&[4, 4]), &Window2d::square(2, 2, 0)), "pool_windows");
    assert!(matches!(e, TensorError::RankMismatch { expected: 4, .. }), "{e:?}");
    let e = err(m(&[2, 3, 4]).t(), "t");
    assert!(matches!(e, TensorError::RankMismatch { op: "t", expected: 2, .. }), "{e:?}");
    let e = err(m(&[3]).logsumexp_rows(), "logsumexp_rows");
    assert!(matches!(e, TensorError::RankMismatch { expected: 2, .. }), "{e:?}");
    let e = err(max_argmax_rows(&m(&[3])), "max_argmax_rows");
    assert!(matches!(e, TensorError::RankMismatch { .. }), "{e:?}");
    let e = err(m(&[2, 3]).get(&[1]), "get");
    assert!(matches!(e, TensorError::RankMismatch { .. }), "{e:?}");
    let mut c = Tensor::<f32>::zeros(&[2, 2]).unwrap();
    let e = err(gemm(1.0, &m(&[1, 2, 2]), &m(&[2, 2]), 0.0, &mut c), "gemm");
    assert!(matches!(e, TensorError::RankMismatch { .. }), "{e:?}");
}

#[test]
fn axis_out_of_range() {
    let x = m(&[2, 3]);
    let e = err(x.sum_axis(2, false), "sum_axis");
    assert!(matches!(&e, TensorError::AxisOutOfRange { op: "sum_axis", axis: 2, shape } if shape == &[2, 3]), "{e:?}");
    assert!(e.to_string().contains("axis 2"));
    let e = err(x.transpose(0, 2), "transpose");
    assert!(matches!(e, TensorError::AxisOutOfRange { op: "transpose", axis: 2, .. }), "{e:?}");
    for (op, r) in [
        ("mean_axis", x.mean_axis(5, true)),
        ("max_axis", x.max_axis(2, false)),
        ("narrow", x.narrow(2, 0, 1)),
        ("select", x.select(3, 0)),
        ("unsqueeze", x.unsqueeze(3)),
    ] {
        let e = err(r, op);
        assert!(matches!(e, TensorError::AxisOutOfRange { .. }), "{e:?}");
    }
    let e = err(x.argmax_axis(2, false), "argmax_axis");
    assert!(matches!(e, TensorError::AxisOutOfRange { .. }), "{e:?}");
    let e = err(Tensor::scalar(1.0f64).sum_axis(0, false), "sum_axis");
    assert!(matches!(e, TensorError::AxisOutOfRange { .. }), "{e:?}");
    let e = err(x.dim(2), "dim");
    assert!(matches!(e, TensorError::AxisOutOfRange { .. }), "{e:?}");
}

#[test]
fn index_out_of_range() {
    let x = m(&[2, 3]);
    let e = err(x.narrow(1, 2, 2), "narrow");
    assert!(matches!(e, TensorError::IndexOutOfRange { op: "narrow", axis: 1, index: 2, len: 2, .. }), "{e:?}");
    let e = err(x.narrow(0, usize::MAX, 2), "narrow");
    assert!(matches!(e, TensorError::IndexOutOfRange { .. }), "{e:?}");
    let e = err(x.select(0, 2), "select");
    assert!(matches!(e, TensorError::IndexOutOfRange { op: "select", axis: 0, index: 2, .. }), "{e:?}");
    let e = err(x.get(&[1, 3]), "get");
    assert!(matches!(e, TensorError::IndexOutOfRange { op: "get", axis: 1, index: 3, .. }), "{e:?}");
    // A winning tap beyond the kernel area.
    let arg = Tensor::<usize>::from_vec(&[4], vec![0, 1, 4, 0]).unwrap();
    let e = err(pool_max_backward(&m(&[4]), &arg, &[1, 1, 4, 4], &Window2d::square(2, 2, 0)), "pool_max_backward");
    assert!(matches!(e, TensorError::IndexOutOfRange { index: 4, .. }), "{e:?}");
}

#[test]
fn invalid_permutation() {
    let x = m(&[2, 3, 4]);
    for perm in [&[0, 0, 1][..], &[0, 1], &[0, 1, 2, 3], &[0, 1, 3]] {
        let e = err(x.permute(perm), "permute");
        assert!(matches!(&e, TensorError::InvalidPermutation { perm: p, rank: 3, .. } if p == perm), "{e:?}");
    }
}

#[test]
fn invalid_geometry() {
    let x = m(&[1, 1, 3, 3]);
    // A kernel larger than the padded input: 3 + 2·0 < 4, and 3 + 2·0 < 5 along the width.
    let e = err(im2col(&x, &Window2d::square(4, 1, 0)), "im2col");
    assert!(matches!(&e, TensorError::InvalidGeometry { op: "im2col", input, .. } if input == &[1, 1, 3, 3]), "{e:?}");
    let e = err(im2col(&x, &Window2d { kernel: [1, 5], stride: [1, 1], padding: [0, 0] }), "im2col");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    // ...but padding can make it fit.
    assert!(im2col(&x, &Window2d::square(4, 1, 1)).is_ok());
    // Stride 0 and kernel 0.
    let e = err(im2col(&x, &Window2d::square(2, 0, 0)), "im2col");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    let e = err(col2im(&m(&[9, 0]), &[1, 1, 3, 3], &Window2d::square(0, 1, 0)), "col2im");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    let e = err(pool_windows(&x, &Window2d::square(2, 0, 0)), "pool_windows");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    // Pooling padding above half the kernel (would allow windows of padding only).
    let e = err(pool_windows(&x, &Window2d::square(3, 1, 2)), "pool_windows");
    assert!(matches!(e, TensorError::InvalidGeometry { op: "pool_windows", .. }), "{e:?}");
    assert!(e.to_string().contains("padding"));
    let e = err(pool_windows(&x, &Window2d { kernel: [2, 2], stride: [1, 1], padding: [1, 2] }), "pool_windows");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    let e = err(pool_windows_adjoint(&m(&[1, 9]), &[1, 1, 3, 3], &Window2d::square(3, 1, 2)), "pool_windows_adjoint");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
    // Padding of exactly half the kernel is allowed.
    assert!(pool_windows(&x, &Window2d::square(2, 2, 1)).is_ok());
    // A padding whose output (or im2col matrix) has more elements than a usize counts: an
    // error before anything is allocated, not a wrapped size.
    for padding in [usize::MAX / 2, 1 << 40, 1 << 31] {
        let e = err(im2col(&x, &Window2d::square(1, 1, padding)), "im2col");
        assert!(matches!(&e, TensorError::InvalidGeometry { .. }) && e.to_string().contains("too large"), "{e:?}");
    }
    let e = err(tensor::conv2d(&x, &m(&[1, 1, 1, 1]), None, &Window2d::square(1, 1, 1 << 40)), "conv2d");
    assert!(matches!(e, TensorError::InvalidGeometry { .. }), "{e:?}");
}

#[test]
fn empty_reduction() {
    let x = Tensor::<f32>::zeros(&[3, 0]).unwrap();
    let e = err(x.max_axis(1, false), "max_axis");
    assert!(matches!(&e, TensorError::EmptyReduction { op: "max_axis", axis: 1, shape } if shape == &[3, 0]), "{e:?}");
    let e = err(x.argmax_axis(1, true), "argmax_axis");
    assert!(matches!(e, TensorError::EmptyReduction { .. }), "{e:?}");
    let e = err(x.logsumexp_rows(), "logsumexp_rows");
    assert!(matches!(e, TensorError::EmptyReduction { .. }), "{e:?}");
    let e = err(x.max_all(), "max_all");
    assert!(matches!(e, TensorError::EmptyReduction { .. }), "{e:?}");
    let e = err(max_argmax_rows(&x), "max_argmax_rows");
    assert!(matches!(e, TensorError::EmptyReduction { op: "max_argmax_rows", .. }), "{e:?}");
    // Reducing the non-empty axis of a tensor with no elements is fine.
    assert_eq!(x.max_axis(0, false).unwrap().shape(), &[0]);
}

#[test]
fn invalid_argument() {
    let mut rng = StdRng::seed_from_u64(0);
    let e = err(Tensor::<f32>::rand_normal(&[2], 0.0, -1.0, &mut rng), "rand_normal");
    assert!(matches!(e, TensorError::InvalidArgument { op: "rand_normal", .. }), "{e:?}");
    assert!(e.to_string().contains("-1"));
    let e = err(Tensor::<f64>::rand_normal(&[2], 0.0, f64::NAN, &mut rng), "rand_normal");
    assert!(matches!(e, TensorError::InvalidArgument { .. }), "{e:?}");
    for (low, high) in [(1.0, 1.0), (2.0, 1.0), (0.0, f64::NAN)] {
        let e = err(Tensor::<f32>::rand_uniform(&[2], low, high, &mut rng), "rand_uniform");
        assert!(matches!(e, TensorError::InvalidArgument { op: "rand_uniform", .. }), "{e:?}");
    }
    // A shape whose element count overflows.
    let e = err(Tensor::<f32>::zeros(&[usize::MAX, 2]), "full");
    assert!(matches!(e, TensorError::InvalidArgument { .. }), "{e:?}");
    let e = err(Tensor::<f32>::from_vec(&[usize::MAX, 3], vec![]), "from_vec");
    assert!(matches!(e, TensorError::InvalidArgument { .. }), "{e:?}");
}

#[test]
fn errors_compare_and_clone() {
    let a = m(&[2]).reshape(&[3]).unwrap_err();
    assert_eq!(a.clone(), a);
    assert_eq!(a, TensorError::ShapeMismatch { op: "reshape", lhs: vec![2], rhs: vec![3] });
}
