//! An op the library does not have, written and checked as a user would: log-sum-exp over
//! an axis, its catalogue entry, and the suite. Exits non-zero if the suite fails.
//!
//! `cargo run -p autograd --example custom_op`

use std::process::ExitCode;

use autograd::catalogue::{self, Entry, OpCase, SuiteConfig};
use autograd::{Op, Var, strategies};
use proptest::prelude::*;
use tensor::{Element, Tensor, TensorError};

/// `y = logsumexp(x, axis) = m + ln Σₖ exp(xₖ − m)` along `axis`, with `m` the maximum
/// there (so that no exp overflows); the axis is removed.
///
/// VJP: `∂y/∂xₖ = exp(xₖ − y)`, the softmax along the axis, so `∇x = softmax(x) ⊙ ∇y`
/// with `∇y` broadcast back along the axis.
struct LogSumExp<T> {
    softmax: Tensor<T>,
    axis: usize,
}

impl<T: Element> Op<T> for LogSumExp<T> {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        if !want[0] {
            return Ok(vec![None]);
        }
        Ok(vec![Some(self.softmax.mul(&grad.unsqueeze(self.axis)?)?)])
    }
}

/// The forward: computes the value and records the op on the tape.
fn logsumexp<'t, T: Element>(x: Var<'t, T>, axis: usize) -> autograd::Result<Var<'t, T>> {
    let v = x.value();
    if axis >= v.rank() || v.shape()[axis] == 0 {
        return Err(TensorError::AxisOutOfRange { op: "logsumexp", axis, shape: v.shape().to_vec() }.into());
    }
    let m = v.max_axis(axis, true)?;
    let y = v.sub(&m)?.exp().sum_axis(axis, true)?.ln().add(&m)?;
    let softmax = v.sub(&y)?.exp();
    x.tape().record(&[x], y.select(axis, 0)?, || LogSumExp { softmax, axis })
}

/// The catalogue entry: sample inputs (any shape of rank 1 to 3, any axis, values in
/// [−4, 4]; the op is smooth, so no kink to avoid), the call, and wrong arguments.
struct LogSumExpEntry;

impl Entry for LogSumExpEntry {
    type Args = usize;

    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn cases(&self) -> BoxedStrategy<OpCase<usize>> {
        strategies::shape(1..=3, 1..=4)
            .prop_flat_map(|s| (0..s.len(), strategies::tensor::<f64>(s)))
            .prop_map(|(axis, x)| OpCase::new(vec![x.mul_scalar(4.0)], axis))
            .boxed()
    }

    fn call<'t, T: Element>(&self, x: &[Var<'t, T>], axis: &usize) -> autograd::Result<Var<'t, T>> {
        logsumexp(x[0], *axis)
    }

    fn wrong_shapes(&self) -> Vec<OpCase<usize>> {
        let x = Tensor::zeros(&[2, 3]).expect("a valid shape");
        vec![OpCase::new(vec![x], 2)]
    }
}

fn main() -> ExitCode {
    match catalogue::run_suite(&LogSumExpEntry, &SuiteConfig::default()) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}
