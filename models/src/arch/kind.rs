//! What a layer kind of the spec language is: the [`Kind`] trait, which one file per kind
//! implements ([`super::kinds`]), and [`LayerSpec`], one layer of a spec (a kind with its
//! arguments) behind which every kind looks the same to the parser, the planner, the
//! builder, `shapes` and the explorer.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

#[cfg(feature = "serve")]
use autograd::Var;
use layers::{LayerError, Module};
use rand::Rng;
use tensor::Element;

use super::args::{ArgError, Args};
use super::plan::LayerPlan;
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward};

/// What building a layer is given: its position and its planned input.
pub struct BuildContext<'a> {
    /// The layer's index in the network, from 0 (its parameters are named `{index}.weight`;
    /// dropout keys its mask stream with it).
    pub index: usize,
    /// One sample's input shape, `[C, H, W]` or `[F]`, as planned (it fits: [`Kind::plan`]
    /// accepted it).
    pub input: &'a [usize],
    /// The stream the initial weights are drawn from.
    pub rng: &'a mut dyn Rng,
}

/// One layer kind of the spec language, written once in its own file: its token and how
/// it is written, its parser and canonical text, its sizes from shapes alone, the module it
/// builds, what PyTorch calls it, and (feature `serve`) how the explorer page shows it.
///
/// A value of the kind is one layer with its arguments (`Conv { out: 16, kernel: 3, … }`).
/// Register the kind in a [`Kinds`](super::Kinds) to make it parseable; the built-in ones are
/// listed in [`Kinds::builtin`](super::Kinds::builtin). `docs/adding-a-layer.md` walks through
/// one.
pub trait Kind: fmt::Debug + PartialEq + Send + Sync + Sized + 'static {
    /// The token of the spec language: `conv`.
    const NAME: &'static str;
    /// How a layer of the kind is written, for the help text and the README: `conv(OUT,K[,s=S][,p=P])`.
    const USAGE: &'static str;
    /// The module it builds and how its sizes are found, in a line: `Conv2d, input channels
    /// inferred`.
    const LAYER: &'static str;
    /// PyTorch's module for it: `nn.Conv2d(in, OUT, K, stride=S, padding=P)`.
    const PYTORCH: &'static str;
    /// Its checkpoint keys after the layer's index, as PyTorch's `state_dict` names them
    /// (`weight`, `bias`; `running_mean`, … for batch norm's buffers).
    const KEYS: &'static [&'static str];

    /// The layer that `args` (what follows the token) describe, or what is wrong with them.
    fn parse(args: &Args) -> Result<Self, ArgError>;

    /// Writes the layer as a spec writes it, canonically: arguments at their defaults
    /// left out, so that the text parses back to the same layer.
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// What can be told of the layer without an input (a kernel of at least 1, …).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Its sizes on an input of one sample's shape `input`, in checked arithmetic and
    /// without allocating anything of the input's size, or what is wrong (with the shapes).
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String>;

    /// The module, for the input `at` describes (already planned, so that it fits).
    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError>;

    /// What the layer does, in a line, on its card of the explorer page.
    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        format!("{}: {}", Self::USAGE, Self::LAYER.replace('`', ""))
    }

    /// The sections of the derivation on its forward and backward pass (anchors of
    /// `docs/derivation.md`; empty when it has none).
    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        ("", "")
    }

    /// Records the layer's forward pass of `x` for the page, showing its matrices by role
    /// ([`Forward::probe`], [`Forward::show`]) with formulas in the pass's notation
    /// ([`Forward::f`]: `{y} = relu({x})`); returns its output, role `y`. By default the
    /// module's own forward pass, shown as `y⁽ⁱ⁾ = NAME(x⁽ⁱ⁾)`.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let y = l.layer_forward(x)?;
        l.probe("y", l.f(&format!("{{y}} = {}({{x}})", Self::NAME)), y)
    }

    /// Shows the gradients of the layer's own matrices and parameters, after the
    /// backward pass (the generic pass shows `∇x⁽ⁱ⁾` itself, with [`Kind::dx`]).
    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        let _ = l;
        Ok(())
    }

    /// The formula of the gradient the layer sends back to its input, in the pass's
    /// notation ([`Backward::f`]: `∇{x} = ∇{y} ⊙ 1({x} > 0)`).
    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        l.f(&format!("∇{{x}} = the VJP of {}({{x}}) applied to ∇{{y}}", Self::NAME))
    }

    /// Whether the derivation shows the layer's `∇x` at the top of the card of the stage
    /// before, as the gradient of that stage's output (a convolution's `col2im`: LeNet-5's
    /// `∇z⁽²⁾ = col2im(∇a⁽²⁾)` opens S2's backward card).
    #[cfg(feature = "serve")]
    fn dx_opens_input_card(&self) -> bool {
        false
    }

    /// The page's id prefix and symbol of one of its parameters (`weight` → `W`), for the
    /// weight changes of an SGD step.
    #[cfg(feature = "serve")]
    fn symbol(&self, parameter: &str) -> (&'static str, &'static str) {
        if parameter == "bias" { ("b", "b") } else { ("W", "W") }
    }
}

/// [`Kind`] with the element type and `Self` taken out, so that layers of every kind sit in
/// one list.
pub(crate) trait Erased: Send + Sync {
    fn name(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn Erased) -> bool;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn check(&self) -> Result<(), String>;
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String>;
    fn build_f32(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<f32>>, LayerError>;
    fn build_f64(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<f64>>, LayerError>;
    #[cfg(feature = "serve")]
    fn card(&self) -> String;
    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str);
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError>;
    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError>;
    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String;
    #[cfg(feature = "serve")]
    fn dx_opens_input_card(&self) -> bool;
    #[cfg(feature = "serve")]
    fn symbol(&self, parameter: &str) -> (&'static str, &'static str);
}

impl<K: Kind> Erased for K {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn Erased) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Kind::write(self, f)
    }
    fn check(&self) -> Result<(), String> {
        Kind::check(self)
    }
    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Kind::check(self)?;
        Kind::plan(self, input)
    }
    fn build_f32(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<f32>>, LayerError> {
        Kind::build(self, at)
    }
    fn build_f64(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<f64>>, LayerError> {
        Kind::build(self, at)
    }
    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        Kind::card(self)
    }
    #[cfg(feature = "serve")]
    fn sections(&self) -> (&'static str, &'static str) {
        Kind::sections(self)
    }
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        Kind::show_forward(self, l, x)
    }
    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        Kind::show_backward(self, l)
    }
    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        Kind::dx(self, l)
    }
    #[cfg(feature = "serve")]
    fn dx_opens_input_card(&self) -> bool {
        Kind::dx_opens_input_card(self)
    }
    #[cfg(feature = "serve")]
    fn symbol(&self, parameter: &str) -> (&'static str, &'static str) {
        Kind::symbol(self, parameter)
    }
}

/// One layer of a spec: a layer of any [`Kind`], shown as the spec writes it
/// (`conv(16,3,p=1)`). Two are equal when they are of one kind with the same arguments.
#[derive(Clone)]
pub struct LayerSpec(Arc<dyn Erased>);

impl LayerSpec {
    /// The layer `layer` as one of a spec.
    pub fn new<K: Kind>(layer: K) -> Self {
        LayerSpec(Arc::new(layer))
    }

    /// Its kind's token (`conv`).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The layer as its kind, if it is of kind `K`.
    pub fn get<K: Kind>(&self) -> Option<&K> {
        self.0.as_any().downcast_ref()
    }

    /// Whether the layer is of kind `K`.
    pub fn is<K: Kind>(&self) -> bool {
        self.get::<K>().is_some()
    }

    /// What can be told of the layer without an input ([`Kind::check`]).
    pub fn check(&self) -> Result<(), String> {
        self.0.check()
    }

    /// This layer's sizes on an input of one sample's shape `input`, or what is wrong
    /// ([`Kind::check`], then [`Kind::plan`]).
    pub fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        self.0.plan(input)
    }

    /// The module for elements `T` (f32 or f64: the types layers are built for).
    pub fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        use std::any::TypeId;
        let built: Box<dyn Any> = if TypeId::of::<T>() == TypeId::of::<f32>() {
            Box::new(self.0.build_f32(at)?)
        } else if TypeId::of::<T>() == TypeId::of::<f64>() {
            Box::new(self.0.build_f64(at)?)
        } else {
            return Err(LayerError::Config {
                what: self.to_string(),
                reason: format!("layers of a spec are built for F32 or F64 elements, not {}", T::DTYPE),
            });
        };
        built
            .downcast::<Box<dyn Module<T>>>()
            .map(|m| *m)
            .map_err(|_| LayerError::Config { what: self.to_string(), reason: "built for another element type".into() })
    }

    #[cfg(feature = "serve")]
    pub(crate) fn erased(&self) -> &dyn Erased {
        &*self.0
    }
}

impl PartialEq for LayerSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(&*other.0)
    }
}

impl fmt::Debug for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f)
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write(f)
    }
}

impl<K: Kind> From<K> for LayerSpec {
    fn from(layer: K) -> Self {
        LayerSpec::new(layer)
    }
}
