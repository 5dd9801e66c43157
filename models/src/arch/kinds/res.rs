//! `res(BODY)` and `res(BODY | SHORTCUT)`: a residual block, `y = body(x) + shortcut(x)`,
//! the shortcut the identity when absent ([`layers::Residual`]). BODY and SHORTCUT are
//! specs of their own (nesting allowed), e.g. `res(conv(32,3,s=2,p=1,bias=false) batchnorm
//! relu conv(32,3,p=1,bias=false) batchnorm | conv(32,1,s=2,bias=false) batchnorm)`.

use std::fmt;

use layers::{LayerError, Module, Residual, Sequential};
use tensor::Element;

use crate::arch::args::{ArgError, Args, split_outside_parentheses};
use crate::arch::plan::{LayerPlan, PlannedMatrix, show};
use crate::arch::{BuildContext, Kind, LayerSpec};
#[cfg(feature = "serve")]
use crate::explorer::{Backward, ExplorerError, Forward, LayerAt};
#[cfg(feature = "serve")]
use crate::notation::{inner_key, sup_key};
#[cfg(feature = "serve")]
use autograd::Var;

/// `res(BODY[ | SHORTCUT])`: [`Residual`] of the two specs' layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Res {
    /// The block's main path.
    pub body: Vec<LayerSpec>,
    /// The other path (none: the identity).
    pub shortcut: Option<Vec<LayerSpec>>,
}

impl Res {
    /// Plans `layers` (the `path` of the block: `body` or `shortcut`) from `input`: each
    /// layer's plan, or an error naming the path, the layer's position in it and its text.
    fn plan_path(path: &str, layers: &[LayerSpec], input: &[usize]) -> Result<Vec<LayerPlan>, String> {
        let mut shape = input.to_vec();
        let mut plans = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let plan = layer.plan(&shape).map_err(|e| format!("{path} layer {} \"{layer}\": {e}", i + 1))?;
            shape = plan.output.clone();
            plans.push(plan);
        }
        Ok(plans)
    }

    /// The two paths with their names in the block: the body's layers and the shortcut's
    /// (none for the identity).
    fn paths(&self) -> impl Iterator<Item = (&'static str, &[LayerSpec])> {
        [("body", &self.body[..]), ("shortcut", self.shortcut.as_deref().unwrap_or_default())].into_iter()
    }

    /// `path`'s layers with their built modules, which must be as many.
    #[cfg(feature = "serve")]
    fn zip<'s, 'a>(
        at: &LayerAt<'a>,
        path: &str,
        specs: &'s [LayerSpec],
    ) -> Result<Vec<(&'s LayerSpec, &'a dyn Module<f32>)>, ExplorerError> {
        let modules = at.path_layers(path);
        if modules.len() != specs.len() {
            let n = (specs.len(), modules.len());
            return Err(ExplorerError::Internal(format!(
                "block {}: {} layers in its {path}, {} built",
                at.key(),
                n.0,
                n.1
            )));
        }
        Ok(specs.iter().zip(modules).collect())
    }

    /// The [`Sequential`] of one path, each layer built for its planned input. Nested
    /// layers key their streams (dropout's masks) by an index of their own, above every
    /// index of a top-level layer: `outer + (branch·256 + j + 1)·2³²`.
    fn build_path<T: Element>(
        layers: &[LayerSpec],
        branch: usize,
        at: &mut BuildContext<'_>,
    ) -> Result<Sequential<T>, LayerError> {
        let mut net = Sequential::new();
        let mut shape = at.input.to_vec();
        for (j, layer) in layers.iter().enumerate() {
            let index = at.index.wrapping_add(((branch * 256 + j + 1) as u64).wrapping_shl(32) as usize);
            let mut inner = BuildContext { index, input: &shape, rng: &mut *at.rng };
            net.push_boxed(layer.build(&mut inner)?);
            shape = layer.plan(&shape).map_err(|reason| LayerError::Config { what: layer.to_string(), reason })?.output;
        }
        Ok(net)
    }
}

impl Kind for Res {
    const NAME: &'static str = "res";
    const USAGE: &'static str = "res(BODY[ | SHORTCUT])";
    const LAYER: &'static str = "`Residual`: body(x) + shortcut(x), the identity without a shortcut";
    const PYTORCH: &'static str = "Residual(body=nn.Sequential(…), shortcut=nn.Sequential(…))";
    const KEYS: &'static [&'static str] = &["body.*", "shortcut.*"];

    fn parse(args: &Args) -> Result<Self, ArgError> {
        args.expect(Self::USAGE, 1, 1, &[])?;
        let text = args.text(0)?;
        let paths = split_outside_parentheses(text, '|');
        let kinds = args.kinds();
        let parse =
            |path: &str, spec: &str| kinds.parse_layers(spec).map_err(|e| ArgError::Invalid(format!("{path}: {e}")));
        match paths[..] {
            [body] => Ok(Res { body: parse("body", body)?, shortcut: None }),
            [body, shortcut] => Ok(Res { body: parse("body", body)?, shortcut: Some(parse("shortcut", shortcut)?) }),
            _ => Err(ArgError::Invalid(format!("a block has one body and at most one shortcut ({})", Self::USAGE))),
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |layers: &[LayerSpec]| layers.iter().map(LayerSpec::to_string).collect::<Vec<_>>().join(" ");
        write!(f, "res({}", join(&self.body))?;
        if let Some(shortcut) = &self.shortcut {
            write!(f, " | {}", join(shortcut))?;
        }
        f.write_str(")")
    }

    fn check(&self) -> Result<(), String> {
        self.paths().flat_map(|(_, layers)| layers).try_for_each(LayerSpec::check)
    }

    fn plan(&self, input: &[usize]) -> Result<LayerPlan, String> {
        let body = Res::plan_path("body", &self.body, input)?;
        let shortcut = match &self.shortcut {
            Some(layers) => Res::plan_path("shortcut", layers, input)?,
            None => Vec::new(),
        };
        let out = |plans: &[LayerPlan]| plans.last().map_or(input.to_vec(), |p| p.output.clone());
        let (y, s) = (out(&body), out(&shortcut));
        if y != s {
            let path = if self.shortcut.is_some() { "shortcut" } else { "identity shortcut" };
            return Err(format!(
                "the body gives {} but the {path} gives {}: the two must have one shape to be added{}",
                show(&y),
                show(&s),
                if self.shortcut.is_none() { " (add a shortcut: res(BODY | conv(C,1,s=S) batchnorm))" } else { "" }
            ));
        }
        // The inner layers' outputs (all but the body's last, which is the block's), and
        // their own inner values; only a path's first layer copies the block's input.
        let inner_outputs = body.iter().rev().skip(1).chain(&shortcut).map(|p| p.output.iter().product::<usize>());
        let inner = inner_outputs
            .chain(body.iter().chain(&shortcut).map(|p| p.inner))
            .try_fold(0usize, usize::checked_add)
            .ok_or("the block's sizes overflow")?;
        let firsts = [body.first(), shortcut.first()];
        let matrices = body
            .iter()
            .chain(&shortcut)
            .flat_map(|p| {
                let first = firsts.iter().any(|f| f.is_some_and(|f| std::ptr::eq(f, p)));
                p.matrices.iter().map(move |m| PlannedMatrix { copies_input: m.copies_input && first, ..m.clone() })
            })
            .collect();
        let all = body.iter().chain(&shortcut);
        let sum = |f: fn(&LayerPlan) -> usize| {
            all.clone().try_fold(0usize, |acc, p| acc.checked_add(f(p))).ok_or("the block's sizes overflow".to_string())
        };
        Ok(LayerPlan {
            output: y,
            parameters: sum(|p| p.parameters)?,
            buffers: sum(|p| p.buffers)?,
            matrices,
            im2col_per_image: all.map(|p| p.im2col_per_image).max().unwrap_or(0),
            inner,
        })
    }

    fn build<T: Element>(&self, at: &mut BuildContext<'_>) -> Result<Box<dyn Module<T>>, LayerError> {
        let body = Res::build_path(&self.body, 0, at)?;
        Ok(Box::new(match &self.shortcut {
            Some(layers) => Residual::with_shortcut(body, Res::build_path(layers, 1, at)?),
            None => Residual::new(body),
        }))
    }

    #[cfg(feature = "serve")]
    fn card(&self) -> String {
        match &self.shortcut {
            Some(_) => "residual block: y = body(x) + shortcut(x), the two paths side by side (ᵇʲ: body layer j, ˢʲ: \
                 shortcut layer j); the gradient goes into both and adds up at x"
                .into(),
            None => {
                "residual block: y = body(x) + x (ᵇʲ: body layer j); the identity path carries ∇y to x whole".into()
            }
        }
    }

    /// Each path's layers in its lane of the block's card, each path reading its own copy of
    /// `x` (so that the backward pass can show each path's term of `∇x`), then the sum
    /// `y = body(x) + shortcut(x)`.
    #[cfg(feature = "serve")]
    fn show_forward<'t>(&self, l: &mut Forward<'_, 't>, x: Var<'t, f32>) -> Result<Var<'t, f32>, ExplorerError> {
        let mut outputs = Vec::with_capacity(2);
        for (path, specs) in self.paths() {
            let mut h = l.path_input(path, x)?;
            for (j, (spec, module)) in Res::zip(l, path, specs)?.into_iter().enumerate() {
                let at = l.inner(path, j, spec, module, spec.erased().sections().0);
                h = l.show_layer(at, spec, h)?;
            }
            outputs.push(h);
        }
        let [body, shortcut] = outputs[..] else {
            return Err(ExplorerError::Internal(format!("the paths of block {}", l.key())));
        };
        let terms = self.paths().map(|(path, specs)| match specs.len() {
            0 => "{x}".to_string(),
            n => format!("y{}", sup_key(&inner_key(l.key(), path, n - 1))),
        });
        let formula = l.f(&format!("{{y}} = {}", terms.collect::<Vec<_>>().join(" + ")));
        l.probe("y", formula, body.add(shortcut)?)
    }

    /// `∇y` as it reaches the sum, then each path's layers backwards in its lane, down to
    /// its term of `∇x`.
    #[cfg(feature = "serve")]
    fn show_backward(&self, l: &mut Backward<'_, '_>) -> Result<(), ExplorerError> {
        l.push("dy", l.f("∇{y}: the sum sends it whole into both paths"), l.grad("y")?);
        for (path, specs) in self.paths() {
            for (j, (spec, module)) in Res::zip(l, path, specs)?.into_iter().enumerate().rev() {
                let at = l.inner(path, j, spec, module, spec.erased().sections().1);
                l.show_layer(at, spec)?;
            }
        }
        Ok(())
    }

    /// The two terms and their sum: `∇x = ∇x⁽ⁱᵇ⁰⁾ + ∇x⁽ⁱˢ⁰⁾`, the shortcut's term `∇y`
    /// itself for the identity.
    #[cfg(feature = "serve")]
    fn dx(&self, l: &Backward<'_, '_>) -> String {
        let first = |path| format!("∇x{}", sup_key(&inner_key(l.key(), path, 0)));
        match &self.shortcut {
            Some(_) => l.f(&format!("∇{{x}} = {} + {} (body + shortcut)", first("body"), first("shortcut"))),
            None => l.f(&format!("∇{{x}} = {} + ∇{{y}} (body + identity)", first("body"))),
        }
    }
}
