//! Writing modules: a parameter-free layer implements `forward` only; a composite lists its
//! children once with `children!`; `Sequential` is shared across threads and names its
//! layers as `nn.Sequential` does; shapes and predictions come without type annotations.

use layers::prelude::*;

/// A layer written as a user would: `y = 2x`, forward only.
struct Double;

impl<T: tensor::Element> Module<T> for Double {
    fn forward<'t>(&self, x: Var<'t, T>) -> layers::Result<Var<'t, T>> {
        Ok(x.scale(T::from_f64_lossy(2.0))?)
    }
}

/// A composite: two blocks and a head, listed once.
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
fn a_forward_only_layer_has_shapes_and_a_name() {
    assert_eq!(Module::<f32>::output_shape(&Double, &[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!(Module::<f32>::describe(&Double), "Double");
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
    assert_eq!(
        n.features.get("pool").map(|l| l.describe()),
        Some("MaxPool2d(kernel 2×2, stride [2, 2], padding [0, 0])".into())
    );
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
