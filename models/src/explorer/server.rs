//! The local web server: the page and its JSON routes.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` (and `/app.js`, `/style.css`, `/derivation`, `/derivation.md`) | the page, compiled into the binary |
//! | `GET /api/info` | the model (checkpoint or a notice), the data, the shapes table |
//! | `GET /api/test?start=0&count=60&wrong=false&label=3` | test images with labels (and predictions) |
//! | `POST /api/pass` `{"pixels": [784 numbers in 0–255], "label": 3}` | every matrix: [`Pass`](super::Pass) |
//! | `POST /api/step` `{"pixels": […], "label": 3, "lr": 0.05, "steps": 1}` | [`StepResult`](super::StepResult) |
//! | `GET /api/metrics` | the metrics CSV as JSON rows |
//! | `GET /plot/metrics.svg`, `GET /plot/confusion.svg` | the plots of [`crate::plot`] |
//!
//! Errors are JSON `{"error": "…"}` with a 4xx status for anything the request got wrong
//! (bad JSON, wrong length, non-finite or out-of-range pixels, a label over 9, a body over
//! [`BODY_LIMIT`]); a handler never takes the server down, and each request is answered on
//! its own, so several browsers can use it at once.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use autograd::Tape;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use layers::Module;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde_json::{Value, json};
use tensor::Tensor;

use super::{ExplorerError, Image, pass, step};
use crate::lenet5::{CLASSES, LeNet5};
use crate::mnist::{INPUT_PIXELS, Split};

/// The largest request body accepted (64 KiB; an image is under 20 KiB of JSON).
pub const BODY_LIMIT: usize = 64 * 1024;
/// The most test images one `/api/test` answer lists.
pub const MAX_LIST: usize = 200;
/// The seed of the random weights used without a checkpoint.
pub const RANDOM_SEED: u64 = 0;

/// Where the server listens and what it shows.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A LeNet-5 safetensors checkpoint; without one, seeded random weights (the page says so).
    pub checkpoint: Option<PathBuf>,
    /// An MNIST folder: its test images are offered on the page.
    pub data: Option<PathBuf>,
    /// The address to bind (default 127.0.0.1: this machine only).
    pub host: String,
    /// The port (default 8080; 0 takes any free port).
    pub port: u16,
    /// A metrics CSV (as `models::train::append_metrics` writes) to plot on the page.
    pub metrics: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { checkpoint: None, data: None, host: "127.0.0.1".into(), port: 8080, metrics: None }
    }
}

/// What every handler shares (read-only).
struct AppState {
    model: LeNet5<f32>,
    notice: Option<String>,
    checkpoint: Option<String>,
    test: Option<Split>,
    /// The prediction of every test image, computed once (or why it failed).
    predictions: OnceLock<Result<Vec<u8>, String>>,
    metrics: Option<PathBuf>,
}

/// Loads the model and data, binds, prints `explorer: listening on http://HOST:PORT/` on
/// stdout, and serves until the process ends.
pub fn serve(options: ServeOptions) -> Result<(), ExplorerError> {
    let server = Server::bind(&options)?;
    println!("explorer: listening on {}", server.url());
    let _ = std::io::stdout().flush();
    server.run()
}

/// A bound server that has not started answering yet: [`Server::url`] says where it
/// listens (the actual port when 0 was asked), [`Server::run`] serves.
pub struct Server {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
}

impl Server {
    /// Loads the checkpoint, data and metrics named in `options` and binds the address.
    pub fn bind(options: &ServeOptions) -> Result<Self, ExplorerError> {
        let state = Arc::new(load_state(options)?);
        let what = format!("bind {}:{}", options.host, options.port);
        let io = |source| ExplorerError::Io { what: what.clone(), source };
        let listener = std::net::TcpListener::bind((options.host.as_str(), options.port)).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        Ok(Server { listener, addr, state })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/`.
    pub fn url(&self) -> String {
        url(self.addr)
    }

    /// Serves until the process ends (or the listener fails).
    pub fn run(self) -> Result<(), ExplorerError> {
        if self.state.test.is_some() {
            let state = Arc::clone(&self.state);
            std::thread::spawn(move || predictions(&state).map(|_| ()));
        }
        let io = |what: &str| {
            let what = what.to_string();
            move |source| ExplorerError::Io { what, source }
        };
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(io("start the runtime"))?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(self.listener).map_err(io("listen"))?;
            axum::serve(listener, router(self.state)).await.map_err(io("serve"))
        })
    }
}

fn url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("http://{}:{}/", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("http://[{}]:{}/", a.ip(), a.port()),
    }
}

fn load_state(options: &ServeOptions) -> Result<AppState, ExplorerError> {
    let mut model = LeNet5::<f32>::new(&mut StdRng::seed_from_u64(RANDOM_SEED))?;
    let (notice, checkpoint) = match &options.checkpoint {
        Some(path) => {
            layers::checkpoint::load_module(&mut model, path)?;
            (None, Some(path.display().to_string()))
        }
        None => (
            Some(format!(
                "No checkpoint given: these are untrained random weights (seed {RANDOM_SEED}), so the predictions \
                 are guesses. Train one with `lenet5 train` and pass it with --checkpoint."
            )),
            None,
        ),
    };
    let test = match &options.data {
        Some(dir) => Some(crate::mnist::load(dir)?.test),
        None => None,
    };
    if let Some(m) = options.metrics.as_ref().filter(|m| !m.is_file()) {
        return Err(ExplorerError::Missing(m.clone()));
    }
    Ok(AppState { model, notice, checkpoint, test, predictions: OnceLock::new(), metrics: options.metrics.clone() })
}

/// The routes over a shared state.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/style.css", get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }))
        .route("/derivation", get(|| async { page(DERIVATION_HTML, "text/html; charset=utf-8") }))
        .route("/derivation.js", get(|| async { page(DERIVATION_JS, "text/javascript; charset=utf-8") }))
        .route("/derivation.md", get(|| async { page(DERIVATION_MD, "text/markdown; charset=utf-8") }))
        .route("/api/info", get(info))
        .route("/api/test", get(test_images))
        .route("/api/pass", post(pass_route))
        .route("/api/step", post(step_route))
        .route("/api/metrics", get(metrics))
        .route("/plot/metrics.svg", get(metrics_svg))
        .route("/plot/confusion.svg", get(confusion_svg))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route".into()) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const DERIVATION_HTML: &str = include_str!("assets/derivation.html");
const DERIVATION_JS: &str = include_str!("assets/derivation.js");
const DERIVATION_MD: &str = include_str!("../../../docs/derivation.md");

/// A static file with a strict content security policy (everything from this server).
fn page(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; img-src 'self' data:"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

impl IntoResponse for ExplorerError {
    fn into_response(self) -> Response {
        let status = match self {
            ExplorerError::Input(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        error(status, self.to_string())
    }
}

fn rejected(r: JsonRejection) -> Response {
    error(r.status(), r.body_text())
}

/// Runs CPU work off the async threads; a panic in it becomes a 500, not a dead server.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExplorerError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into_response()),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("the computation failed: {e}"))),
    }
}

async fn info(State(s): State<Arc<AppState>>) -> Response {
    let shapes = crate::shapes::table(&s.model, 1).map(|rows| {
        rows.iter()
            .map(|r| {
                json!({ "layer": r.layer, "what": r.what, "shape": r.shape, "bytes": r.bytes,
                        "source_bytes": r.source_bytes })
            })
            .collect::<Vec<Value>>()
    });
    let shapes = match shapes {
        Ok(s) => s,
        Err(e) => return ExplorerError::from(e).into_response(),
    };
    Json(json!({
        "model": s.model.describe(),
        "parameters": s.model.num_parameters(),
        "checkpoint": s.checkpoint,
        "notice": s.notice,
        "test_images": s.test.as_ref().map(Split::len),
        "metrics": s.metrics.is_some(),
        "shapes": shapes,
    }))
    .into_response()
}

/// The prediction of every test image: computed once (started in the background when the
/// server starts); callers that come meanwhile wait for it.
fn predictions(s: &AppState) -> Result<&[u8], ExplorerError> {
    match s.predictions.get_or_init(|| predict_test(s).map_err(|e| e.to_string())) {
        Ok(p) => Ok(p),
        Err(e) => Err(ExplorerError::Internal(format!("predicting the test images failed: {e}"))),
    }
}

fn predict_test(s: &AppState) -> Result<Vec<u8>, ExplorerError> {
    let Some(test) = &s.test else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(test.len());
    let (mut batch, mut labels) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..test.len()).collect();
    for chunk in indices.chunks(500) {
        test.fill_batch(chunk, &mut batch, &mut labels);
        let x = Tensor::from_vec(&[chunk.len(), 1, 32, 32], std::mem::take(&mut batch))?;
        let tape = Tape::no_grad();
        let logits = s.model.forward(tape.constant(x))?.value();
        for row in logits.to_vec().chunks(CLASSES) {
            out.push(super::pass::first_max(row) as u8);
        }
        batch = Vec::with_capacity(chunk.len() * INPUT_PIXELS);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct TestQuery {
    #[serde(default)]
    start: usize,
    #[serde(default = "default_count")]
    count: usize,
    /// Only the misclassified ones.
    #[serde(default)]
    wrong: bool,
    /// Only this true label.
    label: Option<usize>,
}

fn default_count() -> usize {
    60
}

async fn test_images(State(s): State<Arc<AppState>>, q: Result<Query<TestQuery>, QueryRejection>) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(r) => return error(r.status(), r.body_text()),
    };
    if s.test.is_none() {
        return error(StatusCode::NOT_FOUND, "no test images: start the server with --data DIR".into());
    }
    let result = blocking(move || {
        let test = s.test.as_ref().expect("checked above");
        let preds = predictions(&s)?;
        let matching: Vec<usize> = (0..test.len())
            .filter(|&i| !q.wrong || preds[i] != test.labels[i])
            .filter(|&i| q.label.is_none_or(|l| usize::from(test.labels[i]) == l))
            .collect();
        let images: Vec<Value> = matching
            .iter()
            .skip(q.start)
            .take(q.count.min(MAX_LIST))
            .map(|&i| json!({ "index": i, "label": test.labels[i], "prediction": preds[i], "pixels": test.image(i) }))
            .collect();
        let wrong = (0..test.len()).filter(|&i| preds[i] != test.labels[i]).count();
        Ok(json!({ "total": test.len(), "matching": matching.len(), "wrong": wrong, "images": images }))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassRequest {
    pixels: Image,
    label: Option<usize>,
}

async fn pass_route(State(s): State<Arc<AppState>>, body: Result<Json<PassRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(r) => return rejected(r),
    };
    let result = blocking(move || {
        let start = Instant::now();
        let p = pass(&s.model, &req.pixels, req.label)?;
        let mut v = serde_json::to_value(&p).map_err(|e| ExplorerError::Internal(e.to_string()))?;
        v["elapsed_ms"] = json!(start.elapsed().as_secs_f64() * 1e3);
        Ok(v)
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRequest {
    pixels: Image,
    label: usize,
    lr: f32,
    #[serde(default = "one")]
    steps: usize,
}

fn one() -> usize {
    1
}

async fn step_route(State(s): State<Arc<AppState>>, body: Result<Json<StepRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(r) => return rejected(r),
    };
    match blocking(move || step(&s.model, &req.pixels, req.label, req.lr, req.steps)).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let Some(path) = s.metrics.clone() else {
        return error(StatusCode::NOT_FOUND, "no metrics: start the server with --metrics FILE.csv".into());
    };
    match crate::plot::read_metrics(&path) {
        Ok(rows) => Json(json!({ "rows": rows.iter().map(|r| json!({
            "epoch": r.epoch, "lr": r.lr, "train_loss": r.train_loss, "train_accuracy": r.train_accuracy,
            "test_loss": r.test_loss, "test_accuracy": r.test_accuracy })).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => ExplorerError::from(e).into_response(),
    }
}

fn svg(body: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], body).into_response()
}

async fn metrics_svg(State(s): State<Arc<AppState>>) -> Response {
    let Some(path) = s.metrics.clone() else {
        return error(StatusCode::NOT_FOUND, "no metrics: start the server with --metrics FILE.csv".into());
    };
    match blocking(move || Ok(crate::plot::metrics_svg(&crate::plot::read_metrics(&path)?)?)).await {
        Ok(body) => svg(body),
        Err(r) => r,
    }
}

async fn confusion_svg(State(s): State<Arc<AppState>>) -> Response {
    if s.test.is_none() {
        return error(StatusCode::NOT_FOUND, "no test images: start the server with --data DIR".into());
    }
    let result = blocking(move || {
        let test = s.test.as_ref().expect("checked above");
        let preds = predictions(&s)?;
        let mut confusion = vec![vec![0usize; CLASSES]; CLASSES];
        for (l, p) in test.labels.iter().zip(preds) {
            confusion[usize::from(*l)][usize::from(*p)] += 1;
        }
        Ok(crate::plot::confusion_svg(&confusion)?)
    })
    .await;
    match result {
        Ok(body) => svg(body),
        Err(r) => r,
    }
}
