//! A tiny HTTP/1.1 server for the download tests: one thread, one request per connection
//! (`Connection: close`), a fixed table of paths, a bounded number of requests and a
//! deadline, read/write timeouts on every connection. It logs the path of every request.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server answers for a path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with these bytes.
    Body(Arc<Vec<u8>>),
    /// This status with a short body.
    Status(u16),
    /// 200 announcing `claimed` bytes, sending `body`, then closing the connection.
    Cut {
        /// The bytes sent.
        body: Arc<Vec<u8>>,
        /// The `Content-Length` announced.
        claimed: usize,
    },
}

/// A running server; stops (and joins its thread) when dropped.
pub struct Server {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `routes` (path → reply; 404 for any other path) on 127.0.0.1 at a free port,
    /// for at most `max_requests` requests or 120 s.
    pub fn start(routes: Vec<(String, Reply)>, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let routes: HashMap<String, Reply> = routes.into_iter().collect();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                let mut served = 0;
                while served < max_requests && !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            served += 1;
                            serve(stream, &routes, &log);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Server { port, log, stop, thread: Some(thread) }
    }

    /// Serves these files under `/NAME`.
    pub fn files(files: &[(&str, Arc<Vec<u8>>)], max_requests: usize) -> Server {
        Server::start(files.iter().map(|(n, b)| (format!("/{n}"), Reply::Body(Arc::clone(b)))).collect(), max_requests)
    }

    /// The mirror URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens (a port bound and released).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/")
}

/// Reads one request, logs its path (before answering, so a client that has its answer
/// finds its request in the log) and answers it.
fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<String>>) -> Option<()> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1)?.to_string();
    log.lock().unwrap().push(path.clone());
    let (status, body, claimed): (u16, &[u8], usize) = match routes.get(&path) {
        Some(Reply::Body(b)) => (200, b, b.len()),
        Some(Reply::Status(s)) => (*s, b"no such file\n", 13),
        Some(Reply::Cut { body, claimed }) => (200, body, *claimed),
        None => (404, b"no such file\n", 13),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Error",
    };
    let header = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/octet-stream\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(header.as_bytes()).and_then(|()| stream.write_all(body)).and_then(|()| stream.flush());
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Some(())
}
