//! What the page writes about each layer of a network of layers: its card (title, one line
//! on what it does, the derivation's sections) and the formulas of its matrices.

use serde::Serialize;

use super::net::layer_title;
use crate::arch::LayerSpec;

/// `12` → `⁽¹²⁾`.
pub(super) fn sup(i: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = i.to_string().bytes().map(|b| DIGITS[usize::from(b - b'0')]).collect();
    format!("⁽{digits}⁾")
}

/// One layer's card on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerCard {
    /// `layer 3 conv(16,3,p=1)`: the `layer` of its matrices.
    pub title: String,
    /// What the layer does, in a line.
    pub what: String,
    /// The derivation's section on its forward pass (empty when it has none).
    pub section: &'static str,
    /// The derivation's section on its backward pass (empty when it has none).
    pub back_section: &'static str,
}

/// The cards of every layer of `specs`.
pub fn layer_cards(specs: &[LayerSpec]) -> Vec<LayerCard> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let f = Formulas::new(i, spec);
            LayerCard {
                title: layer_title(i, spec),
                what: what(spec),
                section: f.section,
                back_section: f.back_section,
            }
        })
        .collect()
}

fn what(spec: &LayerSpec) -> String {
    match *spec {
        LayerSpec::Conv { out, kernel, stride, padding } => format!(
            "convolution to {out} maps, {kernel}×{kernel} kernel, stride {stride}, padding {padding}: im2col, one \
             matrix product, bias, back to maps"
        ),
        LayerSpec::MaxPool { kernel, stride, padding } => format!(
            "max-pool {kernel}×{kernel}, stride {stride}, padding {padding}: one row per window, the max of each row \
             (argmax strip on the right)"
        ),
        LayerSpec::AvgPool { kernel, stride, padding } => format!(
            "average pool {kernel}×{kernel}, stride {stride}, padding {padding} (zeros, counted in the divisor): the \
             mean of each window row"
        ),
        LayerSpec::Linear { out } => format!("fully connected to {out}: y = x·W + b with W = weightᵀ"),
        LayerSpec::Relu => "ReLU, elementwise".into(),
        LayerSpec::Tanh => "tanh, elementwise".into(),
        LayerSpec::Sigmoid => "sigmoid, elementwise".into(),
        LayerSpec::LeakyRelu { slope } => format!("leaky ReLU with slope {slope} below 0, elementwise"),
        LayerSpec::BatchNorm => "batch normalisation with the running statistics (evaluation mode)".into(),
        LayerSpec::Dropout { p } => format!("dropout({p}): the identity in evaluation"),
        LayerSpec::Flatten => "flatten: the maps as one row (a reshape)".into(),
    }
}

/// The formulas of layer `i`'s matrices, and its sections of the derivation.
pub(super) struct Formulas {
    i: String,
    spec: LayerSpec,
    /// Its forward section.
    pub(super) section: &'static str,
    /// Its backward section.
    pub(super) back_section: &'static str,
}

const CONV: &str = "im2col-a-convolution-becomes-one-matrix-product";
const BEYOND: &str = "beyond-lenet-5-batch-normalisation-and-average-pooling";

impl Formulas {
    pub(super) fn new(i: usize, spec: &LayerSpec) -> Self {
        let (section, back_section) = match spec {
            LayerSpec::Conv { .. } => (CONV, "c3-1"),
            LayerSpec::MaxPool { .. } => ("pooling-windows", "s2-1"),
            LayerSpec::AvgPool { .. } | LayerSpec::BatchNorm => (BEYOND, BEYOND),
            LayerSpec::Linear { .. } => ("f6-and-f7", "f7"),
            LayerSpec::Relu => ("f6-and-f7", "f6"),
            LayerSpec::Flatten => ("c5", "c5-1"),
            _ => ("", ""),
        };
        Formulas { i: sup(i), spec: *spec, section, back_section }
    }

    pub(super) fn a(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("a{i} = im2col(x{i})"),
            LayerSpec::AvgPool { .. } => format!("a{i} = windows(x{i}), zero padding"),
            _ => format!("a{i} = windows(x{i})"),
        }
    }

    pub(super) fn w(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("W{i} = reshape(weight, [F, C·kh·kw])ᵀ"),
            _ => format!("W{i} = weightᵀ"),
        }
    }

    pub(super) fn z(&self) -> String {
        let i = &self.i;
        format!("z{i} = a{i}·W{i} + b{i}")
    }

    pub(super) fn y(&self) -> String {
        let (i, x) = (&self.i, &self.i);
        match self.spec {
            LayerSpec::Conv { .. } => format!("y{i} = maps(z{i})"),
            LayerSpec::MaxPool { .. } => format!("y{i} = max of each row of a{i}"),
            LayerSpec::AvgPool { .. } => format!("y{i} = mean of each row of a{i}"),
            LayerSpec::Linear { .. } => format!("y{i} = x{x}·W{i} + b{i}"),
            LayerSpec::Relu => format!("y{i} = relu(x{x})"),
            LayerSpec::Tanh => format!("y{i} = tanh(x{x})"),
            LayerSpec::Sigmoid => format!("y{i} = σ(x{x})"),
            LayerSpec::LeakyRelu { .. } => format!("y{i} = leakyrelu(x{x})"),
            LayerSpec::BatchNorm => format!("y{i} = γ{i}·(x{x} − μ_r)/√(σ²_r + ε) + β{i}"),
            LayerSpec::Dropout { .. } => format!("y{i} = x{x} (identity in evaluation)"),
            LayerSpec::Flatten => format!("y{i} = flatten(x{x})"),
        }
    }

    pub(super) fn dz(&self) -> String {
        let i = &self.i;
        format!("∇z{i} = rows(∇y{i})")
    }

    pub(super) fn dw(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("∇W{i} = a{i}ᵀ·∇z{i}"),
            _ => format!("∇W{i} = x{i}ᵀ·∇y{i}"),
        }
    }

    pub(super) fn db(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("∇b{i} = 1ᵀ·∇z{i}"),
            _ => format!("∇b{i} = 1ᵀ·∇y{i}"),
        }
    }

    pub(super) fn da(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("∇a{i} = ∇z{i}·W{i}ᵀ"),
            LayerSpec::MaxPool { .. } => format!("∇a{i} = ∇y{i} routed to each row's argmax"),
            _ => format!("∇a{i} = ∇y{i}/(kh·kw) in every column"),
        }
    }

    /// The gradient the layer sends back to its input (`∇y` of the layer before).
    pub(super) fn dx(&self) -> String {
        let i = &self.i;
        match self.spec {
            LayerSpec::Conv { .. } => format!("∇x{i} = col2im(∇a{i})"),
            LayerSpec::MaxPool { .. } => format!("∇x{i} = Sᵀ·∇a{i} (the routing)"),
            LayerSpec::AvgPool { .. } => format!("∇x{i} = Sᵀ·∇a{i}"),
            LayerSpec::Linear { .. } => format!("∇x{i} = ∇y{i}·W{i}ᵀ"),
            LayerSpec::Relu => format!("∇x{i} = ∇y{i} ⊙ 1(x{i} > 0)"),
            LayerSpec::Tanh => format!("∇x{i} = ∇y{i} ⊙ (1 − y{i}²)"),
            LayerSpec::Sigmoid => format!("∇x{i} = ∇y{i} ⊙ y{i} ⊙ (1 − y{i})"),
            LayerSpec::LeakyRelu { slope } => format!("∇x{i} = ∇y{i} ⊙ (1(x{i} > 0) + {slope}·1(x{i} ≤ 0))"),
            LayerSpec::BatchNorm => format!("∇x{i} = ∇y{i} ⊙ γ{i}/√(σ²_r + ε)"),
            LayerSpec::Dropout { .. } => format!("∇x{i} = ∇y{i}"),
            LayerSpec::Flatten => format!("∇x{i} = reshape(∇y{i})"),
        }
    }
}
