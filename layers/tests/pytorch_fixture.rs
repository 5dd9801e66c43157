//! Agreement with PyTorch: `tests/fixtures/make_pytorch_fixture.py` built the twin
//! `torch.nn.Sequential` of the model below, saved its `state_dict` with
//! `safetensors.torch.save_file` (`pytorch_cnn.safetensors`), and saved a fixed input, the
//! model's output, the mean cross-entropy for fixed labels and its gradient w.r.t. each
//! parameter, in float32 and again in float64 (`pytorch_cnn_io.safetensors`). Here the
//! state_dict is loaded with `load_module` and everything is recomputed in Rust.
//!
//! The tests need no Python: they read the committed files. The script checked that the
//! input keeps every ReLU input and every pooling maximum at least 1e-3 from a kink.

use crate::common;

use std::path::{Path, PathBuf};

use autograd::Tape;
use common::*;
use layers::checkpoint::{load_module, read_checkpoint, save_module};
use layers::{Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, cross_entropy};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, Window2d};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The Rust twin of the script's model (random weights: the test loads PyTorch's):
/// Conv2d(3→4, 3×3, pad 1) → ReLU → MaxPool2d(3, stride 2, pad 1) → Conv2d(4→4, 2×3,
/// stride 2, pad 1, no bias) → ReLU → Flatten → Linear(16 → 5).
fn model<T: Element>(seed: u64) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .with(Conv2d::new(Conv2dConfig::new(3, 4, 3).padding(1), &mut rng).unwrap())
        .with(ReLU)
        .with(MaxPool2d::with_window(Window2d::square(3, 2, 1)).unwrap())
        .with(Conv2d::new(Conv2dConfig::new(4, 4, 3).kernel(2, 3).stride(2).padding(1).bias(false), &mut rng).unwrap())
        .with(ReLU)
        .with(Flatten)
        .with(Linear::new(16, 5, &mut rng).unwrap())
}

/// The fixture's tensors (F32 ones widened exactly, F64 as they are).
struct Io {
    tensors: std::collections::BTreeMap<String, Tensor<f64>>,
}

impl Io {
    fn load() -> Self {
        Io { tensors: read_checkpoint::<f64>(&fixture("pytorch_cnn_io.safetensors")).unwrap().tensors }
    }

    fn get(&self, name: &str) -> &Tensor<f64> {
        self.tensors.get(name).unwrap_or_else(|| panic!("{name} in the fixture"))
    }

    fn input<T: Element>(&self) -> Tensor<T> {
        let x = self.get("input");
        Tensor::from_vec(x.shape(), x.iter().map(T::from_f64_lossy).collect()).unwrap()
    }

    fn labels(&self) -> Vec<usize> {
        self.get("labels").iter().map(|v| v as usize).collect()
    }
}

/// Parameter gradients by name, widened to f64.
type NamedGrads = Vec<(String, Vec<f64>)>;

/// Output, loss and parameter gradients (by name) of the model on the fixture's input.
fn run<T: Element>(m: &Sequential<T>, io: &Io) -> (Tensor<T>, f64, NamedGrads) {
    let tape = Tape::new();
    let out = m.forward(tape.constant(io.input())).unwrap();
    let loss = cross_entropy(out, &io.labels()).unwrap();
    let grads = tape.backward(loss).unwrap();
    let named = m.named_parameters().into_iter().map(|(n, p)| (n, to_f64(grads.param(p).unwrap()))).collect();
    (out.value(), loss.value().item().unwrap().to_f64_exact(), named)
}

#[test]
fn parameter_names_match_the_state_dict() {
    let names: Vec<String> = model::<f32>(0).named_parameters().into_iter().map(|(n, _)| n).collect();
    let file = read_checkpoint::<f32>(&fixture("pytorch_cnn.safetensors")).unwrap();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "6.weight", "6.bias"]);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(file.tensors.keys().cloned().collect::<Vec<_>>(), sorted);
    assert_eq!(file.tensors["3.weight"].shape(), &[4, 4, 2, 3], "PyTorch's [out, in, kh, kw]");
    assert_eq!(file.tensors["6.weight"].shape(), &[5, 16], "PyTorch's [out, in]");
}

/// f32: PyTorch's output, loss and gradients, to f32 accuracy.
#[test]
fn f32_forward_and_gradients_match_pytorch() {
    let io = Io::load();
    let mut m = model::<f32>(1);
    load_module(&mut m, &fixture("pytorch_cnn.safetensors")).unwrap();
    let (out, loss, grads) = run(&m, &io);
    assert_eq!(out.shape(), &[2, 5]);
    assert_close(&to_f64(&out), &io.get("output").to_vec(), 1e-5, 1e-6);
    assert_close(&[loss], &io.get("loss").to_vec(), 1e-5, 1e-6);
    for (name, g) in grads {
        let want = io.get(&format!("grad.{name}")).to_vec();
        assert_close(&g, &want, 1e-5, 1e-6);
    }
}

/// f64: the F32 state_dict widened into an f64 model; PyTorch's float64 run of the same
/// weights and input, to f64 accuracy (so the agreement is not hidden by f32 rounding).
#[test]
fn f64_forward_and_gradients_match_pytorch() {
    let io = Io::load();
    let mut m = model::<f64>(1);
    load_module(&mut m, &fixture("pytorch_cnn.safetensors")).unwrap();
    let (out, loss, grads) = run(&m, &io);
    assert_close(&out.to_vec(), &io.get("output_f64").to_vec(), 1e-12, 1e-14);
    assert_close(&[loss], &io.get("loss_f64").to_vec(), 1e-12, 1e-14);
    assert_eq!(grads.len(), 5);
    for (name, g) in grads {
        let want = io.get(&format!("grad_f64.{name}")).to_vec();
        assert_close(&g, &want, 1e-10, 1e-14);
    }
}

/// The model loaded from PyTorch's file, saved again by Rust, holds the same tensors
/// under the same names (the file the script's `--check` mode reads back into torch:
/// `target/tmp/pytorch_cnn_from_rust.safetensors`).
#[test]
fn resaved_checkpoint_equals_pytorchs() {
    let mut m = model::<f32>(1);
    load_module(&mut m, &fixture("pytorch_cnn.safetensors")).unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pytorch_cnn_from_rust.safetensors");
    save_module(&m, &out).unwrap();
    let ours = read_checkpoint::<f32>(&out).unwrap();
    let theirs = read_checkpoint::<f32>(&fixture("pytorch_cnn.safetensors")).unwrap();
    assert_eq!(ours.tensors, theirs.tensors);
}
