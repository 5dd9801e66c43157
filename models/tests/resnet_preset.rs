//! The presets `resnet20` … `resnet56`: He et al.'s CIFAR ResNets written as specs. Their
//! size against PyTorch's module tree of the same spec, their output on inputs of any
//! size, and the file a run writes by default.

use autograd::Tape;
use layers::Module;
use models::arch::Arch;
use models::outputs::default_weights;
use rand::SeedableRng;
use tensor::Tensor;

/// Parameters of ResNet-20 with option-B shortcuts, counted by PyTorch on the module tree
/// `tests/fixtures/make_residual_fixture.py` builds from the spec (the paper: 0.27 M).
pub(crate) const RESNET20_PARAMETERS_BY_PYTORCH: usize = 272_474;

#[test]
fn resnet20_has_pytorchs_parameter_count_and_its_blocks() {
    let arch: Arch = "resnet20".parse().unwrap();
    let plan = arch.plan([3, 32, 32], Some(10)).unwrap();
    assert_eq!(plan.parameters(), RESNET20_PARAMETERS_BY_PYTORCH);
    let model = arch.build::<f32, _>([3, 32, 32], Some(10), &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    let built: usize = model.named_parameters().iter().map(|(_, p)| p.value.numel()).sum();
    assert_eq!(built, plan.parameters());
    let text = arch.to_string();
    assert_eq!(text.matches("res(").count(), 9, "{text}");
    assert_eq!(text.matches(" | conv(").count(), 2, "two projections: {text}");
    assert!(!model.named_parameters().iter().any(|(n, _)| n.starts_with("0.bias")), "bias-free convolutions");
    assert!(model.named_parameters().iter().any(|(n, _)| n == "9.shortcut.0.weight"));
}

#[test]
fn every_depth_parses_and_takes_any_input_size() {
    for depth in [20, 32, 44, 56] {
        let arch: Arch = format!("resnet{depth}").parse().unwrap();
        let blocks = arch.to_string().matches("res(").count();
        assert_eq!(6 * blocks / 3 + 2, depth);
    }
    let arch: Arch = "resnet20".parse().unwrap();
    for input in [[3, 32, 32], [3, 40, 48], [1, 28, 28]] {
        let model = arch.build::<f32, _>(input, Some(10), &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
        let tape = Tape::no_grad();
        let x = Tensor::zeros(&[2, input[0], input[1], input[2]]).unwrap();
        assert_eq!(model.forward(tape.constant(x)).unwrap().shape(), [2, 10], "{input:?}");
    }
    let err = "resnet21".parse::<Arch>().unwrap_err().to_string();
    assert!(err.contains("did you mean resnet20"), "{err}");
}

#[test]
fn a_resnet_run_writes_its_presets_name() {
    let arch: Arch = "resnet32".parse().unwrap();
    assert_eq!(default_weights(&arch, std::path::Path::new(".")), std::path::Path::new("resnet32.safetensors"));
}
