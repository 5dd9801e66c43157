//! `GlobalAvgPool2d` (PyTorch's `AdaptiveAvgPool2d(1)`) and a convolution without bias:
//! shapes, errors, checkpoint keys, values against a conv whose bias is zero, and both
//! through `gradcheck_module` in f64.

use autograd::GradcheckConfig;
use layers::gradcheck::gradcheck_module;
use layers::{Conv2d, Conv2dConfig, Flatten, GlobalAvgPool2d, LayerError, Linear, Module, ReLU, Sequential, Tape};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn global_average_pooling_gives_one_mean_per_map() {
    let x = random(&[2, 3, 5, 4], 1);
    let tape = Tape::new();
    let y = Module::<f64>::forward(&GlobalAvgPool2d, tape.constant(x.clone())).unwrap().value();
    assert_eq!(y.shape(), &[2, 3, 1, 1]);
    for (i, map) in x.to_vec().chunks(20).enumerate() {
        let mean = map.iter().sum::<f64>() / 20.0;
        assert!((y.to_vec()[i] - mean).abs() < 1e-12, "map {i}");
    }
    assert_eq!(GlobalAvgPool2d.output_shape(&[7, 16, 8, 8]).unwrap(), vec![7, 16, 1, 1]);
    for bad in [&[2, 3][..], &[2, 3, 0, 4], &[1, 2, 3]] {
        let e = GlobalAvgPool2d.output_shape(bad).unwrap_err();
        assert!(matches!(&e, LayerError::InputShape { got, .. } if got == bad), "{e}");
    }
}

#[test]
fn a_resnet_head_passes_gradcheck() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut net = Sequential::<f64>::new()
        .with(Conv2d::new(Conv2dConfig::new(2, 3, 3).padding(1).bias(false), &mut rng).unwrap())
        .with(ReLU)
        .with(GlobalAvgPool2d)
        .with(Flatten)
        .with(Linear::new(3, 4, &mut rng).unwrap());
    let report = gradcheck_module(&mut net, &random(&[2, 2, 5, 5], 3), &GradcheckConfig::default()).unwrap();
    let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "0.weight", "4.weight", "4.bias"]);
    for t in &report.tensors {
        assert!(t.max_rel_error < 1e-5, "{t:?}");
    }
}

#[test]
fn a_convolution_without_bias_has_no_bias_key_and_equals_one_with_a_zero_bias() {
    let config = Conv2dConfig::new(3, 4, 3).stride(2).padding(1);
    let plain = Conv2d::<f64>::new(config.bias(false), &mut StdRng::seed_from_u64(4)).unwrap();
    let names: Vec<String> = plain.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
    let mut zero = Conv2d::<f64>::new(config, &mut StdRng::seed_from_u64(5)).unwrap();
    zero.weight.value = plain.weight.value.clone();
    zero.bias.as_mut().unwrap().value = Tensor::zeros(&[4]).unwrap();
    let x = random(&[2, 3, 7, 6], 6);
    let tape = Tape::new();
    let a = plain.forward(tape.constant(x.clone())).unwrap().value();
    let b = zero.forward(tape.constant(x)).unwrap().value();
    assert_eq!(a.shape(), b.shape());
    assert_eq!(a.to_vec(), b.to_vec());
    assert!(format!("{plain:?}").contains("no bias"), "{plain:?}");
}
