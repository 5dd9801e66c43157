//! Inputs the fuzzers (`fuzz/`, cargo-fuzz) flagged, replayed through the same calls as
//! their targets, so that what they found stays fixed.
//!
//! - `image`, slow unit (10 s under the sanitizer): a 393-byte JPEG whose frame declares
//!   6684 × 8447 pixels (56 megapixels) of which it holds almost nothing. It was within
//!   the decoder's side and allocation limits, so it was decoded and resized in full.
//!   Fixed: the header is read first and more than `MAX_IMAGE_PIXELS` is refused before
//!   any pixel is decoded.
//!
//! The seeds committed for the targets `spec`, `image_folder` and `http` (`fuzz/seeds/`)
//! are replayed here through the targets' own checks (`fuzz/src/targets.rs`), so that
//! each check runs on every test run, not only under the fuzzer.

use crate::resume_support;
use layers::WithPath;
use models::predict::ImageFault;

#[cfg(feature = "serve")]
#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;
use std::time::Instant;

use models::predict::{MAX_IMAGE_PIXELS, PredictError, digit_from_bytes, load_digit};

const SLOW_JPEG: &[u8] = include_bytes!("faults_fixtures/fuzz-image-slow-jpeg-6684x8447.jpg");

#[test]
fn fuzz_image_slow_unit_is_refused_from_its_header() {
    // The frame header (SOF0) declares height 0x20ff and width 0x1a1c.
    let sof = SLOW_JPEG.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    let height = u16::from_be_bytes([SLOW_JPEG[sof + 5], SLOW_JPEG[sof + 6]]);
    let width = u16::from_be_bytes([SLOW_JPEG[sof + 7], SLOW_JPEG[sof + 8]]);
    assert_eq!((width, height), (6684, 8447));
    assert!(u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS);

    let started = Instant::now();
    let err = digit_from_bytes(SLOW_JPEG, Path::new("slow.jpg")).unwrap_err();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        matches!(
            err,
            PredictError::File(WithPath { source: ImageFault::TooManyPixels { width: 6684, height: 8447, .. }, .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("slow.jpg: the image is 6684×8447 pixels, more than {MAX_IMAGE_PIXELS}; scale it down")
    );
    println!("refused in {seconds:.4} s");

    // The same through the file reader of `lenet5 predict`.
    let scratch = resume_support::Scratch::new("fuzz-regress");
    let path = scratch.join("slow.jpg");
    std::fs::write(&path, SLOW_JPEG).unwrap();
    assert!(matches!(
        load_digit(&path),
        Err(PredictError::File(WithPath { source: ImageFault::TooManyPixels { .. }, .. }))
    ));
}

#[test]
fn the_same_jpeg_shrunk_to_an_allowed_size_decodes_or_fails_cleanly() {
    // With the frame declaring 28 × 28 the decoder runs to the end of the (mostly absent)
    // data: pixels or a decode error, never a panic.
    let mut small = SLOW_JPEG.to_vec();
    let sof = small.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    small[sof + 5..sof + 9].copy_from_slice(&[0, 28, 0, 28]);
    match digit_from_bytes(&small, Path::new("small.jpg")) {
        Ok(pixels) => assert_eq!(pixels.len(), 784),
        Err(e) => assert!(matches!(e, PredictError::File(WithPath { source: ImageFault::Image(_), .. })), "{e:?}"),
    }
}

/// Every committed seed of `target` by name, through `check`.
#[cfg(feature = "serve")]
fn replay<R: std::fmt::Debug>(target: &str, check: fn(&[u8]) -> R) -> std::collections::BTreeMap<String, R> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds").join(target);
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let seed = entry.unwrap().path();
        let started = Instant::now();
        let outcome = check(&std::fs::read(&seed).unwrap());
        let name = seed.file_name().unwrap().to_string_lossy().into_owned();
        println!("{target}/{name}: {outcome:?} in {:.3} s", started.elapsed().as_secs_f64());
        out.insert(name, outcome);
    }
    out
}

#[test]
#[cfg(feature = "serve")]
fn the_spec_seeds_plan_build_or_fail_cleanly() {
    use targets::SpecOutcome::*;
    let outcomes = replay("spec", targets::spec);
    for (seed, expected) in [
        ("lenet5", Built),
        ("lenet5-1998", Built),
        ("readme-arch", Built),
        ("every-kind", Built),
        ("classes", PlanError),
        ("huge-stride", Built),
        ("huge-linear", Planned),
        ("huge-input", Planned),
        ("huge-padding", PlanError),
        ("infinite-slope", ParseError),
        ("unbalanced", ParseError),
        ("no-parameter", PlanError),
        // Found by fuzzing: LeNet-5 on 1×32×36 planned a wider F6 than `LeNet5` builds.
        ("lenet5-wider-input", PlanError),
        // Found by fuzzing: a 0×16356×1 input planned a linear layer of 0 input features.
        ("empty-input", PlanError),
    ] {
        assert_eq!(outcomes[seed], expected, "{seed}");
    }
}

#[test]
#[cfg(feature = "serve")]
fn the_image_folder_seeds_load_or_fail_cleanly() {
    let outcomes = replay("image_folder", targets::image_folder);
    assert_eq!(outcomes["gray-two-classes"], Ok(4));
    assert_eq!(outcomes["rgb-three-classes"], Ok(6));
    let error = |seed: &str| outcomes[seed].clone().unwrap_err();
    assert!(error("mixed-sizes").contains("every image must have one size"), "{}", error("mixed-sizes"));
    assert!(error("header-declares-huge").contains("8000×8000"), "{}", error("header-declares-huge"));
    assert!(error("truncated").contains("0.png"), "{}", error("truncated"));
    assert!(outcomes["not-images"].is_err());
}

#[test]
#[cfg(feature = "serve")]
fn the_http_seeds_are_answered_without_a_server_error() {
    let statuses = replay("http", targets::http);
    // The valid requests succeed on both networks; the broken ones are the client's fault.
    for ok in ["pass-lenet5", "step-lenet5", "info-lenet5", "pass-arch", "step-arch", "info-arch"] {
        assert_eq!(statuses[ok].map(|s| s.as_u16()), Some(200), "{ok}");
    }
    for bad in ["pass-short", "step-bad-lr", "pass-nan-text", "test-query"] {
        assert!(statuses[bad].is_some_and(|s| s.is_client_error()), "{bad}: {:?}", statuses[bad]);
    }
}

/// Residual blocks nested 20,000 deep overflowed the parser's stack (abort); deeper than
/// `MAX_NESTING` is now an error, and a spec at the bound still parses.
#[test]
fn deeply_nested_blocks_are_an_error_not_a_stack_overflow() {
    let nested = |n: usize| format!("{}relu{} conv(4,3) flatten linear(10)", "res(".repeat(n), ")".repeat(n));
    let err = nested(20_000).parse::<models::arch::Arch>().unwrap_err().to_string();
    assert!(err.contains("nested deeper than"), "{err}");
    let limit = models::arch::MAX_NESTING;
    assert!(nested(limit).parse::<models::arch::Arch>().is_ok());
    assert!(nested(limit + 1).parse::<models::arch::Arch>().is_err());
}
