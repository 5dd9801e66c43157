//! The network the explorer shows: any network of layers, LeNet-5 included (the preset's
//! names give its parameters `c1.weight`, … and the page the derivation's notation).

use std::path::Path;

use layers::{Module, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ExplorerError;
use crate::arch::{Arch, LayerSpec};
use crate::data::Preprocess;
use crate::network::NetworkInfo;

/// A network in evaluation mode, with what the explorer needs to take it apart.
pub struct Net {
    /// Its layers (kinds, kernels, strides, paddings) and their names.
    pub arch: Arch,
    /// The layers with their weights.
    pub model: Sequential<f32>,
    /// One input's shape `[C, H, W]` after preprocessing.
    pub input: [usize; 3],
}

impl Net {
    /// The network `info` describes for images preprocessed by `preprocess`, with weights
    /// drawn from `seed`, in evaluation mode.
    pub fn new(info: &NetworkInfo, preprocess: &Preprocess, seed: u64) -> Result<Self, ExplorerError> {
        let input = preprocess.output_shape(info.input).map_err(|e| ExplorerError::Input(e.to_string()))?;
        let mut model = info
            .arch
            .build_sequential(input, Some(info.class_names.len()), &mut StdRng::seed_from_u64(seed))
            .map_err(|e| ExplorerError::Input(e.to_string()))?;
        model.set_training(false);
        Ok(Net { arch: info.arch.clone(), model, input })
    }

    /// The network `info` describes for images preprocessed by `preprocess`, with the
    /// parameters and buffers of `weights` (matched by name), in evaluation mode.
    pub fn from_module(
        info: &NetworkInfo,
        preprocess: &Preprocess,
        weights: &dyn Module<f32>,
    ) -> Result<Self, ExplorerError> {
        let mut net = Net::new(info, preprocess, 0)?;
        copy_state(&mut net.model, weights)?;
        Ok(net)
    }

    /// The network written to `path` (by `lenet5 train`, or a bare LeNet-5 state dict), with
    /// its description and preprocessing.
    pub fn load(path: &Path) -> Result<(Self, NetworkInfo, Preprocess), ExplorerError> {
        let loaded = crate::network::load_network(path).map_err(|e| ExplorerError::Input(e.to_string()))?;
        let net = Net::from_module(&loaded.info, &loaded.preprocess, loaded.model.as_ref())?;
        Ok((net, loaded.info, loaded.preprocess))
    }

    /// A copy with the same parameters and buffers (for SGD steps that leave this one alone).
    pub fn copy(&self) -> Result<Self, ExplorerError> {
        let mut model = self
            .arch
            .build_sequential(self.input, None, &mut StdRng::seed_from_u64(0))
            .map_err(|e| ExplorerError::Internal(e.to_string()))?;
        copy_state(&mut model, &self.model)?;
        model.set_training(false);
        Ok(Net { arch: self.arch.clone(), model, input: self.input })
    }

    /// The layer a parameter (`3.weight`, `c1.bias`) belongs to, for the page: its title
    /// (LeNet-5's `C1` … `F7`, or `layer 3 conv(16,3,p=1)`), its number in formulas (the
    /// derivation's, or its position) and its position.
    pub fn layer_of(&self, parameter: &str) -> (String, usize, usize) {
        let prefix = parameter.split('.').next().unwrap_or(parameter);
        let specs = self.arch.layers();
        match self.arch.named() {
            Some(preset) => {
                let i = preset.names.iter().position(|n| *n == prefix).unwrap_or(0);
                (prefix.to_uppercase(), prefix.get(1..).and_then(|d| d.parse().ok()).unwrap_or(0), i)
            }
            None => {
                let i: usize = prefix.parse().unwrap_or(0);
                (specs.get(i).map_or_else(|| format!("layer {i}"), |s| layer_title(i, s)), i, i)
            }
        }
    }

    /// The page's id prefix and symbol of `parameter` (`3.weight`) of layer `i`: `W`, `b`,
    /// or what its kind calls it (`γ`, `β` for batch norm).
    pub fn symbol(&self, i: usize, parameter: &str) -> (&'static str, &'static str) {
        let what = parameter.rsplit('.').next().unwrap_or(parameter);
        match self.arch.layers().get(i) {
            Some(spec) => spec.erased().symbol(what),
            None if what == "bias" => ("b", "b"),
            None => ("W", "W"),
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
