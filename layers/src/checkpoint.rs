//! Checkpoints in the safetensors format, under the names of `named_parameters()` and in
//! PyTorch's layouts, so a module's file is the `state_dict` of the equivalent PyTorch
//! module (`safetensors.torch.load_file` / `save_file`) and the reverse.
//!
//! Dtypes: tensors are written in the module's element type (`F32` for `f32`, `F64` for
//! `f64`). Loading accepts the same dtype, `F32` into an `f64` module (widening is exact),
//! and `I64` for batch norm's `num_batches_tracked` (PyTorch's one integer buffer);
//! anything else is an error naming the tensor.
//!
//! Writes are atomic: the bytes go to a temporary file in the target's folder, which is
//! flushed, synced and renamed over the target, so a crash leaves the old file or the new
//! one, never a torn one. Loads check every tensor before assigning any.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use tensor::{Element, Tensor};

use crate::error::{CheckpointError, CheckpointFault};
use crate::module::Module;
use crate::with_path::AtPath;

/// The tensors and metadata of a safetensors file, in the element type `T`.
#[derive(Clone, Default)]
pub struct Checkpoint<T> {
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor<T>>,
    /// The file's string metadata (`__metadata__`).
    pub metadata: BTreeMap<String, String>,
}

impl<T: Element> std::fmt::Debug for Checkpoint<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shapes: BTreeMap<&str, &[usize]> = self.tensors.iter().map(|(n, t)| (n.as_str(), t.shape())).collect();
        f.debug_struct("Checkpoint").field("tensors", &shapes).field("metadata", &self.metadata).finish()
    }
}

/// Saves a module's parameters to `path` (atomically).
pub fn save_module<T: Element, M: Module<T> + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    save_module_with_metadata(module, path.as_ref(), &BTreeMap::new())
}

/// Saves a module's parameters and string metadata (safetensors' `__metadata__`, which
/// PyTorch's `load_file` ignores) to `path` (atomically).
pub fn save_module_with_metadata<T: Element, M: Module<T> + ?Sized>(
    module: &M,
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let buffers: Vec<(String, Tensor<T>)> = module.named_buffers().into_iter().map(|(n, b)| (n, b.get())).collect();
    let mut named: Vec<(String, &Tensor<T>)> =
        module.named_parameters().into_iter().map(|(n, p)| (n, &p.value)).collect();
    named.extend(buffers.iter().map(|(n, t)| (n.clone(), t)));
    write_tensors(path, &named, metadata)
}

/// The names of a module's parameters and buffers: the keys of its `state_dict`.
pub fn state_names<T: Element, M: Module<T> + ?Sized>(module: &M) -> std::collections::BTreeSet<String> {
    let mut names: std::collections::BTreeSet<String> = module.named_parameters().into_iter().map(|(n, _)| n).collect();
    names.extend(module.named_buffers().into_iter().map(|(n, _)| n));
    names
}

/// Loads a module's parameters and buffers from `path`: every one must be present with its
/// shape and a loadable dtype, and the file must hold nothing else (PyTorch's
/// `strict=True`). On error nothing is assigned.
pub fn load_module<T: Element, M: Module<T> + ?Sized>(
    module: &mut M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let mut checkpoint = read_checkpoint::<T>(path)?;
    let names = state_names(module);
    if let Some(name) = checkpoint.tensors.keys().find(|n| !names.contains(*n)) {
        return Err(CheckpointError::new(path, CheckpointFault::Unexpected { name: name.clone() }));
    }
    assign_parameters(module, &mut checkpoint.tensors, path)
}

/// Moves the module's parameters and buffers out of `tensors` into the module, leaving the
/// others in the map. Checks every one (present, same shape) before assigning any.
pub fn assign_parameters<T: Element, M: Module<T> + ?Sized>(
    module: &mut M,
    tensors: &mut BTreeMap<String, Tensor<T>>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let mut expected: Vec<(String, Vec<usize>)> =
        module.named_parameters().into_iter().map(|(n, p)| (n, p.shape().to_vec())).collect();
    expected.extend(module.named_buffers().into_iter().map(|(n, b)| (n, b.shape())));
    for (name, shape) in expected {
        let Some(t) = tensors.get(&name) else {
            return Err(CheckpointError::new(path, CheckpointFault::Missing { name }));
        };
        if t.shape() != shape.as_slice() {
            let got = t.shape().to_vec();
            return Err(CheckpointError::new(path, CheckpointFault::Shape { name, expected: shape, got }));
        }
    }
    for (name, buffer) in module.named_buffers() {
        buffer.set(tensors.remove(&name).expect("checked above"));
    }
    for (name, param) in module.named_parameters_mut() {
        param.value = tensors.remove(&name).expect("checked above");
    }
    Ok(())
}

/// Writes named tensors and string metadata to `path` as safetensors, atomically.
pub fn write_tensors<T: Element>(
    path: &Path,
    tensors: &[(String, &Tensor<T>)],
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let views: Vec<(String, Encoded)> = tensors.iter().map(|(n, t)| (n.clone(), Encoded::new(t))).collect();
    let info: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let bytes = safetensors::serialize(views, (!info.is_empty()).then_some(info))
        .map_err(|e| CheckpointFault::Format(e.to_string()))
        .and_then(|bytes| canonical_header(bytes).map_err(CheckpointFault::Format))
        .at(path)?;
    write_atomic(path, &bytes)
}

/// The file with its JSON header rewritten in a fixed order (the metadata first, its keys
/// sorted, then the tensors by name): `safetensors` writes the metadata in the order of a
/// `HashMap`, which differs from process to process, and the same weights and metadata
/// should give the same bytes. The header stays padded to a multiple of 8 bytes.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let len_bytes: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or("no header length")?;
    let end = 8 + usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|e| e.to_string())?;
    let header = bytes.get(8..end).ok_or("a header longer than the file")?;
    let serde_json::Value::Object(entries) = serde_json::from_slice(header).map_err(|e| e.to_string())? else {
        return Err("the header is not a JSON object".into());
    };
    let mut sorted: Vec<(String, serde_json::Value)> = entries.into_iter().collect();
    sorted.sort_by(|(a, _), (b, _)| (a != "__metadata__", a).cmp(&(b != "__metadata__", b)));
    let mut object = serde_json::Map::new();
    for (name, mut value) in sorted {
        if let serde_json::Value::Object(meta) = &mut value
            && name == "__metadata__"
        {
            let mut pairs: Vec<(String, serde_json::Value)> = std::mem::take(meta).into_iter().collect();
            pairs.sort_by(|(a, _), (b, _)| a.cmp(b));
            meta.extend(pairs);
        }
        object.insert(name, value);
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(object)).map_err(|e| e.to_string())?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - end);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

/// Reads every tensor of a safetensors file into `T` (see the module docs for dtypes).
pub fn read_checkpoint<T: Element>(path: impl AsRef<Path>) -> Result<Checkpoint<T>, CheckpointError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(CheckpointFault::Io).at(path)?;
    parse_checkpoint(&bytes, path)
}

/// Parses the bytes of a safetensors file (`path` only names it in errors).
pub fn parse_checkpoint<T: Element>(bytes: &[u8], path: &Path) -> Result<Checkpoint<T>, CheckpointError> {
    parse::<T>(bytes).at(path)
}

fn parse<T: Element>(bytes: &[u8]) -> Result<Checkpoint<T>, CheckpointFault> {
    let format = |e: safetensors::SafeTensorError| CheckpointFault::Format(e.to_string());
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(format)?;
    let metadata = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    let file = SafeTensors::deserialize(bytes).map_err(format)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.iter() {
        let data = decode::<T>(name, view.dtype(), view.data()).ok_or_else(|| CheckpointFault::Dtype {
            name: name.to_string(),
            expected: T::DTYPE,
            got: format!("{:?}", view.dtype()),
        })?;
        let t = Tensor::from_vec(view.shape(), data)
            .map_err(|e| CheckpointFault::Format(format!("tensor {name:?}: {e}")))?;
        tensors.insert(name.to_string(), t);
    }
    Ok(Checkpoint { tensors, metadata })
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`;
/// on any failure the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::new(path, CheckpointFault::Io(source));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
    // Unique per process and per call, so concurrent writers never share a temporary.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp{}-{n}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can sync a folder.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Removes the temporary files a killed [`write_atomic`] may have left beside `target`
/// (`.<name>.tmp<pid>-<n>`); other files are left alone.
pub fn remove_stale_temporaries(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!(".{}.tmp", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let ours = rest.split_once('-').is_some_and(|(pid, n)| {
            !pid.is_empty() && !n.is_empty() && pid.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
        });
        if ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A tensor encoded as little-endian bytes of its element type, for safetensors.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Encoded {
    fn new<T: Element>(t: &Tensor<T>) -> Self {
        let (dtype, bytes) = if T::DTYPE == "F64" {
            (Dtype::F64, t.iter().flat_map(|x| x.to_f64_exact().to_le_bytes()).collect())
        } else {
            (Dtype::F32, t.iter().flat_map(|x| (x.to_f64_exact() as f32).to_le_bytes()).collect())
        };
        Encoded { dtype, shape: t.shape().to_vec(), bytes }
    }
}

impl safetensors::View for Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Little-endian bytes of `dtype` as `T`, or None when `dtype` cannot be loaded as `T`.
/// Integers only for PyTorch's one integer buffer, batch norm's `num_batches_tracked`.
fn decode<T: Element>(name: &str, dtype: Dtype, bytes: &[u8]) -> Option<Vec<T>> {
    if dtype == Dtype::I64 && !name.ends_with("num_batches_tracked") {
        return None;
    }
    match (dtype, T::DTYPE) {
        (Dtype::F32, _) => Some(
            bytes
                .chunks_exact(4)
                .map(|c| T::from_f64_lossy(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect(),
        ),
        (Dtype::I64, _) => Some(
            bytes
                .chunks_exact(8)
                .map(|c| T::from_f64_lossy(i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64))
                .collect(),
        ),
        (Dtype::F64, "F64") => Some(
            bytes
                .chunks_exact(8)
                .map(|c| T::from_f64_lossy(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
        ),
        _ => None,
    }
}
