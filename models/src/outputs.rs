//! The files a training run writes, and what it must not replace.
//!
//! - **Names.** Without `--out`, the weights go to a file named after the network
//!   ([`default_weights`]): `lenet5.safetensors` for the preset LeNet-5,
//!   `lenet5-1998.safetensors` for LeCun's, else `<data folder>-<hash>.safetensors` with
//!   the first 8 hex digits of the FNV-1a hash of the spec as written back
//!   (`fashion-3f2a9c1e.safetensors`): stable across runs and versions, different for
//!   different networks. The state to resume from goes beside it
//!   ([`crate::resume::state_path`]), and so do the metrics ([`metrics_path`],
//!   `<stem>.metrics.csv`).
//! - **Another network's files.** An existing weights or state file whose metadata names a
//!   different network (architecture, image shape, classes) or data folder than the run's
//!   is refused ([`check_replaceable`]); so is a file without metadata, unless it holds
//!   LeNet-5's tensors and the run trains LeNet-5, and a file that is not a network at
//!   all; unless the caller was told to overwrite.
//! - **Nothing before a step.** A run checks that it can write into the folder with a
//!   probe file it removes at once ([`probe_folder`]); the weights, state and metrics files
//!   are first written after a successful step, so a run that fails before that leaves
//!   existing files as they were.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use layers::checkpoint::read_checkpoint;

use crate::arch::{Arch, LENET5_1998};
use crate::network::NetworkInfo;

/// Why an existing file may not be replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} holds {held}; this run trains {run}: choose another --out, or pass --overwrite to replace it")]
pub struct OutputError {
    /// The existing file.
    pub path: PathBuf,
    /// What it holds, in words.
    pub held: String,
    /// What the run trains, in words.
    pub run: String,
}

/// What a run trains, as a file's metadata records it: the network and the data folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RunIdentity {
    /// The network.
    pub info: NetworkInfo,
    /// The data folder (canonical), when known.
    pub data: Option<PathBuf>,
}

impl RunIdentity {
    /// The identity recorded in a file's metadata (`arch`, `input`, `classes`, `data.dir`),
    /// or `None` without an `arch` entry.
    fn from_metadata(
        metadata: &std::collections::BTreeMap<String, String>,
        path: &Path,
    ) -> Result<Option<Self>, String> {
        let info = NetworkInfo::from_metadata(metadata, path).map_err(|e| e.to_string())?;
        Ok(info.map(|info| RunIdentity { info, data: metadata.get("data.dir").map(PathBuf::from) }))
    }
}

/// What an existing file holds: a run's identity from its metadata, or LeNet-5's tensors
/// without metadata (whose image shape, classes and data nobody recorded).
enum Held {
    Run(RunIdentity),
    BareLeNet5,
}

impl Held {
    /// Whether a run of `run` may replace it: the same network, and the same data folder
    /// when both are known; LeNet-5's bare tensors by any LeNet-5 run.
    fn replaceable_by(&self, run: &RunIdentity) -> bool {
        match self {
            Held::Run(held) => {
                held.info == run.info && (held.data.is_none() || run.data.is_none() || held.data == run.data)
            }
            Held::BareLeNet5 => run.info.arch.is_lenet5(),
        }
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Run(run) => run.fmt(f),
            Held::BareLeNet5 => f.write_str("LeNet-5's weights without metadata"),
        }
    }
}

impl std::fmt::Display for RunIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let network = self.info.arch.title();
        let [c, h, w] = self.info.input;
        let classes = self.info.class_names.len();
        write!(f, "{network} on {c}×{h}×{w} images of {classes} classes")?;
        if let Some(d) = &self.data {
            write!(f, " from {}", d.display())?;
        }
        Ok(())
    }
}

/// The weights file a fresh run of `arch` on the data in `data` writes without `--out`
/// (see the module docs).
pub fn default_weights(arch: &Arch, data: &Path) -> PathBuf {
    if let Some(preset) = arch.named() {
        return PathBuf::from(format!("{}.safetensors", preset.name));
    }
    if LENET5_1998.parse::<Arch>().is_ok_and(|a| a == *arch) {
        return PathBuf::from("lenet5-1998.safetensors");
    }
    if let Some(name) = crate::arch::resnet::name_of(&arch.to_string()) {
        return PathBuf::from(format!("{name}.safetensors"));
    }
    let folder = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
    let name: String = folder
        .file_name()
        .map(|n| n.to_string_lossy().chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect())
        .unwrap_or_default();
    let name = if name.trim_matches('.').is_empty() { "net".to_string() } else { name };
    PathBuf::from(format!("{name}-{:08x}.safetensors", fnv1a(arch.to_string().as_bytes()) >> 32))
}

/// The metrics file beside a weights file: `lenet5.safetensors` → `lenet5.metrics.csv`.
pub fn metrics_path(weights: &Path) -> PathBuf {
    let stem = weights.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    weights.with_file_name(format!("{stem}.metrics.csv"))
}

/// FNV-1a, 64 bits: a hash whose value does not change between Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Checks that the existing file at `path` (if any) may be replaced by a run of `run`:
/// its metadata names the same network (architecture, image shape, classes) and data
/// folder, or it has no metadata and holds LeNet-5's tensors and the run trains LeNet-5.
pub fn check_replaceable(path: &Path, run: &RunIdentity) -> Result<(), OutputError> {
    if !path.exists() {
        return Ok(());
    }
    let refuse = |held: String| OutputError { path: path.to_path_buf(), held, run: run.to_string() };
    let checkpoint =
        read_checkpoint::<f32>(path).map_err(|e| refuse(format!("something lenet5 cannot read as a network ({e})")))?;
    let held = match RunIdentity::from_metadata(&checkpoint.metadata, path) {
        Ok(Some(identity)) => Held::Run(identity),
        Ok(None) if holds_lenet5(&checkpoint) => Held::BareLeNet5,
        Ok(None) => return Err(refuse("tensors of a network without metadata (not LeNet-5's)".into())),
        Err(e) => return Err(refuse(format!("a network whose metadata does not parse ({e})"))),
    };
    if held.replaceable_by(run) { Ok(()) } else { Err(refuse(held.to_string())) }
}

/// Whether a file without metadata is LeNet-5's: its tensors (or, in a state file, its
/// `model.*` tensors) are exactly LeNet-5's names and shapes.
fn holds_lenet5(checkpoint: &layers::checkpoint::Checkpoint<f32>) -> bool {
    let Ok(model) = crate::lenet5::new::<f32, _>(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0))
    else {
        return false;
    };
    let expected: std::collections::BTreeSet<(String, Vec<usize>)> =
        layers::Module::named_parameters(&model).into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    let held = |prefix: &str| -> std::collections::BTreeSet<(String, Vec<usize>)> {
        checkpoint
            .tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix(prefix).map(|n| (n.to_string(), t.shape().to_vec())))
            .collect()
    };
    held("") == expected || held("model.") == expected
}

/// Creates and removes a probe file in `dir`, named as [`layers::checkpoint::write_atomic`]
/// names its temporaries beside `target` (so that a probe left by a killed run is cleaned
/// up by [`layers::checkpoint::remove_stale_temporaries`]): the folder can be written,
/// and no existing file was touched to find out.
pub fn probe_folder(target: &Path) -> std::io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let probe = dir.join(format!(".{name}.tmp{}-{}", std::process::id(), u32::MAX));
    OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV-1a 64-bit hash (Fowler, Noll, Vo).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn default_names_follow_the_network() {
        let dir = Path::new("/nonexistent/fashion");
        assert_eq!(default_weights(&Arch::lenet5(), dir), Path::new("lenet5.safetensors"));
        assert_eq!(default_weights(&LENET5_1998.parse().unwrap(), dir), Path::new("lenet5-1998.safetensors"));
        let a: Arch = "conv(8,3) relu flatten linear(10)".parse().unwrap();
        let b: Arch = "conv(8, 3)  relu flatten linear(10)".parse().unwrap();
        let c: Arch = "conv(9,3) relu flatten linear(10)".parse().unwrap();
        let name = default_weights(&a, dir);
        assert!(name.to_str().unwrap().starts_with("fashion-") && name.to_str().unwrap().ends_with(".safetensors"));
        assert_eq!(name.to_str().unwrap().len(), "fashion-12345678.safetensors".len());
        assert_eq!(name, default_weights(&b, dir), "the same network written differently");
        assert_ne!(name, default_weights(&c, dir));
        assert_eq!(metrics_path(&name), PathBuf::from(name.to_str().unwrap().replace(".safetensors", ".metrics.csv")));
        assert_eq!(metrics_path(Path::new("out/w.safetensors")), Path::new("out/w.metrics.csv"));
    }
}
