//! The checkpoint loader on arbitrary bytes: parse as safetensors into f32 and f64, then
//! (for f32) the checks of a training state file. Any input must give `Ok` or a typed
//! error: never a panic, a hang or a huge allocation.
#![no_main]

use std::path::Path;

use layers::checkpoint::parse_checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let _ = parse_checkpoint::<f64>(data, path);
    if let Ok(checkpoint) = parse_checkpoint::<f32>(data, path) {
        let _ = models::resume::resume_checkpoint(checkpoint, path);
    }
});
