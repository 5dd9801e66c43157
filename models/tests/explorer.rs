//! The explorer's matrices against independent computations, and its server against bad
//! requests.
//!
//! - Forward: `z⁽¹⁾` against a naive convolution loop, S2's argmax against a naive window
//!   scan, the logits `z⁽⁷⁾` and `P` against the fused `Module::forward` (the `conv2d` op,
//!   not the im2col chain), the input against `mnist::preprocess_into`.
//! - Backward: every `∇W`, `∇b` against `tape.backward` through the fused forward pass,
//!   `∇z⁽⁷⁾` against `P − Y`, sampled elements against central differences in f64.
//! - SGD step: `ΔW = −η·∇W`, the label's probability rises, the caller's weights unchanged.
//! - Server: the JSON of `/api/pass` equals the fused computation; bad JSON, wrong length,
//!   non-finite or out-of-range pixels, a bad label, a 10 MB body all get a 4xx with a JSON
//!   error, and the server answers afterwards, also to 8 clients at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use autograd::Tape;
use layers::Module;
use models::LeNet5;
use models::explorer::{Image, Matrix, Pass, ServeOptions, Server, pass, step};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use tensor::Tensor;

/// A seeded network.
fn model(seed: u64) -> LeNet5<f32> {
    LeNet5::new(&mut StdRng::seed_from_u64(seed)).unwrap()
}

/// A 28×28 "7"-like stroke with soft edges, as MNIST bytes.
fn digit() -> Vec<u8> {
    let mut px = vec![0u8; 784];
    let mut ink = |r: i32, c: i32| {
        for (dr, dc, v) in [(0, 0, 255u8), (0, 1, 200), (1, 0, 200), (0, -1, 120), (-1, 0, 120)] {
            let (rr, cc) = (r + dr, c + dc);
            if (0..28).contains(&rr) && (0..28).contains(&cc) {
                let p = &mut px[(rr * 28 + cc) as usize];
                *p = (*p).max(v);
            }
        }
    };
    for c in 6..22 {
        ink(6, c);
    }
    for k in 0..16 {
        ink(7 + k, 21 - k / 2);
    }
    px
}

/// The digit over a faint, irregular background: no two pooling candidates tie, so central
/// differences and the first-maximum subgradient agree (constant background makes ties).
fn noisy_digit() -> Vec<u8> {
    digit().iter().enumerate().map(|(i, &p)| p.max(((i * 7919 + 13) % 61) as u8)).collect()
}

fn find<'a>(ms: &'a [Matrix], id: &str) -> &'a Matrix {
    ms.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("no matrix {id}"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// The input the way training reads it.
fn mnist_input(bytes: &[u8]) -> Vec<f32> {
    let mut x = vec![0.0; 1024];
    models::mnist::preprocess_into(bytes, &models::mnist::pixel_lut(), &mut x);
    x
}

/// The fused path: logits and parameter gradients of the cross-entropy for `label`.
fn fused(m: &LeNet5<f32>, x: &[f32], label: usize) -> (Vec<f32>, Vec<(String, Tensor<f32>)>) {
    let tape = Tape::new();
    let logits = m.forward(tape.constant(Tensor::from_vec(&[1, 1, 32, 32], x.to_vec()).unwrap())).unwrap();
    let loss = layers::cross_entropy(logits, &[label], 0.0).unwrap();
    let grads = tape.backward(loss).unwrap();
    let named = m
        .named_parameters()
        .into_iter()
        .map(|(n, p)| {
            let g = grads.param(p).unwrap();
            let s = g.shape().to_vec();
            // The derivation's layout: conv weights reshape(W, [F, C·k·k])ᵀ, linear Wᵀ.
            let g = match s.len() {
                4 => g.reshape(&[s[0], s[1] * s[2] * s[3]]).unwrap().t().unwrap().to_contiguous(),
                2 => g.t().unwrap().to_contiguous(),
                _ => g.to_contiguous(),
            };
            (n, g)
        })
        .collect();
    (logits.value().to_vec(), named)
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

const GRAD_IDS: [&str; 10] = ["dW1", "db1", "dW3", "db3", "dW5", "db5", "dW6", "db6", "dW7", "db7"];

#[test]
fn forward_matrices_match_independent_computations() {
    let m = model(3);
    let bytes = digit();
    let p = pass(&m, &Image::from_bytes(&bytes), Some(7)).unwrap();
    let x = mnist_input(&bytes);
    assert_eq!(find(&p.forward, "x").data, x, "the input is preprocessed as training does");

    // z⁽¹⁾ by a naive convolution loop.
    let w = m.c1.weight.value.to_contiguous().to_vec();
    let b = m.c1.bias.as_ref().unwrap().value.to_vec();
    let z1 = find(&p.forward, "z1");
    assert_eq!(z1.shape, [784, 6]);
    let mut worst = 0.0f32;
    for i in 0..28 {
        for j in 0..28 {
            for f in 0..6 {
                let mut s = b[f];
                for u in 0..5 {
                    for v in 0..5 {
                        s += w[f * 25 + u * 5 + v] * x[(i + u) * 32 + j + v];
                    }
                }
                worst = worst.max((s - z1.at(i * 28 + j, f)).abs());
            }
        }
    }
    assert!(worst < 1e-4, "z1 differs from the naive convolution by {worst}");
    // a⁽⁰⁾: row r holds the 5×5 window at (r/28, r%28).
    let a0 = find(&p.forward, "a0");
    assert_eq!(a0.at(5 * 28 + 9, 2 * 5 + 3), x[(5 + 2) * 32 + 9 + 3]);

    // S2: each window row and its first maximum, by scanning the C1 maps.
    let out1 = find(&p.forward, "out1");
    let a1 = find(&p.forward, "a1");
    let argmax = a1.argmax.as_ref().unwrap();
    for c in 0..6 {
        for i in 0..14 {
            for j in 0..14 {
                let r = c * 196 + i * 14 + j;
                let cells: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(di, dj)| out1.data[c * 784 + (2 * i + di) * 28 + 2 * j + dj])
                    .collect();
                assert_eq!(cells, a1.data[r * 4..r * 4 + 4], "window {r}");
                let first = (0..4).fold(0, |k, q| if cells[q] > cells[k] { q } else { k });
                assert_eq!(usize::from(argmax[r]), first, "argmax of window {r}");
                assert_eq!(find(&p.forward, "z2").data[r], cells[first]);
            }
        }
    }

    // z⁽⁷⁾ and P against the fused forward pass.
    let (logits, _) = fused(&m, &x, 7);
    let z7 = &find(&p.forward, "z7").data;
    assert!(max_abs_diff(z7, &logits) < 1e-4, "z7 {z7:?} vs fused {logits:?}");
    assert!(max_abs_diff(&p.probabilities, &softmax(&logits)) < 1e-5);
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(p.prediction, (0..10).fold(0, |b, i| if logits[i] > logits[b] { i } else { b }));
}

#[test]
fn backward_matrices_match_the_fused_tape_and_finite_differences() {
    let m = model(4);
    let bytes = noisy_digit();
    let label = 2;
    let p: Pass = pass(&m, &Image::from_bytes(&bytes), Some(label)).unwrap();
    assert_eq!(p.label, label);
    let x = mnist_input(&bytes);

    // ∇z⁽⁷⁾ = P − Y.
    let dz7 = &find(&p.backward, "dz7").data;
    for (k, (g, pk)) in dz7.iter().zip(&p.probabilities).enumerate() {
        let y = if k == label { 1.0 } else { 0.0 };
        assert!((g - (pk - y)).abs() < 1e-6, "dz7[{k}]");
    }

    // Every parameter gradient against the fused conv2d/linear path.
    let (_, grads) = fused(&m, &x, label);
    for (id, (name, g)) in GRAD_IDS.iter().zip(&grads) {
        let mine = find(&p.backward, id);
        assert_eq!(mine.data.len(), g.numel(), "{id} vs {name}");
        let scale = g.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-6);
        let d = max_abs_diff(&mine.data, &g.to_vec());
        assert!(d <= 1e-4 * scale + 1e-7, "{id} differs from the tape's {name} by {d} (scale {scale})");
    }
    // ∇b is the column sum of ∇z.
    let dz1 = find(&p.backward, "dz1");
    let db1 = &find(&p.backward, "db1").data;
    for (f, b) in db1.iter().enumerate() {
        let s: f32 = (0..784).map(|r| dz1.at(r, f)).sum();
        assert!((s - b).abs() < 1e-4 * s.abs().max(1e-3), "db1[{f}]");
    }
    // The routing: ∇a⁽¹⁾ is zero off each row's argmax and ∇z⁽²⁾ on it.
    let da1 = find(&p.backward, "da1");
    let dz2 = &find(&p.backward, "dz2").data;
    let argmax = da1.argmax.as_ref().unwrap();
    for r in 0..1176 {
        for q in 0..4 {
            let want = if q == usize::from(argmax[r]) { dz2[r] } else { 0.0 };
            assert_eq!(da1.at(r, q), want, "da1[{r}, {q}]");
        }
    }

    // Central differences in f64 on the largest-gradient element of each parameter and on
    // one input pixel (through ∇x = col2im(∇a⁽⁰⁾)).
    let mut m64 = LeNet5::<f64>::new(&mut StdRng::seed_from_u64(0)).unwrap();
    for ((_, dst), (_, src)) in m64.named_parameters_mut().into_iter().zip(m.named_parameters()) {
        dst.value = Tensor::from_vec(src.shape(), src.value.iter().map(f64::from).collect()).unwrap();
    }
    let x64: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
    let loss = |m: &LeNet5<f64>, x: &[f64]| -> f64 {
        let tape = Tape::no_grad();
        let z = m.forward(tape.constant(Tensor::from_vec(&[1, 1, 32, 32], x.to_vec()).unwrap())).unwrap();
        layers::cross_entropy(z, &[label], 0.0).unwrap().value().item().unwrap()
    };
    let h = 1e-5;
    for (k, id) in GRAD_IDS.iter().enumerate() {
        let mine = find(&p.backward, id);
        // The derivation's layout back to PyTorch's: element (row, col) of Wᵀ.
        let (row, col) = {
            let i = (0..mine.data.len()).fold(0, |b, i| if mine.data[i].abs() > mine.data[b].abs() { i } else { b });
            (i / mine.shape[1], i % mine.shape[1])
        };
        let flat = if mine.shape[0] == 1 { col } else { col * mine.shape[0] + row };
        let nudge = |m: &mut LeNet5<f64>, d: f64| m.named_parameters_mut()[k].1.value.as_mut_slice()[flat] += d;
        nudge(&mut m64, h);
        let plus = loss(&m64, &x64);
        nudge(&mut m64, -2.0 * h);
        let minus = loss(&m64, &x64);
        nudge(&mut m64, h);
        let numeric = (plus - minus) / (2.0 * h);
        let analytic = f64::from(mine.at(row, col));
        assert!(
            (analytic - numeric).abs() <= 1e-4 + 2e-3 * numeric.abs(),
            "{id}[{row}, {col}]: explorer {analytic}, central difference {numeric}"
        );
    }
    let dx = tensor::col2im(
        &Tensor::from_vec(&[784, 25], find(&p.backward, "da0").data.clone()).unwrap(),
        &[1, 1, 32, 32],
        &tensor::Window2d::square(5, 1, 0),
    )
    .unwrap()
    .to_vec();
    let pixel = (0..1024).fold(0, |b, i| if dx[i].abs() > dx[b].abs() { i } else { b });
    let mut xp = x64.clone();
    xp[pixel] += h;
    let plus = loss(&m64, &xp);
    xp[pixel] -= 2.0 * h;
    let minus = loss(&m64, &xp);
    let numeric = (plus - minus) / (2.0 * h);
    assert!(
        (f64::from(dx[pixel]) - numeric).abs() <= 1e-4 + 2e-3 * numeric.abs(),
        "∇x[{pixel}] = col2im(∇a0): {} vs central difference {numeric}",
        dx[pixel]
    );
}

#[test]
fn one_sgd_step_moves_the_copy_by_minus_lr_grad() {
    let m = model(5);
    let image = Image::from_bytes(&digit());
    let label = 4;
    let before: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value.to_vec()).collect();
    let lr = 0.05;
    let s = step(&m, &image, label, lr, 1).unwrap();
    let p = pass(&m, &image, Some(label)).unwrap();
    for id in GRAD_IDS {
        let g = find(&p.backward, id);
        let delta = find(&s.deltas, &id.replacen('d', "D", 1));
        let want: Vec<f32> = g.data.iter().map(|v| -lr * v).collect();
        let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-8);
        assert!(max_abs_diff(&delta.data, &want) <= 1e-3 * scale + 1e-7, "{id}: ΔW ≠ −η·∇W");
    }
    assert!(s.after[label] > s.before[label], "P[label] {} → {}", s.before[label], s.after[label]);
    assert!(s.loss_after < s.loss_before);
    assert_eq!(s.before, p.probabilities);
    let after: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.value.to_vec()).collect();
    assert_eq!(before, after, "the caller's network is unchanged");
    let three = step(&m, &image, label, lr, 3).unwrap();
    assert!(three.after[label] > s.after[label], "three steps move further than one");
}

#[test]
fn bad_inputs_are_errors() {
    let m = model(1);
    let short = Image(vec![0.0; 783]);
    assert!(pass(&m, &short, None).unwrap_err().to_string().contains("784"));
    let mut nan = vec![0.0; 784];
    nan[17] = f32::NAN;
    assert!(pass(&m, &Image(nan), None).unwrap_err().to_string().contains("pixel 17"));
    let mut big = vec![0.0; 784];
    big[3] = 256.0;
    assert!(pass(&m, &Image(big), None).is_err());
    let ok = Image::from_bytes(&digit());
    assert!(pass(&m, &ok, Some(10)).is_err());
    assert!(step(&m, &ok, 3, f32::NAN, 1).is_err());
    assert!(step(&m, &ok, 3, 0.1, 0).is_err());
    assert!(step(&m, &ok, 3, 0.1, 1000).is_err());
}

// ---------- the server ----------

fn start() -> SocketAddr {
    let server = Server::bind(&ServeOptions { port: 0, ..ServeOptions::default() }).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());
    addr
}

/// One HTTP/1.1 request (`Connection: close`); the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading a large body: stop writing then.
    for chunk in body.chunks(64 * 1024) {
        if s.write_all(chunk).is_err() {
            break;
        }
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn post_json(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(addr, "POST", path, Some("application/json"), body.as_bytes())
}

fn alive(addr: SocketAddr) {
    let (status, body) = request(addr, "GET", "/api/info", None, b"");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["shapes"].as_array().is_some_and(|a| !a.is_empty()));
}

fn pixels_json(bytes: &[u8]) -> String {
    serde_json::to_string(&bytes.iter().map(|b| u32::from(*b)).collect::<Vec<_>>()).unwrap()
}

#[test]
fn server_answers_the_library_matrices() {
    let addr = start();
    let bytes = digit();
    let label = 6;
    let (status, body) =
        post_json(addr, "/api/pass", &format!(r#"{{"pixels": {}, "label": {label}}}"#, pixels_json(&bytes)));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let get = |part: &str, id: &str| -> Vec<f32> {
        let m = v[part].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("no {id}"));
        m["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    };
    // The server's weights: seeded random (no checkpoint).
    let m = model(models::explorer::server::RANDOM_SEED);
    let x = mnist_input(&bytes);
    assert_eq!(get("forward", "x"), x);
    let (logits, grads) = fused(&m, &x, label);
    assert!(max_abs_diff(&get("forward", "z7"), &logits) < 1e-4);
    for (id, (name, g)) in GRAD_IDS.iter().zip(&grads) {
        let scale = g.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-6);
        let d = max_abs_diff(&get("backward", id), &g.to_vec());
        assert!(d <= 1e-4 * scale + 1e-7, "{id} from the server differs from the tape's {name} by {d}");
    }
    assert_eq!(v["label"], label);
    assert_eq!(
        v["forward"].as_array().unwrap().len(),
        pass(&m, &Image::from_bytes(&bytes), Some(label)).unwrap().forward.len()
    );

    let (status, body) =
        post_json(addr, "/api/step", &format!(r#"{{"pixels": {}, "label": {label}, "lr": 0.1}}"#, pixels_json(&bytes)));
    assert_eq!(status, 200, "{body}");
    let s: Value = serde_json::from_str(&body).unwrap();
    assert!(s["after"][label].as_f64().unwrap() > s["before"][label].as_f64().unwrap());
}

#[test]
fn bad_requests_get_4xx_json_and_the_server_keeps_answering() {
    let addr = start();
    let good = pixels_json(&digit());
    let nan_pixels = good.replacen("0,", "NaN,", 1);
    let cases: Vec<(&str, String, Option<&str>, u16)> = vec![
        ("bad JSON", "{\"pixels\": [1, 2".into(), Some("application/json"), 400),
        ("not an object", "[1, 2, 3]".into(), Some("application/json"), 422),
        ("wrong length", "{\"pixels\": [0, 0, 0]}".into(), Some("application/json"), 422),
        ("NaN pixel", format!("{{\"pixels\": {nan_pixels}}}"), Some("application/json"), 400),
        (
            "infinite pixel",
            format!("{{\"pixels\": {}}}", good.replacen("0,", "1e999,", 1)),
            Some("application/json"),
            400,
        ),
        (
            "pixel over 255",
            format!("{{\"pixels\": {}}}", good.replacen("0,", "300,", 1)),
            Some("application/json"),
            422,
        ),
        ("negative pixel", format!("{{\"pixels\": {}}}", good.replacen("0,", "-1,", 1)), Some("application/json"), 422),
        ("label 10", format!("{{\"pixels\": {good}, \"label\": 10}}"), Some("application/json"), 422),
        ("unknown field", format!("{{\"pixels\": {good}, \"x\": 1}}"), Some("application/json"), 422),
        ("no content type", format!("{{\"pixels\": {good}}}"), None, 415),
    ];
    for (what, body, ct, want) in cases {
        let (status, answer) = request(addr, "POST", "/api/pass", ct, body.as_bytes());
        assert_eq!(status, want, "{what}: {answer}");
        let v: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {answer}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {answer}");
        alive(addr);
    }
    let (status, answer) = post_json(addr, "/api/step", &format!("{{\"pixels\": {good}, \"label\": 3, \"lr\": -1}}"));
    assert_eq!(status, 422, "{answer}");
    // A 10 MB body.
    let huge = format!("{{\"pixels\": [{}0]}}", "0,".repeat(5_000_000));
    let (status, answer) = post_json(addr, "/api/pass", &huge);
    assert_eq!(status, 413, "{answer}");
    alive(addr);
    let (status, _) = request(addr, "GET", "/no/such/route", None, b"");
    assert_eq!(status, 404);
    let (status, _) = request(addr, "GET", "/api/test", None, b"");
    assert_eq!(status, 404, "no data given");

    // Eight clients at once.
    let body = format!("{{\"pixels\": {good}}}");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || post_json(addr, "/api/pass", &body).0)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    alive(addr);
}

#[test]
fn the_page_is_served_from_the_binary() {
    let addr = start();
    for (path, needle) in
        [("/", "<canvas id=\"draw\""), ("/app.js", "/api/pass"), ("/style.css", ".panel"), ("/derivation.md", "### C1")]
    {
        let (status, body) = request(addr, "GET", path, None, b"");
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(needle), "{path} lacks {needle}");
    }
}

/// Writes a tiny MNIST folder (both splits, plain IDX) holding `images` with `labels`.
fn tiny_mnist(dir: &std::path::Path, images: &[Vec<u8>], labels: &[u8]) {
    let idx = |magic: u32, dims: &[u32], data: &[u8]| -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    };
    let n = images.len() as u32;
    let pixels: Vec<u8> = images.concat();
    for split in ["train", "t10k"] {
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), idx(0x803, &[n, 28, 28], &pixels)).unwrap();
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), idx(0x801, &[n], labels)).unwrap();
    }
}

#[test]
fn test_images_metrics_and_plots_are_served() {
    let dir = std::env::temp_dir().join(format!("lenet5-explorer-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let images: Vec<Vec<u8>> = (0..12u8)
        .map(|k| {
            digit().iter().enumerate().map(|(i, &p)| p.saturating_sub(k * 9) ^ ((i % (k as usize + 2)) as u8)).collect()
        })
        .collect();
    let labels: Vec<u8> = (0..12).map(|k| k % 10).collect();
    tiny_mnist(&dir, &images, &labels);
    let csv = dir.join("metrics.csv");
    std::fs::write(&csv, "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,seconds,images_per_second\n1,0.05,0.3,0.9,0.1,0.97,1.0,1.1,100.0\n2,0.02,0.1,0.97,0.07,0.98,1.0,1.1,100.0\n").unwrap();
    let options = ServeOptions { port: 0, data: Some(dir.clone()), metrics: Some(csv), ..ServeOptions::default() };
    let server = Server::bind(&options).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());

    // Each image with its label and the fused path's prediction.
    let m = model(models::explorer::server::RANDOM_SEED);
    let predict = |bytes: &[u8]| {
        let (logits, _) = fused(&m, &mnist_input(bytes), 0);
        (0..10).fold(0, |b, i| if logits[i] > logits[b] { i } else { b })
    };
    let (status, body) = request(addr, "GET", "/api/test?start=2&count=5", None, b"");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["total"], 12);
    let listed = v["images"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    for (k, t) in listed.iter().enumerate() {
        let i = k + 2;
        assert_eq!(t["index"], i);
        assert_eq!(t["label"], labels[i]);
        let pixels: Vec<u8> = t["pixels"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u8).collect();
        assert_eq!(pixels, images[i]);
        assert_eq!(t["prediction"], predict(&images[i]), "image {i}");
    }
    let wrong = (0..12).filter(|&i| predict(&images[i]) != usize::from(labels[i])).count();
    let (_, body) = request(addr, "GET", "/api/test?wrong=true&count=200", None, b"");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["wrong"], wrong);
    assert_eq!(v["images"].as_array().unwrap().len(), wrong);
    assert!(v["images"].as_array().unwrap().iter().all(|t| t["label"] != t["prediction"]));
    let (_, body) = request(addr, "GET", "/api/test?label=3", None, b"");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["images"].as_array().unwrap().iter().all(|t| t["label"] == 3));
    let (status, _) = request(addr, "GET", "/api/test?count=oops", None, b"");
    assert_eq!(status, 400, "a bad query");

    let (status, body) = request(addr, "GET", "/api/metrics", None, b"");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rows"][1]["test_accuracy"], 0.98);
    for path in ["/plot/metrics.svg", "/plot/confusion.svg"] {
        let (status, body) = request(addr, "GET", path, None, b"");
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<svg") && body.contains("</svg>"), "{path}");
    }
    let (_, body) = request(addr, "GET", "/plot/confusion.svg", None, b"");
    let correct = 12 - wrong;
    assert!(body.contains(&format!("{:.2} % correct", 100.0 * correct as f64 / 12.0)), "the confusion plot's accuracy");
    std::fs::remove_dir_all(&dir).unwrap();
}
