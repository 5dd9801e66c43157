//! End to end across the crates: LeNet-5 built by `models`, its table of shapes checked
//! against the network's own output shapes (bytes = product of the shape × 4), and its
//! checkpoint (written by `layers::checkpoint::save_module`) read back by
//! `read_checkpoint` with PyTorch's names and shapes, checked against the safetensors
//! layout byte by byte, and loaded into an f64 network that computes the same logits.

use std::path::PathBuf;

use autograd::Tape;
use layers::Module;
use layers::checkpoint::{load_module, read_checkpoint, save_module};
use models::LeNet5;
use models::shapes::table;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

/// PyTorch's `state_dict` of LeNet-5: `nn.Conv2d(1, 6, 5)`, `nn.Conv2d(6, 16, 5)`,
/// `nn.Conv2d(16, 120, 5)`, `nn.Linear(120, 84)`, `nn.Linear(84, 10)`.
const STATE_DICT: [(&str, &[usize]); 10] = [
    ("c1.weight", &[6, 1, 5, 5]),
    ("c1.bias", &[6]),
    ("c3.weight", &[16, 6, 5, 5]),
    ("c3.bias", &[16]),
    ("c5.weight", &[120, 16, 5, 5]),
    ("c5.bias", &[120]),
    ("f6.weight", &[84, 120]),
    ("f6.bias", &[84]),
    ("f7.weight", &[10, 84]),
    ("f7.bias", &[10]),
];

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("workspace-test-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lenet<T: tensor::Element>(seed: u64) -> LeNet5<T> {
    models::lenet5::new(&mut StdRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn the_shapes_table_counts_4_bytes_per_element_and_follows_the_network() {
    let model = lenet::<f32>(0);
    for n in [1, 2, 64] {
        let rows = table(n).unwrap();
        assert!(rows.len() > 10);
        for r in &rows {
            assert_eq!(r.bytes, r.shape.iter().product::<usize>() * 4, "batch {n}: {r:?}");
        }
        // The layer outputs (4-D or 2-D rows named for the stage's output) are the shapes the
        // network's stages produce.
        let mut shape = vec![n, 1, 32, 32];
        assert_eq!(rows[0].shape, shape);
        for (name, stage) in model.named_layers() {
            shape = stage.output_shape(&shape).unwrap();
            let name = name.to_uppercase();
            if ["C1", "S2", "C3", "S4", "C5", "F6", "F7"].contains(&name.as_str()) {
                assert_eq!(rows.iter().rfind(|r| r.layer == name).unwrap().shape, shape, "{name}, batch {n}");
            }
        }
        assert_eq!(shape, vec![n, 10]);
        // Every im2col or window matrix names the bytes of the tensor it copies from.
        for r in rows.iter().filter(|r| r.source_bytes.is_some()) {
            assert!(r.bytes >= r.source_bytes.unwrap(), "a copy is at least as large as its source: {r:?}");
        }
        // Inputs of C1, S2, C3, S4, C5.
        let sources: Vec<usize> = rows.iter().filter_map(|r| r.source_bytes).collect();
        assert_eq!(
            sources,
            [n * 1024, n * 6 * 28 * 28, n * 6 * 14 * 14, n * 16 * 10 * 10, n * 16 * 5 * 5].map(|v| v * 4)
        );
    }
}

#[test]
fn a_checkpoint_has_pytorch_names_and_shapes() {
    let dir = Scratch::new("ckpt-names");
    let path = dir.0.join("lenet5.safetensors");
    let model = lenet::<f32>(21);
    save_module(&model, &path).unwrap();

    let ckpt = read_checkpoint::<f32>(&path).unwrap();
    let mut expected: Vec<(&str, &[usize])> = STATE_DICT.to_vec();
    expected.sort();
    let got: Vec<(&str, &[usize])> = ckpt.tensors.iter().map(|(n, t)| (n.as_str(), t.shape())).collect();
    assert_eq!(got, expected);
    for (name, p) in model.named_parameters() {
        assert!(ckpt.tensors[&name].to_vec() == p.value.to_vec(), "{name}: values");
    }
    assert!(ckpt.metadata.is_empty());

    // The safetensors layout, read by hand: an 8-byte little-endian header length, a JSON
    // header naming every tensor with dtype F32, then 4 bytes per element.
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    for (name, shape) in STATE_DICT {
        assert!(header.contains(&format!("\"{name}\"")), "{name} in {header}");
        let dims = shape.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        assert!(header.contains(&format!("\"shape\":[{dims}]")), "shape of {name} in {header}");
    }
    assert_eq!(header.matches("\"F32\"").count(), 10, "{header}");
    let elements: usize = STATE_DICT.iter().map(|(_, s)| s.iter().product::<usize>()).sum();
    assert_eq!(elements, 61_706);
    assert_eq!(bytes.len(), 8 + header_len + 4 * elements);
}

#[test]
fn an_f32_checkpoint_loads_into_an_f64_network_with_the_same_logits() {
    let dir = Scratch::new("ckpt-f64");
    let path = dir.0.join("lenet5.safetensors");
    let m32 = lenet::<f32>(22);
    save_module(&m32, &path).unwrap();
    let mut m64 = lenet::<f64>(23);
    load_module(&mut m64, &path).unwrap();
    for ((n, a), (_, b)) in m32.named_parameters().into_iter().zip(m64.named_parameters()) {
        let widened: Vec<f64> = a.value.iter().map(f64::from).collect();
        assert!(widened == b.value.to_vec(), "{n}: widening is exact");
    }

    let x64 = Tensor::<f64>::rand_uniform(&[4, 1, 32, 32], -0.42, 2.8, &mut StdRng::seed_from_u64(24)).unwrap();
    let x32 = Tensor::from_vec(&[4, 1, 32, 32], x64.iter().map(|v| v as f32).collect()).unwrap();
    let x64 = Tensor::from_vec(&[4, 1, 32, 32], x32.iter().map(f64::from).collect()).unwrap();
    let (t32, t64) = (Tape::no_grad(), Tape::no_grad());
    let l32 = m32.forward(t32.constant(x32)).unwrap().value().to_vec();
    let l64 = m64.forward(t64.constant(x64)).unwrap().value().to_vec();
    assert_eq!(l32.len(), 40);
    for (i, (a, b)) in l32.iter().zip(&l64).enumerate() {
        assert!((f64::from(*a) - b).abs() <= 1e-4 * (1.0 + b.abs()), "logit {i}: f32 {a}, f64 {b}");
    }
}

/// LeNet-5 written out with index loops over the checkpoint's tensors (PyTorch layouts:
/// conv weight `[out, in, 5, 5]`, linear weight `[out, in]`), in f64: the reference for
/// the im2col network.
fn naive_lenet5(t: &std::collections::BTreeMap<String, Tensor<f32>>, x: &[f64], n: usize) -> Vec<f64> {
    let w = |name: &str| -> Vec<f64> { t[name].iter().map(f64::from).collect() };
    let conv = |x: &[f64], c: usize, side: usize, wname: &str, bname: &str, f: usize| {
        let (wt, b, out) = (w(wname), w(bname), side - 4);
        let mut y = vec![0f64; n * f * out * out];
        for img in 0..n {
            for o in 0..f {
                for r in 0..out {
                    for col in 0..out {
                        let mut acc = b[o];
                        for ci in 0..c {
                            for i in 0..5 {
                                for j in 0..5 {
                                    acc += wt[((o * c + ci) * 5 + i) * 5 + j]
                                        * x[((img * c + ci) * side + r + i) * side + col + j];
                                }
                            }
                        }
                        y[((img * f + o) * out + r) * out + col] = acc.max(0.0);
                    }
                }
            }
        }
        y
    };
    let pool = |x: &[f64], planes: usize, side: usize| {
        let half = side / 2;
        let mut y = vec![0f64; planes * half * half];
        for p in 0..planes {
            for r in 0..half {
                for c in 0..half {
                    let at = |i: usize, j: usize| x[(p * side + 2 * r + i) * side + 2 * c + j];
                    y[(p * half + r) * half + c] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
                }
            }
        }
        y
    };
    let linear = |x: &[f64], inputs: usize, wname: &str, bname: &str, outputs: usize, relu: bool| {
        let (wt, b) = (w(wname), w(bname));
        let mut y = vec![0f64; n * outputs];
        for img in 0..n {
            for o in 0..outputs {
                let z = b[o] + (0..inputs).map(|i| wt[o * inputs + i] * x[img * inputs + i]).sum::<f64>();
                y[img * outputs + o] = if relu { z.max(0.0) } else { z };
            }
        }
        y
    };
    let a1 = pool(&conv(x, 1, 32, "c1.weight", "c1.bias", 6), n * 6, 28);
    let a3 = pool(&conv(&a1, 6, 14, "c3.weight", "c3.bias", 16), n * 16, 10);
    let a5 = conv(&a3, 16, 5, "c5.weight", "c5.bias", 120);
    let a6 = linear(&a5, 120, "f6.weight", "f6.bias", 84, true);
    linear(&a6, 84, "f7.weight", "f7.bias", 10, false)
}

#[test]
fn a_naive_lenet5_from_the_checkpoint_computes_the_same_logits() {
    let dir = Scratch::new("ckpt-naive");
    let path = dir.0.join("lenet5.safetensors");
    let model = lenet::<f32>(25);
    save_module(&model, &path).unwrap();
    let ckpt = read_checkpoint::<f32>(&path).unwrap();

    let n = 3;
    let x = Tensor::<f32>::rand_uniform(&[n, 1, 32, 32], -0.42, 2.8, &mut StdRng::seed_from_u64(26)).unwrap();
    let want = naive_lenet5(&ckpt.tensors, &x.iter().map(f64::from).collect::<Vec<_>>(), n);
    let tape = Tape::no_grad();
    let got = model.forward(tape.constant(x)).unwrap().value();
    assert_eq!(got.shape(), &[n, 10]);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((f64::from(g) - w).abs() <= 1e-4 * (1.0 + w.abs()), "logit {i}: im2col network {g}, naive {w}");
    }
}
