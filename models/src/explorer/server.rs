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

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::routes::{predictions, router};
use super::{ExplorerError, Net};
use crate::data::Preprocess;
use crate::lenet5::LeNet5;
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
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { checkpoint: None, data: None, host: "127.0.0.1".into(), port: 8080, metrics: None }
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
    let (net, info, preprocess, notice, checkpoint) = match &options.checkpoint {
        Some(path) => {
            let (net, info, preprocess) = Net::load(path)?;
            (net, info, preprocess, None, Some(path.display().to_string()))
        }
        None => (
            Net::LeNet5(Box::new(LeNet5::<f32>::new(&mut StdRng::seed_from_u64(RANDOM_SEED))?)),
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
            let test = if crate::data::image_folder::is_image_folder(dir) {
                crate::data::image_folder::load(dir)?.test
            } else {
                crate::mnist::load(dir)?.test
            };
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
    Ok(AppState {
        net,
        info,
        preprocess,
        notice,
        checkpoint,
        test,
        predictions: OnceLock::new(),
        metrics: options.metrics.clone(),
    })
}
