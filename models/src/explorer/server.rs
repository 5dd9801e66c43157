//! The local web server: the page and its JSON routes.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` (and `/app.js`, `/panels.js`, `/style.css`, `/derivation`, `/derivation.md`) | the page, compiled into the binary |
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
use std::time::Duration;

use super::http::{Limiter, serve_connections};
use super::routes::{PREDICTION_BATCH, predictions, router};
use super::{ExplorerError, Net};
use crate::data::Preprocess;
use crate::memory::{Budget, BudgetSource, MemoryEstimate, Workload};
use crate::mnist::Split;
use crate::network::NetworkInfo;

/// The largest request body accepted (256 KiB; a 28×28 image is under 20 KiB of JSON, a
/// 3×64×64 one of whole numbers under 64 KiB).
pub const BODY_LIMIT: usize = 256 * 1024;
/// The most test images one `/api/test` answer lists.
pub const MAX_LIST: usize = 200;
/// The seed of the random weights used without a checkpoint.
pub const RANDOM_SEED: u64 = 0;

/// Where the server listens and what it shows.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A network written by `lenet5 train` (LeNet-5 or any `--arch`), or a bare LeNet-5
    /// state dict; without one, LeNet-5 with seeded random weights (the page says so).
    pub checkpoint: Option<PathBuf>,
    /// An MNIST (IDX) folder or an image folder: its test images are offered on the page
    /// (they must have the network's image shape and classes).
    pub data: Option<PathBuf>,
    /// The address to bind (default 127.0.0.1: this machine only).
    pub host: String,
    /// The port (default 8080; 0 takes any free port).
    pub port: u16,
    /// A metrics CSV (as `models::train::append_metrics` writes) to plot on the page.
    pub metrics: Option<PathBuf>,
    /// The most memory the server may take, in bytes (default: half the machine's,
    /// [`Budget::of_machine`]): the network's estimate for the computations that may run
    /// at once, plus the test images, is checked against it at start.
    pub max_memory: Option<u64>,
    /// How long a client may take to send a request's headers (default 10 s).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (default 10 s).
    pub body_timeout: Duration,
    /// Computations (passes, steps, plots) run at once (default: the machine's cores).
    pub max_in_flight: usize,
    /// How long a request waits for a computation slot before a 503 (default 2 s).
    pub queue_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            checkpoint: None,
            data: None,
            host: "127.0.0.1".into(),
            port: 8080,
            metrics: None,
            max_memory: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_in_flight: std::thread::available_parallelism().map_or(1, usize::from),
            queue_timeout: Duration::from_secs(2),
        }
    }
}

/// What every handler shares (read-only).
pub(super) struct AppState {
    pub(super) net: Net,
    /// The network's architecture, image shape and class names.
    pub(super) info: NetworkInfo,
    /// How images become the network's input (the checkpoint's, else MNIST's constants).
    pub(super) preprocess: Preprocess,
    pub(super) notice: Option<String>,
    pub(super) checkpoint: Option<String>,
    pub(super) test: Option<Split>,
    /// The prediction of every test image, computed once (or why it failed).
    pub(super) predictions: OnceLock<Result<Vec<u8>, String>>,
    pub(super) metrics: Option<PathBuf>,
    /// The bound on computations in flight.
    pub(super) limiter: Arc<Limiter>,
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
    options: ServeOptions,
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
        Ok(Server { listener, addr, state, options: options.clone() })
    }

    /// The routes, with the body-read timeout and the bound on computations, to be called
    /// in process (`tower::ServiceExt::oneshot`) as the server calls them; the connection
    /// handling (header timeout) is [`Server::run`]'s.
    pub fn router(&self) -> axum::Router {
        router(Arc::clone(&self.state), self.options.body_timeout)
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
        // Blocking threads: one per computation slot, and some for the trimmer and the
        // body-less work; idle ones end after a few seconds.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(self.options.max_in_flight.max(1) + 2)
            .thread_keep_alive(Duration::from_secs(5))
            .build()
            .map_err(io("start the runtime"))?;
        let app = self.router();
        let header_timeout = self.options.header_timeout;
        runtime.block_on(async move {
            tokio::spawn(Arc::clone(&self.state.limiter).trim_after_bursts());
            let listener = tokio::net::TcpListener::from_std(self.listener).map_err(io("listen"))?;
            serve_connections(listener, app, header_timeout).await.map_err(io("serve"))
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
    let (net, info, preprocess, notice, checkpoint) = match &options.checkpoint {
        Some(path) => {
            let (net, info, preprocess) = Net::load(path)?;
            (net, info, preprocess, None, Some(path.display().to_string()))
        }
        None => (
            Net::new(&NetworkInfo::lenet5_mnist(), &Preprocess::mnist(), RANDOM_SEED)?,
            NetworkInfo::lenet5_mnist(),
            Preprocess::mnist(),
            Some(format!(
                "No checkpoint given: these are untrained random weights (seed {RANDOM_SEED}), so the predictions \
                 are guesses. Train a network (lenet5 train) and pass its weights with --checkpoint."
            )),
            None,
        ),
    };
    let test = match &options.data {
        Some(dir) => {
            let limit = options.max_memory.unwrap_or_else(|| Budget::of_machine().bytes);
            let test = crate::data::load_folder(dir, limit)?.test;
            if test.shape != info.input || test.class_names != info.class_names {
                let [c, h, w] = test.shape;
                let [nc, nh, nw] = info.input;
                return Err(ExplorerError::Input(format!(
                    "{}: the test images are {c}×{h}×{w} of classes {}; the network takes {nc}×{nh}×{nw} images of \
                     classes {}",
                    dir.display(),
                    test.class_names.join("/"),
                    info.class_names.join("/")
                )));
            }
            Some(test)
        }
        None => None,
    };
    if let Some(m) = options.metrics.as_ref().filter(|m| !m.is_file()) {
        return Err(ExplorerError::Missing(m.clone()));
    }
    check_memory(&info, &preprocess, test.as_ref(), options)?;
    Ok(AppState {
        net,
        info,
        preprocess,
        notice,
        checkpoint,
        test,
        predictions: OnceLock::new(),
        metrics: options.metrics.clone(),
        limiter: Arc::new(Limiter::new(options)),
    })
}

/// The network's memory for the server's work: the computations that may run at once (a
/// pass or a one-image step each), the test images' predictions in batches of
/// [`PREDICTION_BATCH`], and the test images themselves, against the budget.
fn check_memory(
    info: &NetworkInfo,
    preprocess: &Preprocess,
    test: Option<&Split>,
    options: &ServeOptions,
) -> Result<(), ExplorerError> {
    let budget = match options.max_memory {
        Some(bytes) => Budget { bytes, source: BudgetSource::Given },
        None => Budget::of_machine(),
    };
    let plan = info.plan(preprocess).map_err(|e| ExplorerError::Input(e.to_string()))?;
    let one = MemoryEstimate::of(&plan, Workload::Training { batch: 1, threads: 1, optimizer_buffers: 0 });
    let predictions = MemoryEstimate::of(&plan, Workload::Inference { batch: PREDICTION_BATCH, threads: 1 });
    let slots = options.max_in_flight.max(1) as u128;
    let estimate = MemoryEstimate {
        gradients: one.gradients * slots,
        activations: (one.activations * slots).max(predictions.activations),
        im2col: one.im2col * slots,
        ..one
    };
    let data = test.map_or(0, |t| t.images.len() as u128);
    let what = format!("serving this network with {slots} computation(s) at once");
    estimate.with_data(data).check(&budget, &what).map_err(|e| ExplorerError::Input(e.to_string()))
}
