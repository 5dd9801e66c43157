//! A spec with residual blocks (an identity shortcut and a projection, batch norm inside)
//! against PyTorch's module tree of it, `Residual` modules with `body` and `shortcut`
//! attributes (fixtures written by `tests/fixtures/make_residual_fixture.py`; the test does
//! not run it): the `state_dict` loads under the same names (`3.body.0.weight`,
//! `5.shortcut.1.running_var`, …), gives PyTorch's outputs in evaluation mode and its loss
//! and gradients in training mode, and the spec writes exactly PyTorch's keys and shapes.

use autograd::Tape;
use layers::Module;
use layers::checkpoint::read_checkpoint;
use models::network::load_network;

use crate::pytorch_spec::{fixture, max_diff};

#[test]
fn residual_blocks_give_pytorchs_outputs_loss_and_gradients() {
    let mut net = load_network(fixture("residual_net.safetensors")).unwrap();
    let io = read_checkpoint::<f32>(&fixture("residual_net_io.safetensors")).unwrap().tensors;
    assert!(net.info.arch.to_string().contains("res(conv(16,3,s=2,p=1) batchnorm relu conv(16,3,p=1) batchnorm | "));

    let out = net.model.predict(&io["input"]).unwrap();
    let diff = max_diff(&out, &io["output"]);
    println!("outputs (evaluation mode): max |Rust − PyTorch| = {diff:e}");
    assert!(diff < 1e-5, "{diff}");

    net.model.set_training(true);
    let labels: Vec<usize> = io["labels"].iter().map(|l| l as usize).collect();
    let tape = Tape::new();
    let loss = layers::cross_entropy(net.model.forward(tape.constant(io["input"].clone())).unwrap(), &labels).unwrap();
    let loss_value = loss.value().item().unwrap();
    assert!((loss_value - io["loss"].iter().next().unwrap()).abs() < 1e-5, "{loss_value}");
    let grads = tape.backward(loss).unwrap();
    let names: Vec<String> = net.model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"3.body.0.weight".to_string()) && names.contains(&"5.shortcut.1.bias".to_string()));
    for (name, p) in net.model.named_parameters() {
        let diff = max_diff(grads.param(p).unwrap(), &io[&format!("grad.{name}")]);
        println!("∇{name}: max |Rust − PyTorch| = {diff:e}");
        assert!(diff < 2e-5, "{name}: {diff}");
    }
}

#[test]
fn a_residual_spec_writes_pytorchs_keys_and_shapes() {
    crate::pytorch_spec::assert_spec_writes_the_fixtures_keys("residual_net.safetensors", [3, 12, 12]);
}
