//! The spec parser and network builder through `lenet5 shapes`' code path (parse, plan,
//! table, memory estimate; build and one forward pass when small): any input gives a
//! network or a typed error, never a panic, a hang or a huge allocation
//! (`src/targets.rs` says what is checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/targets.rs"]
mod targets;

fuzz_target!(|data: &[u8]| {
    let _ = targets::spec(data);
});
