//! A trained network as a file: the weights (a PyTorch `state_dict`) with, in the
//! safetensors metadata, what is needed to use them without repeating any option: the
//! architecture (`arch`), the image shape (`input`, `C,H,W` before padding), the class
//! names (`classes`, one per line; older files separate them by `/`) and the
//! preprocessing (`preprocess.*`).
//!
//! A weights file without that metadata (written by PyTorch, or by an older `lenet5`) is
//! read as LeNet-5 on MNIST: 1×28×28 images, classes 0–9, [`Preprocess::mnist`].

use std::collections::BTreeMap;
use std::path::Path;

use layers::checkpoint::{assign_parameters, read_checkpoint};
use layers::{AtPath, CheckpointError, CheckpointFault, Module, WithPath};

use crate::arch::{Arch, NetworkPlan, SpecError};
use crate::data::{Dataset, Preprocess, PreprocessError};

/// Values a network may have beyond those of the file it is built for (4 MiB of f32): past
/// that, [`NetworkInfo::build_for_file`] refuses before allocating.
pub const BUILD_SLACK: usize = 1 << 20;

/// What a weights file says about its network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkInfo {
    /// The architecture.
    pub arch: Arch,
    /// One image's shape `[C, H, W]` before preprocessing.
    pub input: [usize; 3],
    /// The class names.
    pub class_names: Vec<String>,
}

/// Why a network file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The file could not be read, or its tensors do not fit the network.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The metadata's architecture does not parse or does not fit.
    #[error("{}: arch: {}", .0.path.display(), .0.source)]
    Spec(WithPath<SpecError>),
}

impl NetworkInfo {
    /// LeNet-5 on MNIST (for files without metadata).
    pub fn lenet5_mnist() -> Self {
        NetworkInfo { arch: Arch::lenet5(), input: [1, 28, 28], class_names: (0..10).map(|c| c.to_string()).collect() }
    }

    /// The network for `data` (its image shape and class names).
    pub fn for_data(arch: Arch, data: &dyn Dataset) -> Self {
        NetworkInfo {
            arch,
            input: data.image_shape(),
            class_names: (0..data.classes()).map(|c| data.class_name(c)).collect(),
        }
    }

    /// The metadata entries `arch`, `input` and `classes`.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let input: Vec<String> = self.input.iter().map(usize::to_string).collect();
        vec![
            ("arch".into(), self.arch.to_string()),
            ("input".into(), input.join(",")),
            ("classes".into(), self.class_names.iter().map(|n| format!("{n}\n")).collect()),
        ]
    }

    /// The network described in `metadata` (`path` names the file in errors); `None` when
    /// the metadata has no `arch`.
    pub fn from_metadata(metadata: &BTreeMap<String, String>, path: &Path) -> Result<Option<Self>, NetworkError> {
        let Some(arch) = metadata.get("arch") else { return Ok(None) };
        let bad = |key: &str, reason: String| {
            CheckpointError::new(path, CheckpointFault::Metadata { key: key.into(), reason })
        };
        let arch: Arch = arch.parse().at(path).map_err(NetworkError::Spec)?;
        let input = metadata.get("input").ok_or_else(|| bad("input", "missing".into()))?;
        let dims: Vec<usize> = input
            .split(',')
            .map(|d| d.trim().parse().map_err(|_| bad("input", format!("{input:?} is not C,H,W"))))
            .collect::<Result<_, _>>()?;
        let input: [usize; 3] = dims.try_into().map_err(|_| bad("input", format!("{input:?} is not C,H,W")))?;
        let classes = metadata.get("classes").ok_or_else(|| bad("classes", "missing".into()))?;
        let class_names = parse_class_names(classes);
        Ok(Some(NetworkInfo { arch, input, class_names }))
    }

    /// The network's sizes for images preprocessed by `preprocess`, from shapes alone
    /// ([`Arch::plan`]).
    pub fn plan(&self, preprocess: &Preprocess) -> Result<NetworkPlan, SpecError> {
        let shape = preprocess.output_shape(self.input).map_err(|e| SpecError::whole(e.to_string()))?;
        self.arch.plan(shape, Some(self.class_names.len()))
    }

    /// Builds the network (weights from [`layers::init::weight_rng`]`(seed)`, as
    /// [`layers::SequentialBuilder::build`] draws them) for images preprocessed by
    /// `preprocess`.
    pub fn build(&self, preprocess: &Preprocess, seed: u64) -> Result<Box<dyn Module<f32>>, SpecError> {
        let shape = self.plan(preprocess)?.input;
        self.arch.build(shape, Some(self.class_names.len()), &mut layers::init::weight_rng(seed))
    }

    /// Builds the network to take the weights of a file holding `held` values: refused
    /// before anything is allocated when the network has over [`BUILD_SLACK`] more
    /// parameters and buffers than that (metadata naming a network that the file's tensors
    /// cannot fill, such as a 16-byte file claiming `linear(5000000000)`). Within the
    /// slack, the network is built and the file's tensors are checked one by one, which
    /// names the tensor that is missing or misshapen.
    pub fn build_for_file(&self, preprocess: &Preprocess, held: usize) -> Result<Box<dyn Module<f32>>, SpecError> {
        let plan = self.plan(preprocess)?;
        let needed = plan.parameters() + plan.buffers();
        if needed > held.saturating_add(BUILD_SLACK) {
            return Err(SpecError::whole(format!(
                "the network has {needed} parameters and buffers, but the file holds {held} values"
            )));
        }
        self.build(preprocess, 0)
    }
}

/// The values held by the tensors of `checkpoint` whose names start with `prefix`.
pub fn held_values(checkpoint: &layers::checkpoint::Checkpoint<f32>, prefix: &str) -> usize {
    checkpoint
        .tensors
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, t)| t.numel())
        .fold(0, usize::saturating_add)
}

/// The `classes` metadata: one name per line (as `classes.txt`), or, in files written
/// before class names could hold a `/`, names separated by `/`.
fn parse_class_names(classes: &str) -> Vec<String> {
    if classes.contains('\n') {
        classes.lines().map(str::to_string).collect()
    } else {
        classes.split('/').map(str::to_string).collect()
    }
}

/// What `metadata` says the network and its preprocessing are: the one rule for every file
/// this crate reads (weights and state files). The `arch` entry (with `input` and
/// `classes`) gives the network, else it is LeNet-5 on MNIST ([`NetworkInfo::lenet5_mnist`]),
/// as in files written before the metadata existed; the `preprocess.*` entries give the
/// preprocessing (all of them, checked, when the file has an `arch` or any of them), else
/// MNIST's ([`Preprocess::mnist`]). `path` names the file in errors.
pub fn describe(metadata: &BTreeMap<String, String>, path: &Path) -> Result<(NetworkInfo, Preprocess), NetworkError> {
    let info = NetworkInfo::from_metadata(metadata, path)?;
    let has_preprocess = metadata.keys().any(|k| k.starts_with("preprocess."));
    let preprocess = if info.is_some() || has_preprocess {
        Preprocess::from_metadata(metadata).map_err(|e| {
            let (key, reason) = match e {
                PreprocessError::Metadata { key, reason } => (key, reason),
                other => ("preprocess".into(), other.to_string()),
            };
            CheckpointError::new(path, CheckpointFault::Metadata { key, reason })
        })?
    } else {
        Preprocess::mnist()
    };
    Ok((info.unwrap_or_else(NetworkInfo::lenet5_mnist), preprocess))
}

/// A network loaded from a weights file, with its description and preprocessing.
pub struct LoadedNetwork {
    /// The network with the file's weights.
    pub model: Box<dyn Module<f32>>,
    /// What the file says about it.
    pub info: NetworkInfo,
    /// How its input images are preprocessed.
    pub preprocess: Preprocess,
}

/// Loads a weights file: the network its metadata describes ([`describe`]), with its weights, in evaluation mode; every tensor must be present with its
/// shape, and nothing else.
pub fn load_network(path: impl AsRef<Path>) -> Result<LoadedNetwork, NetworkError> {
    let path = path.as_ref();
    let mut checkpoint = read_checkpoint::<f32>(path)?;
    let (info, preprocess) = describe(&checkpoint.metadata, path)?;
    let mut model =
        info.build_for_file(&preprocess, held_values(&checkpoint, "")).at(path).map_err(NetworkError::Spec)?;
    let names = layers::checkpoint::state_names(model.as_ref());
    if let Some(name) = checkpoint.tensors.keys().find(|n| !names.contains(*n)) {
        return Err(CheckpointError::new(path, CheckpointFault::Unexpected { name: name.clone() }).into());
    }
    assign_parameters(&mut model, &mut checkpoint.tensors, path)?;
    model.set_training(false);
    Ok(LoadedNetwork { model, info, preprocess })
}
