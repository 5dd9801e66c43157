//! The `--arch` grammar: specs parse to layers and print back canonically; every error
//! names the layer's position and text, and the shapes when the layer does not fit; the
//! built network has `nn.Sequential`'s parameter names and the shapes the formulas give.

use layers::Module;
use models::arch::kinds::{Conv, Linear, MaxPool};
use models::arch::{Arch, LayerSpec, SpecError};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn build(spec: &str, input: [usize; 3], classes: usize) -> Result<Box<dyn Module<f32>>, SpecError> {
    spec.parse::<Arch>()?.build(input, Some(classes), &mut StdRng::seed_from_u64(0))
}

#[test]
fn specs_parse_and_print_canonically() {
    let arch: Arch = "conv(16, 3, p=1)  relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(10)"
        .parse()
        .unwrap();
    let layers = arch.layers();
    assert_eq!(layers[0], LayerSpec::new(Conv { out: 16, kernel: 3, stride: 1, padding: 1, bias: true }));
    assert_eq!(layers[2], LayerSpec::new(Conv { out: 32, kernel: 3, stride: 2, padding: 1, bias: true }));
    assert_eq!(layers[4], LayerSpec::new(MaxPool { kernel: 3, stride: 2, padding: 0 }));
    assert_eq!(layers[8], LayerSpec::new(Linear { out: 10 }));
    let canonical = arch.to_string();
    assert_eq!(
        canonical,
        "conv(16,3,p=1) relu conv(32,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(64) relu linear(10)"
    );
    assert_eq!(canonical.parse::<Arch>().unwrap(), arch);
    // Defaults: stride 1 for conv, the kernel for maxpool; spelled out or not, the same.
    assert_eq!("maxpool(2,s=2,p=0) conv(4,5,s=1)".parse::<Arch>().unwrap().to_string(), "maxpool(2) conv(4,5)");
    assert_eq!("lenet5".parse::<Arch>().unwrap(), Arch::lenet5());
    assert_eq!(Arch::lenet5().default_pad(), 2);
    assert_eq!("relu".parse::<Arch>().unwrap().default_pad(), 0);
}

#[test]
fn parse_errors_name_the_layer() {
    for (spec, position, text, needle) in [
        ("conv(8,3) rleu flatten", 2, "rleu", "did you mean relu"),
        ("conv(8) relu", 1, "conv(8)", "conv(OUT,K"),
        ("conv(8,3,q=1)", 1, "conv(8,3,q=1)", "unknown argument \"q\""),
        ("conv(8,x)", 1, "conv(8,x)", "\"x\" is not a whole number"),
        ("relu linear(0)", 2, "linear(0)", "at least 1"),
        ("relu(2)", 1, "relu(2)", "takes no arguments"),
        ("flatten linear(10", 2, "linear(10", "without its ')'"),
        ("conv(8,3,s=2,4)", 1, "conv(8,3,s=2,4)", "positional arguments come first"),
        ("lenet5 relu", 1, "lenet5", "stands alone"),
    ] {
        let e = spec.parse::<Arch>().unwrap_err();
        assert_eq!(e.position, Some(position), "{spec}: {e}");
        assert_eq!(e.text, text, "{spec}: {e}");
        assert!(e.to_string().contains(needle), "{spec}: {e}");
        assert!(e.to_string().starts_with(&format!("layer {position} \"{text}\": ")), "{e}");
    }
    assert!("   ".parse::<Arch>().unwrap_err().to_string().contains("no layer"));
}

#[test]
fn shape_errors_name_the_layer_and_the_shapes() {
    for (spec, input, position, needles) in [
        ("conv(4,5) relu maxpool(2) conv(8,5) flatten linear(10)", [1, 8, 8], 4, &["conv(8,5)", "[N, 4, 2, 2]"][..]),
        ("conv(4,3) linear(10)", [1, 8, 8], 2, &["linear(10)", "[N, 4, 6, 6]", "flatten"]),
        ("flatten conv(4,3)", [1, 8, 8], 2, &["conv(4,3)", "4-D", "[N, 64]"]),
        ("flatten linear(5)", [1, 8, 8], 2, &["linear(5)", "[N, 5]", "10 classes", "linear(10)"]),
        ("maxpool(9)", [3, 8, 8], 1, &["maxpool(9)", "[N, 3, 8, 8]"]),
    ] {
        let e = build(spec, input, 10).map(|_| ()).unwrap_err();
        assert_eq!(e.position, Some(position), "{spec}: {e}");
        for n in needles {
            assert!(e.to_string().contains(n), "{spec}: {e:?} does not mention {n:?}");
        }
    }
    // Convolution channels come from the input: a 3-channel input makes a [8, 3, 3, 3] weight.
    let net = build("conv(8,3) relu flatten linear(2)", [3, 5, 5], 2).unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        net.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    assert_eq!(
        shapes,
        vec![
            ("0.weight".into(), vec![8, 3, 3, 3]),
            ("0.bias".into(), vec![8]),
            ("3.weight".into(), vec![2, 8 * 3 * 3]),
            ("3.bias".into(), vec![2])
        ]
    );
}

/// Output sizes follow `⌊(H + 2p − k)/s⌋ + 1` for every layer of a spec with padding,
/// strides and overlapping windows, computed here by the formula.
#[test]
fn built_networks_have_the_formulas_shapes() {
    let out = |h: usize, k: usize, s: usize, p: usize| (h + 2 * p - k) / s + 1;
    for (h, w) in [(28, 28), (32, 30), (17, 23)] {
        let net =
            build("conv(6,3,p=1) relu conv(8,3,s=2,p=1) relu maxpool(3,s=2) flatten linear(7)", [2, h, w], 7).unwrap();
        let (h1, w1) = (out(h, 3, 1, 1), out(w, 3, 1, 1));
        let (h2, w2) = (out(h1, 3, 2, 1), out(w1, 3, 2, 1));
        let (h3, w3) = (out(h2, 3, 2, 0), out(w2, 3, 2, 0));
        let names: Vec<(String, Vec<usize>)> =
            net.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
        assert_eq!(names[4], ("6.weight".to_string(), vec![7, 8 * h3 * w3]), "{h}×{w}");
        assert_eq!(net.output_shape(&[5, 2, h, w]).unwrap(), vec![5, 7]);
    }
}
