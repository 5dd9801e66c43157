//! Each module's forward pass against a naive reference written here as plain loops
//! (direct convolution, direct pooling, `x·Wᵀ + b`, `max(x, 0)`, row-major flatten), on
//! random geometries; Sequential's shape inference against the shapes the forward pass
//! actually produces; parameter names, layouts and configuration/shape errors.

use crate::common;

use autograd::Tape;
use autograd::strategies::{self, GeometryBounds, conv_geometry, pool_geometry};
use common::*;
use layers::{Conv2d, Conv2dConfig, Flatten, Init, LayerError, Linear, MaxPool2d, Module, ReLU, Sequential};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, Window2d};

/// Geometries with non-square kernels up to 4, strides up to 3, padding up to 2.
fn bounds() -> GeometryBounds {
    GeometryBounds { batch: 1..=2, channels: 1..=3, size: 1..=7, kernel: 1..=4, stride: 1..=3, padding: 0..=2 }
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A convolution layer for `window` whose weight and bias are drawn from `seed` (uniform in
/// ±1, so that the test's values do not depend on the initialiser).
fn conv_layer<T: Element>(c: usize, f: usize, window: Window2d, bias: bool, seed: u64) -> Conv2d<T> {
    let config = Conv2dConfig { in_channels: c, out_channels: f, window, bias, init: Init::default() };
    let mut conv = Conv2d::new(config, &mut rng(seed)).unwrap();
    conv.weight.value = random_tensor(conv.weight.shape(), seed + 1);
    if let Some(b) = conv.bias.as_mut() {
        b.value = random_tensor(&[f], seed + 2);
    }
    conv
}

/// Runs a module on a no-grad tape and returns the output's shape and elements.
fn run<T: Element, M: Module<T> + ?Sized>(module: &M, x: &Tensor<T>) -> (Vec<usize>, Vec<f64>) {
    let tape = Tape::no_grad();
    let y = module.forward(tape.constant(x.clone())).unwrap();
    (y.shape(), to_f64(&y.value()))
}

proptest! {
    #![proptest_config(config(48))]

    /// Conv2d (f64) equals the 7-loop direct convolution: any kernel (non-square), stride,
    /// padding, with and without bias; weight layout `[out, in, kh, kw]`.
    #[test]
    fn conv2d_matches_direct_convolution(case in conv_geometry(bounds()), bias in any::<bool>(), seed in 0u64..1000) {
        let [_, c, _, _] = case.input[..] else { unreachable!() };
        let conv = conv_layer::<f64>(c, case.out_channels, case.window, bias, seed);
        prop_assert_eq!(conv.weight.shape(), &[case.out_channels, c, case.window.kernel[0], case.window.kernel[1]][..]);
        let x = random_tensor::<f64>(&case.input, seed + 3);
        let (shape, got) = run(&conv, &x);
        let b = conv.bias.as_ref().map(|b| b.value.to_vec());
        let (want_shape, want) =
            conv2d_naive(&x.to_vec(), &case.input, &conv.weight.value.to_vec(), conv.weight.shape(), b.as_deref(), &case.window);
        prop_assert_eq!(&shape, &want_shape);
        prop_assert_eq!(Module::<f64>::output_shape(&conv, &case.input).unwrap(), want_shape);
        prop_close(&got, &want, 1e-12, 1e-12)?;
    }

    /// MaxPool2d equals the direct pooling loop, with overlapping windows and padding up to
    /// half the kernel (padding counts as −∞, never as 0).
    #[test]
    fn max_pool2d_matches_direct_pooling(case in pool_geometry(bounds()), seed in 0u64..1000) {
        let pool = MaxPool2d::with_window(case.window).unwrap();
        // Shift the input below zero so that a padded tap read as 0 would win the max.
        let x = random_tensor::<f64>(&case.input, seed).map(|v| v - 2.0);
        let (shape, got) = run(&pool, &x);
        let (want_shape, want) = max_pool2d_naive(&x.to_vec(), &case.input, &case.window);
        prop_assert_eq!(&shape, &want_shape);
        prop_assert_eq!(Module::<f64>::output_shape(&pool, &case.input).unwrap(), want_shape);
        prop_assert_eq!(got, want); // a max is exact
    }

    /// Linear equals `z = x·Wᵀ + b` by loops, with `W: [out, in]`, with and without bias.
    #[test]
    fn linear_matches_naive_loop(n in 1usize..=5, inp in 1usize..=9, out in 1usize..=7, bias in any::<bool>(), seed in 0u64..1000) {
        let mut lin = Linear::<f64>::with_options(inp, out, bias, Init::default(), &mut rng(seed)).unwrap();
        prop_assert_eq!(lin.weight.shape(), &[out, inp][..]);
        lin.weight.value = random_tensor(&[out, inp], seed + 1);
        let x = random_tensor::<f64>(&[n, inp], seed + 2);
        let (shape, got) = run(&lin, &x);
        let b = lin.bias.as_ref().map(|b| b.value.to_vec());
        let want = linear_naive(&x.to_vec(), n, &lin.weight.value.to_vec(), out, inp, b.as_deref());
        prop_assert_eq!(shape, vec![n, out]);
        prop_close(&got, &want, 1e-12, 1e-12)?;
    }

    /// ReLU is `max(x, 0)` element-wise and keeps the shape.
    #[test]
    fn relu_matches_max_with_zero(x in strategies::shape(1..=4, 1..=4).prop_flat_map(strategies::tensor::<f64>)) {
        let (shape, got) = run(&ReLU, &x);
        prop_assert_eq!(&shape[..], x.shape());
        let want: Vec<f64> = x.iter().map(|v| if v > 0.0 { v } else { 0.0 }).collect();
        prop_assert_eq!(got, want);
    }

    /// Flatten keeps the batch axis and the row-major order of the rest.
    #[test]
    fn flatten_is_row_major(x in strategies::shape(1..=4, 1..=4).prop_flat_map(strategies::tensor::<f64>)) {
        let (shape, got) = run(&Flatten, &x);
        let rest: usize = x.shape()[1..].iter().product();
        prop_assert_eq!(shape, vec![x.shape()[0], rest]);
        prop_assert_eq!(got, x.to_vec());
    }
}

/// The same comparisons in f32, on a fixed geometry: a 3×2 kernel, stride (2, 1),
/// padding (1, 2), with bias.
#[test]
fn conv2d_f32_matches_direct_convolution() {
    let window = Window2d { kernel: [3, 2], stride: [2, 1], padding: [1, 2] };
    let conv = conv_layer::<f32>(3, 5, window, true, 7);
    let x = random_tensor::<f32>(&[2, 3, 7, 6], 8);
    let (shape, got) = run(&conv, &x);
    let (want_shape, want) = conv2d_naive(
        &to_f64(&x),
        x.shape(),
        &to_f64(&conv.weight.value),
        conv.weight.shape(),
        Some(&to_f64(&conv.bias.as_ref().unwrap().value)),
        &window,
    );
    // oh = ⌊(7 + 2 − 3)/2⌋ + 1 = 4, ow = ⌊(6 + 4 − 2)/1⌋ + 1 = 9.
    assert_eq!(want_shape, vec![2, 5, 4, 9]);
    assert_eq!(shape, want_shape);
    assert_close(&got, &want, 1e-5, 1e-5);
}

/// A hand-sized case: a 1-channel 3×3 image, a 2×2 kernel of ones, bias 0.5, padding 1,
/// stride 2: each output is the sum of the image entries under the window, plus 0.5.
#[test]
fn conv2d_hand_computed_example() {
    let window = Window2d::square(2, 2, 1);
    let config = Conv2dConfig::new(1, 1, 2).stride(2).padding(1);
    assert_eq!(config.window, window);
    let mut conv = Conv2d::<f64>::new(config, &mut rng(0)).unwrap();
    conv.weight.value = Tensor::ones(&[1, 1, 2, 2]).unwrap();
    conv.bias.as_mut().unwrap().value = Tensor::from_vec(&[1], vec![0.5]).unwrap();
    // x = [[1 2 3] [4 5 6] [7 8 9]], padded to 5×5; windows start at rows/cols −1 and 1:
    // (−1,−1): 1 → 1.5; (−1,1): 2+3 → 5.5; (1,−1): 4+7 → 11.5; (1,1): 5+6+8+9 → 28.5.
    let x = Tensor::from_vec(&[1, 1, 3, 3], (1..=9).map(f64::from).collect()).unwrap();
    let (shape, got) = run(&conv, &x);
    assert_eq!(shape, vec![1, 1, 2, 2]);
    assert_eq!(got, vec![1.5, 5.5, 11.5, 28.5]);
}

/// LeNet's usual pooling and the overlapping 3×3/2 pooling with padding 1, by hand.
#[test]
fn max_pool2d_overlapping_hand_example() {
    // x = 0..16 on a 4×4 grid, negated so that the padding (−∞, not 0) matters:
    // rows [0 −1 −2 −3] [−4 −5 −6 −7] [−8 −9 −10 −11] [−12 −13 −14 −15].
    let x = Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(|v| -f64::from(v)).collect()).unwrap();
    // 3×3 windows, stride 2, padding 1: output ⌊(4 + 2 − 3)/2⌋ + 1 = 2 per axis; windows
    // start at −1 and 1: rows {0,1}×cols {0,1} → 0; rows {0,1}×cols {1,2,3} → −1;
    // rows {1,2,3}×cols {0,1} → −4; rows {1,2,3}×cols {1,2,3} → −5.
    let pool = MaxPool2d::with_window(Window2d::square(3, 2, 1)).unwrap();
    assert_eq!(run(&pool, &x), (vec![1, 1, 2, 2], vec![0.0, -1.0, -4.0, -5.0]));
    // 2×2/2: the top-left of each block.
    let pool = MaxPool2d::new(2, 2).unwrap();
    assert_eq!(run(&pool, &x), (vec![1, 1, 2, 2], vec![0.0, -2.0, -8.0, -10.0]));
}

/// Flatten after a convolution (whose output is a permuted, non-contiguous view) still
/// gives the row-major order of the logical N×C×H×W output.
#[test]
fn flatten_after_conv2d_is_row_major_nchw() {
    let window = Window2d::square(3, 1, 1);
    let conv = conv_layer::<f64>(2, 3, window, true, 11);
    let net = Sequential::new().with(conv_layer::<f64>(2, 3, window, true, 11)).with(Flatten);
    let x = random_tensor::<f64>(&[2, 2, 4, 5], 12);
    let (shape, got) = run(&net, &x);
    let b = conv.bias.as_ref().unwrap().value.to_vec();
    let (want_shape, want) =
        conv2d_naive(&x.to_vec(), x.shape(), &conv.weight.value.to_vec(), conv.weight.shape(), Some(&b), &window);
    assert_eq!(want_shape, vec![2, 3, 4, 5]);
    assert_eq!(shape, vec![2, 60]);
    assert_close(&got, &want, 1e-12, 1e-12);
}

/// A chain through every module type, as layers of index loops: Sequential's forward is
/// the composition of the references.
#[test]
fn sequential_matches_composed_references() {
    let (c1, c2) = (Window2d::square(3, 1, 1), Window2d { kernel: [2, 3], stride: [2, 2], padding: [0, 1] });
    let pool = Window2d::square(3, 2, 1);
    let (conv1, conv2) = (conv_layer::<f64>(3, 4, c1, true, 21), conv_layer::<f64>(4, 2, c2, false, 22));
    let mut lin = Linear::<f64>::new(2 * 2 * 2, 3, &mut rng(23)).unwrap();
    lin.weight.value = random_tensor(&[3, 8], 24);
    let (w1, b1, w2) =
        (conv1.weight.value.to_vec(), conv1.bias.as_ref().unwrap().value.to_vec(), conv2.weight.value.to_vec());
    let (wl, bl) = (lin.weight.value.to_vec(), lin.bias.as_ref().unwrap().value.to_vec());
    let net = Sequential::new()
        .with(conv1)
        .with(ReLU)
        .with(MaxPool2d::with_window(pool).unwrap())
        .with(conv2)
        .with(ReLU)
        .with(Flatten)
        .with(lin);
    let x = random_tensor::<f64>(&[2, 3, 7, 6], 25);
    let (shape, got) = run(&net, &x);

    let relu = |v: Vec<f64>| v.into_iter().map(|z| z.max(0.0)).collect::<Vec<_>>();
    let (s, a) = conv2d_naive(&x.to_vec(), x.shape(), &w1, &[4, 3, 3, 3], Some(&b1), &c1);
    let (s, a) = max_pool2d_naive(&relu(a), &s, &pool);
    let (s, a) = conv2d_naive(&a, &s, &w2, &[2, 4, 2, 3], None, &c2);
    // conv1: 7×6 → 7×6; pool: ⌊(7+2−3)/2⌋+1 = 4, ⌊(6+2−3)/2⌋+1 = 3; conv2: ⌊(4−2)/2⌋+1 = 2,
    // ⌊(3+2−3)/2⌋+1 = 2.
    assert_eq!(s, vec![2, 2, 2, 2]);
    let want = linear_naive(&relu(a), 2, &wl, 3, 8, Some(&bl));
    assert_eq!(shape, vec![2, 3]);
    assert_close(&got, &want, 1e-12, 1e-12);
}

/// A random stack of conv / ReLU / pool modules and a random input shape; some stacks
/// (roughly one in eight) shrink the input below a kernel somewhere (the error path).
fn random_stack() -> impl Strategy<Value = (Vec<usize>, Vec<(u8, Window2d, usize)>)> {
    let layer = (0u8..3, 1usize..=4, 1usize..=4, 1usize..=3, 0usize..=1, 1usize..=3);
    (1usize..=2, 1usize..=3, 3usize..=9, 3usize..=9, proptest::collection::vec(layer, 1..=4)).prop_map(
        |(n, c, h, w, layers)| {
            let layers = layers
                .into_iter()
                .map(|(kind, kh, kw, s, p, f)| {
                    let p = if kind == 2 { p.min(kh / 2).min(kw / 2) } else { p };
                    (kind, Window2d { kernel: [kh, kw], stride: [s, s], padding: [p, p] }, f)
                })
                .collect();
            (vec![n, c, h, w], layers)
        },
    )
}

proptest! {
    #![proptest_config(config(48))]

    /// For random stacks, `shapes()` lists the shape after each layer and `output_shape`
    /// the last; both match the forward pass, or both fail with an InputShape error.
    #[test]
    fn sequential_output_shape_matches_forward((input, stack) in random_stack(), seed in 0u64..100) {
        let mut net = Sequential::<f64>::new();
        let mut channels = input[1];
        for (kind, window, f) in &stack {
            match kind {
                0 => {
                    net.push(conv_layer::<f64>(channels, *f, *window, true, seed));
                    channels = *f;
                }
                1 => net.push(ReLU),
                _ => net.push(MaxPool2d::with_window(*window).unwrap()),
            }
        }
        net.push(Flatten);
        let x = random_tensor::<f64>(&input, seed);
        let tape = Tape::no_grad();
        let forward = net.forward(tape.constant(x));
        match (net.shapes(&input), net.output_shape(&input)) {
            (Ok(shapes), Ok(out)) => {
                prop_assert_eq!(shapes.len(), net.layers().len());
                prop_assert_eq!(shapes.last().unwrap(), &out);
                let y = forward.unwrap();
                prop_assert_eq!(y.shape(), out);
                // Each intermediate shape, by running the layers one at a time.
                let tape = Tape::no_grad();
                let mut v = tape.constant(random_tensor::<f64>(&input, seed));
                for (layer, shape) in net.layers().zip(&shapes) {
                    v = layer.forward(v).unwrap();
                    prop_assert_eq!(&v.shape(), shape);
                }
            }
            (Err(e1), Err(e2)) => {
                prop_assert!(matches!(e1, LayerError::InputShape { .. }), "{:?}", e1);
                prop_assert_eq!(&e1, &e2);
                let e3 = forward.err().expect("forward must fail too");
                prop_assert_eq!(e3, e1);
            }
            (a, b) => prop_assert!(false, "shapes {:?} and output_shape {:?} disagree", a, b),
        }
    }
}

/// Sequential names parameters `<index>.<name>` (PyTorch's `nn.Sequential` keys; the
/// parameter-free layers keep their index), and counts every scalar.
#[test]
fn sequential_names_and_counts_parameters() {
    let mut r = rng(1);
    let mut net = Sequential::<f32>::new()
        .with(Conv2d::new(Conv2dConfig::new(3, 4, 3).padding(1), &mut r).unwrap())
        .with(ReLU)
        .with(MaxPool2d::new(2, 2).unwrap())
        .with(Conv2d::new(Conv2dConfig::new(4, 6, 3).kernel(2, 3).bias(false), &mut r).unwrap())
        .with(Flatten)
        .with(Linear::new(6 * 3 * 2, 10, &mut r).unwrap());
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "5.weight", "5.bias"]);
    let shapes: Vec<Vec<usize>> = net.parameters().iter().map(|p| p.shape().to_vec()).collect();
    assert_eq!(shapes, vec![vec![4, 3, 3, 3], vec![4], vec![6, 4, 2, 3], vec![10, 36], vec![10]]);
    assert_eq!(net.num_parameters(), 108 + 4 + 144 + 360 + 10);
    let mut_names: Vec<String> = net.named_parameters_mut().into_iter().map(|(n, _)| n).collect();
    assert_eq!(mut_names, names);
    // 8×8 → conv pad 1: 8×8 → pool: 4×4 → conv 2×3: 3×2 → 36 features.
    assert_eq!(net.output_shape(&[2, 3, 8, 8]).unwrap(), vec![2, 10]);
    // An empty Sequential is the identity.
    let empty = Sequential::<f32>::new();
    assert_eq!(empty.output_shape(&[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!(run(&empty, &Tensor::<f32>::ones(&[2, 3]).unwrap()), (vec![2, 3], vec![1.0; 6]));
}

/// Parameters are distinct objects with distinct ids: a gradient is found per parameter.
#[test]
fn parameters_have_distinct_ids() {
    let mut r = rng(2);
    let net = Sequential::<f64>::new()
        .with(Conv2d::new(Conv2dConfig::new(1, 2, 2), &mut r).unwrap())
        .with(Flatten)
        .with(Linear::new(2 * 2 * 2, 2, &mut r).unwrap());
    let mut ids: Vec<_> = net.parameters().iter().map(|p| p.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// Wrong input shapes give InputShape errors naming the module and the shape, from both
/// `forward` and `output_shape`.
#[test]
fn wrong_input_shapes_are_input_shape_errors() {
    let mut r = rng(3);
    let conv = Conv2d::<f64>::new(Conv2dConfig::new(3, 4, 5), &mut r).unwrap();
    let lin = Linear::<f64>::new(10, 2, &mut r).unwrap();
    let pool = MaxPool2d::new(3, 1).unwrap();
    let cases: Vec<(&dyn Module<f64>, Vec<usize>, &str)> = vec![
        (&conv, vec![1, 2, 8, 8], "Conv2d"), // wrong channel count
        (&conv, vec![1, 3, 4, 8], "Conv2d"), // kernel 5 taller than 4
        (&conv, vec![3, 8, 8], "Conv2d"),    // rank 3
        (&lin, vec![2, 9], "Linear"),
        (&lin, vec![2, 2, 5], "Linear"),
        (&pool, vec![1, 1, 2, 5], "MaxPool2d"),
        (&pool, vec![1, 5, 5], "MaxPool2d"),
        (&Flatten, vec![], "Flatten"),
    ];
    for (module, shape, name) in cases {
        let err = module.output_shape(&shape).unwrap_err();
        match &err {
            LayerError::InputShape { module, got, .. } => {
                assert!(module.contains(name), "{module:?} should name {name}");
                assert_eq!(got, &shape);
            }
            other => panic!("{name} on {shape:?}: expected InputShape, got {other:?}"),
        }
        let tape = Tape::no_grad();
        let x = tape.constant(Tensor::zeros(&shape).unwrap());
        assert_eq!(module.forward(x).err(), Some(err), "forward and output_shape must agree for {name} {shape:?}");
    }
}

/// Configurations outside their domain are Config errors.
#[test]
fn invalid_module_configs_are_config_errors() {
    let mut r = rng(4);
    let is_config = |e: LayerError| matches!(e, LayerError::Config { .. });
    assert!(is_config(Conv2d::<f32>::new(Conv2dConfig::new(0, 4, 3), &mut r).err().unwrap()));
    assert!(is_config(Conv2d::<f32>::new(Conv2dConfig::new(3, 0, 3), &mut r).err().unwrap()));
    assert!(is_config(Conv2d::<f32>::new(Conv2dConfig::new(3, 4, 0), &mut r).err().unwrap()));
    assert!(is_config(Conv2d::<f32>::new(Conv2dConfig::new(3, 4, 3).kernel(3, 0), &mut r).err().unwrap()));
    assert!(is_config(Conv2d::<f32>::new(Conv2dConfig::new(3, 4, 3).stride(0), &mut r).err().unwrap()));
    assert!(is_config(Linear::<f32>::new(0, 4, &mut r).err().unwrap()));
    assert!(is_config(Linear::<f32>::new(4, 0, &mut r).err().unwrap()));
    assert!(is_config(MaxPool2d::new(0, 1).unwrap_err()));
    assert!(is_config(MaxPool2d::new(2, 0).unwrap_err()));
    // Padding over half the kernel: 2·2 > 3.
    assert!(is_config(MaxPool2d::with_window(Window2d::square(3, 1, 2)).unwrap_err()));
    assert!(is_config(
        MaxPool2d::with_window(Window2d { kernel: [4, 1], stride: [1, 1], padding: [2, 1] }).unwrap_err()
    ));
    // Exactly half is allowed.
    assert!(MaxPool2d::with_window(Window2d { kernel: [4, 2], stride: [1, 1], padding: [2, 1] }).is_ok());
}

/// Without a bias, Conv2d and Linear have one parameter, and a zero input gives exactly
/// zero; with one, the bias per output channel.
#[test]
fn bias_option_controls_the_offset() {
    let mut r = rng(5);
    let conv = Conv2d::<f64>::new(Conv2dConfig::new(2, 3, 3).bias(false), &mut r).unwrap();
    assert!(conv.bias.is_none());
    assert_eq!(conv.named_parameters().len(), 1);
    assert_eq!(run(&conv, &Tensor::zeros(&[1, 2, 3, 3]).unwrap()).1, vec![0.0; 3]);
    let conv = Conv2d::<f64>::new(Conv2dConfig::new(2, 3, 3), &mut r).unwrap();
    let b = conv.bias.as_ref().unwrap().value.to_vec();
    assert_eq!(run(&conv, &Tensor::zeros(&[1, 2, 3, 3]).unwrap()).1, b);
    let lin = Linear::<f64>::with_options(4, 2, false, Init::XavierUniform, &mut r).unwrap();
    assert!(lin.bias.is_none());
    assert_eq!(run(&lin, &Tensor::zeros(&[3, 4]).unwrap()).1, vec![0.0; 6]);
}

/// The modules describe themselves with their configuration (their `Debug` text).
#[test]
fn describe_names_the_configuration() {
    let mut r = rng(6);
    let conv = Conv2d::<f32>::new(Conv2dConfig::new(1, 6, 5).bias(false), &mut r).unwrap();
    let d = format!("{conv:?}");
    assert!(d.starts_with("Conv2d(") && d.contains('1') && d.contains('6') && d.contains("5×5"), "{d}");
    assert!(d.contains("no bias"), "{d}");
    let lin = Linear::<f32>::new(84, 10, &mut r).unwrap();
    let d = (&lin as &dyn Module<f32>).describe();
    assert!(d.contains("84") && d.contains("10"), "{d}");
    let net = Sequential::<f32>::new().with(conv).with(ReLU).with(Flatten);
    let d = net.describe();
    assert!(d.starts_with("Sequential[") && d.contains("ReLU") && d.contains("Flatten"), "{d}");
}
