//! A layer kind written here, in a test-only file, and nowhere else: `scale(F)`, `y = F·x`.
//! Registered in a copy of the built-in list, it parses, plans (`shapes`), builds, computes,
//! shows its card and matrices in the page's pass, and is listed in the help of `--arch`.

use std::fmt;

use autograd::{Tape, Var};
use layers::{LayerError, Module, Sequential};
use models::arch::{Arch, ArgError, Args, BuildContext, Kind, Kinds, LayerPlan, build_layers};
use models::shapes::{plan_table, render};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

/// `scale(F)`: every value times F.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scale {
    factor: f64,
}

/// Its module: `y = F·x`, `∇x = F·∇y`.
#[derive(Debug)]
struct ScaleLayer(f64);

impl<T: Element> Module<T> for ScaleLayer {
    fn forward<'t>(&self, x: Var<'t, T>) -> layers::Result<Var<'t, T>> {
        Ok(x.scale(T::from_f64(self.0).unwrap())?)
    }

    fn output_shape(&self, input: &[usize]) -> layers::Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    layers::parts!(T);
}

impl Kind for Scale {
    const NAME: &'static str = "scale";
    const USAGE: &'static str = "scale(F)";
    const LAYER: &'static str = "`ScaleLayer`";
    const PYTORCH: &'static str = "a lambda";
    const KEYS: &'static [&'static str] = &[];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 1, 1, &[])?;
        Ok(Scale { factor: args.number(0)? })
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scale({})", self.factor)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        Ok(LayerPlan::element_wise(input))
    }

    fn build<T: Element>(&self, _: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        Ok(Box::new(ScaleLayer(self.factor)))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        format!("every value times {}", self.factor)
    }

    #[cfg(feature = "serve")]
    fn show_forward<'t>(
        &self,
        l: &mut models::explorer::Forward<'_, 't>,
        x: Var<'t, f32>,
    ) -> Result<Var<'t, f32>, models::explorer::ExplorerError> {
        let y = l.layer_forward(x)?;
        l.probe("y", l.f(&format!("{{y}} = {}·{{x}}", self.factor)), y)
    }

    #[cfg(feature = "serve")]
    fn dx(&self, l: &models::explorer::Backward<'_, '_>) -> String {
        l.f(&format!("∇{{x}} = {}·∇{{y}}", self.factor))
    }
}

const SPEC: &str = "conv(2,3) scale(0.5) flatten linear(3)";
const INPUT: [usize; 3] = [1, 6, 6];

fn kinds() -> Kinds {
    Kinds::builtin().with::<Scale>().unwrap()
}

fn net(arch: &Arch) -> Sequential<f32> {
    let specs = arch.layers();
    let mut net = build_layers::<f32, _>(specs, INPUT, Some(3), &mut StdRng::seed_from_u64(1)).unwrap();
    net.set_training(false);
    net
}

fn image() -> Tensor<f32> {
    Tensor::from_vec(&[1, 1, 6, 6], (0..36).map(|i| ((i * 17 % 11) as f32 - 5.0) / 4.0).collect()).unwrap()
}

#[test]
fn the_parser_reads_it_and_only_where_it_is_registered() {
    let arch = kinds().parse(SPEC).unwrap();
    assert_eq!(arch.to_string(), SPEC);
    let specs = arch.layers();
    assert_eq!(specs[1].get::<Scale>(), Some(&Scale { factor: 0.5 }));
    assert_eq!(specs[1].name(), "scale");

    let e = kinds().parse("conv(2,3) scale flatten").unwrap_err();
    assert_eq!((e.position, e.text.as_str()), (Some(2), "scale"));
    assert!(e.to_string().contains("expected scale(F)"), "{e}");
    let e = kinds().parse("scale(x)").unwrap_err();
    assert!(e.to_string().contains("\"x\" is not a number"), "{e}");

    let e = SPEC.parse::<Arch>().unwrap_err();
    assert_eq!(e.position, Some(2));
    assert!(e.to_string().contains("unknown layer \"scale\""), "{e}");
}

#[test]
fn shapes_plan_it_and_the_built_layer_computes_it() {
    let arch = kinds().parse(SPEC).unwrap();
    let plan = arch.plan(INPUT, Some(3)).unwrap();
    let rows = plan_table(&plan, 4).unwrap();
    let row = rows.iter().find(|r| r.what == "output of scale(0.5)").expect("a row for the scale layer");
    assert_eq!((row.layer.as_str(), row.shape.as_slice()), ("1", &[4, 2, 4, 4][..]));
    assert!(render(&rows).contains("output of scale(0.5)"));

    let net = net(&arch);
    let tape = Tape::no_grad();
    let conv = net.layers().next().unwrap().forward(tape.constant(image())).unwrap();
    let scaled = net.layers().nth(1).unwrap().forward(conv).unwrap();
    for (c, s) in conv.value().iter().zip(scaled.value().iter()) {
        assert_eq!(s, 0.5 * c);
    }
}

/// Inside a residual block too: the block's layers are read with the caller's list.
#[test]
fn it_nests_in_a_residual_block_read_with_the_same_list() {
    let spec = "conv(2,3) res(scale(0.5) | scale(2)) flatten linear(3)";
    let arch = kinds().parse(spec).unwrap();
    assert_eq!(arch.to_string(), spec);
    let net = net(&arch);
    let tape = Tape::no_grad();
    let conv = net.layers().next().unwrap().forward(tape.constant(image())).unwrap();
    let block = net.layers().nth(1).unwrap().forward(conv).unwrap();
    for (c, y) in conv.value().iter().zip(block.value().iter()) {
        assert_eq!(y, 2.5 * c, "0.5·x + 2·x");
    }
    let e = spec.parse::<Arch>().unwrap_err();
    assert!(e.to_string().contains("unknown layer \"scale\""), "{e}");
}

#[test]
fn the_help_of_arch_lists_it() {
    let help = kinds().arch_help();
    assert!(help.contains("res(BODY[ | SHORTCUT]), scale(F). Presets"), "{help}");
    assert!(!Kinds::builtin().arch_help().contains("scale"));
}

#[cfg(feature = "serve")]
#[test]
fn the_page_shows_its_card_and_matrices() {
    use models::explorer::{layer_cards, layers_pass};

    let arch = kinds().parse(SPEC).unwrap();
    let specs = arch.layers();
    assert_eq!(layer_cards(specs)[1].what, "every value times 0.5");
    assert_eq!(layer_cards(specs)[1].title, "layer 1 scale(0.5)");

    let pass = layers_pass(specs, &net(&arch), image(), Some(2)).unwrap();
    let find = |ms: &[models::explorer::Matrix], id: &str| ms.iter().find(|m| m.id == id).unwrap().clone();
    let (y0, y1) = (find(&pass.forward, "y0"), find(&pass.forward, "y1"));
    assert_eq!((y1.layer.as_str(), y1.formula.as_str()), ("layer 1 scale(0.5)", "y⁽¹⁾ = 0.5·x⁽¹⁾"));
    for (a, b) in y0.data.iter().zip(&y1.data) {
        assert_eq!(*b, 0.5 * a);
    }
    // ∇x⁽¹⁾ (shown as dx1) is F times ∇y⁽¹⁾, the gradient the next layer sends back (dx2).
    let (dx1, dx2) = (find(&pass.backward, "dx1"), find(&pass.backward, "dx2"));
    assert_eq!(dx1.formula, "∇x⁽¹⁾ = 0.5·∇y⁽¹⁾");
    assert_eq!(dx1.data.len(), dx2.data.len());
    for (a, b) in dx2.data.iter().zip(&dx1.data) {
        assert!((b - 0.5 * a).abs() <= 1e-7 * a.abs().max(1.0), "{b} vs 0.5·{a}");
    }
}
