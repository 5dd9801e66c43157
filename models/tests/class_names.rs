//! Class names of an IDX folder from its `classes.txt`, through the weights file's metadata
//! and back; bad lists are typed errors naming the file; files written before names could
//! hold a `/` still read.

use layers::WithPath;
use models::mnist::MnistFault;
use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{Scratch, idx_bytes};
use models::arch::Arch;
use models::data::Dataset;
use models::mnist::{CLASSES_FILE, MnistError, load};
use models::network::NetworkInfo;

/// An IDX folder of 2×2 images whose labels are 0, 1, 2 (training) and 0, 2 (test).
fn idx_folder(dir: &Path) {
    let split = |labels: &[u8]| (idx_bytes(&[labels.len() as u32, 2, 2], &vec![7; 4 * labels.len()]), labels.to_vec());
    for (prefix, labels) in [("train", vec![0, 1, 2]), ("t10k", vec![0, 2])] {
        let (images, labels) = split(&labels);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx_bytes(&[labels.len() as u32], &labels))
            .unwrap();
    }
}

#[test]
fn classes_txt_names_the_classes_and_survives_the_metadata() {
    let dir = Scratch::new("classes-txt");
    idx_folder(dir.path());
    let numbered = load(dir.path()).unwrap();
    assert_eq!((0..3).map(|c| numbered.train.class_name(c)).collect::<Vec<_>>(), ["0", "1", "2"]);

    std::fs::write(dir.join(CLASSES_FILE), "T-shirt/top\n  Trouser \nPullover\n\n").unwrap();
    let named = load(dir.path()).unwrap();
    let names = ["T-shirt/top", "Trouser", "Pullover"];
    for split in [&named.train, &named.test] {
        assert_eq!(split.classes(), 3);
        assert_eq!((0..3).map(|c| split.class_name(c)).collect::<Vec<_>>(), names);
    }
    // More names than labels: the network gets an output for each.
    std::fs::write(dir.join(CLASSES_FILE), "a\nb\nc\nd\n").unwrap();
    assert_eq!(load(dir.path()).unwrap().train.classes(), 4);

    // Through the metadata of a weights file, a `/` inside a name included.
    let info = NetworkInfo::for_data(Arch::lenet5(), &named.train);
    let metadata: BTreeMap<String, String> = info.metadata().into_iter().collect();
    let back = NetworkInfo::from_metadata(&metadata, Path::new("w.safetensors")).unwrap().unwrap();
    assert_eq!(back.class_names, names);
}

#[test]
fn metadata_from_before_classes_txt_still_reads() {
    let metadata: BTreeMap<String, String> = [("arch", "lenet5"), ("input", "1,28,28"), ("classes", "zero/one/two")]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
    let info = NetworkInfo::from_metadata(&metadata, Path::new("old.safetensors")).unwrap().unwrap();
    assert_eq!(info.class_names, ["zero", "one", "two"]);
}

#[test]
fn a_bad_classes_txt_is_an_error_naming_it() {
    let dir = Scratch::new("classes-txt-bad");
    idx_folder(dir.path());
    let cases: [(&[u8], &str); 4] = [
        (b"a\nb\n", "2 names for labels 0…2"),
        (b"a\n\nb\nc\n", "line 2 is empty"),
        (b"a\nb\na\n", "\"a\" names two classes"),
        (b"a\nb\xff\nc\n", "UTF-8"),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.join(CLASSES_FILE), text).unwrap();
        match load(dir.path()) {
            Err(e @ MnistError::File(WithPath { source: MnistFault::Classes(_), .. })) => {
                let message = e.to_string();
                assert!(message.contains(CLASSES_FILE) && message.contains(expected), "{message}");
            }
            other => panic!("{:?}: expected a Classes error, got {other:?}", String::from_utf8_lossy(text)),
        }
    }
    let names: String = (0..300).map(|i| format!("class {i}\n")).collect();
    std::fs::write(dir.join(CLASSES_FILE), names).unwrap();
    assert!(
        matches!(load(dir.path()), Err(MnistError::File(WithPath { source: MnistFault::Classes(_), .. }))),
        "300 names"
    );
    std::fs::write(dir.join(CLASSES_FILE), vec![b'a'; 2 << 20]).unwrap();
    let message = load(dir.path()).unwrap_err().to_string();
    assert!(message.contains("bytes"), "{message}");
}
