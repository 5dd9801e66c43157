//! Residual blocks: the output against the two paths run apart and added by a loop; the
//! gradients of the input and of every parameter against central differences in f64, with
//! the identity shortcut and with a projection; the identity path passing `∇y` to `x`
//! whole; PyTorch's parameter names; a shape mismatch naming both shapes; and inference's sum
//! written over the body's output with the numbers of the block and its ReLU run apart.

use autograd::GradcheckConfig;
use layers::gradcheck::gradcheck_module;
use layers::prelude::*;

fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, rng: &mut StdRng) -> Conv2d<f64> {
    Conv2d::new(Conv2dConfig::new(cin, cout, k).stride(stride).padding(pad), rng).unwrap()
}

/// conv 3×3 → tanh → conv 3×3 on `c` channels (smooth: no kink for the check to straddle).
fn body(cin: usize, c: usize, stride: usize, rng: &mut StdRng) -> Sequential<f64> {
    Sequential::new().with(conv(cin, c, 3, stride, 1, rng)).with(Tanh).with(conv(c, c, 3, 1, 1, rng))
}

fn projection(cin: usize, c: usize, rng: &mut StdRng) -> Sequential<f64> {
    Sequential::new().with(conv(cin, c, 1, 2, 0, rng)).with(BatchNorm::new_2d(c).unwrap())
}

fn run(m: &dyn Module<f64>, x: &Tensor<f64>) -> Vec<f64> {
    let tape = Tape::no_grad();
    m.forward(tape.constant(x.clone())).unwrap().value().to_vec()
}

#[test]
fn the_output_is_the_sum_of_the_two_paths() {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::rand_uniform(&[2, 3, 6, 6], -1.0, 1.0, &mut rng).unwrap();
    let identity = Residual::new(body(3, 3, 1, &mut rng));
    let (y, b) = (run(&identity, &x), run(&identity.body, &x));
    let expected: Vec<f64> = b.iter().zip(x.to_vec()).map(|(b, x)| b + x).collect();
    assert_eq!(y, expected);

    let mut projected = Residual::with_shortcut(body(3, 5, 2, &mut rng), projection(3, 5, &mut rng));
    projected.set_training(false);
    let (y, b) = (run(&projected, &x), run(&projected.body, &x));
    let s = run(projected.shortcut.as_ref().unwrap(), &x);
    assert_eq!(y.len(), 2 * 5 * 3 * 3);
    for i in 0..y.len() {
        assert_eq!(y[i], b[i] + s[i], "element {i}");
    }
}

#[test]
fn gradients_pass_gradcheck_with_the_identity_and_with_a_projection() {
    let mut rng = StdRng::seed_from_u64(2);
    let x = Tensor::rand_uniform(&[2, 3, 5, 5], -1.0, 1.0, &mut rng).unwrap();
    let mut identity = Residual::new(body(3, 3, 1, &mut rng));
    let report = gradcheck_module(&mut identity, &x, &GradcheckConfig::default()).unwrap();
    let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["input", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]);

    // Batch norm in training mode on the shortcut: its batch statistics depend on x too.
    let mut projected = Residual::with_shortcut(body(3, 4, 2, &mut rng), projection(3, 4, &mut rng));
    let report = gradcheck_module(&mut projected, &x, &GradcheckConfig::default()).unwrap();
    let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "input",
            "body.0.weight",
            "body.0.bias",
            "body.2.weight",
            "body.2.bias",
            "shortcut.0.weight",
            "shortcut.0.bias",
            "shortcut.1.weight",
            "shortcut.1.bias"
        ]
    );
    assert!(report.tensors.iter().all(|t| t.checked > 0));
}

/// With a body whose last convolution is all zeros, `∂body/∂x = 0` and the identity path
/// alone carries the gradient: `∇x = ∇y` exactly.
#[test]
fn the_identity_path_carries_the_gradient_whole() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut block = Residual::new(body(2, 2, 1, &mut rng));
    for (name, p) in block.named_parameters_mut() {
        if name.starts_with("body.2.") {
            p.value = Tensor::zeros(p.shape()).unwrap();
        }
    }
    let x = Tensor::rand_uniform(&[1, 2, 4, 4], -1.0, 1.0, &mut rng).unwrap();
    let dy = Tensor::rand_uniform(&[1, 2, 4, 4], -1.0, 1.0, &mut rng).unwrap();
    let tape = Tape::new();
    let xv = tape.leaf(x);
    let y = block.forward(xv).unwrap();
    let s = y.reshape(&[1, 32]).unwrap().matmul(tape.constant(dy.reshape(&[32, 1]).unwrap())).unwrap();
    let grads = tape.backward(s).unwrap();
    assert_eq!(grads.get(xv).unwrap().to_vec(), dy.to_vec());
}

#[test]
fn names_follow_pytorch_and_buffers_live_on_their_path() {
    let mut rng = StdRng::seed_from_u64(4);
    let body = Sequential::new().with(conv(3, 4, 3, 2, 1, &mut rng)).with(BatchNorm::new_2d(4).unwrap());
    let block = Residual::with_shortcut(body, projection(3, 4, &mut rng));
    let buffers: Vec<String> = block.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert!(buffers.contains(&"body.1.running_mean".to_string()), "{buffers:?}");
    assert!(buffers.contains(&"shortcut.1.running_var".to_string()), "{buffers:?}");
    let outer = Sequential::new().with(ReLU).with(ReLU).with(ReLU).with(block);
    assert_eq!(outer.named_parameters()[0].0, "3.body.0.weight");
}

#[test]
fn paths_that_do_not_add_up_are_an_error_naming_both_shapes() {
    let mut rng = StdRng::seed_from_u64(5);
    let block = Residual::new(body(3, 4, 2, &mut rng));
    let err = block.output_shape(&[2, 3, 8, 8]).unwrap_err().to_string();
    assert!(err.contains("[2, 4, 4, 4]") && err.contains("[2, 3, 8, 8]") && err.contains("identity"), "{err}");
    let tape = Tape::no_grad();
    let x = tape.constant(Tensor::zeros(&[2, 3, 8, 8]).unwrap());
    let Err(forward) = block.forward(x) else { panic!("the forward pass added the paths") };
    assert_eq!(forward.to_string(), err);
}

/// `res(…) relu` in a chain runs as one op, `relu(body(x) + x)`, with the numbers of the
/// add and the ReLU run apart, outputs and every gradient bit for bit.
#[test]
fn a_block_and_its_relu_fuse_with_the_same_numbers() {
    let mut rng = StdRng::seed_from_u64(6);
    let x = Tensor::rand_uniform(&[2, 3, 5, 5], -1.0, 1.0, &mut rng).unwrap();
    let chain = Sequential::new().with(Residual::new(body(3, 3, 1, &mut rng))).with(ReLU);
    let run = |fused: bool| {
        let tape = Tape::new();
        let xv = tape.leaf(x.clone());
        let y = if fused {
            chain.forward(xv).unwrap()
        } else {
            let block = chain.layers().next().unwrap();
            block.forward(xv).unwrap().relu().unwrap()
        };
        let nodes = tape.len();
        let s = y.sum().unwrap();
        let grads = tape.backward(s).unwrap();
        let mut all = vec![y.value().to_vec(), grads.get(xv).unwrap().to_vec()];
        all.extend(chain.named_parameters().iter().map(|(_, p)| grads.param(p).unwrap().to_vec()));
        (all, nodes)
    };
    let ((fused, fused_nodes), (apart, apart_nodes)) = (run(true), run(false));
    assert_eq!(fused, apart);
    assert_eq!(fused_nodes + 1, apart_nodes, "one op for the add and the ReLU");
    assert!(fused[0].contains(&0.0) && fused[0].iter().any(|&v| v > 0.0), "the ReLU cuts somewhere");
}

/// In inference `res(…) relu` writes the sum over the body's output: the numbers of the
/// block and the ReLU run apart bit for bit, the input left as it was, with the identity,
/// with a projection and with an empty body (whose output is the input itself, so nothing
/// is written over).
#[test]
fn inference_writes_the_sum_over_the_body_with_the_same_numbers() {
    let mut rng = StdRng::seed_from_u64(7);
    let x = Tensor::rand_uniform(&[2, 3, 6, 6], -1.0, 1.0, &mut rng).unwrap();
    let before = x.to_vec();
    let blocks = [
        Residual::new(body(3, 3, 1, &mut rng)),
        Residual::with_shortcut(body(3, 5, 2, &mut rng), projection(3, 5, &mut rng)),
        Residual::new(Sequential::new()),
    ];
    for block in blocks {
        let mut chain = Sequential::new().with(block).with(ReLU);
        chain.set_training(false);
        let tape = Tape::no_grad();
        let fused = chain.forward(tape.constant(x.clone())).unwrap().value().to_vec();
        let block = chain.layers().next().unwrap();
        let apart = block.forward(tape.constant(x.clone())).unwrap().relu().unwrap().value().to_vec();
        assert_eq!(fused, apart);
        assert!(fused.contains(&0.0) && fused.iter().any(|&v| v > 0.0), "the ReLU cuts somewhere");
        assert_eq!(x.to_vec(), before, "the input is left as it was");
    }
}
