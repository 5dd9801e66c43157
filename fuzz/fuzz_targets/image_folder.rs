//! The image-folder loader on a folder built from the input (files of arbitrary bytes in
//! `train/` and `test/` class folders): any folder gives a data set or a typed error,
//! never a panic, a hang or a huge allocation (`src/targets.rs` says what is checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| {
    let _ = targets::image_folder(data);
});
