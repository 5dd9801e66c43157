//! The spec's `gap` (global average pooling) and `conv(…,bias=false)`: parsing, canonical
//! printing, sizes, the built network's checkpoint keys (no `.bias` for a bias-free
//! convolution), one-line errors of the command (the parse errors are rows of
//! `arch_layers.rs`' table).

use layers::Module;
use models::arch::kinds::{Conv, Gap};
use models::arch::{Arch, LayerSpec};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::common::lenet5;

#[test]
fn gap_and_bias_free_convolutions_parse_and_print_canonically() {
    let arch: Arch = "conv(16,3,p=1,bias=false) conv(8,3,bias=true) conv(8,1,bias=False) gap".parse().unwrap();
    let layers = arch.layers();
    assert_eq!(layers[0], LayerSpec::new(Conv { out: 16, kernel: 3, stride: 1, padding: 1, bias: false }));
    assert_eq!(layers[1], LayerSpec::new(Conv { out: 8, kernel: 3, stride: 1, padding: 0, bias: true }));
    assert_eq!(layers[2], LayerSpec::new(Conv { out: 8, kernel: 1, stride: 1, padding: 0, bias: false }));
    assert_eq!(layers[3], LayerSpec::new(Gap));
    assert_eq!(arch.to_string(), "conv(16,3,p=1,bias=false) conv(8,3) conv(8,1,bias=false) gap");
    assert_eq!(arch.to_string().parse::<Arch>().unwrap(), arch);
}

#[test]
fn a_bias_free_network_has_no_bias_keys_and_gap_pools_any_size() {
    let spec = "conv(8,3,s=2,p=1,bias=false) batchnorm relu gap flatten linear(10)";
    let arch: Arch = spec.parse().unwrap();
    for input in [[3, 32, 32], [3, 17, 9], [1, 28, 28]] {
        let net = arch.build::<f32, _>(input, Some(10), &mut StdRng::seed_from_u64(0)).unwrap();
        let keys: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(keys, ["0.weight", "1.weight", "1.bias", "5.weight", "5.bias"], "{input:?}");
        assert_eq!(net.output_shape(&[2, input[0], input[1], input[2]]).unwrap(), vec![2, 10]);
    }
    let layers = arch.layers();
    let conv = layers[0].plan(&[3, 32, 32]).unwrap();
    assert_eq!(conv.parameters, 8 * 3 * 9, "no bias counted");
    assert_eq!(layers[3].plan(&[8, 16, 16]).unwrap().output, vec![8, 1, 1]);
}

/// The parse errors of `bias=` and `gap` are rows of `arch_layers`' table; this is the
/// planner's.
#[test]
fn gap_on_a_flat_input_names_the_layer() {
    let e = "flatten gap linear(10)".parse::<Arch>().unwrap().plan([3, 8, 8], Some(10)).unwrap_err();
    assert_eq!(e.position, Some(2), "{e}");
    assert!(e.to_string().contains("4-D"), "{e}");
}

#[test]
fn the_command_refuses_a_bad_argument_in_one_line_with_exit_2() {
    let run = lenet5(&["train", "--arch", "conv(8,3,bias=no) gap flatten linear(10)", "--max-steps", "0"]);
    run.assert_one_line_error("bias=no", 2, &["--arch", "layer 1", "bias=no"]);
}
