//! The explorer's server: the JSON of `/api/pass` equals the fused computation; bad JSON,
//! wrong length, non-finite or out-of-range pixels, a bad label, a 10 MB body all get a 4xx
//! with a JSON error and the server answers afterwards, also to 8 clients at once; test
//! images, metrics and plots are served; the page comes from the binary.

use crate::explorer_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use models::explorer::{Image, ServeOptions, Server};
use serde_json::Value;

use explorer_support::{GRAD_IDS, digit, fused, lenet_pass, max_abs_diff, mnist_input, model};

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
        lenet_pass(&m, &Image::from_bytes(&bytes), Some(label)).unwrap().forward.len()
    );

    // The page's cards come from the server: one per stage of the derivation, each titling
    // the matrices of that stage, forward and backward, with sections of the derivation.
    let (status, body) = request(addr, "GET", "/api/info", None, b"");
    assert_eq!(status, 200, "{body}");
    let info: Value = serde_json::from_str(&body).unwrap();
    let cards = info["layers"].as_array().unwrap();
    let titles: Vec<&str> = cards.iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["C1", "S2", "C3", "S4", "C5", "F6", "F7"]);
    let derivation = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/derivation.md")).unwrap();
    for part in ["forward", "backward"] {
        let layers: std::collections::BTreeSet<&str> =
            v[part].as_array().unwrap().iter().map(|m| m["layer"].as_str().unwrap()).collect();
        let layers: Vec<&str> = layers.into_iter().filter(|l| !["input", "softmax"].contains(l)).collect();
        assert!(layers.iter().all(|l| titles.contains(l)) && layers.len() == titles.len(), "{part}: {layers:?}");
    }
    for c in cards {
        assert!(!c["what"].as_str().unwrap().is_empty() && !c["back_what"].as_str().unwrap().is_empty(), "{c}");
        assert_eq!(c["back_title"], c["title"]);
        for section in [&c["section"], &c["back_section"]] {
            // `c1-1`: the second heading `C1` (the backward pass's).
            let heading = section.as_str().unwrap().trim_end_matches("-1").replace('-', " ");
            assert!(
                derivation.to_lowercase().contains(&format!("### {heading}\n")),
                "no section {section} in the derivation"
            );
        }
    }

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
    let (status, answer) = request(addr, "GET", "/no/such/route", None, b"");
    assert_eq!(status, 404);
    assert!(answer.contains("\"error\""), "{answer}");
    let (status, answer) = request(addr, "GET", "/api/pass", None, b"");
    assert_eq!(status, 405);
    assert!(answer.contains("\"error\""), "{answer}");
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
    for (path, needle) in [
        ("/", "<canvas id=\"draw\""),
        ("/app.js", "/api/pass"),
        ("/panels.js", "function matrixPanel"),
        ("/style.css", ".panel"),
        ("/derivation.md", "### C1"),
    ] {
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
