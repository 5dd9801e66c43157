//! The image reader of `lenet5 predict` on arbitrary bytes (PNG, JPEG, or anything else).
//! Any input must give 28×28 pixels or a typed error: never a panic, a hang or a huge
//! allocation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pixels) = models::predict::digit_from_bytes(data, Path::new("fuzz.png")) {
        assert_eq!(pixels.len(), 28 * 28);
    }
});
