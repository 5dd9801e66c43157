//! The explorer's server against hostile clients: a network whose stride panicked a step,
//! bodies declared huge, clients that send their headers or body slowly, bursts of
//! concurrent computations, and the memory such a burst leaves behind.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use models::data::Preprocess;
use models::explorer::{ServeOptions, Server};
use models::network::NetworkInfo;
use tower::ServiceExt;

use common::Scratch;

/// A checkpoint of `arch` for 1×28×28 images of 10 classes, as `train` writes one.
fn checkpoint(dir: &Path, arch: &str) -> PathBuf {
    let info = NetworkInfo { arch: arch.parse().unwrap(), ..NetworkInfo::lenet5_mnist() };
    let preprocess = Preprocess::new(0, vec![0.13], vec![0.31]).unwrap();
    let model = info.build(&preprocess, 0).unwrap();
    let mut meta: std::collections::BTreeMap<String, String> = info.metadata().into_iter().collect();
    meta.extend(preprocess.metadata());
    let path = dir.join("net.safetensors");
    layers::checkpoint::save_module_with_metadata(model.as_ref(), &path, &meta).unwrap();
    path
}

fn pixels(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| ((i * 37) % 256).to_string()).collect();
    format!("[{}]", values.join(","))
}

/// A request through the router, in process: its status and body.
async fn call(router: &axum::Router, method: &str, uri: &str, body: String) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Found 1: `/api/step` answered 500 with the panic text for a network with a stride of
/// `u64::MAX`. It takes its step (and its pass) like any other network now.
#[test]
fn a_network_with_a_stride_of_u64_max_passes_and_steps() {
    let scratch = Scratch::new("server-stride");
    let path = checkpoint(scratch.path(), "conv(8,3,s=18446744073709551615) flatten linear(10)");
    let server = Server::bind(&ServeOptions { checkpoint: Some(path), port: 0, ..Default::default() }).unwrap();
    let router = server.router();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pass = call(&router, "POST", "/api/pass", format!("{{\"pixels\": {}, \"label\": 3}}", pixels(784))).await;
        assert_eq!(pass.0, StatusCode::OK, "{}", pass.1);
        let step = format!("{{\"pixels\": {}, \"label\": 3, \"lr\": 0.1, \"steps\": 3}}", pixels(784));
        let (status, body) = call(&router, "POST", "/api/step", step).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"steps\":3"), "{body}");
    });
}

/// A server on a free port, serving on a thread of its own (for the rest of the test
/// process), with short timeouts.
fn serve(options: ServeOptions) -> SocketAddr {
    let server = Server::bind(&ServeOptions { port: 0, ..options }).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.run());
    addr
}

fn short_timeouts() -> ServeOptions {
    ServeOptions {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..Default::default()
    }
}

/// Reads from `stream` until the server closes it or answers a whole head, up to `limit`:
/// the status (if any) and whether the connection was closed.
fn answer(stream: &mut TcpStream, limit: Duration) -> (Option<u16>, bool) {
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return (status(&data), true),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (status(&data), true),
        }
    }
    (status(&data), false)
}

fn status(head: &[u8]) -> Option<u16> {
    std::str::from_utf8(head).ok()?.split(' ').nth(1)?.parse().ok()
}

/// A whole `POST /api/pass` of a 28×28 image, the connection closed after the answer.
fn pass_request() -> String {
    let body = format!("{{\"pixels\": {}, \"label\": 3}}", pixels(784));
    format!(
        "POST /api/pass HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `request` sent on `n` connections at once: each answer as text.
fn burst(addr: SocketAddr, request: &str, n: usize) -> Vec<String> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let request = request.to_string();
            std::thread::spawn(move || {
                let mut s = connect(addr, request.as_bytes());
                let mut text = Vec::new();
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let _ = s.read_to_end(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn connect(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(bytes).unwrap();
    s
}

/// Found 7: `Content-Length: 1073741824` and 10 bytes got no answer in 20 s, and 100
/// slow-header or slow-body connections were all open after 40 s. The first is a 413 at
/// once, a slow body a 408, a slow header a closed connection; none stays open.
#[test]
fn slow_and_oversized_requests_are_answered_or_dropped() {
    let addr = serve(short_timeouts());
    let started = Instant::now();
    let mut s = connect(addr, b"POST /api/pass HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n0123456789");
    assert_eq!(answer(&mut s, Duration::from_secs(5)).0, Some(413));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    let mut s = connect(addr, b"POST /api/pass HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"pixels\":");
    let started = Instant::now();
    assert_eq!(answer(&mut s, Duration::from_secs(5)), (Some(408), true));
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());

    let mut s = connect(addr, b"POST /api/pass HTTP/1.1\r\nHost: x\r\n");
    assert!(answer(&mut s, Duration::from_secs(5)).1, "a slow header stays open");

    let mut slow: Vec<TcpStream> = (0..100)
        .flat_map(|_| {
            [
                connect(addr, b"GET /api/info HTTP/1.1\r\nHost: x\r\n"),
                connect(addr, b"POST /api/pass HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"pix"),
            ]
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let open = slow.iter_mut().map(|s| answer(s, Duration::from_millis(100)).1).filter(|closed| !closed).count();
    assert_eq!(open, 0, "slow connections still open 2 s after their timeout");
    // The server still answers.
    let mut s = connect(addr, b"GET /api/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(answer(&mut s, Duration::from_secs(10)).0, Some(200));
}

/// Found 8: nothing bounded the computations in flight. With one slot and a short wait,
/// a burst gets 200s and 503s with `Retry-After`, and no other status.
#[test]
fn computations_beyond_the_slots_get_503_with_retry_after() {
    let addr = serve(ServeOptions { max_in_flight: 1, queue_timeout: Duration::from_millis(100), ..short_timeouts() });
    let results: Vec<(Option<u16>, bool)> = burst(addr, &pass_request(), 24)
        .iter()
        .map(|text| (status(text.as_bytes()), text.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n")))
        .collect();
    let ok = results.iter().filter(|r| r.0 == Some(200)).count();
    let busy: Vec<_> = results.iter().filter(|r| r.0 == Some(503)).collect();
    println!("24 concurrent passes, 1 slot: {ok} × 200, {} × 503", busy.len());
    assert_eq!(ok + busy.len(), 24, "{results:?}");
    assert!(ok >= 1 && !busy.is_empty(), "{results:?}");
    assert!(busy.iter().all(|r| r.1), "a 503 without Retry-After");
}

/// The resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// Found 8: RSS went from 80 MB to 1.1 GB after 200 concurrent passes and stayed there.
/// `lenet5 serve` now bounds the computations in flight and hands memory back after a
/// burst: a few seconds later it is back near where it started.
#[test]
fn memory_returns_near_idle_after_a_burst() {
    let mut child = common::lenet5_command(&["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let port: u16 = line.trim().trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let request = pass_request();
    let mut warm = connect(addr, request.as_bytes());
    assert_eq!(answer(&mut warm, Duration::from_secs(30)).0, Some(200));
    let idle = rss_mib(child.id());
    let codes: Vec<Option<u16>> = burst(addr, &request, 200).iter().map(|t| status(t.as_bytes())).collect();
    assert!(codes.iter().all(|c| matches!(c, Some(200 | 503))), "{codes:?}");
    let after = rss_mib(child.id());
    std::thread::sleep(Duration::from_secs(6));
    let later = rss_mib(child.id());
    println!("RSS: idle {idle} MiB, after 200 concurrent passes {after} MiB, 6 s later {later} MiB");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(later <= idle + 64, "idle {idle} MiB, 6 s after the burst {later} MiB");
}
