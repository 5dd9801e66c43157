//! The ops of issue 13 against PyTorch: `tests/fixtures/torch_ops.safetensors`, written by
//! `tests/fixtures/make_torch_ops_fixture.py` (torch, float64), holds inputs, a weighting
//! `w` of the output, the output and the gradients of `L = Σ w ⊙ y`. Here the same is
//! computed on the tape and compared to 1e-12 (both sides in f64; only the order of the
//! sums differs).

use std::path::Path;

use autograd::{Tape, Var};
use safetensors::{Dtype, SafeTensors};
use tensor::{Tensor, Window2d};

const TOL: f64 = 1e-12;

struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_ops.safetensors");
        Fixture { bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) }
    }

    fn get(&self, name: &str) -> Tensor<f64> {
        let file = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(view.dtype(), Dtype::F64, "{name}");
        let data = view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        Tensor::from_vec(view.shape(), data).unwrap()
    }
}

/// Elementwise `|a − b| ≤ TOL·(1 + |b|)`; prints the largest difference (`--nocapture`).
fn assert_close(name: &str, got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    let mut worst = 0.0f64;
    for (i, (a, b)) in got.iter().zip(want.iter()).enumerate() {
        assert!((a - b).abs() <= TOL * (1.0 + b.abs()), "{name}[{i}]: {a} vs torch {b}");
        worst = worst.max((a - b).abs());
    }
    println!("{name}: max |rust − torch| = {worst:.1e}");
}

/// Runs `op` on the case's input, takes `L = Σ w ⊙ y` and its gradients, and compares
/// `y` and `∇x` (and the parameter gradients, when `params` names them) with torch's.
fn check_case(
    fixture: &Fixture,
    case: &str,
    params: bool,
    op: impl for<'t> Fn(Var<'t, f64>, Option<(Var<'t, f64>, Var<'t, f64>)>) -> autograd::Result<Var<'t, f64>>,
) {
    let get = |k: &str| fixture.get(&format!("{case}.{k}"));
    let tape = Tape::new();
    let x = tape.leaf(get("x"));
    let affine = params.then(|| (tape.leaf(get("weight")), tape.leaf(get("bias"))));
    let y = op(x, affine).unwrap();
    assert_close(&format!("{case}.y"), &y.value(), &get("y"));
    let grads = tape.backward(y.mul(tape.constant(get("w"))).unwrap().sum().unwrap()).unwrap();
    assert_close(&format!("{case}.grad_x"), grads.get(x).unwrap(), &get("grad_x"));
    if let Some((w, b)) = affine {
        assert_close(&format!("{case}.grad_weight"), grads.get(w).unwrap(), &get("grad_weight"));
        assert_close(&format!("{case}.grad_bias"), grads.get(b).unwrap(), &get("grad_bias"));
    }
}

#[test]
fn batch_norm_training_matches_torch() {
    let f = Fixture::load();
    for case in ["bn2d", "bn1d"] {
        check_case(&f, case, true, |x, p| {
            let (w, b) = p.unwrap();
            Ok(x.batch_norm_train(w, b, 1e-5, None)?.y)
        });
    }
}

/// Three training steps from running statistics 0 and 1 with momentum 0.1, then the
/// evaluation-mode forward and backward with them.
#[test]
fn running_statistics_and_evaluation_mode_match_torch() {
    let f = Fixture::load();
    let (mut mean, mut var) = (Tensor::zeros(&[3]).unwrap(), Tensor::ones(&[3]).unwrap());
    for step in 0..3 {
        let tape = Tape::no_grad();
        let x = tape.constant(f.get(&format!("bn2d.step{step}.x")));
        let (w, b) = (tape.constant(f.get("bn2d.weight")), tape.constant(f.get("bn2d.bias")));
        x.batch_norm_train(w, b, 1e-5, None).unwrap().stats.update_running(&mut mean, &mut var, 0.1).unwrap();
    }
    assert_close("running_mean", &mean, &f.get("bn2d.running_mean"));
    assert_close("running_var", &var, &f.get("bn2d.running_var"));
    check_case(&f, "bn2d_eval", true, |x, p| {
        let (w, b) = p.unwrap();
        x.batch_norm_eval(w, b, &mean, &var, 1e-5)
    });
}

#[test]
fn average_pooling_matches_torch() {
    let f = Fixture::load();
    check_case(&f, "avgpool3", false, |x, _| x.avg_pool2d(&Window2d::square(3, 2, 1)));
    check_case(&f, "avgpool2", false, |x, _| x.avg_pool2d(&Window2d::square(2, 2, 0)));
}

#[test]
fn activations_match_torch() {
    let f = Fixture::load();
    check_case(&f, "tanh", false, |x, _| x.tanh());
    check_case(&f, "sigmoid", false, |x, _| x.sigmoid());
    check_case(&f, "leaky_relu", false, |x, _| x.leaky_relu(0.01));
}
