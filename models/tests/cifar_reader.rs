//! The CIFAR-10 reader on small files written in the binary format by the test (a few
//! records each): unpacked in the folder, in `cifar-10-batches-bin/`, and as the `.tar.gz`;
//! class names from `batches.meta.txt`; truncated and wrong-sized files, bad labels and
//! missing files as typed errors naming the file; the memory limit checked before reading.

use std::path::{Path, PathBuf};

use models::cifar::{self, CifarFault, IMAGE_BYTES, RECORD_BYTES, TEST_FILE, TRAIN_FILES};
use models::data::Dataset;

use crate::common::{Scratch, gzip};

/// Record `r` of file `f`: label `(f + r) % 10`, pixels a pattern of both (different per
/// plane, row and column).
fn record(f: usize, r: usize) -> Vec<u8> {
    let mut out = vec![((f + r) % 10) as u8];
    out.extend((0..IMAGE_BYTES).map(|i| (i * 7 + f * 31 + r * 13) as u8));
    out
}

/// The six files: `counts[k]` records in file `k` (the five training files, then the test file).
fn files(counts: [usize; 6]) -> Vec<(&'static str, Vec<u8>)> {
    let names = TRAIN_FILES.iter().chain([&TEST_FILE]);
    names.zip(counts).enumerate().map(|(f, (n, c))| (*n, (0..c).flat_map(|r| record(f, r)).collect())).collect()
}

fn write(dir: &Path, files: &[(&str, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The files as a gzip'd tarball under `cifar-10-batches-bin/`, as the official one is.
fn tarball(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("{}/{name}", cifar::FOLDER), bytes.as_slice()).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

const COUNTS: [usize; 6] = [2, 1, 3, 1, 2, 4];

/// The images and labels a reader must give for [`COUNTS`]: the training files in order.
fn check(data: &models::data::TrainTest<models::data::ImageSet>) {
    let expect = |files: std::ops::Range<usize>| -> (Vec<u8>, Vec<u16>) {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for f in files {
            for r in 0..COUNTS[f] {
                let rec = record(f, r);
                labels.push(u16::from(rec[0]));
                images.extend_from_slice(&rec[1..]);
            }
        }
        (images, labels)
    };
    let (images, labels) = expect(0..5);
    assert_eq!((&data.train.images, &data.train.labels), (&images, &labels));
    let (images, labels) = expect(5..6);
    assert_eq!((&data.test.images, &data.test.labels), (&images, &labels));
    assert_eq!(data.train.image_shape(), [3, 32, 32]);
    assert_eq!(data.train.len(), 9);
    assert_eq!(data.test.len(), 4);
    // Planes as stored: pixel (c, y, x) of image 0 is byte 1 + c·1024 + y·32 + x of record 0.
    let rec = record(0, 0);
    assert_eq!(data.train.image(0)[1024 + 5 * 32 + 7], rec[1 + 1024 + 5 * 32 + 7]);
}

#[test]
fn unpacked_files_load_in_the_folder_or_its_batches_folder() {
    let scratch = Scratch::new("cifar-unpacked");
    write(scratch.path(), &files(COUNTS));
    let data = cifar::load(scratch.path()).unwrap();
    check(&data);
    assert_eq!(data.train.class_names, cifar::CLASS_NAMES, "CIFAR-10's names without batches.meta.txt");

    let nested = Scratch::new("c10");
    write(&nested.join(cifar::FOLDER), &files(COUNTS));
    std::fs::write(nested.join(cifar::FOLDER).join(cifar::META_FILE), "a\nb\n\nc\nd\ne\nf\ng\nh\ni\nj\n\n").unwrap();
    assert_eq!(cifar::find(nested.path()), Some(cifar::Source::Unpacked(nested.join(cifar::FOLDER))));
    let data = cifar::load(nested.path()).unwrap();
    check(&data);
    assert_eq!(data.train.class_names, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "blank lines skipped");
    assert_eq!(data.test.class_names, data.train.class_names);
    assert_eq!(data.train.class_name(9), "j");
}

#[test]
fn the_tarball_loads_without_unpacking() {
    let scratch = Scratch::new("cifar-tarball");
    let mut all = files(COUNTS);
    all.insert(2, (cifar::META_FILE, b"c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n\n".to_vec()));
    all.reverse(); // any order in the archive
    std::fs::write(scratch.join(cifar::TARBALL), tarball(&all)).unwrap();
    assert_eq!(cifar::find(scratch.path()), Some(cifar::Source::Tarball(scratch.join(cifar::TARBALL))));
    let data = cifar::load(scratch.path()).unwrap();
    check(&data);
    assert_eq!(data.train.class_names[3], "c3");
}

fn error(dir: &Path) -> String {
    let e = cifar::load(dir).unwrap_err();
    e.to_string()
}

#[test]
fn wrong_sizes_truncations_and_bad_labels_are_errors_naming_the_file() {
    // One byte short of three records: a truncated download.
    let scratch = Scratch::new("cifar-short");
    let mut bad = files(COUNTS);
    bad[2].1.pop();
    write(scratch.path(), &bad);
    let e = cifar::load(scratch.path()).unwrap_err();
    assert!(matches!(&e.source, CifarFault::Size { size } if *size == 3 * RECORD_BYTES as u64 - 1), "{e:?}");
    assert!(e.to_string().contains("data_batch_3.bin") && e.to_string().contains("truncated"), "{e}");

    // An empty test file.
    let scratch = Scratch::new("cifar-empty");
    let mut bad = files(COUNTS);
    bad[5].1.clear();
    write(scratch.path(), &bad);
    let e = error(scratch.path());
    assert!(e.contains("test_batch.bin") && e.contains("empty"), "{e}");

    // A label past the class names.
    let scratch = Scratch::new("cifar-label");
    let mut bad = files(COUNTS);
    bad[1].1[0] = 10;
    write(scratch.path(), &bad);
    let e = cifar::load(scratch.path()).unwrap_err();
    assert!(matches!(&e.source, CifarFault::Label { record: 0, label: 10, classes: 10 }), "{e:?}");
    assert!(e.to_string().contains("data_batch_2.bin"), "{e}");

    // A missing file.
    let scratch = Scratch::new("cifar-missing");
    let mut bad = files(COUNTS);
    bad.remove(4);
    write(scratch.path(), &bad);
    let e = cifar::load(scratch.path()).unwrap_err();
    assert!(matches!(e.source, CifarFault::Missing), "{e:?}");
    assert!(e.to_string().contains("data_batch_5.bin"), "{e}");

    // Fewer names than labels.
    let scratch = Scratch::new("cifar-meta");
    write(scratch.path(), &files(COUNTS));
    std::fs::write(scratch.join(cifar::META_FILE), "one\ntwo\n").unwrap();
    let e = error(scratch.path());
    assert!(e.contains("data_batch_3.bin") && e.contains("2 classes"), "{e}");
    std::fs::write(scratch.join(cifar::META_FILE), "one\none\n").unwrap();
    let e = error(scratch.path());
    assert!(e.contains(cifar::META_FILE) && e.contains("names two classes"), "{e}");
}

#[test]
fn a_truncated_or_wrong_sized_tarball_is_an_error_naming_it() {
    let good = tarball(&files(COUNTS));
    // Cut inside the compressed stream: the archive ends before its members do.
    let scratch = Scratch::new("cifar-cut");
    std::fs::write(scratch.join(cifar::TARBALL), &good[..good.len() / 2]).unwrap();
    let e = cifar::load(scratch.path()).unwrap_err();
    assert!(matches!(e.source, CifarFault::Truncated(_) | CifarFault::Read(_)), "{e:?}");
    assert!(e.to_string().contains(cifar::TARBALL), "{e}");

    // A member whose size is not whole records, named with the tarball.
    let scratch = Scratch::new("cifar-member");
    let mut bad = files(COUNTS);
    bad[0].1.truncate(RECORD_BYTES + 100);
    std::fs::write(scratch.join(cifar::TARBALL), tarball(&bad)).unwrap();
    let e = cifar::load(scratch.path()).unwrap_err();
    assert!(matches!(&e.source, CifarFault::Size { size } if *size == RECORD_BYTES as u64 + 100), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(cifar::TARBALL) && text.contains("data_batch_1.bin"), "{text}");

    // Not gzip at all.
    let scratch = Scratch::new("cifar-garbage");
    std::fs::write(scratch.join(cifar::TARBALL), b"not a tarball").unwrap();
    let e = error(scratch.path());
    assert!(e.contains(cifar::TARBALL), "{e}");

    // A member missing from the archive.
    let scratch = Scratch::new("cifar-no-test");
    let mut some = files(COUNTS);
    some.pop();
    std::fs::write(scratch.join(cifar::TARBALL), tarball(&some)).unwrap();
    let e = error(scratch.path());
    assert!(e.contains(TEST_FILE) && e.contains("missing"), "{e}");
}

#[test]
fn the_memory_limit_is_checked_from_the_sizes_before_reading() {
    let scratch = Scratch::new("cifar-limit");
    write(scratch.path(), &files(COUNTS));
    let e = cifar::load_limited(scratch.path(), 5 * IMAGE_BYTES as u64).unwrap_err();
    assert!(matches!(e.source, CifarFault::TooLarge { limit, .. } if limit == 5 * IMAGE_BYTES as u64), "{e:?}");
    assert!(cifar::load_limited(scratch.path(), 13 * IMAGE_BYTES as u64).is_ok());
}

#[test]
fn a_folder_is_cifar_by_its_files_or_its_name() {
    let named = Scratch::new("my-CIFAR10");
    assert!(cifar::is_cifar_folder(named.path()), "by its name");
    assert_eq!(cifar::find(named.path()), None);
    let e = cifar::load(named.path()).unwrap_err();
    assert!(matches!(e.source, CifarFault::Missing), "{e:?}");
    let other = Scratch::new("digits");
    assert!(!cifar::is_cifar_folder(other.path()));
    std::fs::write(other.join(cifar::TARBALL), b"").unwrap();
    assert!(cifar::is_cifar_folder(other.path()), "by its tarball");
}

/// `download::fetch_cifar10` from a local server: the tarball is fetched, checked and then
/// read; bytes of another MD5 leave no file behind.
#[cfg(feature = "download")]
#[test]
fn the_tarball_is_fetched_checked_and_read() {
    use std::sync::Arc;

    use md5::{Digest, Md5};

    use crate::common::http::Server;

    let bytes = tarball(&files(COUNTS));
    let md5: String = Md5::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let server = Server::files(&[(cifar::TARBALL, Arc::new(bytes))], 2);
    let url = format!("{}{}", server.url(), cifar::TARBALL);

    let wrong = Scratch::new("cifar-wrong-md5");
    let e = models::download::fetch_cifar10(wrong.path(), &url, cifar::TARBALL_MD5).unwrap_err();
    assert!(e.to_string().contains("MD5 mismatch"), "{e}");
    assert!(wrong.list().is_empty(), "nothing left behind: {:?}", wrong.list());

    let scratch = Scratch::new("cifar-fetch");
    let dir = scratch.join("cifar10");
    models::download::fetch_cifar10(&dir, &url, &md5).unwrap();
    assert_eq!(crate::common::list(&dir), [cifar::TARBALL]);
    check(&cifar::load(&dir).unwrap());
}

/// `lenet5 train --arch ARCH --augment crop:4,flip` (batch 8, 2 threads, and `extra`) on a
/// CIFAR-10 folder of `counts` records per file written in `scratch`: the folder, the
/// weights file `{name}.safetensors`, the run.
fn train_augmented(
    scratch: &Scratch,
    counts: [usize; 6],
    arch: &str,
    extra: &[&str],
    name: &str,
) -> (PathBuf, PathBuf, crate::common::Run) {
    let dir = scratch.join("data");
    write(&dir, &files(counts));
    let out = scratch.join(&format!("{name}.safetensors"));
    let (data, weights) = (crate::common::s(&dir), crate::common::s(&out));
    let mut args = vec!["train", "--arch", arch, "--data", data, "--augment", "crop:4,flip"];
    args.extend_from_slice(extra);
    args.extend(["--batch-size", "8", "--threads", "2", "--out", weights]);
    let run = crate::common::lenet5(&args);
    (dir, out, run)
}

/// `lenet5 train` end to end on a CIFAR-10 folder made here (40 training images, 10 test):
/// a small residual-free ResNet head with bias-free convolutions, augmented, one epoch;
/// the weights have no bias key for the convolution, the state file records the
/// augmentation, and `eval` reads the folder.
#[test]
fn train_runs_on_a_cifar_folder_with_augmentation() {
    let scratch = Scratch::new("cifar-train");
    let arch =
        "conv(4,3,p=1,bias=false) batchnorm relu conv(8,3,s=2,p=1,bias=false) batchnorm relu gap flatten linear(10)";
    let (dir, out, run) = train_augmented(&scratch, [8, 8, 8, 8, 8, 10], arch, &["--epochs", "1"], "net");
    run.assert_ok("train on CIFAR-10");
    assert!(run.stderr.contains("on 40 images (10 test, [3, 32, 32] each)"), "{}", run.stderr);
    let file = layers::checkpoint::read_checkpoint::<f32>(&out).unwrap();
    assert!(file.tensors.contains_key("0.weight") && !file.tensors.contains_key("0.bias"));
    assert!(file.tensors.contains_key("8.bias"));
    assert_eq!(file.metadata["arch"], arch);
    let state = layers::checkpoint::read_checkpoint::<f32>(&scratch.join("net.state.safetensors")).unwrap();
    assert_eq!(state.metadata["config.augment"], "crop:4,flip", "the state file records the augmentation");
    let eval =
        crate::common::lenet5(&["eval", "--checkpoint", crate::common::s(&out), "--data", crate::common::s(&dir)]);
    eval.assert_ok("eval on CIFAR-10");
}

/// The command, `lenet5 train --arch resnet20 --data DIR --augment crop:4,flip`, on
/// a CIFAR-10 folder made here (32 training images, 10 test), a few steps: the preset's
/// 0.27 M parameters under PyTorch's names, and `eval` reads the folder back.
#[test]
fn resnet20_trains_on_a_cifar_folder_with_augmentation() {
    let scratch = Scratch::new("cifar-resnet20");
    let (_, out, run) = train_augmented(&scratch, [8, 8, 8, 4, 4, 10], "resnet20", &["--max-steps", "3"], "resnet20");
    run.assert_ok("train --arch resnet20 on CIFAR-10");
    assert!(run.stderr.contains("on 32 images (10 test, [3, 32, 32] each)"), "{}", run.stderr);
    let file = layers::checkpoint::read_checkpoint::<f32>(&out).unwrap();
    let preset = |text: &str| text.parse::<models::arch::Arch>().unwrap().to_string();
    assert_eq!(preset(&file.metadata["arch"]), preset("resnet20"));
    let parameters: usize = file
        .tensors
        .iter()
        .filter(|(n, _)| !n.contains("running_") && !n.contains("num_batches"))
        .map(|(_, t)| t.numel())
        .sum();
    assert_eq!(parameters, crate::resnet_preset::RESNET20_PARAMETERS_BY_PYTORCH);
    for name in ["3.body.0.weight", "3.body.1.running_mean"] {
        assert!(file.tensors.contains_key(name), "{name}");
    }
    let state = layers::checkpoint::read_checkpoint::<f32>(&scratch.join("resnet20.state.safetensors")).unwrap();
    assert_eq!(state.metadata["config.augment"], "crop:4,flip");
    let eval = crate::common::lenet5(&["eval", "--checkpoint", crate::common::s(&out)]);
    eval.assert_ok("eval of resnet20 on CIFAR-10");
    assert!(eval.stdout.lines().next().unwrap().contains("(10 images)"), "{}", eval.stdout);
}
