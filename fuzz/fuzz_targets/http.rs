//! The explorer's HTTP handlers, called in process with arbitrary bodies and queries on
//! each route, for LeNet-5 and a spec's network: every answer is a success or a 4xx with
//! a JSON error, never a 5xx or a panic (`src/targets.rs` says what is checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| {
    targets::http(data);
});
