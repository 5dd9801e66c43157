//! The server's defences against slow or many clients, between the socket and the routes:
//!
//! - **Headers**: a connection whose request headers have not all arrived within
//!   [`ServeOptions::header_timeout`] is closed (hyper's header-read timeout; also between
//!   requests of a kept-alive connection).
//! - **Bodies**: a body declared larger than [`BODY_LIMIT`] is answered 413 at once,
//!   without reading it; one that has not all arrived within
//!   [`ServeOptions::body_timeout`] is answered 408 and the connection closed.
//! - **Computations**: at most [`ServeOptions::max_in_flight`] run at once; a request that
//!   finds none free waits up to [`ServeOptions::queue_timeout`], then gets 503 with
//!   `Retry-After` ([`Limiter`]).
//! - **Memory**: once a burst is over (no computation in flight, some finished since the
//!   last look), the allocator is asked to hand its free memory back to the system
//!   (`malloc_trim` on glibc), so that the server returns near its idle size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use super::ExplorerError;
use super::routes::error;
use super::server::{BODY_LIMIT, ServeOptions};

/// How long the trimmer waits between looks at the computations.
const TRIM_EVERY: Duration = Duration::from_secs(2);

/// The bound on computations in flight, and what the memory trimmer watches.
pub(super) struct Limiter {
    slots: Semaphore,
    queue_timeout: Duration,
    in_flight: AtomicUsize,
    finished: AtomicU64,
}

impl Limiter {
    pub(super) fn new(options: &ServeOptions) -> Self {
        Limiter {
            slots: Semaphore::new(options.max_in_flight.max(1)),
            queue_timeout: options.queue_timeout,
            in_flight: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Runs `f` off the async threads once a slot is free (waiting up to the queue
    /// timeout, else a 503 with `Retry-After`); a panic in it becomes a 500, not a dead
    /// server.
    pub(super) async fn run<T: Send + 'static>(
        self: Arc<Self>,
        f: impl FnOnce() -> Result<T, ExplorerError> + Send + 'static,
    ) -> Result<T, Response> {
        let permit = match tokio::time::timeout(self.queue_timeout, self.slots.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(busy(self.queue_timeout)),
        };
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = tokio::task::spawn_blocking(f).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
        drop(permit);
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.into_response()),
            Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("the computation failed: {e}"))),
        }
    }

    /// Every [`TRIM_EVERY`], when computations finished since the last look and none is in
    /// flight, hands the allocator's free memory back to the system.
    pub(super) async fn trim_after_bursts(self: Arc<Self>) {
        let mut seen = 0;
        loop {
            tokio::time::sleep(TRIM_EVERY).await;
            let finished = self.finished.load(Ordering::SeqCst);
            if finished != seen && self.in_flight.load(Ordering::SeqCst) == 0 {
                seen = finished;
                let _ = tokio::task::spawn_blocking(release_free_memory).await;
            }
        }
    }
}

/// Hands the allocator's free memory back to the system (glibc's `malloc_trim`, every
/// arena); elsewhere nothing.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// 503 with `Retry-After`: every computation slot stayed busy for `waited`.
fn busy(waited: Duration) -> Response {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the server is busy: no computation slot came free within {} ms; retry shortly", waited.as_millis()),
    );
    r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

/// Reads the whole request body before the route sees it: 413 at once for a declared length
/// over [`BODY_LIMIT`], 413 when more arrives, 408 (and the connection closed) when it has
/// not all arrived within `timeout`.
pub(super) async fn read_body(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
        return too_large();
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) if is_length_limit(&e) => too_large(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, format!("the request body could not be read: {e}")),
        Err(_) => {
            let message = format!("the request body did not arrive within {} s", timeout.as_secs_f64());
            let mut r = error(StatusCode::REQUEST_TIMEOUT, message);
            r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            r
        }
    }
}

/// Whether reading a body failed on its length limit (http-body-util's `LengthLimitError`,
/// which axum wraps without re-exporting: told by its message, "length limit exceeded").
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("length limit") {
            return true;
        }
        source = s.source();
    }
    false
}

fn too_large() -> Response {
    let mut r = error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is over {BODY_LIMIT} bytes"));
    r.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    r
}

/// Serves `app` on `listener` until the listener fails: each connection on its own task,
/// HTTP/1 with the header-read timeout.
pub(super) async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
) -> std::io::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors or a connection reset before it was accepted: go on.
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        || matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
