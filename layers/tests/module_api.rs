//! Writing modules: a parameter-free layer writes its forward pass and shape rule and says
//! it has no parts (`parts!`); a composite lists its children once with `children!`; `Sequential` is shared across threads and names its
//! layers as `nn.Sequential` does; shapes and predictions come without type annotations.

use layers::prelude::*;

/// A layer written as a user would: `y = 2x`, its shape rule, and no parts.
#[derive(Debug)]
struct Double;

impl<T: tensor::Element> Module<T> for Double {
    fn forward<'t>(&self, x: Var<'t, T>) -> layers::Result<Var<'t, T>> {
        Ok(x.scale(T::from_f64_lossy(2.0))?)
    }
    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    layers::parts!(T);
}

/// A composite: two blocks and a head, listed once.
#[derive(Debug)]
struct Net {
    features: Sequential<f32>,
    double: Double,
    head: Linear<f32>,
}

impl Module<f32> for Net {
    fn forward<'t>(&self, x: Var<'t, f32>) -> layers::Result<Var<'t, f32>> {
        let x = self.double.forward(self.features.forward(x)?)?;
        self.head.forward(Flatten.forward(x)?)
    }
    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        let features = self.features.output_shape(input)?;
        self.head.output_shape(&Flatten.output_shape(&features)?)
    }
    layers::children!(f32: features, double, head);
}

fn net(seed: u64) -> Net {
    let mut rng = StdRng::seed_from_u64(seed);
    Net {
        features: Sequential::new()
            .with(Conv2d::new(Conv2dConfig::new(1, 2, 3), &mut rng).unwrap())
            .with(ReLU)
            .with_named("pool", MaxPool2d::new(2, 2).unwrap()),
        double: Double,
        head: Linear::new(2 * 2 * 2, 3, &mut rng).unwrap(),
    }
}

#[test]
fn a_parameter_free_layer_has_shapes_and_a_name() {
    assert_eq!(Module::<f32>::output_shape(&Double, &[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!((&Double as &dyn Module<f32>).describe(), "Double");
    assert!(Module::<f32>::named_parameters(&Double).is_empty());
    // Built-in parameter-free layers need no annotation.
    assert_eq!(MaxPool2d::new(2, 2).unwrap().output_shape(&[1, 3, 8, 6]).unwrap(), vec![1, 3, 4, 3]);
    assert_eq!(Flatten.output_shape(&[4, 3, 2]).unwrap(), vec![4, 6]);
    assert_eq!(ReLU.output_shape(&[4, 3]).unwrap(), vec![4, 3]);
}

#[test]
fn composites_name_and_update_their_parameters_once() {
    let mut n = net(1);
    let names: Vec<String> = n.named_parameters().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]);
    assert_eq!(n.num_parameters(), 2 * 9 + 2 + 3 * 8 + 3);
    // The mutable visit reaches the same parameters, in the same order.
    for (_, p) in n.named_parameters_mut() {
        p.value = Tensor::zeros(p.value.shape()).unwrap();
    }
    assert!(n.parameters().iter().all(|p| p.value.iter().all(|v| v == 0.0)));
    assert_eq!(n.features.get("pool").map(|l| l.describe()), Some("MaxPool2d(2×2, s=2)".into()));
    let names: Vec<&str> = n.features.named_layers().map(|(name, _)| name).collect();
    assert_eq!(names, ["0", "1", "pool"]);
}

#[test]
fn predict_is_the_forward_pass_without_a_tape() {
    let n = net(2);
    let x = Tensor::<f32>::rand_normal(&[5, 1, 6, 6], 0.0, 1.0, &mut StdRng::seed_from_u64(3)).unwrap();
    let tape = Tape::new();
    let expected = n.forward(tape.constant(x.clone())).unwrap().value();
    let got = n.predict(&x).unwrap();
    assert_eq!(got.shape(), &[5, 3]);
    assert_eq!(got.to_vec(), expected.to_vec());
    assert!(n.predict(&Tensor::zeros(&[5, 2, 6, 6]).unwrap()).is_err(), "the wrong channel count");
}

#[test]
fn sequential_is_shared_across_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let mut rng = StdRng::seed_from_u64(4);
    let seq = Sequential::<f32>::new().with(Linear::new(4, 2, &mut rng).unwrap()).with(ReLU);
    shareable(&seq);
    let x = Tensor::<f32>::ones(&[3, 4]).unwrap();
    let outputs: Vec<Vec<f32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| seq.predict(&x).unwrap().to_vec())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outputs[0], outputs[1]);
    let tape = Tape::new();
    let loss = cross_entropy(seq.forward(tape.constant(x)).unwrap(), &[0, 1, 0]).unwrap();
    assert!(tape.backward(loss).is_ok());
}

/// A residual block as issue-sized code would write it: `y = body(x) + shortcut(x)`, each
/// branch a `Sequential` (an empty shortcut is the identity), listed as children, so its
/// parameters are named as PyTorch's `body`/`shortcut` attributes name them.
#[derive(Debug)]
struct Residual {
    body: Sequential<f32>,
    shortcut: Sequential<f32>,
}

impl Module<f32> for Residual {
    fn forward<'t>(&self, x: Var<'t, f32>) -> layers::Result<Var<'t, f32>> {
        Ok(self.body.forward(x)?.add(self.shortcut.forward(x)?)?)
    }
    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        let (body, shortcut) = (self.body.output_shape(input)?, self.shortcut.output_shape(input)?);
        if body != shortcut {
            return Err(LayerError::InputShape {
                module: format!("{self:?}"),
                expected: format!("a body and a shortcut of one shape, got {body:?} and {shortcut:?}"),
                got: input.to_vec(),
            });
        }
        Ok(body)
    }
    layers::children!(f32: body, shortcut);
}

fn residual_net(projection: bool) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(7);
    let conv = |c_in, c_out, rng: &mut StdRng| Conv2d::new(Conv2dConfig::new(c_in, c_out, 3).padding(1), rng).unwrap();
    let body = Sequential::new().with(conv(4, 4, &mut rng)).with(BatchNorm::new_2d(4).unwrap()).with(ReLU);
    let shortcut = if projection { Sequential::new().with(conv(4, 4, &mut rng)) } else { Sequential::new() };
    Sequential::new()
        .with(conv(1, 4, &mut rng))
        .with(ReLU)
        .with(Dropout::new(0.0, 2).unwrap())
        .with(Residual { body, shortcut })
        .with(ReLU)
}

#[test]
fn a_residual_block_of_children_has_pytorch_names_modes_and_shape_errors() {
    let names = |net: &Sequential<f32>| -> Vec<String> {
        let mut names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        names.extend(net.named_buffers().into_iter().map(|(n, _)| n));
        names
    };
    let plain = residual_net(false);
    assert_eq!(
        names(&plain),
        [
            "0.weight",
            "0.bias",
            "3.body.0.weight",
            "3.body.0.bias",
            "3.body.1.weight",
            "3.body.1.bias",
            "3.body.1.running_mean",
            "3.body.1.running_var",
            "3.body.1.num_batches_tracked"
        ]
    );
    let mut projected = residual_net(true);
    assert!(names(&projected).contains(&"3.shortcut.0.weight".to_string()));
    assert_eq!(projected.output_shape(&[2, 1, 5, 5]).unwrap(), vec![2, 4, 5, 5]);

    // The training flag reaches the batch norm inside the block.
    let x = Tensor::<f32>::rand_normal(&[2, 1, 5, 5], 0.0, 1.0, &mut StdRng::seed_from_u64(8)).unwrap();
    projected.set_training(false);
    let first = projected.predict(&x).unwrap().to_vec();
    assert_eq!(projected.predict(&x).unwrap().to_vec(), first, "evaluation mode leaves the statistics alone");
    let running_var = |net: &Sequential<f32>| net.named_buffers()[1].1.get().to_vec();
    let before = running_var(&projected);
    projected.set_training(true);
    projected.predict(&x).unwrap();
    assert_ne!(running_var(&projected), before, "training mode updates the running statistics");

    // Shapes that do not add up name the block and both shapes.
    let mut rng = StdRng::seed_from_u64(9);
    let wide = Sequential::new().with(Conv2d::new(Conv2dConfig::new(1, 3, 1), &mut rng).unwrap());
    let block = Residual { body: wide, shortcut: Sequential::new() };
    let err = block.output_shape(&[1, 1, 4, 4]).unwrap_err().to_string();
    assert!(err.contains("[1, 3, 4, 4]") && err.contains("[1, 1, 4, 4]"), "{err}");
}

/// A boxed module is the module: every part, face and derived method reaches the inner one.
#[test]
fn a_boxed_module_shows_the_parts_and_faces_of_the_module() {
    let mut rng = StdRng::seed_from_u64(10);
    let conv = Conv2d::<f32>::new(Conv2dConfig::new(1, 2, 3), &mut rng).unwrap();
    let (names, description) =
        (conv.named_parameters().into_iter().map(|(n, _)| n).collect::<Vec<_>>(), format!("{conv:?}"));
    let boxed: Box<dyn Module<f32>> = Box::new(conv);
    let twice: Box<Box<dyn Module<f32>>> = Box::new(boxed);
    let layer: &dyn Module<f32> = &twice;
    assert_eq!(layer.named_parameters().into_iter().map(|(n, _)| n).collect::<Vec<_>>(), names);
    assert_eq!(layer.describe(), description);
    assert!(layer.fuse().is_some());
    assert_eq!(layer.matrix_shapes(&[1, 1, 5, 5]).len(), 3);
    assert_eq!((&ReLU as &dyn Module<f32>).activation(), Some(tensor::Activation::Relu));

    // In a chain, the boxed convolution still takes the ReLU into its output pass.
    let nodes = |chain: &[(&str, &dyn Module<f32>)]| {
        let tape = Tape::new();
        layers::forward_chain(chain.iter().copied(), tape.constant(Tensor::ones(&[1, 1, 5, 5]).unwrap())).unwrap();
        tape.len()
    };
    let relu: &dyn Module<f32> = &ReLU;
    assert_eq!(nodes(&[("0", layer), ("1", relu)]), nodes(&[("0", layer)]), "the ReLU is fused into the convolution");
    assert_eq!(nodes(&[("0", relu), ("1", relu)]), nodes(&[("0", relu)]) + 1, "a ReLU alone is an op");

    let mut bn: Box<dyn Module<f32>> = Box::new(BatchNorm::new_1d(2).unwrap());
    bn.set_training(false);
    assert!(format!("{bn:?}").starts_with("BatchNorm1d(2"));
    assert_eq!(bn.named_buffers().len(), 3);
}

#[test]
fn copy_state_copies_parameters_and_buffers_or_nothing() {
    let x = Tensor::<f32>::rand_normal(&[2, 1, 5, 5], 0.0, 1.0, &mut StdRng::seed_from_u64(11)).unwrap();
    let mut trained = residual_net(true);
    trained.predict(&x).unwrap(); // moves the running statistics away from their start
    trained.set_training(false);
    let mut copy = residual_net(true);
    for (_, p) in copy.named_parameters_mut() {
        p.value = Tensor::zeros(p.value.shape()).unwrap();
    }
    copy.set_training(false);
    layers::copy_state(&mut copy, &trained).unwrap();
    assert_eq!(copy.predict(&x).unwrap().to_vec(), trained.predict(&x).unwrap().to_vec());

    let before: Vec<Vec<f32>> = copy.parameters().iter().map(|p| p.value.to_vec()).collect();
    let err = layers::copy_state(&mut copy, &residual_net(false)).unwrap_err();
    assert!(matches!(&err, LayerError::State { name, .. } if name == "3.shortcut.0.weight"), "{err}");
    assert_eq!(copy.parameters().iter().map(|p| p.value.to_vec()).collect::<Vec<_>>(), before, "nothing copied");
    let err = layers::copy_state(&mut residual_net(false), &trained).unwrap_err();
    assert!(err.to_string().contains("in the source only"), "{err}");
}
