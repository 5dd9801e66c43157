//! Proof that the catalogue's suite can fail: copies of ops with a planted mistake, each
//! written as a user's op would be (an `Op` recorded with `Tape::record`) and registered as
//! an entry, and the failure the suite must report for it. Each test prints the report
//! (`-- --nocapture` shows it; `docs/testing-gradients.md` quotes one).

use autograd::catalogue::{
    self, Check, Compared, Convention, Entry, Failure, KinkCase, OpCase, SuiteConfig, SuiteFailure, nudge_toward_first,
};
use autograd::{GradcheckError, Op, Var, strategies};
use proptest::prelude::*;
use tensor::{Element, Tensor};

fn dense(shape: Vec<usize>) -> impl Strategy<Value = Tensor<f64>> {
    strategies::tensor::<f64>(shape)
}

/// Runs the suite, which must fail; prints and returns the failure.
fn fails<E: Entry>(entry: &E) -> SuiteFailure {
    match catalogue::run_suite(entry, &SuiteConfig::default()) {
        Ok(report) => panic!("the suite passed a planted mistake: {report}"),
        Err(failure) => {
            println!("{failure}");
            failure
        }
    }
}

// --- A VJP off by a transpose: `∇a = ∇z·b` instead of `∇z·bᵀ`. ---

struct MatmulNoTranspose<T> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Element> Op<T> for MatmulNoTranspose<T> {
    fn name(&self) -> &'static str {
        "matmul_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        let da = want[0].then(|| grad.matmul(&self.b)).transpose()?; // planted: b, not bᵀ
        let db = want[1].then(|| self.a.t()?.matmul(grad)).transpose()?;
        Ok(vec![da, db])
    }
}

fn matmul_planted<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let (av, bv) = (a.value(), b.value());
    let z = av.matmul(&bv)?;
    a.tape().record(&[a, b], z, || MatmulNoTranspose { a: av, b: bv })
}

/// `[m, k]·[k, k]`: a square `b`, so that the wrong VJP still has the right shape.
struct MatmulEntry;

impl Entry for MatmulEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "matmul_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=4usize, 1..=4usize)
            .prop_flat_map(|(m, k)| (dense(vec![m, k]), dense(vec![k, k])))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        matmul_planted(x[0], x[1])
    }
}

#[test]
fn a_vjp_off_by_a_transpose_fails_the_gradient_check() {
    let failure = fails(&MatmulEntry);
    assert_eq!(failure.check, Check::Gradient);
    let Failure::Gradient(GradcheckError::Mismatch { input, analytic, numeric, .. }) = *failure.failure else {
        panic!("not an element mismatch: {failure}");
    };
    assert_eq!(input, 0, "∇b is right; ∇a is the planted one");
    assert!((analytic - numeric).abs() > 1e-3);
    // Shrunk to the smallest b where b ≠ bᵀ.
    assert!(failure.case.contains("Tensor[2, 2]"), "{}", failure.case);
}

// --- A missing 1/N: the mean's VJP gives every element ∇m instead of ∇m/n. ---

struct MeanWithoutDivision {
    shape: Vec<usize>,
}

impl<T: Element> Op<T> for MeanWithoutDivision {
    fn name(&self) -> &'static str {
        "mean_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![want[0].then(|| Tensor::full(&self.shape, grad.item()?)).transpose()?]) // planted: no /n
    }
}

fn mean_planted<'t, T: Element>(x: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let v = x.value();
    x.tape().record(&[x], Tensor::scalar(v.mean_all()), || MeanWithoutDivision { shape: v.shape().to_vec() })
}

struct MeanEntry;

impl Entry for MeanEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "mean_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        strategies::shape(1..=3, 1..=4).prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        mean_planted(x[0])
    }
}

#[test]
fn a_missing_one_over_n_fails_the_gradient_check() {
    let failure = fails(&MeanEntry);
    assert_eq!(failure.check, Check::Gradient);
    let Failure::Gradient(GradcheckError::Mismatch { analytic, numeric, .. }) = *failure.failure else {
        panic!("not an element mismatch: {failure}");
    };
    // Shrunk to two elements: the analytic gradient is n = 2 times the numeric one.
    assert!((analytic / numeric - 2.0).abs() < 1e-6, "analytic {analytic}, numeric {numeric}");
}

// --- A stride assumed to be 1: the forward reads the storage as if it were the tensor. ---

struct Double;

impl<T: Element> Op<T> for Double {
    fn name(&self) -> &'static str {
        "double_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![want[0].then(|| grad.mul_scalar(T::one() + T::one()))])
    }
}

fn double_planted<'t, T: Element>(x: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let v = x.value();
    let n = v.numel();
    // planted: contiguous storage from the offset assumed (strides ignored)
    let data = v.storage()[v.offset()..v.offset() + n].iter().map(|&e| e + e).collect();
    x.tape().record(&[x], Tensor::from_vec(v.shape(), data)?, || Double)
}

struct DoubleEntry;

impl Entry for DoubleEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "double_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        strategies::shape(1..=3, 1..=4).prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        double_planted(x[0])
    }
}

#[test]
fn a_stride_assumed_to_be_one_fails_the_layout_check() {
    let failure = fails(&DoubleEntry);
    assert_eq!(failure.check, Check::Layout);
    let Failure::Layout { what, contiguous, strided, .. } = *failure.failure else {
        panic!("not a layout mismatch: {failure}");
    };
    assert_eq!(what, Compared::Output);
    assert_ne!(contiguous, strided);
}

// --- A wrong tie rule: the row maximum's gradient goes to the last maximum. ---

struct MaxRowsLast {
    argmax: Vec<usize>,
    columns: usize,
}

impl<T: Element> Op<T> for MaxRowsLast {
    fn name(&self) -> &'static str {
        "max_rows_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        if !want[0] {
            return Ok(vec![None]);
        }
        let mut g = vec![T::zero(); self.argmax.len() * self.columns];
        for ((r, &k), d) in self.argmax.iter().enumerate().zip(grad.iter()) {
            g[r * self.columns + k] = d;
        }
        Ok(vec![Some(Tensor::from_vec(&[self.argmax.len(), self.columns], g)?)])
    }
}

fn max_rows_planted<'t, T: Element>(x: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let v = x.value();
    if v.rank() != 2 || v.shape()[1] == 0 {
        return Err(tensor::TensorError::RankMismatch {
            op: "max_rows_planted",
            expected: 2,
            shape: v.shape().to_vec(),
        }
        .into());
    }
    let (rows, columns) = (v.shape()[0], v.shape()[1]);
    let mut argmax = Vec::with_capacity(rows);
    let mut max = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = v.select(0, r)?.to_vec();
        // planted: `>=` moves a tie to the last maximum
        let k = (0..columns).fold(0, |best, k| if row[k] >= row[best] { k } else { best });
        argmax.push(k);
        max.push(row[k]);
    }
    x.tape().record(&[x], Tensor::from_vec(&[rows], max)?, || MaxRowsLast { argmax, columns })
}

struct MaxRowsEntry;

impl Entry for MaxRowsEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "max_rows_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=4usize, 1..=4usize)
            .prop_flat_map(|(r, k)| strategies::distinct_tensor::<f64>(vec![r, k], 0.05))
            .prop_map(|x| OpCase::new(vec![x], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        max_rows_planted(x[0])
    }

    fn convention(&self) -> Option<Convention<()>> {
        // Values on a grid of quarters: exact ties; the nudge (at most 1/16 in all) keeps
        // distinct values in order.
        let cases = (1..=4usize, 2..=4usize)
            .prop_flat_map(|(r, k)| proptest::collection::vec(-2..=2i32, r * k).prop_map(move |v| (r, k, v)))
            .prop_map(|(r, k, v)| {
                let x = Tensor::from_vec(&[r, k], v.into_iter().map(|q| f64::from(q) / 4.0).collect()).unwrap();
                let nudged = nudge_toward_first(&x, 1.0 / (16.0 * (r * k) as f64));
                KinkCase { at: OpCase::new(vec![x], ()), nudged: OpCase::new(vec![nudged], ()) }
            })
            .boxed();
        Some(Convention { rule: "ties go to the first maximum", cases })
    }
}

#[test]
fn a_wrong_tie_rule_fails_the_convention() {
    let failure = fails(&MaxRowsEntry);
    assert_eq!(failure.check, Check::Convention);
    let Failure::Convention { rule, index, at_kink, nudged, .. } = *failure.failure else {
        panic!("not a convention failure: {failure}");
    };
    assert_eq!(rule, "ties go to the first maximum");
    // Shrunk to one row of two equal values: the first gets the gradient by the rule, the
    // planted op gives it to the second.
    assert_eq!(index, vec![0, 0]);
    assert_eq!(at_kink, 0.0);
    assert_ne!(nudged, 0.0);
    assert!(failure.case.contains("Tensor[1, 2]"), "{}", failure.case);
}

// --- A shape never checked: the bias is indexed by the columns of `a` and panics. ---

struct AddBiasUnchecked;

impl<T: Element> Op<T> for AddBiasUnchecked {
    fn name(&self) -> &'static str {
        "add_bias_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![want[0].then(|| grad.clone()), want[1].then(|| grad.sum_axis(0, false)).transpose()?])
    }
}

fn add_bias_planted<'t, T: Element>(a: Var<'t, T>, b: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let (av, bv) = (a.value(), b.value().to_vec());
    let n = av.shape()[1];
    let z = Tensor::from_fn(av.shape(), |i| av.get(i).unwrap() + bv[i[1] % n])?; // planted: no shape check
    a.tape().record(&[a, b], z, || AddBiasUnchecked)
}

struct AddBiasEntry;

impl Entry for AddBiasEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "add_bias_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        (1..=4usize, 1..=4usize)
            .prop_flat_map(|(m, n)| (dense(vec![m, n]), dense(vec![n])))
            .prop_map(|(a, b)| OpCase::new(vec![a, b], ()))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        add_bias_planted(x[0], x[1])
    }

    fn wrong_shapes(&self) -> Vec<OpCase<()>> {
        vec![OpCase::new(vec![Tensor::zeros(&[2, 3]).unwrap(), Tensor::zeros(&[2]).unwrap()], ())]
    }
}

#[test]
fn a_panic_on_wrong_shapes_is_caught_and_reported() {
    let failure = fails(&AddBiasEntry);
    assert_eq!(failure.check, Check::WrongShapes);
    let Failure::Panicked { message } = &*failure.failure else {
        panic!("not a panic: {failure}");
    };
    assert!(message.contains("index out of bounds"), "{message}");
}

// --- f32 cancellation: `(x + 10⁴) − 10⁴` loses the low digits of x in f32. ---

struct Identity;

impl<T: Element> Op<T> for Identity {
    fn name(&self) -> &'static str {
        "shifted_identity_planted"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![want[0].then(|| grad.clone())])
    }
}

fn shifted_identity_planted<'t, T: Element>(x: Var<'t, T>) -> autograd::Result<Var<'t, T>> {
    let shift = T::from_f64_lossy(1e4);
    let y = x.value().map(|v| (v + shift) - shift); // planted: cancellation
    x.tape().record(&[x], y, || Identity)
}

struct ShiftedEntry;

impl Entry for ShiftedEntry {
    type Args = ();

    fn name(&self) -> &'static str {
        "shifted_identity_planted"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<()>> {
        strategies::shape(1..=2, 1..=4).prop_flat_map(dense).prop_map(|x| OpCase::new(vec![x], ())).boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], _: &()) -> autograd::Result<Var<'t, T>> {
        shifted_identity_planted(x[0])
    }
}

#[test]
fn a_cancellation_in_f32_fails_the_precision_check() {
    let failure = fails(&ShiftedEntry);
    assert_eq!(failure.check, Check::F32Forward);
    let Failure::F32Value { f64_value, f32_value, tolerance, .. } = *failure.failure else {
        panic!("not an f32 value mismatch: {failure}");
    };
    assert!((f64_value - f32_value).abs() > tolerance);
}
