//! A network from `--arch SPEC` against PyTorch's `nn.Sequential` of the same layers
//! (fixtures written by `tests/fixtures/make_spec_fixture.py`; the test does not run it):
//! the PyTorch `state_dict` loads into the spec's network under the same names, gives the
//! same outputs, loss and gradients, and the network writes exactly the keys and shapes
//! PyTorch has (what `load_state_dict(strict=True)` checks).

use std::path::{Path, PathBuf};

use autograd::Tape;
use layers::Module;
use layers::checkpoint::{read_checkpoint, save_module};
use models::arch::Arch;
use models::network::load_network;
use rand::SeedableRng;

/// A file of `tests/fixtures/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The largest element-wise difference of two tensors of one shape.
pub(crate) fn max_diff(a: &tensor::Tensor<f32>, b: &tensor::Tensor<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn pytorch_weights_give_pytorchs_outputs_loss_and_gradients() {
    let net = load_network(fixture("spec_net.safetensors")).unwrap();
    let io = read_checkpoint::<f32>(&fixture("spec_net_io.safetensors")).unwrap().tensors;
    assert_eq!(
        net.info.arch.to_string(),
        "conv(8,3,p=1) relu conv(16,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(32) relu linear(10)"
    );
    assert_eq!(net.info.input, [1, 28, 28]);

    let out = net.model.predict(&io["input"]).unwrap();
    let diff = max_diff(&out, &io["output"]);
    println!("outputs: max |Rust − PyTorch| = {diff:e}");
    assert!(diff < 1e-5, "{diff}");

    let labels: Vec<usize> = io["labels"].iter().map(|l| l as usize).collect();
    let tape = Tape::new();
    let loss = layers::cross_entropy(net.model.forward(tape.constant(io["input"].clone())).unwrap(), &labels).unwrap();
    let loss_value = loss.value().item().unwrap();
    assert!((loss_value - io["loss"].iter().next().unwrap()).abs() < 1e-5);
    let grads = tape.backward(loss).unwrap();
    for (name, p) in net.model.named_parameters() {
        let diff = max_diff(grads.param(p).unwrap(), &io[&format!("grad.{name}")]);
        println!("∇{name}: max |Rust − PyTorch| = {diff:e}");
        assert!(diff < 1e-5, "{name}: {diff}");
    }
}

#[test]
fn the_spec_writes_pytorchs_keys_and_shapes() {
    assert_spec_writes_the_fixtures_keys("spec_net.safetensors", [1, 28, 28]);
}

/// The network of the fixture `name`'s `arch`, built for `input` and saved, holds exactly
/// the fixture's (PyTorch's) keys with their shapes.
pub(crate) fn assert_spec_writes_the_fixtures_keys(name: &str, input: [usize; 3]) {
    let torch = read_checkpoint::<f32>(&fixture(name)).unwrap();
    let arch: Arch = torch.metadata["arch"].parse().unwrap();
    let model = arch.build::<f32, _>(input, Some(10), &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
    let dir = std::env::temp_dir().join(format!("pytorch-keys-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rust.safetensors");
    save_module(&model, &path).unwrap();
    let ours = read_checkpoint::<f32>(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let shapes = |c: &layers::checkpoint::Checkpoint<f32>| -> Vec<(String, Vec<usize>)> {
        c.tensors.iter().map(|(n, t)| (n.clone(), t.shape().to_vec())).collect()
    };
    assert_eq!(shapes(&ours), shapes(&torch));
}
