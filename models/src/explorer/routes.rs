//! The handlers of the JSON and plot routes (listed in [`super::server`]): each checks its
//! request, runs the computation off the async threads, and answers JSON, or a JSON error
//! with a 4xx for a bad request and a 500 for a bug.

use std::sync::Arc;
use std::time::{Duration, Instant};

use autograd::Tape;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use layers::Module;
use serde::Deserialize;
use serde_json::{Value, json};
use tensor::Tensor;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use super::assets::{APP_JS, DERIVATION_HTML, DERIVATION_JS, DERIVATION_MD, INDEX_HTML, PANELS_JS, STYLE_CSS, page};
use super::http::read_body;
use super::layer_text::arch_cards;
use super::server::{AppState, BODY_LIMIT, MAX_LIST};
use super::{ExplorerError, Image, Pass, pass, step};
use crate::mnist::Split;

/// The routes over a shared state.
pub(super) fn router(state: Arc<AppState>, body_timeout: Duration) -> Router {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/panels.js", get(|| async { page(PANELS_JS, "text/javascript; charset=utf-8") }))
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
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "wrong method for this route".into())
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(body_timeout, read_body))
        // gzip at its fastest level when the browser asks: one LeNet-5 pass is 4.0 MB of JSON,
        // 1.5 MB gzipped in 39 ms (the default level: 1.3 MB in 175 ms, more than it saves).
        .layer(CompressionLayer::new().gzip(true).quality(CompressionLevel::Fastest))
        .with_state(state)
}

/// A JSON error `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: String) -> Response {
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

async fn info(State(s): State<Arc<AppState>>) -> Response {
    let lenet5 = s.info.arch.is_lenet5();
    let table = s.info.plan(&s.preprocess).and_then(|p| crate::shapes::plan_table(&p, 1));
    let shapes = table.map(|rows| {
        rows.iter()
            .map(|r| {
                json!({ "layer": r.layer, "what": r.what, "shape": r.shape, "bytes": r.bytes,
                        "source_bytes": r.source_bytes })
            })
            .collect::<Vec<Value>>()
    });
    let shapes = match shapes {
        Ok(s) => s,
        Err(e) => return ExplorerError::Internal(format!("the shapes table: {e}")).into_response(),
    };
    Json(json!({
        "model": s.info.arch.named().map_or_else(|| s.net.model.describe(), |p| p.summary.to_string()),
        "arch": s.info.arch.to_string(),
        "lenet5": lenet5,
        "image": s.info.input,
        "input": s.net.input,
        "classes": s.info.class_names,
        "layers": arch_cards(&s.info.arch),
        "parameters": s.net.model.num_parameters(),
        "checkpoint": s.checkpoint,
        "notice": s.notice,
        "test_images": s.test.as_ref().map(Split::len),
        "metrics": s.metrics.is_some(),
        "preprocess": { "pad": s.preprocess.pad(), "mean": s.preprocess.mean(), "std": s.preprocess.std() },
        "shapes": shapes,
    }))
    .into_response()
}

/// Test images predicted per forward pass.
pub(super) const PREDICTION_BATCH: usize = 500;

/// The prediction of every test image: computed once (started in the background when the
/// server starts); callers that come meanwhile wait for it.
pub(super) fn predictions(s: &AppState) -> Result<&[u8], ExplorerError> {
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
    let [c, h, w] = s.preprocess.output_shape(s.info.input).map_err(|e| ExplorerError::Internal(e.to_string()))?;
    let classes = s.info.class_names.len();
    for chunk in indices.chunks(PREDICTION_BATCH) {
        s.preprocess
            .fill_batch(test, chunk, &mut batch, &mut labels)
            .map_err(|e| ExplorerError::Internal(e.to_string()))?;
        let x = Tensor::from_vec(&[chunk.len(), c, h, w], std::mem::take(&mut batch))?;
        let tape = Tape::no_grad();
        let logits = s.net.model.forward(tape.constant(x))?.value();
        for row in logits.to_vec().chunks(classes) {
            out.push(super::layers_pass::first_max(row) as u8);
        }
        batch = Vec::new();
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
    let result = with_test_set(s, move |test, preds, _| {
        let matching: Vec<usize> = (0..test.len())
            .filter(|&i| !q.wrong || u16::from(preds[i]) != test.labels[i])
            .filter(|&i| q.label.is_none_or(|l| usize::from(test.labels[i]) == l))
            .collect();
        let images: Vec<Value> = matching
            .iter()
            .skip(q.start)
            .take(q.count.min(MAX_LIST))
            .map(|&i| json!({ "index": i, "label": test.labels[i], "prediction": preds[i], "pixels": test.image(i) }))
            .collect();
        let wrong = (0..test.len()).filter(|&i| u16::from(preds[i]) != test.labels[i]).count();
        Ok(json!({ "total": test.len(), "matching": matching.len(), "wrong": wrong, "images": images }))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// Runs `f` on the test images and their predictions in a computation slot; a 404 when
/// the server has no test images.
async fn with_test_set<T: Send + 'static>(
    s: Arc<AppState>,
    f: impl FnOnce(&Split, &[u8], &AppState) -> Result<T, ExplorerError> + Send + 'static,
) -> Result<T, Response> {
    if s.test.is_none() {
        return Err(error(StatusCode::NOT_FOUND, "no test images: start the server with --data DIR".into()));
    }
    s.limiter
        .clone()
        .run(move || {
            let test = s.test.as_ref().expect("checked above");
            f(test, predictions(&s)?, &s)
        })
        .await
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
    let result = s
        .limiter
        .clone()
        .run(move || {
            let start = Instant::now();
            let p = pass_of(&s, &req.pixels, req.label)?;
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

/// The pass of `image` through the server's network.
fn pass_of(s: &AppState, image: &Image, label: Option<usize>) -> Result<Pass, ExplorerError> {
    pass(&s.info.arch, &s.net.model, image.input(&s.preprocess, s.info.input)?, label)
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
    let result = s.limiter.clone().run(move || {
        let x = req.pixels.input(&s.preprocess, s.info.input)?;
        step(&s.net, &x, req.label, req.lr, req.steps)
    });
    match result.await {
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
    match s.limiter.clone().run(move || Ok(crate::plot::metrics_svg(&crate::plot::read_metrics(&path)?)?)).await {
        Ok(body) => svg(body),
        Err(r) => r,
    }
}

async fn confusion_svg(State(s): State<Arc<AppState>>) -> Response {
    let result = with_test_set(s, |test, preds, s| {
        let classes = s.info.class_names.len();
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (l, p) in test.labels.iter().zip(preds) {
            confusion[usize::from(*l)][usize::from(*p)] += 1;
        }
        Ok(crate::plot::confusion_svg(&confusion, &s.info.class_names)?)
    })
    .await;
    match result {
        Ok(body) => svg(body),
        Err(r) => r,
    }
}
