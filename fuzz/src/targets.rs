//! What the fuzz targets `spec`, `image_folder` and `http` do with an input, and what must
//! hold for every input (a violated one panics, which libFuzzer reports as a crash). Kept
//! apart from `fuzz_targets/` so that `models/tests/faults_fuzz_regressions.rs` replays
//! the committed seeds, and any crash found, through the same calls.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use layers::Module;
use models::arch::Arch;
use models::memory::{MemoryEstimate, Workload};
use models::shapes;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A whole number from `bytes` (big-endian, up to 8), spread over the ranges that matter:
/// mostly small, sometimes near a power of two, sometimes enormous.
fn size(bytes: &[u8]) -> usize {
    let mut v = 0u64;
    for &b in bytes.iter().take(8) {
        v = v << 8 | u64::from(b);
    }
    match v % 4 {
        0 | 1 => (v >> 2) as usize % 64 + 1,
        2 => 1usize << ((v >> 2) % 64),
        _ => (v >> 2) as usize,
    }
}

/// The spec parser and builder, through `lenet5 shapes`' code path: bytes 0–7 give the
/// batch size and the input's C, H, W, the rest is the spec's text. Any text parses or is
/// a `SpecError`; a parsed spec plans or is a `SpecError`; a plan gives a table or a
/// `SpecError` and an estimate; a plan small enough to build builds, with the plan's
/// parameter count and output shape, and takes a forward pass. Returns how far it got.
pub fn spec(data: &[u8]) -> SpecOutcome {
    if data.len() < 8 {
        return SpecOutcome::Short;
    }
    let (head, text) = data.split_at(8);
    let batch = size(&head[0..2]);
    let input = [size(&head[2..3]), size(&head[3..5]), size(&head[5..8])];
    let text = String::from_utf8_lossy(text);
    let Ok(arch) = text.parse::<Arch>() else { return SpecOutcome::ParseError };
    let classes = (head[0] & 1 == 1).then_some(usize::from(head[1] % 16) + 1);
    let Ok(plan) = arch.plan(input, classes) else { return SpecOutcome::PlanError };
    let _ = shapes::plan_table(&plan, batch);
    let workload = Workload::Training { batch, threads: 2, optimizer_buffers: 2 };
    let estimate = MemoryEstimate::of(&plan, workload);
    assert!(estimate.total() >= estimate.parameters);
    // Build (and run) only what stays well under libFuzzer's allocation limit.
    let small = MemoryEstimate::of(&plan, Workload::Inference { batch: 1, threads: 1 });
    if small.total() > 16 << 20 {
        return SpecOutcome::Planned;
    }
    let mut net = arch
        .build::<f32, _>(input, classes, &mut StdRng::seed_from_u64(0))
        .unwrap_or_else(|e| panic!("{text:?} planned on {input:?} but does not build: {e}"));
    assert_eq!(net.num_parameters(), plan.parameters(), "{text:?} on {input:?}");
    let [c, h, w] = input;
    let out = net.output_shape(&[1, c, h, w]).unwrap_or_else(|e| panic!("{text:?} on {input:?}: {e}"));
    assert_eq!(&out[1..], plan.output(), "{text:?} on {input:?}");
    if let Ok(table) = shapes::plan_table(&plan, 1) {
        assert_eq!(table.last().map(|r| &r.shape[1..]), Some(plan.output()));
    }
    net.set_training(false);
    let x = tensor::Tensor::<f32>::zeros(&[1, c, h, w]).expect("a small input");
    let y = net.predict(&x).unwrap_or_else(|e| panic!("{text:?} on {input:?}: forward: {e}"));
    assert_eq!(&y.shape()[1..], plan.output());
    SpecOutcome::Built
}

/// How far [`spec`] got with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecOutcome {
    /// Fewer than 8 bytes.
    Short,
    /// The text is not a spec (a `SpecError`).
    ParseError,
    /// The spec does not fit its input (a `SpecError`).
    PlanError,
    /// Planned, too large to build here.
    Planned,
    /// Built, and a forward pass taken.
    Built,
}

/// A scratch folder of this process for the image-folder target, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lenet5-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// The image-folder loader on a folder built from the input: records of a 1-byte place
/// (split, class, extension) and a 2-byte length, then that many bytes of file. Any folder
/// loads or is an `ImageFolderError`; a loaded one has a label per image, labels under its
/// classes, and `C·H·W` bytes per image, within the 64 MiB it was allowed. Returns the
/// images loaded, or the error.
pub fn image_folder(data: &[u8]) -> Result<usize, String> {
    let root = scratch("image-folder");
    for split in ["train", "test"] {
        std::fs::create_dir_all(root.join(split)).expect("a split folder");
    }
    let mut rest = data;
    let mut n = 0;
    while rest.len() >= 3 && n < 12 {
        let place = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let bytes = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let split = if place & 1 == 0 { "train" } else { "test" };
        let class = format!("c{}", (place >> 1) % 3);
        let ext = ["png", "jpg", "jpeg", "PNG", "txt"][usize::from(place >> 3) % 5];
        let dir = root.join(split).join(class);
        std::fs::create_dir_all(&dir).expect("a class folder");
        std::fs::write(dir.join(format!("{n}.{ext}")), bytes).expect("a file");
        n += 1;
    }
    let limit = 64 << 20;
    let loaded = models::data::image_folder::load_limited(&root, limit);
    let _ = std::fs::remove_dir_all(&root);
    let set = loaded.map_err(|e| e.to_string())?;
    for split in [&set.train, &set.test] {
        let per: usize = split.shape.iter().product();
        assert_eq!(split.images.len(), split.labels.len() * per);
        assert!(split.labels.iter().all(|&l| usize::from(l) < split.class_names.len()));
        assert!(split.shape[0] == 1 || split.shape[0] == 3);
    }
    assert!(set.train.images.len() + set.test.images.len() <= limit as usize);
    Ok(set.train.len() + set.test.len())
}

/// The explorer's servers the `http` target calls: LeNet-5 (random weights) and a network
/// of 3×8×8 images of 3 classes from a spec.
struct Servers {
    runtime: tokio::runtime::Runtime,
    routers: [axum::Router; 2],
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lenet5-fuzz-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        let checkpoint = arch_checkpoint(&dir);
        let options = |checkpoint: Option<PathBuf>| models::explorer::ServeOptions {
            checkpoint,
            port: 0,
            max_in_flight: 1,
            ..Default::default()
        };
        let lenet = models::explorer::Server::bind(&options(None)).expect("the LeNet-5 server");
        let arch = models::explorer::Server::bind(&options(Some(checkpoint))).expect("the spec's server");
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the handlers");
        Servers { runtime, routers: [lenet.router(), arch.router()] }
    })
}

/// A checkpoint of `conv(4,3,p=1) relu maxpool(2) flatten linear(3)` for 3×8×8 images.
fn arch_checkpoint(dir: &Path) -> PathBuf {
    let info = models::network::NetworkInfo {
        arch: "conv(4,3,p=1) relu maxpool(2) flatten linear(3)".parse().expect("a valid spec"),
        input: [3, 8, 8],
        class_names: vec!["a".into(), "b".into(), "c".into()],
    };
    let preprocess = models::data::Preprocess::new(0, vec![0.5; 3], vec![0.25; 3]).expect("valid statistics");
    let model = info.build(&preprocess, 0).expect("the network builds");
    let mut meta: std::collections::BTreeMap<String, String> = info.metadata().into_iter().collect();
    meta.extend(preprocess.metadata());
    let path = dir.join("arch.safetensors");
    layers::checkpoint::save_module_with_metadata(model.as_ref(), &path, &meta).expect("the checkpoint is written");
    path
}

/// The routes a request goes to (method, path; a `GET` takes the input as its query).
const ROUTES: [(&str, &str); 9] = [
    ("POST", "/api/pass"),
    ("POST", "/api/step"),
    ("GET", "/api/info"),
    ("GET", "/api/test"),
    ("GET", "/api/metrics"),
    ("GET", "/plot/metrics.svg"),
    ("PUT", "/api/pass"),
    ("GET", "/"),
    ("POST", "/nowhere"),
];

/// The explorer's HTTP handlers, called in process as the server calls them: byte 0 picks
/// the server (its high bit) and the route (the rest), the rest is the body (or the query
/// of a `GET`). Every answer
/// is a success or a 4xx with a JSON error: a request cannot cause a 5xx. Returns the
/// status (none for an input that makes no request).
pub fn http(data: &[u8]) -> Option<axum::http::StatusCode> {
    use tower::ServiceExt;
    let (&pick, body) = data.split_first()?;
    let s = servers();
    let (method, path) = ROUTES[usize::from(pick & 0x7f) % ROUTES.len()];
    let router = s.routers[usize::from(pick >> 7)].clone();
    let uri = if method == "GET" {
        let query: String = String::from_utf8_lossy(body).chars().filter(|c| c.is_ascii_graphic()).collect();
        if query.is_empty() { path.to_string() } else { format!("{path}?{query}") }
    } else {
        path.to_string()
    };
    let Ok(request) = axum::http::Request::builder()
        .method(method)
        .uri(&uri)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_vec()))
    else {
        return None;
    };
    let (status, text) = s.runtime.block_on(async move {
        let response = router.oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body in memory");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    });
    assert!(!status.is_server_error(), "{method} {uri} with {} bytes: {status} {text}", body.len());
    if status.is_client_error() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
        assert!(v["error"].is_string(), "{status}: {text}");
    }
    Some(status)
}
