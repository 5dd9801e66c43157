//! Checkpoints: a round trip into a model initialised differently gives identical outputs;
//! the file is the safetensors layout PyTorch reads (checked with a header parser written
//! here); every load error (Io, Format, Missing, Unexpected, Shape, Dtype) is reported with
//! the tensor's name and leaves the model as it was; writes are atomic (a failed write
//! leaves the previous file intact and no temporary file behind).

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use autograd::Tape;
use common::*;
use layers::checkpoint::{load_module, parse_checkpoint, read_checkpoint, save_module, write_tensors};
use layers::{
    CheckpointError, CheckpointFault, Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

/// Conv2d(3→4, 3×3, padding 1) → ReLU → MaxPool2d(2, 2) → Flatten → Linear(36 → 5), for
/// 6×6 inputs. Parameters: 0.weight [4,3,3,3], 0.bias [4], 4.weight [5,36], 4.bias [5].
fn model<T: Element>(seed: u64) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .with(Conv2d::new(Conv2dConfig::new(3, 4, 3).padding(1), &mut rng).unwrap())
        .with(ReLU)
        .with(MaxPool2d::new(2, 2).unwrap())
        .with(Flatten)
        .with(Linear::new(4 * 3 * 3, 5, &mut rng).unwrap())
}

fn input<T: Element>() -> Tensor<T> {
    random_tensor(&[2, 3, 6, 6], 99)
}

fn outputs<T: Element>(m: &Sequential<T>) -> Vec<f64> {
    let tape = Tape::no_grad();
    to_f64(&m.forward(tape.constant(input())).unwrap().value())
}

fn param_values<T: Element>(m: &Sequential<T>) -> Vec<(String, Vec<f64>)> {
    m.named_parameters().into_iter().map(|(n, p)| (n, to_f64(&p.value))).collect()
}

/// The model's tensors by name, for building files with something changed.
fn tensors_of(m: &Sequential<f32>) -> BTreeMap<String, Tensor<f32>> {
    m.named_parameters().into_iter().map(|(n, p)| (n, p.value.clone())).collect()
}

fn write(path: &Path, tensors: &BTreeMap<String, Tensor<f32>>) {
    let named: Vec<(String, &Tensor<f32>)> = tensors.iter().map(|(n, t)| (n.clone(), t)).collect();
    write_tensors(path, &named, &BTreeMap::new()).unwrap();
}

/// A safetensors file written byte by byte: the header length as 8 little-endian bytes,
/// the JSON header, then the tensors' bytes in order.
fn raw_safetensors(entries: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, dtype, shape, bytes)) in entries.iter().enumerate() {
        let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            shape.join(","),
            data.len(),
            data.len() + bytes.len()
        ));
        data.extend_from_slice(bytes);
    }
    header.push('}');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn f32_bytes(t: &Tensor<f32>) -> Vec<u8> {
    t.iter().flat_map(f32::to_le_bytes).collect()
}

/// The model's tensors as raw entries (name, dtype F32, shape, bytes), in name order.
fn raw_entries(m: &Sequential<f32>) -> Vec<(String, String, Vec<usize>, Vec<u8>)> {
    tensors_of(m).into_iter().map(|(n, t)| (n, "F32".to_string(), t.shape().to_vec(), f32_bytes(&t))).collect()
}

fn raw_file(entries: &[(String, String, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let e: Vec<(&str, &str, Vec<usize>, Vec<u8>)> =
        entries.iter().map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone())).collect();
    raw_safetensors(&e)
}

/// Loads `path` into a fresh model and checks that the load fails and changes nothing.
fn load_fails(path: &Path) -> CheckpointError {
    let mut m = model::<f32>(5);
    let (before, params) = (outputs(&m), param_values(&m));
    let err = load_module(&mut m, path).expect_err("the load must fail");
    assert!(param_values(&m) == params, "a failed load ({err}) must assign nothing");
    assert_eq!(outputs(&m), before);
    err
}

#[test]
fn round_trip_gives_identical_outputs() {
    let dir = ScratchDir::new("round-trip");
    let path = dir.join("model.safetensors");
    let a = model::<f32>(1);
    save_module(&a, &path).unwrap();
    let mut b = model::<f32>(2);
    assert_ne!(outputs(&a), outputs(&b), "different seeds give different models");
    load_module(&mut b, &path).unwrap();
    assert_eq!(param_values(&b), param_values(&a));
    assert_eq!(outputs(&b), outputs(&a));
    assert_eq!(dir.entries(), ["model.safetensors"], "no temporary file is left");

    // The same in f64, and overwriting the previous file.
    let a = model::<f64>(3);
    save_module(&a, &path).unwrap();
    let mut b = model::<f64>(4);
    load_module(&mut b, &path).unwrap();
    assert_eq!(outputs(&b), outputs(&a));
    assert_eq!(dir.entries(), ["model.safetensors"]);
}

/// The header and data, read with a parser written here: each parameter under its name,
/// dtype F32, PyTorch's shape, little-endian f32 data at its offsets.
#[test]
fn file_layout_is_safetensors_as_pytorch_reads_it() {
    let dir = ScratchDir::new("layout");
    let path = dir.join("model.safetensors");
    let m = model::<f32>(1);
    save_module(&m, &path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let field = |obj: &str, key: &str, open: char, close: char| -> String {
        let start = obj.find(&format!("\"{key}\":{open}")).unwrap_or_else(|| panic!("{key} in {obj}")) + key.len() + 4;
        obj[start..start + obj[start..].find(close).unwrap()].to_string()
    };
    let mut total = 0;
    for (name, p) in m.named_parameters() {
        let at = header.find(&format!("\"{name}\":{{")).unwrap_or_else(|| panic!("{name} in {header}"));
        let obj = &header[at..at + header[at..].find('}').unwrap()];
        assert_eq!(field(obj, "dtype", '"', '"'), "F32");
        let shape: Vec<usize> = field(obj, "shape", '[', ']').split(',').map(|s| s.parse().unwrap()).collect();
        assert_eq!(shape, p.shape());
        let offsets: Vec<usize> = field(obj, "data_offsets", '[', ']').split(',').map(|s| s.parse().unwrap()).collect();
        let values: Vec<f32> =
            data[offsets[0]..offsets[1]].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, p.value.to_vec(), "{name}");
        total += offsets[1] - offsets[0];
    }
    assert_eq!(total, data.len(), "the file holds the parameters and nothing else");
    assert_eq!(header.matches("\"dtype\"").count(), 4);

    // An f64 model writes F64.
    let m = model::<f64>(1);
    save_module(&m, &path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert_eq!(header.matches("\"dtype\":\"F64\"").count(), 4, "{header}");
}

/// A hand-written F32 file loads (the reader accepts files it did not write), and F32
/// widens exactly into an f64 model.
#[test]
fn hand_written_f32_file_loads_into_f32_and_f64_models() {
    let dir = ScratchDir::new("hand-written");
    let path = dir.join("hand.safetensors");
    let a = model::<f32>(1);
    fs::write(&path, raw_file(&raw_entries(&a))).unwrap();
    let mut b = model::<f32>(2);
    load_module(&mut b, &path).unwrap();
    assert_eq!(outputs(&b), outputs(&a));
    let mut c = model::<f64>(2);
    load_module(&mut c, &path).unwrap();
    assert_eq!(param_values(&c), param_values(&a), "F32 → f64 is exact");
}

#[test]
fn missing_tensor_is_reported_and_nothing_is_loaded() {
    let dir = ScratchDir::new("missing");
    let path = dir.join("m.safetensors");
    let mut t = tensors_of(&model(1));
    t.remove("4.bias"); // the last parameter: the others would be assigned first
    write(&path, &t);
    match load_fails(&path) {
        CheckpointError { path: p, source: CheckpointFault::Missing { name } } => {
            assert_eq!((p, name.as_str()), (path.clone(), "4.bias"))
        }
        e => panic!("expected Missing, got {e:?}"),
    }
}

#[test]
fn unexpected_tensor_is_reported() {
    let dir = ScratchDir::new("unexpected");
    let path = dir.join("u.safetensors");
    let mut t = tensors_of(&model(1));
    t.insert("5.weight".into(), Tensor::zeros(&[2]).unwrap());
    write(&path, &t);
    let mut m = model::<f32>(5);
    match load_module(&mut m, &path).unwrap_err() {
        CheckpointError { path: p, source: CheckpointFault::Unexpected { name } } => {
            assert_eq!((p, name.as_str()), (path.clone(), "5.weight"))
        }
        e => panic!("expected Unexpected, got {e:?}"),
    }
}

/// "Loads check every tensor before assigning any" — also the check for extra tensors.
#[test]
fn unexpected_tensor_leaves_the_model_unchanged() {
    let dir = ScratchDir::new("unexpected-unchanged");
    let path = dir.join("u.safetensors");
    let mut t = tensors_of(&model(1));
    t.insert("5.weight".into(), Tensor::zeros(&[2]).unwrap());
    write(&path, &t);
    assert!(matches!(load_fails(&path).source, CheckpointFault::Unexpected { .. }));
}

#[test]
fn wrong_shape_is_reported_and_nothing_is_loaded() {
    let dir = ScratchDir::new("shape");
    let path = dir.join("s.safetensors");
    let mut t = tensors_of(&model(1));
    // The Linear weight transposed ([in, out], the layout of a `x·W` convention): same
    // number of elements, wrong shape.
    let w = t["4.weight"].t().unwrap().to_contiguous();
    t.insert("4.weight".into(), w);
    write(&path, &t);
    match load_fails(&path).source {
        CheckpointFault::Shape { name, expected, got } => {
            assert_eq!(name, "4.weight");
            assert_eq!(expected, vec![5, 36]);
            assert_eq!(got, vec![36, 5]);
        }
        e => panic!("expected Shape, got {e:?}"),
    }
    let mut t = tensors_of(&model(1));
    t.insert("4.bias".into(), Tensor::zeros(&[6]).unwrap());
    write(&path, &t);
    assert!(matches!(load_fails(&path).source, CheckpointFault::Shape { name, .. } if name == "4.bias"));
}

#[test]
fn wrong_dtype_is_reported_and_nothing_is_loaded() {
    let dir = ScratchDir::new("dtype");
    let path = dir.join("d.safetensors");
    let m = model::<f32>(1);
    // (I64 loads: PyTorch keeps counters such as `num_batches_tracked` as int64.)
    for (dtype, bytes_per) in [("I32", 4), ("F16", 2), ("BF16", 2)] {
        let mut entries = raw_entries(&m);
        let last = entries.iter_mut().find(|e| e.0 == "4.bias").unwrap(); // 5 elements
        last.1 = dtype.to_string();
        last.3 = vec![0u8; 5 * bytes_per];
        fs::write(&path, raw_file(&entries)).unwrap();
        match load_fails(&path).source {
            CheckpointFault::Dtype { name, expected, got } => {
                assert_eq!(name, "4.bias");
                assert_eq!(expected, "F32");
                assert_eq!(got, dtype);
            }
            e => panic!("{dtype}: expected Dtype, got {e:?}"),
        }
    }
    // F64 does not narrow into an f32 model.
    save_module(&model::<f64>(1), &path).unwrap();
    assert!(matches!(load_fails(&path).source, CheckpointFault::Dtype { expected: "F32", got, .. } if got == "F64"));
}

#[test]
fn malformed_files_are_format_errors() {
    let dir = ScratchDir::new("format");
    let path = dir.join("f.safetensors");
    let good = raw_file(&raw_entries(&model(1)));
    let mut bad_json = good.clone();
    bad_json[8] = b'['; // the header no longer opens an object
    let mut bad_offsets = raw_entries(&model(1));
    bad_offsets[0].3.pop(); // one byte short of 4·numel
    let huge_header = {
        let mut b = (1u64 << 40).to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"this is not a safetensors file at all".to_vec()),
        ("empty", Vec::new()),
        ("shorter than the length prefix", vec![1, 2, 3]),
        ("truncated data", good[..good.len() - 7].to_vec()),
        ("truncated header", good[..20].to_vec()),
        ("trailing bytes", [good.clone(), vec![0; 4]].concat()),
        ("header not an object", bad_json),
        ("data size does not match the shape", raw_file(&bad_offsets)),
        ("header length beyond the file", huge_header),
    ];
    for (what, bytes) in cases {
        fs::write(&path, &bytes).unwrap();
        match load_fails(&path) {
            CheckpointError { path: p, source: CheckpointFault::Format(_) } => assert_eq!(p, path, "{what}"),
            e => panic!("{what}: expected Format, got {e:?}"),
        }
        let format = matches!(
            parse_checkpoint::<f32>(&bytes, &path),
            Err(CheckpointError { source: CheckpointFault::Format(_), .. })
        );
        assert!(format, "{what}");
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = ScratchDir::new("io");
    let path = dir.join("nope.safetensors");
    match load_fails(&path) {
        CheckpointError { path: p, source: CheckpointFault::Io(source) } => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        e => panic!("expected Io, got {e:?}"),
    }
}

/// The messages name the file and the tensor.
#[test]
fn errors_name_the_file_and_the_tensor() {
    let dir = ScratchDir::new("messages");
    let path = dir.join("named.safetensors");
    let mut t = tensors_of(&model(1));
    t.remove("0.bias");
    write(&path, &t);
    let msg = load_fails(&path).to_string();
    assert!(msg.contains("named.safetensors") && msg.contains("0.bias"), "{msg}");
}

/// Metadata and extra tensors round-trip through write_tensors / read_checkpoint.
#[test]
fn write_and_read_tensors_with_metadata() {
    let dir = ScratchDir::new("metadata");
    let path = dir.join("t.safetensors");
    let a = Tensor::<f64>::from_vec(&[2, 3], vec![1.0, -2.0, 3.5, 0.0, 1e-300, -7.25]).unwrap();
    let b = Tensor::<f64>::scalar(42.0);
    let meta = BTreeMap::from([("epoch".to_string(), "7".to_string()), ("format".to_string(), "pt".to_string())]);
    write_tensors(&path, &[("a".into(), &a), ("nested.b".into(), &b)], &meta).unwrap();
    let ck = read_checkpoint::<f64>(&path).unwrap();
    assert_eq!(ck.metadata, meta);
    assert_eq!(ck.tensors.keys().collect::<Vec<_>>(), ["a", "nested.b"]);
    assert_eq!(ck.tensors["a"], a);
    assert_eq!(ck.tensors["nested.b"].shape(), &[] as &[usize]);
    assert_eq!(ck.tensors["nested.b"].item().unwrap(), 42.0);
    assert_eq!(dir.entries(), ["t.safetensors"]);
}

/// A write whose temporary file cannot be created (the target's parent is a regular file)
/// fails with Io, leaves the previous checkpoint (in its own folder) untouched, and leaves
/// no temporary file anywhere.
#[test]
fn failed_write_leaves_the_previous_file_intact() {
    let dir = ScratchDir::new("atomic");
    fs::create_dir(dir.join("good")).unwrap();
    let good = dir.join("good").join("model.safetensors");
    save_module(&model::<f32>(1), &good).unwrap();
    let before = fs::read(&good).unwrap();

    fs::write(dir.join("blocker"), b"a regular file").unwrap();
    let target = dir.join("blocker").join("model.safetensors");
    match save_module(&model::<f32>(2), &target) {
        Err(CheckpointError { path, source: CheckpointFault::Io(_) }) => assert_eq!(path, target),
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(fs::read(&good).unwrap(), before);
    assert_eq!(fs::read(dir.join("blocker")).unwrap(), b"a regular file");
    assert_eq!(dir.entries(), ["blocker", "good"]);
    assert_eq!(fs::read_dir(dir.join("good")).unwrap().count(), 1);
}

/// A write whose final rename fails (the target is a non-empty folder) fails with Io,
/// removes its temporary file, and leaves the folder's contents alone.
#[test]
fn failed_rename_removes_the_temporary_file() {
    let dir = ScratchDir::new("atomic-rename");
    let target = dir.join("model.safetensors");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"keep me").unwrap();
    assert!(matches!(
        save_module(&model::<f32>(1), &target),
        Err(CheckpointError { source: CheckpointFault::Io(_), .. })
    ));
    assert_eq!(dir.entries(), ["model.safetensors"], "the temporary file must be removed");
    assert_eq!(fs::read(target.join("keep")).unwrap(), b"keep me");
}

/// In a read-only folder (when permissions apply: not as root), a save fails with Io and
/// the previous checkpoint stays as it was, with no temporary file.
#[cfg(unix)]
#[test]
fn read_only_folder_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = ScratchDir::new("read-only");
    let path = dir.join("model.safetensors");
    save_module(&model::<f32>(1), &path).unwrap();
    let before = fs::read(&path).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
    let probe = fs::File::create(dir.join("probe"));
    let result = if probe.is_ok() {
        // Root ignores the mode: nothing to test here (the parent-is-a-file test covers
        // the failure path).
        fs::remove_file(dir.join("probe")).unwrap();
        None
    } else {
        Some(save_module(&model::<f32>(2), &path))
    };
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(result) = result {
        assert!(matches!(result, Err(CheckpointError { source: CheckpointFault::Io(_), .. })), "{result:?}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(dir.entries(), ["model.safetensors"]);
    }
    assert_eq!(fs::read(&path).unwrap(), before);
}
