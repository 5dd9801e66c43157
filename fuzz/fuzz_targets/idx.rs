//! The IDX reader on arbitrary bytes: the first byte picks what is parsed (images of rank
//! 3, labels of rank 1, or a whole split whose two files the rest is cut into, at the
//! offset of the next two bytes, big-endian); plain and
//! gzip streams are told apart by the content, as `read_idx` does. Any input must give
//! `Ok` or a typed error: never a panic, a hang or a huge allocation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use models::idx::parse_idx_auto;
use models::mnist::split_from_idx;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (images, labels) = (Path::new("images.idx"), Path::new("labels.idx"));
    match mode % 3 {
        0 => {
            let _ = parse_idx_auto(rest, 3, images);
        }
        1 => {
            let _ = parse_idx_auto(rest, 1, labels);
        }
        _ => {
            let [hi, lo, rest @ ..] = rest else { return };
            let at = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
            let (a, b) = rest.split_at(at);
            if let (Ok(img), Ok(lab)) = (parse_idx_auto(a, 3, images), parse_idx_auto(b, 1, labels)) {
                if let Ok(split) = split_from_idx(img, lab, images, labels) {
                    assert!(!split.is_empty());
                    assert_eq!(split.images.len(), split.len() * split.image_len());
                    assert!(split.labels.iter().all(|&l| usize::from(l) < split.class_names.len()));
                }
            }
        }
    }
});
