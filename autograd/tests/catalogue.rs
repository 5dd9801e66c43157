//! The op catalogue's suite over every entry of the library: gradients against central
//! differences in f64, f32 against f64, non-contiguous inputs against contiguous copies,
//! errors on wrong shapes, and the conventions at kinks and ties. Prints each entry's
//! counts (`cargo test -p autograd --test integration catalogue:: -- --nocapture`).

use autograd::catalogue::{self, SuiteConfig};

/// The names of the `Var` methods defined in `src/ops/` (every `pub fn` there that takes
/// `self`, its signature on one line or on several), read from the source, so that a new
/// op without an entry fails this test.
fn var_methods() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
    let mut names = Vec::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("pub fn ") else { continue };
            let Some((name, params)) = rest.split_once('(') else { continue };
            let params = match params.trim() {
                "" => lines.get(i + 1).map_or("", |next| next.trim_start()),
                _ => params,
            };
            if params.starts_with("self") {
                names.push(name.chars().take_while(|&c| c == '_' || c.is_alphanumeric()).collect());
            }
        }
    }
    names.sort();
    names
}

#[test]
fn every_op_has_an_entry() {
    let entries: Vec<&str> = catalogue::entries().iter().map(|e| e.name()).collect();
    // The smoothed cross-entropy is the same entry as the plain one (smoothing 0 or not);
    // `activation` dispatches to an activation's own op (`relu`).
    let missing: Vec<String> = var_methods()
        .into_iter()
        .filter(|m| !["softmax_cross_entropy_smoothed", "activation"].contains(&m.as_str()))
        .filter(|m| !entries.contains(&m.as_str()))
        .collect();
    assert!(missing.is_empty(), "ops without a catalogue entry: {missing:?}");
    assert!(entries.len() >= 32, "{entries:?}");
}

#[test]
fn every_entry_passes_the_suite() {
    let config = SuiteConfig::default();
    let mut failures = Vec::new();
    for entry in catalogue::entries() {
        match entry.run(&config) {
            Ok(report) => {
                println!("{report}");
                assert_eq!(report.cases, config.cases as usize, "{}: not every case ran", report.op);
            }
            Err(failure) => failures.push(failure.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
