//! The network the explorer shows: LeNet-5 (its own pass, with the derivation's names) or
//! any network of layers written with `--arch` (the generic pass, one card per layer).

use std::path::Path;

use layers::{Module, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ExplorerError;
use crate::arch::{Arch, LayerSpec, build_layers};
use crate::data::Preprocess;
use crate::lenet5::LeNet5;
use crate::network::NetworkInfo;

/// A network in evaluation mode, with what the explorer needs to take it apart.
pub enum Net {
    /// LeNet-5: the derivation's own chain of matrices ([`super::pass()`]).
    LeNet5(Box<LeNet5<f32>>),
    /// A [`Sequential`] built from a spec ([`super::layers_pass()`]).
    Layers {
        /// The spec, one entry per layer (kinds, kernels, strides, paddings).
        specs: Vec<LayerSpec>,
        /// The layers with their weights (parameters `0.weight`, …).
        model: Sequential<f32>,
        /// One input's shape `[C, H, W]` after preprocessing.
        input: [usize; 3],
    },
}

impl Net {
    /// The network `info` describes for images preprocessed by `preprocess`, with the
    /// parameters and buffers of `weights` (matched by name), in evaluation mode.
    pub fn from_module(
        info: &NetworkInfo,
        preprocess: &Preprocess,
        weights: &dyn Module<f32>,
    ) -> Result<Self, ExplorerError> {
        let mut rng = StdRng::seed_from_u64(0);
        let mut net = match &info.arch {
            Arch::LeNet5 => Net::LeNet5(Box::new(LeNet5::new(&mut rng)?)),
            Arch::Layers(specs) => {
                let input = preprocess.output_shape(info.input).map_err(|e| ExplorerError::Input(e.to_string()))?;
                let model = build_layers(specs, input, Some(info.class_names.len()), &mut rng)
                    .map_err(|e| ExplorerError::Input(e.to_string()))?;
                Net::Layers { specs: specs.clone(), model, input }
            }
        };
        copy_state(net.module_mut(), weights)?;
        net.module_mut().set_training(false);
        Ok(net)
    }

    /// The network written to `path` (by `lenet5 train`, or a bare LeNet-5 state dict), with
    /// its description and preprocessing.
    pub fn load(path: &Path) -> Result<(Self, NetworkInfo, Preprocess), ExplorerError> {
        let loaded = crate::network::load_network(path).map_err(|e| ExplorerError::Input(e.to_string()))?;
        let net = Net::from_module(&loaded.info, &loaded.preprocess, loaded.model.as_ref())?;
        Ok((net, loaded.info, loaded.preprocess))
    }

    /// The network as a module.
    pub fn module(&self) -> &dyn Module<f32> {
        match self {
            Net::LeNet5(m) => m,
            Net::Layers { model, .. } => model,
        }
    }

    pub(super) fn module_mut(&mut self) -> &mut dyn Module<f32> {
        match self {
            Net::LeNet5(m) => m,
            Net::Layers { model, .. } => model,
        }
    }

    /// A copy with the same parameters and buffers (for SGD steps that leave this one alone).
    pub fn copy(&self) -> Result<Self, ExplorerError> {
        let mut rng = StdRng::seed_from_u64(0);
        let mut copy = match self {
            Net::LeNet5(_) => Net::LeNet5(Box::new(LeNet5::new(&mut rng)?)),
            Net::Layers { specs, input, .. } => Net::Layers {
                specs: specs.clone(),
                model: build_layers(specs, *input, None, &mut rng)
                    .map_err(|e| ExplorerError::Internal(e.to_string()))?,
                input: *input,
            },
        };
        copy_state(copy.module_mut(), self.module())?;
        copy.module_mut().set_training(false);
        Ok(copy)
    }

    /// The page's id prefix and symbol of `parameter` (`3.weight`) of layer `i`: `W`, `b`,
    /// or what its kind calls it (`γ`, `β` for batch norm).
    pub fn symbol(&self, i: usize, parameter: &str) -> (&'static str, &'static str) {
        let what = parameter.rsplit('.').next().unwrap_or(parameter);
        match self {
            Net::Layers { specs, .. } if i < specs.len() => specs[i].erased().symbol(what),
            _ if what == "bias" => ("b", "b"),
            _ => ("W", "W"),
        }
    }

    /// The layer a parameter belongs to, for the page: LeNet-5's `C1` … `F7` with the
    /// derivation's number, or `layer 3 conv(16,3,p=1)` with its position.
    pub fn layer_of(&self, parameter: &str) -> (String, usize) {
        let prefix = parameter.split('.').next().unwrap_or(parameter);
        match self {
            Net::LeNet5(_) => (prefix.to_uppercase(), prefix[1..].parse().unwrap_or(0)),
            Net::Layers { specs, .. } => {
                let i: usize = prefix.parse().unwrap_or(0);
                (specs.get(i).map_or_else(|| format!("layer {i}"), |s| layer_title(i, s)), i)
            }
        }
    }
}

/// `layer 3 conv(16,3,p=1)`: the title of layer `i` (counted from 0, as its parameters are
/// named).
pub fn layer_title(i: usize, spec: &LayerSpec) -> String {
    format!("layer {i} {spec}")
}

/// Copies every parameter and buffer of `src` into `dst` ([`layers::copy_state`]): the two
/// are the same network, so a difference is a bug.
fn copy_state(dst: &mut dyn Module<f32>, src: &dyn Module<f32>) -> Result<(), ExplorerError> {
    layers::copy_state(dst, src).map_err(|e| ExplorerError::Internal(e.to_string()))
}
