//! The network the explorer shows: any network of layers, LeNet-5 included (the preset's
//! names give its parameters `c1.weight`, … and the page the derivation's notation).

use std::path::Path;

use layers::{Module, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ExplorerError;
use crate::arch::kinds::Res;
use crate::arch::{Arch, LayerSpec};
use crate::data::Preprocess;
use crate::network::NetworkInfo;
use crate::notation::inner_key;

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

    /// Where a parameter (`3.weight`, `c1.bias`, `3.body.1.weight`) is shown, for the
    /// page: its layer's card title (LeNet-5's `C1` … `F7`, or `layer 3 …`), the key of its
    /// matrices (`1` for `c1`, `3`, `3b1` inside block 3), and its page id prefix and
    /// symbol as its kind calls it (`W`, `b`; `γ`, `β` for batch norm).
    pub fn parameter_place(&self, parameter: &str) -> (String, String, (&'static str, &'static str)) {
        let mut parts = parameter.split('.');
        let prefix = parts.next().unwrap_or(parameter);
        let what = parameter.rsplit('.').next().unwrap_or(parameter);
        let specs = self.arch.layers();
        let (title, mut key, i) = match self.arch.named() {
            Some(preset) => {
                let i = preset.names.iter().position(|n| *n == prefix).unwrap_or(0);
                (prefix.to_uppercase(), prefix.get(1..).unwrap_or("").to_string(), i)
            }
            None => {
                let i: usize = prefix.parse().unwrap_or(0);
                (specs.get(i).map_or_else(|| format!("layer {i}"), |s| layer_title(i, s)), i.to_string(), i)
            }
        };
        // Down through residual blocks: `body.1` → key `…b1`, that layer's spec.
        let mut spec = specs.get(i);
        while let Some(block) = spec.and_then(|s| s.get::<Res>()) {
            let (Some(path), Some(j)) = (parts.next(), parts.next().and_then(|j| j.parse::<usize>().ok())) else {
                break;
            };
            let layers = if path == "shortcut" { block.shortcut.as_deref().unwrap_or_default() } else { &block.body };
            key = inner_key(&key, path, j);
            spec = layers.get(j);
        }
        let symbol = match spec {
            Some(spec) => spec.erased().symbol(what),
            None if what == "bias" => ("b", "b"),
            None => ("W", "W"),
        };
        (title, key, symbol)
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
