//! `download::fetch_missing` against a local HTTP server (`common::http`): an empty folder
//! filled from the real `.gz` bytes, an MD5 mismatch and a cut connection that leave no
//! file behind, the next mirror tried after a closed port and a 404, files already
//! present left alone (requests counted); and `lenet5 train` fetching through
//! `MNIST_MIRROR`.
#![cfg(feature = "download")]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use md5::{Digest, Md5};
use models::download::{DownloadError, MD5, fetch_missing};
use models::mnist::{self, FILES};

use common::http::{Reply, Server, closed_port_url};
use common::{README_MD5, Scratch};

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The four real `.gz` files.
fn real_files(dir: &Path) -> Vec<(&'static str, Arc<Vec<u8>>)> {
    FILES.iter().map(|&n| (n, Arc::new(std::fs::read(dir.join(n)).unwrap()))).collect()
}

fn fetch(dir: &Path, mirrors: &[String]) -> (Result<(), DownloadError>, Vec<String>) {
    let mut told = Vec::new();
    let result = fetch_missing(dir, mirrors, |f| told.push(f.to_string()));
    (result, told)
}

#[test]
fn the_md5_table_is_the_readme_s() {
    assert_eq!(MD5, README_MD5);
}

#[test]
fn the_readme_md5s_are_those_of_the_files() {
    let Some(dir) = common::mnist_dir("the_readme_md5s_are_those_of_the_files") else { return };
    for (name, md5) in README_MD5 {
        assert_eq!(md5_hex(&std::fs::read(dir.join(name)).unwrap()), md5, "{name}");
    }
}

#[test]
fn an_empty_folder_is_filled_and_loads() {
    let Some(src) = common::mnist_dir("an_empty_folder_is_filled_and_loads") else { return };
    let files = real_files(&src);
    let server = Server::files(&files, 4);
    let scratch = Scratch::new("download-all");
    let dir = scratch.join("mnist"); // does not exist yet

    let (result, told) = fetch(&dir, &[server.url()]);
    result.unwrap();
    assert_eq!(told, FILES);
    assert_eq!(server.requests(), FILES.iter().map(|f| format!("/{f}")).collect::<Vec<_>>());
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut expected: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "the four files and nothing else (no partial file)");
    for (name, bytes) in &files {
        assert!(std::fs::read(dir.join(name)).unwrap() == **bytes, "{name}: bytes differ from the served ones");
    }

    let data = mnist::load(&dir).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    let mut counts = [0usize; 10];
    data.test.labels.iter().for_each(|&l| counts[usize::from(l)] += 1);
    assert_eq!(counts, common::TEST_LABEL_COUNTS);

    // Now complete: nothing more is fetched.
    let idle = Server::start(Vec::new(), 4);
    let (result, told) = fetch(&dir, &[idle.url()]);
    result.unwrap();
    assert!(told.is_empty() && idle.requests().is_empty());
}

#[test]
fn an_md5_mismatch_fails_and_leaves_no_file() {
    let name = FILES[0];
    let a = Server::start(vec![(format!("/{name}"), Reply::Body(Arc::new(b"not the MNIST bytes".to_vec())))], 1);
    let b = Server::start(vec![(format!("/{name}"), Reply::Body(Arc::new(vec![0x1f, 0x8b, 8, 0, 1, 2, 3])))], 1);
    let dir = Scratch::new("download-md5");
    let (result, told) = fetch(dir.path(), &[a.url(), b.url()]);
    assert_eq!(told, [name], "stops at the first file that cannot be fetched");
    match result {
        Err(DownloadError::AllMirrorsFailed { ref file, dir: ref d, ref failures }) => {
            assert_eq!(file, name);
            assert_eq!(d, dir.path());
            assert_eq!(failures.len(), 2, "{failures:?}");
            assert!(failures[0].contains(&format!("{}{name}", a.url())), "{failures:?}");
            assert!(failures[1].contains(&format!("{}{name}", b.url())), "{failures:?}");
            for f in failures {
                assert!(f.contains("MD5 mismatch"), "{f}");
                assert!(f.contains("f68b3c2dcbeaaa9fbdd348bbdeb94873"), "names the expected MD5: {f}");
            }
            assert!(f_contains(&result, "MD5 mismatch"));
        }
        ref other => panic!("expected AllMirrorsFailed, got {other:?}"),
    }
    assert_eq!(dir.list(), Vec::<String>::new(), "no partial or final file is left");
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

fn f_contains(result: &Result<(), DownloadError>, text: &str) -> bool {
    result.as_ref().err().is_some_and(|e| e.to_string().contains(text))
}

#[test]
fn a_connection_cut_mid_body_fails_and_leaves_no_file() {
    let name = FILES[0];
    let body = Arc::new(vec![7u8; 1000]);
    let server = Server::start(vec![(format!("/{name}"), Reply::Cut { body, claimed: 100_000 })], 1);
    let dir = Scratch::new("download-cut");
    let (result, _) = fetch(dir.path(), &[server.url()]);
    match result {
        Err(DownloadError::AllMirrorsFailed { failures, .. }) => assert_eq!(failures.len(), 1),
        other => panic!("expected AllMirrorsFailed, got {other:?}"),
    }
    assert_eq!(dir.list(), Vec::<String>::new(), "no partial file is left");
}

#[test]
fn every_mirror_is_tried_in_order_before_failing() {
    let closed = closed_port_url();
    let missing = Server::start(Vec::new(), 1);
    let broken = Server::start(vec![(format!("/{}", FILES[0]), Reply::Status(500))], 1);
    let dir = Scratch::new("download-order");
    let (result, _) = fetch(dir.path(), &[closed.clone(), missing.url(), broken.url()]);
    match result {
        Err(DownloadError::AllMirrorsFailed { failures, .. }) => {
            assert_eq!(failures.len(), 3, "{failures:?}");
            assert!(failures[0].starts_with(&closed), "{failures:?}");
            assert!(failures[1].starts_with(&missing.url()) && failures[1].contains("404"), "{failures:?}");
            assert!(failures[2].starts_with(&broken.url()) && failures[2].contains("500"), "{failures:?}");
        }
        other => panic!("expected AllMirrorsFailed, got {other:?}"),
    }
    assert_eq!(missing.requests(), [format!("/{}", FILES[0])]);
    assert_eq!(broken.requests(), [format!("/{}", FILES[0])]);
    assert_eq!(dir.list(), Vec::<String>::new());
}

#[test]
fn the_next_mirror_serves_after_a_closed_port_and_a_404() {
    let Some(src) = common::mnist_dir("the_next_mirror_serves_after_a_closed_port_and_a_404") else { return };
    let dir = Scratch::new("download-next");
    // Three files present (under either name; their content is not checked), one missing.
    std::fs::write(dir.join(FILES[0]), b"present").unwrap();
    std::fs::write(dir.join(FILES[1].trim_end_matches(".gz")), b"present").unwrap();
    std::fs::write(dir.join(FILES[2]), b"present").unwrap();
    let labels = Arc::new(std::fs::read(src.join(FILES[3])).unwrap());
    let missing = Server::start(Vec::new(), 4);
    let good = Server::files(&[(FILES[3], Arc::clone(&labels))], 4);

    let (result, told) = fetch(dir.path(), &[closed_port_url(), missing.url(), good.url()]);
    result.unwrap();
    assert_eq!(told, [FILES[3]]);
    assert_eq!(missing.requests(), [format!("/{}", FILES[3])]);
    assert_eq!(good.requests(), [format!("/{}", FILES[3])]);
    let fetched = std::fs::read(dir.join(FILES[3])).unwrap();
    assert_eq!(md5_hex(&fetched), README_MD5[3].1);
    assert_eq!(dir.list().len(), 4, "{:?}", dir.list());
}

#[test]
fn files_already_present_are_not_fetched() {
    let dir = Scratch::new("download-present");
    for (i, name) in FILES.iter().enumerate() {
        // Two under the .gz names, two under the uncompressed ones.
        let name = if i % 2 == 0 { name.to_string() } else { name.trim_end_matches(".gz").to_string() };
        std::fs::write(dir.join(&name), b"present").unwrap();
    }
    let server = Server::start(Vec::new(), 4);
    let (result, told) = fetch(dir.path(), &[server.url()]);
    result.unwrap();
    assert!(told.is_empty(), "{told:?}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn lenet5_train_downloads_through_mnist_mirror() {
    let Some(src) = common::mnist_dir("lenet5_train_downloads_through_mnist_mirror") else { return };
    let server = Server::files(&real_files(&src), 4);
    let scratch = Scratch::new("download-cli");
    let data = scratch.join("mnist");
    std::fs::create_dir(&data).unwrap(); // an empty folder: `train` fetches what it lacks
    let out = scratch.join("out.safetensors");
    let run = common::lenet5_env(
        &["train", "--data", common::s(&data), "--max-steps", "1", "--threads", "2", "--out", common::s(&out)],
        &[("MNIST_MIRROR", &server.url())],
    );
    run.assert_ok("lenet5 train with MNIST_MIRROR");
    assert_eq!(server.requests().len(), 4);
    for (name, md5) in README_MD5 {
        assert_eq!(md5_hex(&std::fs::read(data.join(name)).unwrap()), md5, "{name}");
    }
    assert!(out.is_file());
}

#[test]
fn no_mirror_is_an_error_not_a_silent_success() {
    let dir = Scratch::new("download-none");
    let (result, told) = fetch(dir.path(), &[]);
    match result {
        Err(DownloadError::AllMirrorsFailed { file, failures, .. }) => {
            assert_eq!(file, FILES[0]);
            assert!(failures.is_empty());
        }
        other => panic!("expected AllMirrorsFailed, got {other:?}"),
    }
    assert_eq!(told, [FILES[0]]);
    assert_eq!(dir.list(), Vec::<String>::new());
}
