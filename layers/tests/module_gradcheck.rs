//! `gradcheck_module`: one call checks every parameter of a module and its input against
//! central differences. A correct network passes with every parameter named in the report;
//! large tensors are sampled; a module with a planted wrong gradient is reported with its
//! parameter's name and the element.

use autograd::{GradcheckConfig, Op, Param, Var};
use layers::gradcheck::{ModuleGradcheckError, gradcheck_module};
use layers::{Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn a_small_cnn_passes_with_every_parameter_named() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut net = Sequential::<f64>::new()
        .with(Conv2d::new(Conv2dConfig::new(2, 3, 3).padding(1).stride(1), &mut rng).unwrap())
        .with(ReLU)
        .with(MaxPool2d::new(2, 2).unwrap())
        .with(Flatten)
        .with(Linear::new(3 * 2 * 2, 4, &mut rng).unwrap());
    let x = random(&[2, 2, 4, 4], 8);
    let config = GradcheckConfig { max_elements: Some(24), ..GradcheckConfig::default() };
    let report = gradcheck_module(&mut net, &x, &config).unwrap();

    let mut expected: Vec<(String, usize)> = vec![("input".into(), x.numel())];
    expected.extend(net.named_parameters().into_iter().map(|(name, p)| (name, p.value.numel())));
    let got: Vec<(String, usize)> = report.tensors.iter().map(|t| (t.name.clone(), t.checked)).collect();
    let want: Vec<(String, usize)> = expected.into_iter().map(|(name, n)| (name, n.min(24))).collect();
    assert_eq!(got, want);
    assert_eq!(report.tensors.len(), 5, "input, conv weight and bias, linear weight and bias");
    for t in &report.tensors {
        assert!(t.max_rel_error < 1e-5, "{t:?}");
    }
}

#[test]
fn large_tensors_are_sampled_and_parameters_restored() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut layer: Linear<f64> = Linear::new(40, 30, &mut rng).unwrap();
    let before: Vec<Vec<f64>> = layer.named_parameters().iter().map(|(_, p)| p.value.to_vec()).collect();
    let config = GradcheckConfig { max_elements: Some(25), seed: 11, ..GradcheckConfig::default() };
    let report = gradcheck_module(&mut layer, &random(&[3, 40], 4), &config).unwrap();
    let checked: Vec<usize> = report.tensors.iter().map(|t| t.checked).collect();
    assert_eq!(checked, vec![25, 25, 25], "input 120, weight 1200, bias 30 elements: 25 of each");
    let after: Vec<Vec<f64>> = layer.named_parameters().iter().map(|(_, p)| p.value.to_vec()).collect();
    assert_eq!(before, after, "every perturbed element is restored exactly");
}

/// `y = x ⊙ g` for a gain `g: [features]` applied to every row; VJP `∇x = ∇y ⊙ g`,
/// `∇g = 1ᵀ·(∇y ⊙ x)`. With `planted`, `∇g` forgets the `⊙ x`.
struct GainOp<T> {
    x: Tensor<T>,
    gain: Tensor<T>,
    planted: bool,
}

impl<T: Element> Op<T> for GainOp<T> {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn vjp(&self, grad: &Tensor<T>, want: &[bool]) -> autograd::Result<Vec<Option<Tensor<T>>>> {
        let dx = want[0].then(|| grad.mul(&self.gain)).transpose()?;
        let dg = if self.planted { grad.sum_axis(0, false)? } else { grad.mul(&self.x)?.sum_axis(0, false)? };
        Ok(vec![dx, want[1].then_some(dg)])
    }
}

/// A user's module with one parameter, `gain`.
#[derive(Debug)]
struct Gain {
    gain: Param<f64>,
    planted: bool,
}

impl Module<f64> for Gain {
    fn forward<'t>(&self, input: Var<'t, f64>) -> layers::Result<Var<'t, f64>> {
        let g = input.tape().param(&self.gain);
        let (x, gv) = (input.value(), self.gain.value.clone());
        let y = x.mul(&gv)?;
        let planted = self.planted;
        Ok(input.tape().record(&[input, g], y, || GainOp { x, gain: gv, planted })?)
    }

    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    layers::parts!(f64; params: gain);
}

fn net_with_gain(planted: bool) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(5);
    Sequential::new()
        .with(Linear::new(3, 4, &mut rng).unwrap())
        .with(Gain { gain: Param::new(random(&[4], 6)), planted })
}

#[test]
fn a_correct_user_module_passes() {
    let report = gradcheck_module(&mut net_with_gain(false), &random(&[5, 3], 9), &GradcheckConfig::default());
    let names: Vec<String> = report.unwrap().tensors.into_iter().map(|t| t.name).collect();
    assert_eq!(names.last().map(String::as_str), Some("1.gain"));
}

#[test]
fn a_planted_wrong_gradient_is_reported_with_its_parameter_name() {
    let err = gradcheck_module(&mut net_with_gain(true), &random(&[5, 3], 9), &GradcheckConfig::default())
        .expect_err("the planted ∇g must be caught");
    println!("{err}");
    let ModuleGradcheckError::Mismatch { name, shape, index, analytic, numeric, .. } = &err else {
        panic!("not a mismatch: {err}");
    };
    assert_eq!(name, "1.gain", "the input and the Linear's gradients are right; the gain's is planted");
    assert_eq!(shape, &vec![4]);
    assert_eq!(index.len(), 1);
    assert!((analytic - numeric).abs() > 1e-3);
    assert!(err.to_string().contains("1.gain"), "{err}");
}
