//! Fetching the MNIST files that a data folder lacks, from the public mirrors in turn, and
//! CIFAR-10's tarball from its official location; each file checked against its known MD5
//! before it takes its final name.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use layers::{AtPath, WithPath};
use md5::{Digest, Md5};

use crate::cifar;
use crate::mnist::{FILES, find_file};

/// Where MNIST is usually fetched from (as torchvision does), tried in order.
pub const MIRRORS: [&str; 2] = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"];

/// The MD5 of each original `.gz` file.
pub const MD5: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
];

/// A file could not be fetched from any mirror.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Every mirror failed for this file; each failure is listed.
    #[error("could not fetch {file} into {dir}: {}", failures.join("; "))]
    AllMirrorsFailed {
        /// The file's name.
        file: String,
        /// The data folder.
        dir: PathBuf,
        /// One line per mirror tried.
        failures: Vec<String>,
    },
    /// The data folder could not be created.
    #[error(transparent)]
    Folder(WithPath<std::io::Error>),
}

/// Fetches every MNIST file missing from `dir` (creating it), trying `mirrors` in order;
/// `on_file` is told each file before it is fetched. Files already present are left alone.
pub fn fetch_missing(dir: &Path, mirrors: &[String], mut on_file: impl FnMut(&str)) -> Result<(), DownloadError> {
    create_folder(dir)?;
    for name in FILES {
        if find_file(dir, name).is_some() {
            continue;
        }
        on_file(name);
        let md5 = MD5.iter().find(|(n, _)| *n == name).map(|(_, m)| *m).expect("every file has an MD5");
        let urls: Vec<String> = mirrors.iter().map(|m| format!("{m}{name}")).collect();
        fetch_file(dir, name, &urls, md5)?;
    }
    Ok(())
}

/// Fetches CIFAR-10's tarball ([`cifar::TARBALL`]) into `dir` (creating it) from `url`
/// ([`cifar::URL`] unless a test or a mirror says otherwise), checked against `md5`
/// ([`cifar::TARBALL_MD5`] for the official file). `models::cifar` reads it as it is.
pub fn fetch_cifar10(dir: &Path, url: &str, md5: &str) -> Result<(), DownloadError> {
    create_folder(dir)?;
    fetch_file(dir, cifar::TARBALL, &[url.to_string()], md5)
}

fn create_folder(dir: &Path) -> Result<(), DownloadError> {
    std::fs::create_dir_all(dir).at(dir).map_err(DownloadError::Folder)
}

/// Fetches `dir/name` from the first of `urls` that gives bytes of MD5 `md5`.
fn fetch_file(dir: &Path, name: &str, urls: &[String], md5: &str) -> Result<(), DownloadError> {
    let mut failures = Vec::new();
    for url in urls {
        match fetch_verified(url, &dir.join(name), md5) {
            Ok(()) => return Ok(()),
            Err(why) => failures.push(format!("{url}: {why}")),
        }
    }
    Err(DownloadError::AllMirrorsFailed { file: name.to_string(), dir: dir.to_path_buf(), failures })
}

/// Downloads `url` to a partial file beside `target`, checks its MD5, and renames it to
/// `target`; on any failure the partial file is deleted.
fn fetch_verified(url: &str, target: &Path, md5: &str) -> Result<(), String> {
    let partial = target.with_extension("gz.part");
    let result = download(url, &partial).and_then(|digest| {
        if digest == md5 {
            std::fs::rename(&partial, target).map_err(|e| format!("renaming {}: {e}", partial.display()))
        } else {
            Err(format!("MD5 mismatch: got {digest}, expected {md5}; the partial file was deleted"))
        }
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Streams `url` into `path`, returning the hex MD5 of the bytes.
fn download(url: &str, path: &Path) -> Result<String, String> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(300))).build().into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = response.body_mut().as_reader();
    let mut file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    file.sync_all().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
