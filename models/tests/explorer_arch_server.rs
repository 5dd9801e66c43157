//! The explorer's server with an `--arch` checkpoint (saved as `lenet5 train` saves one,
//! metadata included): `/api/info` describes the network (its input shape, classes and
//! layer cards), `/api/pass` answers the generic pass's matrices (equal to the library's
//! forward), `/api/step` moves the label's probability up, a wrong-sized image or a label
//! past the classes gets a 4xx, and answers are gzip-compressed when the client asks.

use crate::explorer_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use flate2::read::GzDecoder;
use models::arch::Arch;
use models::explorer::{ServeOptions, Server};
use models::network::NetworkInfo;
use serde_json::Value;

use explorer_support::arch::{CLASSES, INPUT, SPEC, arch_net, image, input, library_outputs, preprocess, specs};
use explorer_support::{max_abs_diff, softmax};

/// One HTTP/1.1 request with extra header lines; the status, the headers and the raw body.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\
         Content-Type: application/json\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status");
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, head, body)
}

/// The payload of a chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n").expect("a chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line + 2..line + 2 + size]);
        raw = &raw[line + 2 + size + 2..];
    }
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// Saves the network (seed 7) as `lenet5 train` would, in `dir/arch.safetensors`.
fn save(dir: &std::path::Path) -> std::path::PathBuf {
    let net = arch_net(7);
    let info = NetworkInfo {
        arch: SPEC.parse::<Arch>().unwrap(),
        input: INPUT,
        class_names: ["cat", "dog", "owl", "emu", "yak"].map(String::from).to_vec(),
    };
    let meta: BTreeMap<String, String> = info.metadata().into_iter().chain(preprocess().metadata()).collect();
    let path = dir.join("arch.safetensors");
    layers::checkpoint::save_module_with_metadata(&net, &path, &meta).unwrap();
    path
}

fn start(dir: &std::path::Path) -> SocketAddr {
    let path = save(dir);
    let server = Server::bind(&ServeOptions { port: 0, checkpoint: Some(path), ..ServeOptions::default() }).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());
    addr
}

#[test]
fn an_arch_checkpoint_is_explored_layer_by_layer() {
    let dir = std::env::temp_dir().join(format!("lenet5-explorer-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let addr = start(&dir);

    let (status, _, body) = request(addr, "GET", "/api/info", "", b"");
    assert_eq!(status, 200);
    let info = json(&body);
    assert_eq!(info["lenet5"], false);
    assert_eq!(info["arch"], SPEC.parse::<Arch>().unwrap().to_string());
    assert_eq!(info["image"], serde_json::json!(INPUT));
    assert_eq!(info["classes"].as_array().unwrap().len(), CLASSES);
    assert_eq!(info["classes"][3], "emu");
    let cards = info["layers"].as_array().unwrap();
    assert_eq!(cards.len(), specs().len());
    assert_eq!(cards[0]["title"], "layer 0 conv(4,3,p=1)");
    assert_eq!(cards[0]["back_title"], "∇ layer 0 conv(4,3,p=1)");
    assert_eq!(cards[3]["section"], "pooling-windows");
    assert!(info["shapes"].as_array().unwrap().len() > specs().len());

    // The pass equals the library's forward of the same weights.
    let pixels = serde_json::to_string(&image().0).unwrap();
    let body = format!(r#"{{"pixels": {pixels}, "label": 4}}"#);
    let (status, head, plain) = request(addr, "POST", "/api/pass", "", body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&plain));
    assert!(!head.contains("content-encoding"), "compressed only when asked");
    let p = json(&plain);
    assert_eq!(p["label"], 4);
    let probs: Vec<f32> = serde_json::from_value(p["probabilities"].clone()).unwrap();
    let logits = library_outputs(&arch_net(7), &input()).pop().unwrap();
    assert!(max_abs_diff(&probs, &softmax(&logits)) < 1e-5, "{probs:?}");
    let ids: Vec<&str> = p["forward"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["x", "a0", "W0", "b0", "z0", "y0", "mu1", "a3", "y3", "a6", "W10", "y13", "P"] {
        assert!(ids.contains(&id), "no forward matrix {id} in {ids:?}");
    }
    // The padded max-pool's taps outside the map are −∞, sent as null.
    assert!(
        p["forward"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "a3" && m["data"].as_array().unwrap().contains(&Value::Null))
    );

    // gzip when asked: the same JSON in far fewer bytes.
    let (status, head, gz) = request(addr, "POST", "/api/pass", "Accept-Encoding: gzip\r\n", body.as_bytes());
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut unzipped = Vec::new();
    GzDecoder::new(&gz[..]).read_to_end(&mut unzipped).unwrap();
    let q = json(&unzipped);
    assert_eq!(q["forward"], p["forward"]);
    assert!(gz.len() * 2 < plain.len(), "gzip {} bytes vs {} plain", gz.len(), plain.len());

    // One step moves the label's probability up.
    let step = format!(r#"{{"pixels": {pixels}, "label": 4, "lr": 0.05}}"#);
    let (status, _, s) = request(addr, "POST", "/api/step", "", step.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&s));
    let s = json(&s);
    assert!(s["after"][4].as_f64().unwrap() > s["before"][4].as_f64().unwrap());
    assert_eq!(s["deltas"].as_array().unwrap().len(), 12);

    // Bad requests: a 28×28 image for a 3×12×12 network, a label past the classes.
    let mnist = serde_json::to_string(&vec![0; 784]).unwrap();
    for (path, bad) in [
        ("/api/pass", format!(r#"{{"pixels": {mnist}}}"#)),
        ("/api/pass", format!(r#"{{"pixels": {pixels}, "label": 5}}"#)),
        ("/api/step", format!(r#"{{"pixels": {pixels}, "label": 5, "lr": 0.05}}"#)),
        ("/api/step", format!(r#"{{"pixels": {mnist}, "label": 1, "lr": 0.05}}"#)),
    ] {
        let (status, _, body) = request(addr, "POST", path, "", bad.as_bytes());
        assert_eq!(status, 422, "{path} {}", String::from_utf8_lossy(&body));
        assert!(json(&body)["error"].as_str().unwrap().starts_with("bad input"));
    }
    // MNIST test images do not fit this network: the server refuses to start with them.
    for split in ["train", "t10k"] {
        let mut images = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
        images.extend([0u8; 784]);
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), [0, 0, 8, 1, 0, 0, 0, 1, 3]).unwrap();
    }
    let options = ServeOptions {
        port: 0,
        checkpoint: Some(dir.join("arch.safetensors")),
        data: Some(dir.clone()),
        ..ServeOptions::default()
    };
    let Err(e) = Server::bind(&options) else { panic!("the server started with MNIST for a 3×12×12 network") };
    assert!(e.to_string().contains("the network takes 3×12×12"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An image folder of `count` 3×12×12 PNGs per class and split (pixel values from the class
/// and the image's number).
fn image_folder(root: &std::path::Path, classes: &[&str], count: u8) {
    for split in ["train", "test"] {
        for (c, name) in classes.iter().enumerate() {
            let dir = root.join(split).join(name);
            std::fs::create_dir_all(&dir).unwrap();
            for k in 0..count {
                let img = image::RgbImage::from_fn(12, 12, |x, y| {
                    image::Rgb([(x * 20) as u8, (y * 20) as u8, 40 * c as u8 + k])
                });
                img.save(dir.join(format!("{k}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn an_image_folder_offers_its_test_images() {
    let dir = std::env::temp_dir().join(format!("lenet5-explorer-arch-folder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = Some(save(&dir));
    // The network's classes in its order: cat, dog, owl, emu, yak.
    let folder = dir.join("shapes");
    image_folder(&folder, &["cat", "dog", "emu", "owl", "yak"], 2);
    let options =
        ServeOptions { port: 0, checkpoint: checkpoint.clone(), data: Some(folder), ..ServeOptions::default() };
    let Err(e) = Server::bind(&options) else { panic!("classes in another order are other classes") };
    assert!(e.to_string().contains("classes cat/dog/emu/owl/yak"), "{e}");

    // A folder whose classes sort as the network's.
    let info = NetworkInfo {
        arch: SPEC.parse::<Arch>().unwrap(),
        input: INPUT,
        class_names: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
    };
    let meta: BTreeMap<String, String> = info.metadata().into_iter().chain(preprocess().metadata()).collect();
    let path = dir.join("abc.safetensors");
    layers::checkpoint::save_module_with_metadata(&arch_net(8), &path, &meta).unwrap();
    let folder = dir.join("letters");
    image_folder(&folder, &["a", "b", "c", "d", "e"], 2);
    let server =
        Server::bind(&ServeOptions { port: 0, checkpoint: Some(path), data: Some(folder), ..ServeOptions::default() })
            .unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());
    let (status, _, body) = request(addr, "GET", "/api/test?count=100", "", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let t = json(&body);
    assert_eq!(t["total"], 10);
    let images = t["images"].as_array().unwrap();
    assert_eq!(images.len(), 10);
    assert_eq!(images[3]["label"], 1);
    let pixels = images[3]["pixels"].as_array().unwrap();
    assert_eq!(pixels.len(), 432, "3×12×12, channels first");
    // Pixel (x = 5, y = 2) of image 1 of class b: red 100, green 40, blue 40 + 1.
    assert_eq!([&pixels[2 * 12 + 5], &pixels[144 + 2 * 12 + 5], &pixels[288 + 2 * 12 + 5]], [100, 40, 41]);
    let (status, _, _) = request(addr, "GET", "/plot/confusion.svg", "", b"");
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
