//! The tape itself: fan-out accumulation, parameters brought on more than once, seed
//! gradients, no-grad mode and its guard, the error variants, custom ops recorded with
//! `Tape::record`, and gradients that outlive their tape.

use crate::common;

use std::cell::RefCell;
use std::rc::Rc;

use autograd::{AutogradError, GradcheckConfig, Op, Param, Tape, Var, gradcheck};
use common::{assert_close, random_tensor, weighted_sum};
use tensor::{Tensor, TensorError, Window2d};

fn t(shape: &[usize], data: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(shape, data.to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Fan-out.

#[test]
fn a_var_added_to_itself_gets_both_contributions() {
    // L = Σ (x + x)² = 4·Σx², ∇x = 8x.
    let x0 = t(&[3], &[1.0, -2.0, 3.0]);
    let tape = Tape::<f64>::new();
    let x = tape.leaf(x0.clone());
    let loss = x.add(x).unwrap().sum_squares().unwrap();
    assert_eq!(loss.value().item().unwrap(), 56.0);
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![8.0, -16.0, 24.0]);
    // The accumulation did not write through the storage of the leaf's value.
    assert_eq!(x.value().to_vec(), x0.to_vec());

    gradcheck(|_, v| v[0].add(v[0])?.sum_squares(), &[x0], &GradcheckConfig::default()).unwrap();
}

#[test]
fn a_var_used_by_two_matmuls_gets_both_contributions() {
    // x = [1 2], A = [1 2; 3 4], B = [0 1; 1 0]; L = Σ(x·A) + Σ(x·B).
    // ∂Σ(x·M)/∂x = (M·1)ᵀ = row sums: A → [3 7], B → [1 1]; ∇x = [4 8].
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1, 2], &[1.0, 2.0]));
    let a = tape.constant(t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let b = tape.constant(t(&[2, 2], &[0.0, 1.0, 1.0, 0.0]));
    let loss = x.matmul(a).unwrap().sum().unwrap().add(x.matmul(b).unwrap().sum().unwrap()).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![4.0, 8.0]);
    // Constants get no gradient.
    assert!(grads.get(a).is_none() && grads.get(b).is_none());

    // x on both sides of one product, and reused three times further down.
    let x0 = random_tensor(&[3, 3], 11);
    gradcheck(|_, v| weighted_sum(v[0].matmul(v[0])?, 12), std::slice::from_ref(&x0), &GradcheckConfig::default())
        .unwrap();
    gradcheck(
        |_, v| {
            let y = v[0].matmul(v[0])?;
            y.add(y)?.add(y.t()?)?.sum_squares()
        },
        &[x0],
        &GradcheckConfig::default(),
    )
    .unwrap();
}

#[test]
fn a_param_brought_on_twice_gets_the_sum_of_both_uses() {
    // p = [1 −2]; L = Σp² (first use) + Σ 3p (second use); ∇p = 2p + 3 = [5 −1].
    let p = Param::new(t(&[2], &[1.0, -2.0]));
    let tape = Tape::<f64>::new();
    let v1 = tape.param(&p);
    let v2 = tape.param(&p);
    assert_ne!(v1.id(), v2.id());
    let loss = v1.sum_squares().unwrap().add(v2.scale(3.0).unwrap().sum().unwrap()).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.param(&p).unwrap().to_vec(), vec![5.0, -1.0]);
    assert_eq!(grads.param_by_id(p.id()).unwrap().to_vec(), vec![5.0, -1.0]);
    let listed: Vec<_> = grads.params().collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, p.id());
    assert_eq!(listed[0].1.to_vec(), vec![5.0, -1.0]);
    // The parameter's value was not touched by the accumulation.
    assert_eq!(p.value.to_vec(), vec![1.0, -2.0]);
}

#[test]
fn a_param_brought_on_three_times_and_another_param() {
    // p = [2]; L = p·q + p + p with q = [5]: ∇p = q + 2 = 7, ∇q = p = 2.
    let p = Param::new(t(&[1, 1], &[2.0]));
    let q = Param::new(t(&[1, 1], &[5.0]));
    let unused = Param::new(t(&[1], &[0.0]));
    let tape = Tape::<f64>::new();
    let _ = tape.param(&unused);
    let pq = tape.param(&p).matmul(tape.param(&q)).unwrap();
    let loss = pq.add(tape.param(&p)).unwrap().add(tape.param(&p)).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.param(&p).unwrap().to_vec(), vec![7.0]);
    assert_eq!(grads.param(&q).unwrap().to_vec(), vec![2.0]);
    assert!(grads.param(&unused).is_none());
    assert_eq!(grads.params().count(), 2);
}

#[test]
fn a_cloned_param_is_a_different_param() {
    let p = Param::new(t(&[1], &[3.0]));
    let c = p.clone();
    assert_ne!(p.id(), c.id());
    assert_eq!(c.value.to_vec(), vec![3.0]);
    // L = p² + 10·c: the two identities get separate gradients.
    let tape = Tape::<f64>::new();
    let loss = tape.param(&p).sum_squares().unwrap().add(tape.param(&c).scale(10.0).unwrap().sum().unwrap()).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.param(&p).unwrap().to_vec(), vec![6.0]);
    assert_eq!(grads.param(&c).unwrap().to_vec(), vec![10.0]);
}

// ---------------------------------------------------------------------------------------
// Seeds.

#[test]
fn backward_from_a_non_scalar_output_needs_a_seed() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let w = tape.leaf(t(&[2, 1], &[5.0, 6.0]));
    let y = x.matmul(w).unwrap();
    assert_eq!(tape.backward(y).err(), Some(AutogradError::NonScalarOutput { shape: vec![2, 1] }));
}

#[test]
fn backward_with_a_wrong_shaped_seed_fails() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let w = tape.leaf(t(&[2, 1], &[5.0, 6.0]));
    let y = x.matmul(w).unwrap();
    // Same number of elements, different shape: still an error.
    assert_eq!(
        tape.backward_with_seed(y, Tensor::ones(&[2]).unwrap()).err(),
        Some(AutogradError::SeedShape { seed: vec![2], output: vec![2, 1] })
    );
    assert_eq!(
        tape.backward_with_seed(y, Tensor::ones(&[1, 2]).unwrap()).err(),
        Some(AutogradError::SeedShape { seed: vec![1, 2], output: vec![2, 1] })
    );
    // A scalar output with a [1] seed.
    let s = y.sum().unwrap();
    assert_eq!(
        tape.backward_with_seed(s, Tensor::ones(&[1]).unwrap()).err(),
        Some(AutogradError::SeedShape { seed: vec![1], output: vec![] })
    );
}

#[test]
fn backward_with_a_proper_seed_is_the_vjp() {
    // x = [1 2; 3 4], w = [5; 6], y = x·w = [17; 39], seed S = [1; −2].
    // ∇x = S·wᵀ = [5 6; −10 −12]; ∇w = xᵀ·S = [1−6; 2−8] = [−5; −6].
    let mut tape = Tape::<f64>::new();
    tape.set_retain_graph(true);
    let x = tape.leaf(t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let w = tape.leaf(t(&[2, 1], &[5.0, 6.0]));
    let y = x.matmul(w).unwrap();
    assert_eq!(y.value().to_vec(), vec![17.0, 39.0]);
    let grads = tape.backward_with_seed(y, t(&[2, 1], &[1.0, -2.0])).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![5.0, 6.0, -10.0, -12.0]);
    assert_eq!(grads.get(w).unwrap().to_vec(), vec![-5.0, -6.0]);

    // A tape that retains its graph can be walked again with another seed.
    let grads = tape.backward_with_seed(y, t(&[2, 1], &[0.0, 1.0])).unwrap();
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![0.0, 0.0, 5.0, 6.0]);

    // A scalar seed of 2 doubles the gradient of a scalar output; a [1, 1] output is a
    // scalar for `backward`.
    let s = y.sum().unwrap();
    let grads = tape.backward_with_seed(s, Tensor::scalar(2.0)).unwrap();
    assert_eq!(grads.get(w).unwrap().to_vec(), vec![8.0, 12.0]);
    // z = 1ᵀ·x·w: [1, 1]; ∇w = xᵀ·1 = column sums of x = [1+3; 2+4] = [4; 6].
    let ones = tape.constant(Tensor::ones(&[1, 2]).unwrap());
    let z = ones.matmul(x).unwrap().matmul(w).unwrap();
    assert_eq!(z.shape(), vec![1, 1]);
    assert_eq!(tape.backward(z).unwrap().get(w).unwrap().to_vec(), vec![4.0, 6.0]);
}

#[test]
fn a_leaf_as_its_own_output_gets_the_seed() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(3.0));
    assert_eq!(tape.backward(x).unwrap().get(x).unwrap().item().unwrap(), 1.0);
    let y = tape.leaf(t(&[2], &[1.0, 2.0]));
    let seed = t(&[2], &[-4.0, 5.0]);
    assert_eq!(tape.backward_with_seed(y, seed.clone()).unwrap().get(y).unwrap(), &seed);
}

// ---------------------------------------------------------------------------------------
// No-grad mode.

/// A small forward pass touching most ops; returns its (scalar) output.
fn forward<'t>(tape: &'t Tape<f64>) -> Var<'t, f64> {
    let x = tape.leaf(random_tensor(&[2, 1, 5, 5], 1));
    let w = tape.leaf(random_tensor(&[9, 3], 2));
    let b = tape.leaf(random_tensor(&[3], 3));
    let z = x.im2col(&Window2d::square(3, 1, 1)).unwrap().matmul(w).unwrap().add_bias(b).unwrap().relu().unwrap();
    let y = z.reshape(&[2, 5, 5, 3]).unwrap().permute(&[0, 3, 1, 2]).unwrap();
    let p = y.max_pool2d(&Window2d::square(2, 2, 0)).unwrap().flatten().unwrap();
    let logits = p.matmul(tape.constant(random_tensor(&[12, 4], 4))).unwrap();
    let loss = logits.softmax_cross_entropy(&[1, 3]).unwrap();
    loss.add(w.sum_squares().unwrap().scale(0.01).unwrap()).unwrap().add(b.mean().unwrap()).unwrap()
}

#[test]
fn no_grad_tape_records_nothing_and_computes_the_same_values() {
    let recording = Tape::<f64>::new();
    let expected = forward(&recording).value();
    assert!(recording.recorded_ops() > 10);
    assert!(recording.backward(forward(&recording)).is_ok());

    let tape = Tape::<f64>::no_grad();
    assert!(!tape.is_recording());
    let out = forward(&tape);
    assert_eq!(tape.recorded_ops(), 0);
    assert!(!tape.is_empty(), "values are still kept on the tape");
    assert!(!out.requires_grad());
    assert_eq!(out.value(), expected);
    assert_eq!(tape.backward(out).err(), Some(AutogradError::DoesNotRequireGrad));

    // Leaves and params are constants there.
    let p = Param::new(t(&[1], &[1.0]));
    assert!(!tape.leaf(t(&[1], &[1.0])).requires_grad());
    assert!(!tape.param(&p).requires_grad());
}

#[test]
fn no_grad_guard_turns_recording_off_in_its_scope() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2], &[1.0, -2.0]));
    let before = tape.recorded_ops();
    let detached = {
        let _guard = tape.no_grad_guard();
        assert!(!tape.is_recording());
        let y = x.relu().unwrap().scale(3.0).unwrap();
        assert_eq!(tape.recorded_ops(), before);
        assert!(!y.requires_grad());
        assert_eq!(y.value().to_vec(), vec![3.0, 0.0]);
        y
    };
    assert!(tape.is_recording());
    // After the scope ops record again; the value computed inside is a constant, so only
    // the path through x itself carries a gradient: L = Σ(detached + x), ∇x = 1.
    let loss = detached.add(x).unwrap().sum().unwrap();
    assert_eq!(tape.recorded_ops(), before + 2);
    assert_eq!(tape.backward(loss).unwrap().get(x).unwrap().to_vec(), vec![1.0, 1.0]);
    // Backward from the detached value alone has nothing to differentiate.
    assert_eq!(tape.backward(detached.sum().unwrap()).err(), Some(AutogradError::DoesNotRequireGrad));
}

#[test]
fn no_grad_guards_nest_and_restore_the_previous_mode() {
    let tape = Tape::<f64>::new();
    {
        let _outer = tape.no_grad_guard();
        {
            let _inner = tape.no_grad_guard();
            assert!(!tape.is_recording());
        }
        assert!(!tape.is_recording(), "the inner guard restores 'off', not 'on'");
    }
    assert!(tape.is_recording());

    // On a no-grad tape the guard keeps it off after the scope.
    let tape = Tape::<f64>::no_grad();
    drop(tape.no_grad_guard());
    assert!(!tape.is_recording());
}

#[test]
fn no_grad_guard_restores_recording_after_a_panic() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1], &[2.0]));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = tape.no_grad_guard();
        let _ = x.scale(2.0).unwrap();
        assert!(!tape.is_recording());
        panic!("inside the guard");
    }));
    assert!(result.is_err());
    assert!(tape.is_recording());
    assert_eq!(tape.recorded_ops(), 0);
    let loss = x.sum_squares().unwrap();
    assert_eq!(tape.recorded_ops(), 1);
    assert_eq!(tape.backward(loss).unwrap().get(x).unwrap().to_vec(), vec![4.0]);
}

// ---------------------------------------------------------------------------------------
// Errors.

#[test]
fn a_var_of_another_tape_is_rejected() {
    let (one, other) = (Tape::<f64>::new(), Tape::<f64>::new());
    let a = one.leaf(t(&[1, 2], &[1.0, 2.0]));
    let b = other.leaf(t(&[2, 1], &[3.0, 4.0]));
    assert!(matches!(a.matmul(b), Err(AutogradError::ForeignVar { .. })));
    assert!(matches!(b.t().unwrap().add(a), Err(AutogradError::ForeignVar { .. })));
    let before = (one.len(), other.len());
    assert!(matches!(a.add_bias(other.leaf(t(&[2], &[0.0, 0.0]))), Err(AutogradError::ForeignVar { .. })));
    assert_eq!(one.len(), before.0, "a failed op appends nothing to the tape");
    // backward on the wrong tape.
    let loss = a.sum().unwrap();
    assert!(matches!(other.backward(loss), Err(AutogradError::ForeignVar { op: "backward" })));
}

#[test]
fn softmax_cross_entropy_label_errors() {
    let tape = Tape::<f64>::new();
    let z = tape.leaf(Tensor::zeros(&[2, 3]).unwrap());
    assert_eq!(
        z.softmax_cross_entropy(&[0, 3]).err(),
        Some(AutogradError::InvalidLabel { op: "softmax_cross_entropy", row: 1, label: 3, classes: 3 })
    );
    for labels in [&[0usize][..], &[0, 1, 2][..], &[][..]] {
        assert!(
            matches!(z.softmax_cross_entropy(labels), Err(AutogradError::InvalidArgument { .. })),
            "{} labels for 2 rows",
            labels.len()
        );
    }
    for smoothing in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(z.softmax_cross_entropy_smoothed(&[0, 1], smoothing), Err(AutogradError::InvalidArgument { .. })),
            "smoothing {smoothing}"
        );
    }
    // The bounds themselves are fine.
    assert!(z.softmax_cross_entropy_smoothed(&[0, 1], 0.0).is_ok());
    assert!(z.softmax_cross_entropy_smoothed(&[0, 1], 1.0).is_ok());
    // No classes, or logits that are not a matrix.
    let empty = tape.leaf(Tensor::zeros(&[2, 0]).unwrap());
    assert!(matches!(empty.softmax_cross_entropy(&[0, 0]), Err(AutogradError::InvalidArgument { .. })));
    let flat = tape.leaf(Tensor::zeros(&[3]).unwrap());
    assert!(matches!(
        flat.softmax_cross_entropy(&[0, 0, 0]),
        Err(AutogradError::Tensor(TensorError::RankMismatch { .. }))
    ));
}

#[test]
fn tensor_errors_pass_through_from_ops() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(Tensor::zeros(&[2, 3]).unwrap());
    let b = tape.leaf(Tensor::zeros(&[2, 3]).unwrap());
    assert_eq!(
        a.matmul(b).err(),
        Some(AutogradError::Tensor(TensorError::ShapeMismatch { op: "matmul", lhs: vec![2, 3], rhs: vec![2, 3] }))
    );
    let batched = tape.leaf(Tensor::zeros(&[1, 3, 2]).unwrap());
    assert!(matches!(a.matmul(batched), Err(AutogradError::Tensor(TensorError::RankMismatch { .. }))));
    assert!(matches!(a.add(tape.leaf(Tensor::zeros(&[2]).unwrap())), Err(AutogradError::Tensor(_))));
    assert!(matches!(a.add_bias(tape.leaf(Tensor::zeros(&[2]).unwrap())), Err(AutogradError::Tensor(_))));
    assert!(matches!(a.reshape(&[4]), Err(AutogradError::Tensor(TensorError::ShapeMismatch { .. }))));
    assert!(matches!(a.permute(&[0, 0]), Err(AutogradError::Tensor(_))));
    assert!(matches!(batched.t(), Err(AutogradError::Tensor(TensorError::RankMismatch { .. }))));
    assert!(matches!(a.im2col(&Window2d::square(2, 1, 0)), Err(AutogradError::Tensor(_))));
    let img = tape.leaf(Tensor::zeros(&[1, 1, 2, 2]).unwrap());
    assert!(matches!(img.im2col(&Window2d::square(3, 1, 0)), Err(AutogradError::Tensor(_))));
    // Pooling padding above half the kernel.
    assert!(matches!(img.max_pool2d(&Window2d::square(2, 1, 2)), Err(AutogradError::Tensor(_))));
    assert!(matches!(img.pool_windows(&Window2d::square(2, 1, 2)), Err(AutogradError::Tensor(_))));
    assert!(matches!(a.max_rows().unwrap().max_rows(), Err(AutogradError::Tensor(_))));
}

#[test]
fn backward_of_a_constant_only_computation_fails() {
    let tape = Tape::<f64>::new();
    let c = tape.constant(t(&[2], &[1.0, 2.0]));
    let s = c.relu().unwrap().sum_squares().unwrap();
    assert!(!s.requires_grad());
    assert_eq!(tape.recorded_ops(), 0, "ops on constants record no VJP");
    assert_eq!(tape.backward(s).err(), Some(AutogradError::DoesNotRequireGrad));
    assert_eq!(tape.backward(tape.constant(Tensor::scalar(1.0))).err(), Some(AutogradError::DoesNotRequireGrad));
}

// ---------------------------------------------------------------------------------------
// Custom ops through `Tape::record`.

/// `y = x` whose VJP records which inputs were wanted and returns a gradient of the shape
/// it was built with.
struct Probe {
    seen: Rc<RefCell<Vec<Vec<bool>>>>,
    grad_shape: Vec<usize>,
}

impl Op<f64> for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }

    fn vjp(&self, grad: &Tensor<f64>, wanted: &[bool]) -> autograd::Result<Vec<Option<Tensor<f64>>>> {
        self.seen.borrow_mut().push(wanted.to_vec());
        let g = Tensor::full(&self.grad_shape, grad.sum_all())?;
        Ok(wanted.iter().map(|&w| w.then(|| g.clone())).collect())
    }
}

#[test]
fn record_builds_the_op_only_when_a_gradient_is_needed() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let built = Rc::new(RefCell::new(0));
    let make = |shape: &[usize]| {
        *built.borrow_mut() += 1;
        Probe { seen: Rc::clone(&seen), grad_shape: shape.to_vec() }
    };
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2], &[1.0, 2.0]));
    let c = tape.constant(t(&[2], &[3.0, 4.0]));

    // Only constants in: no op is built, the output is a constant.
    let y = tape.record(&[c, c], c.value(), || make(&[2])).unwrap();
    assert_eq!(*built.borrow(), 0);
    assert!(!y.requires_grad());

    // A leaf and a constant: built once, and the VJP is told which input is wanted.
    let y = tape.record(&[x, c], x.value(), || make(&[2])).unwrap();
    assert_eq!(*built.borrow(), 1);
    let grads = tape.backward(y.sum().unwrap()).unwrap();
    assert_eq!(*seen.borrow(), vec![vec![true, false]]);
    assert_eq!(grads.get(x).unwrap().to_vec(), vec![2.0, 2.0]);
    assert!(grads.get(c).is_none());

    // In no-grad mode nothing is built.
    {
        let _guard = tape.no_grad_guard();
        let _ = tape.record(&[x], x.value(), || make(&[2])).unwrap();
    }
    assert_eq!(*built.borrow(), 1);

    // A foreign input is rejected before anything is built.
    let other = Tape::<f64>::new();
    let z = other.leaf(t(&[1], &[0.0]));
    assert!(matches!(tape.record(&[x, z], x.value(), || make(&[2])), Err(AutogradError::ForeignVar { .. })));
    assert_eq!(*built.borrow(), 1);
}

#[test]
fn a_vjp_returning_the_wrong_shape_is_reported() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let y = tape.record(&[x], x.value(), || Probe { seen, grad_shape: vec![4] }).unwrap();
    let err = tape.backward(y.sum().unwrap()).err();
    assert_eq!(err, Some(AutogradError::VjpShape { op: "probe", input: 0, expected: vec![2, 2], got: vec![4] }));
}

// ---------------------------------------------------------------------------------------
// Gradients outlive the tape; reset.

#[test]
fn gradients_do_not_borrow_the_tape() {
    // L = Σ(w·x)² with w = [2] and x = [1 3]: w·x = [2 6], L = 4 + 36 = 40,
    // ∇w = Σ 2·(w·x)·x = 2·(2·1 + 6·3) = 40.
    let mut w = Param::new(t(&[1, 1], &[2.0]));
    let grads = {
        let tape = Tape::<f64>::new();
        let x = tape.constant(t(&[1, 2], &[1.0, 3.0]));
        let loss = tape.param(&w).matmul(x).unwrap().sum_squares().unwrap();
        assert_eq!(loss.value().item().unwrap(), 40.0);
        let grads = tape.backward(loss).unwrap();
        drop(tape);
        grads
    };
    let g = grads.param(&w).unwrap().clone();
    assert_eq!(g.to_vec(), vec![40.0]);
    // An optimizer step in place after the tape is gone: w ← w − 0.01·∇w = 1.6.
    w.value.axpy(-0.01, &g).unwrap();
    assert_close(&w.value.to_vec(), &[1.6], 1e-15);
    // The gradient held by `grads` was not changed by the update.
    assert_eq!(grads.param(&w).unwrap().to_vec(), vec![40.0]);
}

#[test]
fn reset_clears_the_tape_for_the_next_step() {
    let p = Param::new(t(&[2], &[1.0, 2.0]));
    let mut tape = Tape::<f64>::new();
    for step in 0..3 {
        let loss = tape.param(&p).sum_squares().unwrap();
        let grads = tape.backward(loss).unwrap();
        assert_eq!(grads.param(&p).unwrap().to_vec(), vec![2.0, 4.0], "step {step}");
        assert_eq!(tape.len(), 2);
        tape.reset();
        assert!(tape.is_empty());
        assert_eq!(tape.recorded_ops(), 0);
    }
}

/// Per-leaf gradients of a parameter brought on twice: `Gradients::get` of each leaf should
/// be that leaf's own gradient (`grads.param` holds the sum). Today the leaf walked first in
/// the backward sweep (the one brought on last) returns the sum, the other its own part.
#[test]
fn per_leaf_gradients_of_a_param_brought_on_twice() {
    // p = [1 −2]; L = Σ v1² + Σ 3·v2: ∂L/∂v1 = 2p = [2 −4], ∂L/∂v2 = [3 3], ∇p = [5 −1].
    let p = Param::new(t(&[2], &[1.0, -2.0]));
    let tape = Tape::<f64>::new();
    let v1 = tape.param(&p);
    let v2 = tape.param(&p);
    let loss = v1.sum_squares().unwrap().add(v2.scale(3.0).unwrap().sum().unwrap()).unwrap();
    let grads = tape.backward(loss).unwrap();
    assert_eq!(grads.param(&p).unwrap().to_vec(), vec![5.0, -1.0]);
    assert_eq!(grads.get(v1).unwrap().to_vec(), vec![2.0, -4.0]);
    assert_eq!(grads.get(v2).unwrap().to_vec(), vec![3.0, 3.0], "get(v2) returned the sum over both leaves");
}

#[test]
fn gradients_of_separate_tapes_accumulate_per_param() {
    // p = [1 −2], q = [4]. L1 = Σp² on one tape, L2 = Σ3p + Σq on another.
    // ∇p(L1 + L2) = 2p + 3 = [5 −1], ∇q = [1]; q is absent from the first tape's gradients
    // and is inserted by the accumulation.
    let p = Param::new(t(&[2], &[1.0, -2.0]));
    let q = Param::new(t(&[1], &[4.0]));
    let mut first = {
        let tape = Tape::<f64>::new();
        tape.backward(tape.param(&p).sum_squares().unwrap()).unwrap()
    };
    let second = {
        let tape = Tape::<f64>::new();
        let l2 = tape.param(&p).scale(3.0).unwrap().sum().unwrap().add(tape.param(&q).sum().unwrap()).unwrap();
        tape.backward(l2).unwrap()
    };
    assert!(first.param(&q).is_none());
    first.accumulate(&second).unwrap();
    assert_eq!(first.param(&p).unwrap().to_vec(), vec![5.0, -1.0]);
    assert_eq!(first.param(&q).unwrap().to_vec(), vec![1.0]);
    assert_eq!(first.params().count(), 2);
    // The source is unchanged (no write through shared storage).
    assert_eq!(second.param(&p).unwrap().to_vec(), vec![3.0, 3.0]);
    assert_eq!(second.param(&q).unwrap().to_vec(), vec![1.0]);
}

/// After `accumulate` inserts a parameter the receiving gradients lacked, `get` of a Var
/// created later on the receiving tape (whose node index is past the old end) should be
/// None; it returns the inserted parameter's gradient instead.
#[test]
fn accumulate_does_not_alias_later_nodes() {
    let p = Param::new(t(&[1], &[1.0]));
    let q = Param::new(t(&[1], &[4.0]));
    let tape = Tape::<f64>::new();
    let loss = tape.param(&p).sum_squares().unwrap(); // nodes 0 and 1
    let mut grads = tape.backward(loss).unwrap();
    let other = Tape::<f64>::new();
    grads.accumulate(&other.backward(other.param(&q).sum().unwrap()).unwrap()).unwrap();
    let later = tape.leaf(t(&[1], &[0.0])); // node 2: not part of the backward pass
    assert!(grads.get(later).is_none(), "got {:?}", grads.get(later).map(|g| g.to_vec()));
}
