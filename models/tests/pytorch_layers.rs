//! Batch norm, dropout, average pooling, tanh, sigmoid and leaky ReLU against PyTorch's
//! `nn.Sequential` of the same layers (fixtures written by
//! `tests/fixtures/make_layers_fixture.py`; the test does not run it): evaluation-mode
//! outputs from PyTorch's `state_dict` (int64 `num_batches_tracked` included);
//! training-mode outputs, loss and gradients, unsplit and over 2 threads; the running
//! statistics and parameters after 3 SGD steps; the keys and shapes written here.
//!
//! Dropout masks come from different generators in PyTorch and here, so the training-mode
//! comparisons use the same state with the dropouts at p = 0 (see the script).

use std::path::{Path, PathBuf};

use autograd::Tape;
use layers::checkpoint::{Checkpoint, load_module, read_checkpoint, save_module, write_tensors};
use layers::{Module, Optimizer, Sgd, SgdConfig};
use models::arch::Arch;
use models::network::load_network;
use models::train::forward_backward_step;
use rand::SeedableRng;
use tensor::Tensor;

const SPEC: &str = "conv(8,3,p=1) batchnorm leakyrelu(0.1) maxpool(2) dropout(0.25) conv(8,3,p=1) batchnorm tanh \
                    avgpool(2) flatten linear(16) batchnorm sigmoid dropout(0.5) linear(10)";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn io() -> std::collections::BTreeMap<String, Tensor<f32>> {
    read_checkpoint::<f32>(&fixture("layers_net_io.safetensors")).unwrap().tensors
}

fn max_diff(a: &Tensor<f32>, b: &Tensor<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn labels(t: &Tensor<f32>) -> Vec<usize> {
    t.iter().map(|l| l as usize).collect()
}

/// SPEC with both dropouts at p = 0, in training mode, with PyTorch's state loaded
/// (`strict=True`: the same keys, since dropout has none).
fn training_net() -> Box<dyn Module<f32>> {
    let spec = SPEC.replace("dropout(0.25)", "dropout(0)").replace("dropout(0.5)", "dropout(0)");
    let arch: Arch = spec.parse().unwrap();
    let mut net = arch.build::<f32, _>([1, 16, 16], Some(10), &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
    load_module(&mut net, &fixture("layers_net.safetensors")).unwrap();
    net
}

#[test]
fn pytorch_state_with_int64_counters_gives_pytorchs_evaluation_outputs() {
    let net = load_network(&fixture("layers_net.safetensors")).unwrap();
    assert_eq!(net.info.arch.to_string(), SPEC);
    let io = io();
    let out = net.model.predict(&io["input"]).unwrap();
    let diff = max_diff(&out, &io["eval.output"]);
    println!("evaluation outputs: max |Rust − PyTorch| = {diff:e}");
    assert!(diff < 1e-5, "{diff}");
    // The counters (int64 in the file) arrive as 2.
    assert_eq!(crate::common::batches_tracked(&net.model), [2.0, 2.0, 2.0]);
}

#[test]
fn training_mode_outputs_loss_and_gradients_match_pytorch_unsplit_and_on_2_threads() {
    let io = io();
    let labels = labels(&io["labels"]);
    let net = training_net();
    let tape = Tape::new();
    let out = net.forward(tape.constant(io["input"].clone())).unwrap();
    let diff = max_diff(&out.value(), &io["train.output"]);
    println!("training-mode outputs: max |Rust − PyTorch| = {diff:e}");
    assert!(diff < 1e-5, "{diff}");
    let loss = layers::cross_entropy(out, &labels).unwrap();
    let torch_loss = io["train.loss"].iter().next().unwrap();
    assert!((loss.value().item().unwrap() - torch_loss).abs() < 1e-5);
    let grads = tape.backward(loss).unwrap();
    for threads in [1, 2] {
        let outcome = forward_backward_step(net.as_ref(), &io["input"], &labels, threads, 0, 0).unwrap();
        println!(
            "training-mode loss on {threads} threads: |Rust − PyTorch| = {:e}",
            (outcome.loss as f32 - torch_loss).abs()
        );
        assert!((outcome.loss as f32 - torch_loss).abs() < 1e-5);
        let mut worst = 0.0f32;
        for (name, p) in net.named_parameters() {
            let torch = &io[&format!("train.grad.{name}")];
            let diff = max_diff(outcome.grads.param(p).unwrap(), torch);
            let tape_diff = max_diff(grads.param(p).unwrap(), torch);
            assert!(diff < 1e-5 && tape_diff < 1e-5, "{threads} threads, ∇{name}: {diff} (tape {tape_diff})");
            worst = worst.max(diff);
        }
        println!("training-mode gradients on {threads} threads: max |Rust − PyTorch| = {worst:e}");
    }
}

#[test]
fn running_statistics_and_parameters_after_3_sgd_steps_match_pytorch() {
    let io = io();
    let mut net = training_net();
    let mut sgd = Sgd::new(SgdConfig::new(0.1)).unwrap();
    for k in 0..3 {
        let (x, y) = (&io[&format!("step{k}.input")], labels(&io[&format!("step{k}.labels")]));
        let outcome = forward_backward_step(net.as_ref(), x, &y, 2, 0, k as u64).unwrap();
        sgd.step(net.named_parameters_mut(), &outcome.grads).unwrap();
    }
    let mut state: Vec<(String, Tensor<f32>)> =
        net.named_parameters().into_iter().map(|(n, p)| (n, p.value.clone())).collect();
    state.extend(net.named_buffers().into_iter().map(|(n, b)| (n, b.get())));
    let (mut worst_stats, mut worst_params) = (0.0f32, 0.0f32);
    for (name, value) in &state {
        let diff = max_diff(value, &io[&format!("after3.{name}")]);
        assert!(diff < 1e-5, "{name}: {diff}");
        if name.contains("running") || name.contains("num_batches") {
            worst_stats = worst_stats.max(diff);
        } else {
            worst_params = worst_params.max(diff);
        }
    }
    assert_eq!(state.iter().filter(|(n, _)| n.contains("running")).count(), 6);
    println!(
        "after 3 SGD steps on 2 threads: running statistics max |Rust − PyTorch| = {worst_stats:e}, parameters {worst_params:e}"
    );

    // A Rust-written state for `make_layers_fixture.py --check`: the trained network, and
    // its evaluation outputs beside it.
    net.set_training(false);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pytorch-layers");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rust_layers_net.safetensors");
    save_module(&net, &path).unwrap();
    let out = net.predict(&io["input"]).unwrap();
    let companion = [("output".to_string(), &out)];
    write_tensors(&dir.join("rust_layers_net.safetensors.out"), &companion, &Default::default()).unwrap();
    println!("wrote {} for make_layers_fixture.py --check", path.display());
}

#[test]
fn the_spec_writes_pytorchs_keys_and_shapes() {
    let torch = read_checkpoint::<f32>(&fixture("layers_net.safetensors")).unwrap();
    let arch: Arch = torch.metadata["arch"].parse().unwrap();
    let model = arch.build::<f32, _>([1, 16, 16], Some(10), &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pytorch-layers-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rust.safetensors");
    save_module(&model, &path).unwrap();
    let ours = read_checkpoint::<f32>(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let shapes = |c: &Checkpoint<f32>| -> Vec<(String, Vec<usize>)> {
        c.tensors.iter().map(|(n, t)| (n.clone(), t.shape().to_vec())).collect()
    };
    assert_eq!(shapes(&ours), shapes(&torch));
    assert_eq!(ours.tensors.len(), 23);
}
