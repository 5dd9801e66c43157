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

/// The `.rs` files of `src/<dir>` other than `mod.rs`, sorted.
fn files(dir: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rs") && n != "mod.rs")
        .collect();
    names.sort();
    names
}

#[test]
fn the_catalogue_is_laid_out_as_the_ops() {
    assert_eq!(files("catalogue/ops"), files("ops"));
}

#[test]
fn the_index_of_vjp_rules_has_a_row_per_op_file() {
    let index =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops/mod.rs")).unwrap();
    let rows: Vec<&str> = index.lines().filter(|l| l.starts_with("//! | `")).collect();
    let listed: Vec<String> = rows.iter().map(|r| r.split('`').nth(1).unwrap().to_string()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a file listed twice: {listed:?}");
    assert_eq!(sorted, files("ops"));
}
