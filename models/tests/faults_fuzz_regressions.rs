//! Inputs the fuzzers (`fuzz/`, cargo-fuzz) flagged, replayed through the same calls as
//! their targets, so that what they found stays fixed.
//!
//! - `image`, slow unit (10 s under the sanitizer): a 393-byte JPEG whose frame declares
//!   6684 × 8447 pixels (56 megapixels) of which it holds almost nothing. It was within
//!   the decoder's side and allocation limits, so it was decoded and resized in full.
//!   Fixed: the header is read first and more than `MAX_IMAGE_PIXELS` is refused before
//!   any pixel is decoded.

use crate::resume_support;

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
    assert!(matches!(err, PredictError::TooManyPixels { width: 6684, height: 8447, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("slow.jpg: the image is 6684×8447 pixels, more than {MAX_IMAGE_PIXELS}; scale it down")
    );
    println!("refused in {seconds:.4} s");

    // The same through the file reader of `lenet5 predict`.
    let scratch = resume_support::Scratch::new("fuzz-regress");
    let path = scratch.join("slow.jpg");
    std::fs::write(&path, SLOW_JPEG).unwrap();
    assert!(matches!(load_digit(&path), Err(PredictError::TooManyPixels { .. })));
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
        Err(e) => assert!(matches!(e, PredictError::Image { .. }), "{e:?}"),
    }
}
