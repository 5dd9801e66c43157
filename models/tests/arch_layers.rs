//! The spec tokens of batch norm, dropout, average pooling and the squashing activations,
//! and the `lenet5-1998` preset: parsing, canonical printing, errors naming the layer, and
//! the built network's layers, names, shapes and modes.

use layers::Module;
use models::arch::kinds::{AvgPool, BatchNorm, Dropout, LeakyRelu, MaxPool, Relu, Sigmoid, Tanh};
use models::arch::{Arch, LENET5_1998, LayerSpec, SpecError};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn build(spec: &str, input: [usize; 3], classes: usize) -> Result<Box<dyn Module<f32>>, SpecError> {
    spec.parse::<Arch>()?.build(input, Some(classes), &mut StdRng::seed_from_u64(0))
}

#[test]
fn new_tokens_parse_and_print_canonically() {
    let arch: Arch =
        "batchnorm dropout( 0.25 ) avgpool(3, s=2, p=1) tanh sigmoid leakyrelu leakyrelu(0.2) avgpool(2,s=2,p=0)"
            .parse()
            .unwrap();
    let layers = arch.layers();
    assert_eq!(
        layers,
        &[
            LayerSpec::new(BatchNorm),
            LayerSpec::new(Dropout { p: 0.25 }),
            LayerSpec::new(AvgPool { kernel: 3, stride: 2, padding: 1 }),
            LayerSpec::new(Tanh),
            LayerSpec::new(Sigmoid),
            LayerSpec::new(LeakyRelu { slope: 0.01 }),
            LayerSpec::new(LeakyRelu { slope: 0.2 }),
            LayerSpec::new(AvgPool { kernel: 2, stride: 2, padding: 0 }),
        ]
    );
    let canonical = arch.to_string();
    assert_eq!(
        canonical,
        "batchnorm dropout(0.25) avgpool(3,s=2,p=1) tanh sigmoid leakyrelu leakyrelu(0.2) avgpool(2)"
    );
    assert_eq!(canonical.parse::<Arch>().unwrap(), arch);
    assert_eq!(
        "leakyrelu(0.01) dropout(1) dropout(0)".parse::<Arch>().unwrap().to_string(),
        "leakyrelu dropout(1) dropout(0)"
    );
}

#[test]
fn new_tokens_errors_name_the_layer() {
    for (spec, position, text, needle) in [
        ("relu dropout", 2, "dropout", "dropout(P)"),
        ("dropout(1.5)", 1, "dropout(1.5)", "outside [0, 1]"),
        ("dropout(-0.1)", 1, "dropout(-0.1)", "outside [0, 1]"),
        ("dropout(x)", 1, "dropout(x)", "\"x\" is not a number"),
        ("dropout(nan)", 1, "dropout(nan)", "is not a number"),
        ("dropout(0.5,s=2)", 1, "dropout(0.5,s=2)", "unknown argument \"s\""),
        ("batchnorm(8)", 1, "batchnorm(8)", "takes no arguments"),
        ("tanh(1)", 1, "tanh(1)", "takes no arguments"),
        ("relu leakyrelu(0.1,0.2)", 2, "leakyrelu(0.1,0.2)", "leakyrelu(SLOPE)"),
        ("leakyrelu(inf)", 1, "leakyrelu(inf)", "is not a number"),
        ("avgpool(0)", 1, "avgpool(0)", "at least 1"),
        ("avgpool(2.5)", 1, "avgpool(2.5)", "\"2.5\" is not a whole number"),
        ("avgpool", 1, "avgpool", "avgpool(K[,s=S][,p=P])"),
        ("tahn", 1, "tahn", "did you mean tanh"),
        ("conv(8,3) batchnrom", 2, "batchnrom", "did you mean batchnorm"),
        ("lenet5-1998 relu", 1, "lenet5-1998", "stands alone"),
        // `bias=false` and `gap` (issue 23).
        ("conv(8,3,bias=maybe)", 1, "conv(8,3,bias=maybe)", "bias=maybe: bias is true or false"),
        ("conv(8,3,bias=0)", 1, "conv(8,3,bias=0)", "bias=0: bias is true or false"),
        ("conv(8,3,s=true)", 1, "conv(8,3,s=true)", "\"true\" is not a whole number"),
        ("relu maxpool(2,bias=false)", 2, "maxpool(2,bias=false)", "unknown argument \"bias\""),
        ("gap(1)", 1, "gap(1)", "takes no arguments"),
        ("relu gpa", 2, "gpa", "did you mean gap"),
    ] {
        let e = spec.parse::<Arch>().unwrap_err();
        assert_eq!(e.position, Some(position), "{spec}: {e}");
        assert_eq!(e.text, text, "{spec}: {e}");
        assert!(e.to_string().contains(needle), "{spec}: {e}");
    }
}

#[test]
fn shape_errors_of_the_new_layers_name_the_layer_and_the_shapes() {
    for (spec, input, position, needles) in [
        ("flatten avgpool(2) linear(10)", [1, 8, 8], 2, &["avgpool(2)", "4-D", "[N, 64]"][..]),
        ("avgpool(9) flatten linear(10)", [3, 8, 8], 1, &["avgpool(9)", "[N, 3, 8, 8]"]),
        ("avgpool(2,p=2) flatten linear(10)", [3, 8, 8], 1, &["avgpool(2,p=2)", "half the kernel"]),
    ] {
        let e = build(spec, input, 10).map(|_| ()).unwrap_err();
        assert_eq!(e.position, Some(position), "{spec}: {e}");
        for n in needles {
            assert!(e.to_string().contains(n), "{spec}: {e:?} does not mention {n:?}");
        }
    }
}

#[test]
fn batchnorm_is_1d_or_2d_by_the_input_with_pytorchs_names_and_shapes() {
    let net = build(
        "conv(4,3,p=1) batchnorm relu avgpool(2) flatten linear(6) batchnorm dropout(0.5) linear(3)",
        [2, 6, 6],
        3,
    )
    .unwrap();
    let params: Vec<(String, Vec<usize>)> =
        net.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    assert_eq!(
        params,
        [
            ("0.weight", vec![4, 2, 3, 3]),
            ("0.bias", vec![4]),
            ("1.weight", vec![4]),
            ("1.bias", vec![4]),
            ("5.weight", vec![6, 36]),
            ("5.bias", vec![6]),
            ("6.weight", vec![6]),
            ("6.bias", vec![6]),
            ("8.weight", vec![3, 6]),
            ("8.bias", vec![3]),
        ]
        .map(|(n, s)| (n.to_string(), s))
    );
    let buffers: Vec<(String, Vec<usize>)> = net.named_buffers().into_iter().map(|(n, b)| (n, b.shape())).collect();
    assert_eq!(
        buffers,
        [
            ("1.running_mean", vec![4]),
            ("1.running_var", vec![4]),
            ("1.num_batches_tracked", vec![]),
            ("6.running_mean", vec![6]),
            ("6.running_var", vec![6]),
            ("6.num_batches_tracked", vec![]),
        ]
        .map(|(n, s)| (n.to_string(), s))
    );
    let described = net.describe();
    for needle in ["BatchNorm2d(4", "BatchNorm1d(6", "Dropout(p=0.5, layer id 7)", "AvgPool2d(2×2, s=2"] {
        assert!(described.contains(needle), "{described} does not mention {needle}");
    }
    assert_eq!(net.output_shape(&[5, 2, 6, 6]).unwrap(), vec![5, 3]);
    let flat = build("flatten relu batchnorm linear(2)", [1, 2, 2], 2).unwrap();
    assert!(flat.describe().contains("BatchNorm1d(4"), "{}", flat.describe());
}

#[test]
fn the_lenet5_1998_preset_is_tanh_and_average_subsampling_on_28x28() {
    let arch: Arch = "lenet5-1998".parse().unwrap();
    assert_eq!(arch, LENET5_1998.parse::<Arch>().unwrap());
    assert_eq!(arch.to_string(), LENET5_1998);
    assert_eq!(arch.default_pad(), 0);
    let layers = arch.layers();
    assert_eq!(layers.iter().filter(|l| l.is::<Tanh>()).count(), 4);
    assert_eq!(layers.iter().filter(|l| l.get() == Some(&AvgPool { kernel: 2, stride: 2, padding: 0 })).count(), 2);
    assert!(!layers.iter().any(|l| l.is::<Relu>() || l.is::<MaxPool>()));
    let net = arch.build::<f32, _>([1, 28, 28], Some(10), &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(net.output_shape(&[3, 1, 28, 28]).unwrap(), vec![3, 10]);
    // LeNet-5's parameter count: 156 + 2 416 + 48 120 + 10 164 + 850.
    assert_eq!(net.num_parameters(), 61_706);
}

#[test]
fn modes_reach_the_new_layers_through_the_built_network() {
    let mut net = build("flatten linear(8) batchnorm dropout(0.5) linear(2)", [1, 3, 3], 2).unwrap();
    let x = tensor::Tensor::<f32>::rand_uniform(&[4, 1, 3, 3], -1.0, 1.0, &mut StdRng::seed_from_u64(1)).unwrap();
    // Training mode: dropout needs the step's context (the training stack gives one).
    let tape = autograd::Tape::new();
    let Err(e) = net.forward(tape.constant(x.clone())) else { panic!("dropout without a context") };
    assert!(e.to_string().contains("step context"), "{e}");
    // Evaluation mode: deterministic, each sample on its own.
    net.set_training(false);
    let all = net.predict(&x).unwrap();
    let one = net.predict(&x.narrow(0, 2, 1).unwrap().to_contiguous()).unwrap();
    assert_eq!(all.narrow(0, 2, 1).unwrap().to_vec(), one.to_vec());
}
