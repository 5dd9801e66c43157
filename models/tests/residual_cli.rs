//! A residual network (bias-free convolutions, batch norm, an identity block, a block with a
//! strided 1×1 projection, global average pooling) on a small IDX folder (12×12 images of 3
//! classes, written here) through the command: `lenet5 train --arch` trains, evaluates in
//! evaluation mode, predicts, and a run paused in-process and resumed by the command ends
//! bit for bit where the straight run ends, the blocks' running statistics included.

use crate::common::shapes::command_round_trip;

const SPEC: &str = "conv(8,3,p=1,bias=false) batchnorm relu \
                    res(conv(8,3,p=1,bias=false) batchnorm relu conv(8,3,p=1,bias=false) batchnorm) relu \
                    res(conv(16,3,s=2,p=1,bias=false) batchnorm relu conv(16,3,p=1,bias=false) batchnorm \
                    | conv(16,1,s=2,bias=false) batchnorm) relu gap flatten linear(3)";

#[test]
fn the_command_trains_evaluates_predicts_and_resumes_a_residual_spec() {
    let resumed = command_round_trip("residual-cli", SPEC);
    let names: Vec<&str> = resumed.iter().map(|(n, _)| n.as_str()).collect();
    // PyTorch's names inside the blocks; no bias for the bias-free convolutions.
    for name in [
        "1.running_var",
        "3.body.1.running_mean",
        "3.body.4.running_var",
        "5.body.0.weight",
        "5.shortcut.0.weight",
        "5.shortcut.1.running_var",
        "9.bias",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.ends_with("0.bias")), "{names:?}");
}
