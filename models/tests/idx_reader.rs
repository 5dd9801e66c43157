//! The IDX reader and the MNIST loader on files written by hand: the happy path (plain,
//! gzip, multi-member gzip, names that lie about compression), then every error —
//! bad magic, truncated header, truncated data, trailing bytes, dimensions that overflow
//! or exceed `MAX_IDX_BYTES` (without allocating for them), broken or truncated gzip,
//! images that are not 28×28, image/label count mismatch, labels above 9, missing files.
//!
//! The test binary installs a global allocator that records, per thread, the largest
//! single allocation, so "the reader does not allocate what a lying header announces" is
//! measured, not assumed.

mod common;

use layers::WithPath;
use models::idx::IdxFault;
use models::mnist::MnistFault;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use models::data::{Pixels, Preprocess};
use models::idx::{Idx, IdxError, MAX_IDX_BYTES, parse_idx, read_idx};
use models::mnist::{FILES, MnistError, Split, load, load_split};

use common::{Scratch, gzip, idx_bytes};

// ---------------------------------------------------------------------------------------
// The largest allocation, per thread.

struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call forwards to the system allocator with the caller's arguments; the
// bookkeeping touches only a const-initialised thread-local `Cell` (no allocation).
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// `f()` and the largest single allocation it made on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

#[test]
fn the_allocation_probe_sees_a_large_allocation() {
    // The instrument itself: a 5 MiB buffer is seen, and the count restarts per call.
    let (v, largest) = largest_allocation(|| vec![1u8; 5 << 20]);
    assert!(largest >= 5 << 20, "{largest}");
    drop(v);
    let ((), largest) = largest_allocation(|| ());
    assert!(largest < 1 << 20, "{largest}");
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn write(dir: &Scratch, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Deterministic pseudo-random bytes (an LCG), incompressible enough to make the gzip
/// stream about as long as the data.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

/// Images `n×28×28` of noise and `n` labels `i % 10`, as IDX bytes.
fn mnist_like(n: u32, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let pixels = noise(n as usize * 784, seed);
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (idx_bytes(&[n, 28, 28], &pixels), idx_bytes(&[n], &labels))
}

fn read_err(path: &Path, rank: usize) -> IdxError {
    match read_idx(path, rank) {
        Ok(idx) => panic!("{}: read as {:?}, expected an error", path.display(), idx.dims),
        Err(e) => e,
    }
}

fn split_err(images: &Path, labels: &Path) -> MnistError {
    match load_split(images, labels) {
        Ok(s) => panic!("loaded {} images, expected an error", s.len()),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------
// Happy paths.

#[test]
fn a_small_file_reads_back_plain_and_gzipped() {
    let dir = Scratch::new("idx-happy");
    let data = noise(3 * 28 * 28, 1);
    let bytes = idx_bytes(&[3, 28, 28], &data);
    let expected = Idx { dims: vec![3, 28, 28], data: data.clone() };

    let plain = write(&dir, "images-idx3-ubyte", &bytes);
    let gz = write(&dir, "images-idx3-ubyte.gz", &gzip(&bytes));
    assert_eq!(read_idx(&plain, 3).unwrap(), expected);
    assert_eq!(read_idx(&gz, 3).unwrap(), expected);

    // Compression is judged by the content, not the name.
    let gz_without_suffix = write(&dir, "gz-content-idx3-ubyte", &gzip(&bytes));
    let plain_with_suffix = write(&dir, "plain-content-idx3-ubyte.gz", &bytes);
    assert_eq!(read_idx(&gz_without_suffix, 3).unwrap(), expected);
    assert_eq!(read_idx(&plain_with_suffix, 3).unwrap(), expected);

    // Labels: rank 1.
    let labels = [7u8, 0, 9];
    let lab = write(&dir, "labels-idx1-ubyte.gz", &gzip(&idx_bytes(&[3], &labels)));
    assert_eq!(read_idx(&lab, 1).unwrap(), Idx { dims: vec![3], data: labels.to_vec() });

    // The in-memory parser gives the same.
    assert_eq!(parse_idx(Cursor::new(&bytes), 3, Path::new("mem"), false).unwrap(), expected);
}

#[test]
fn a_gzip_file_of_several_members_reads_as_their_concatenation() {
    let dir = Scratch::new("idx-multigz");
    let data = noise(2 * 784, 2);
    let bytes = idx_bytes(&[2, 28, 28], &data);
    let mut two = gzip(&bytes[..100]);
    two.extend(gzip(&bytes[100..]));
    let path = write(&dir, "two-members.gz", &two);
    assert_eq!(read_idx(&path, 3).unwrap(), Idx { dims: vec![2, 28, 28], data });
}

#[test]
fn empty_dimensions_read_as_empty_data() {
    let dir = Scratch::new("idx-empty");
    let path = write(&dir, "empty", &idx_bytes(&[0, 28, 28], &[]));
    assert_eq!(read_idx(&path, 3).unwrap(), Idx { dims: vec![0, 28, 28], data: vec![] });
}

// ---------------------------------------------------------------------------------------
// IDX errors.

#[test]
fn bad_magic_is_reported_with_found_and_expected() {
    let dir = Scratch::new("idx-magic");
    // A label file's magic where an image file is expected.
    let labels = write(&dir, "labels", &idx_bytes(&[3], &[1, 2, 3]));
    match read_err(&labels, 3) {
        WithPath { source: IdxFault::Magic { found, expected, dims }, path } => {
            assert_eq!((found, expected, dims), (0x0801, 0x0803, 3));
            assert_eq!(path, labels);
        }
        e => panic!("expected Magic, got {e:?}"),
    }
    // Another element type (0x0D = f32) with the right rank.
    let mut float = idx_bytes(&[1, 28, 28], &[0; 784]);
    float[2] = 0x0D;
    let float = write(&dir, "float", &float);
    let e = read_err(&float, 3);
    assert!(matches!(&e.source, IdxFault::Magic { found: 0x0D03, expected: 0x0803, .. }), "{e:?}");
    assert!(e.to_string().contains("bad magic number 0x00000d03"), "{e}");
    // Non-zero leading bytes.
    let mut lead = idx_bytes(&[3], &[1, 2, 3]);
    lead[0] = 0x12;
    let lead = write(&dir, "lead", &lead);
    assert!(matches!(read_err(&lead, 1).source, IdxFault::Magic { found: 0x1200_0801, .. }));
    // Inside a valid gzip stream: still a magic error, not a gzip one.
    let gz = write(&dir, "labels.gz", &gzip(&idx_bytes(&[3], &[1, 2, 3])));
    assert!(matches!(read_err(&gz, 3).source, IdxFault::Magic { found: 0x0801, .. }));
}

#[test]
fn a_truncated_header_is_reported() {
    let dir = Scratch::new("idx-header");
    let full = idx_bytes(&[5, 28, 28], &[]);
    for len in [0, 1, 3, 4, 8, 15] {
        let path = write(&dir, &format!("head{len}"), &full[..len]);
        match read_err(&path, 3).source {
            IdxFault::Truncated { expected, got, .. } => assert_eq!((expected, got), (16, len), "{len} bytes"),
            e => panic!("{len} bytes: expected Truncated, got {e:?}"),
        }
    }
    // Gzipped: the same error from the decompressed stream.
    let path = write(&dir, "head.gz", &gzip(&full[..10]));
    assert!(matches!(read_err(&path, 3).source, IdxFault::Truncated { expected: 16, got: 10, .. }));
}

#[test]
fn truncated_data_is_reported_with_both_sizes() {
    let dir = Scratch::new("idx-data");
    let bytes = idx_bytes(&[2, 28, 28], &noise(1000, 3));
    let plain = write(&dir, "short", &bytes);
    let gz = write(&dir, "short.gz", &gzip(&bytes));
    for path in [plain, gz] {
        match read_err(&path, 3).source {
            IdxFault::Truncated { expected, got, .. } => assert_eq!((expected, got), (1568, 1000)),
            e => panic!("{}: expected Truncated, got {e:?}", path.display()),
        }
    }
    let labels = write(&dir, "labels", &idx_bytes(&[10], &[1, 2, 3]));
    let e = read_err(&labels, 1);
    assert!(matches!(&e.source, IdxFault::Truncated { expected: 10, got: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn trailing_bytes_are_reported() {
    let dir = Scratch::new("idx-trailing");
    let mut bytes = idx_bytes(&[3], &[1, 2, 3]);
    bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
    let plain = write(&dir, "trailing", &bytes);
    let gz = write(&dir, "trailing.gz", &gzip(&bytes));
    for path in [plain, gz] {
        match read_err(&path, 1).source {
            IdxFault::TrailingBytes { extra, .. } => assert!((1..=5).contains(&extra), "extra {extra}"),
            e => panic!("{}: expected TrailingBytes, got {e:?}", path.display()),
        }
    }
}

#[test]
fn oversized_dimensions_are_refused_without_allocating_them() {
    let dir = Scratch::new("idx-large");
    let cases: [(&str, Vec<u32>); 4] = [
        ("product overflows usize", vec![u32::MAX, u32::MAX, u32::MAX]),
        ("product overflows, then ×2", vec![u32::MAX, u32::MAX, 2]),
        ("one byte over MAX_IDX_BYTES", vec![(MAX_IDX_BYTES as u32) + 1]),
        ("2^31 images bytes", vec![65_536, 128, 256]),
    ];
    for (what, dims) in cases {
        for gz in [false, true] {
            let bytes = idx_bytes(&dims, &[1, 2, 3, 4]);
            let path = write(&dir, "large", &if gz { gzip(&bytes) } else { bytes });
            let (result, largest) = largest_allocation(|| read_idx(&path, dims.len()));
            match result {
                Err(WithPath { source: IdxFault::TooLarge { dims: got }, .. }) => assert_eq!(got, dims, "{what}"),
                other => panic!("{what} (gzip {gz}): expected TooLarge, got {other:?}"),
            }
            assert!(largest < 1 << 20, "{what} (gzip {gz}): allocated {largest} bytes at once");
        }
    }
    // Exactly MAX_IDX_BYTES is allowed, but a file that holds 4 bytes of it must not make
    // the reader allocate a gigabyte.
    for gz in [false, true] {
        let bytes = idx_bytes(&[1024, 1024, 1024], &[1, 2, 3, 4]);
        let path = write(&dir, "lying", &if gz { gzip(&bytes) } else { bytes });
        let (result, largest) = largest_allocation(|| read_idx(&path, 3));
        match result {
            Err(WithPath { source: IdxFault::Truncated { expected, got }, .. }) => {
                assert_eq!((expected, got), (MAX_IDX_BYTES, 4))
            }
            other => panic!("lying header (gzip {gz}): expected Truncated, got {other:?}"),
        }
        assert!(largest < 1 << 20, "lying header (gzip {gz}): allocated {largest} bytes at once");
    }
}

#[test]
fn broken_gzip_is_a_gzip_error() {
    let dir = Scratch::new("idx-gzip");
    // A valid gzip header (deflate, no flags), then bytes that are not a deflate stream
    // (0xFF starts a block of the reserved type 3).
    let mut garbage = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];
    garbage.extend_from_slice(&[0xff; 64]);
    let path = write(&dir, "garbage.gz", &garbage);
    let e = read_err(&path, 3);
    assert!(matches!(&e.source, IdxFault::Gzip(_)), "{e:?}");
    assert!(e.to_string().contains("broken gzip data"), "{e}");

    // Only the gzip magic.
    let path = write(&dir, "magic-only.gz", &[0x1f, 0x8b]);
    assert!(matches!(read_err(&path, 3).source, IdxFault::Gzip(_)));

    // A checksum that does not match the data.
    let bytes = idx_bytes(&[2, 28, 28], &noise(1568, 4));
    let mut bad_crc = gzip(&bytes);
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0x55;
    let path = write(&dir, "bad-crc.gz", &bad_crc);
    let e = read_err(&path, 3);
    assert!(matches!(&e.source, IdxFault::Gzip(_)), "{e:?}");
}

#[test]
fn a_truncated_gzip_file_is_a_gzip_error() {
    let dir = Scratch::new("idx-gzip-cut");
    let bytes = idx_bytes(&[4, 28, 28], &noise(4 * 784, 5));
    let whole = gzip(&bytes);
    // Cut inside the deflate stream, and cut only the 8-byte trailer (CRC and size).
    for (what, len) in [("half", whole.len() / 2), ("no trailer", whole.len() - 8), ("short trailer", whole.len() - 3)]
    {
        let path = write(&dir, "cut.gz", &whole[..len]);
        let e = read_err(&path, 3);
        assert!(matches!(&e.source, IdxFault::Gzip(_)), "{what}: expected Gzip, got {e:?}");
    }
}

#[test]
fn a_missing_or_unreadable_file_is_an_io_error() {
    let dir = Scratch::new("idx-io");
    match read_err(&dir.join("nope"), 1) {
        WithPath { source: IdxFault::Io(source), path } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert_eq!(path, dir.join("nope"));
        }
        e => panic!("expected Io, got {e:?}"),
    }
    // A folder is not a file.
    assert!(matches!(read_err(dir.path(), 1).source, IdxFault::Io(_)));
}

// ---------------------------------------------------------------------------------------
// MNIST checks on top of the IDX reader.

#[test]
fn images_of_any_size_are_read_and_both_splits_must_agree() {
    let dir = Scratch::new("mnist-size");
    let labels = write(&dir, "labels", &idx_bytes(&[2], &[0, 1]));
    for (rows, cols) in [(27u32, 28u32), (28, 32), (32, 32)] {
        let pixels = noise((2 * rows * cols) as usize, 6);
        let images = write(&dir, "images", &idx_bytes(&[2, rows, cols], &pixels));
        let split = load_split(&images, &labels).unwrap();
        assert_eq!(split.shape, [1, rows as usize, cols as usize]);
        assert_eq!(split.image(1), &pixels[(rows * cols) as usize..]);
    }
    // Test images of another size than the training images': named with both sizes.
    let (tri, trl) = mnist_like(3, 6);
    write(&dir, FILES[0], &tri);
    write(&dir, FILES[1], &trl);
    let tei = write(&dir, FILES[2], &idx_bytes(&[2, 28, 27], &noise(2 * 28 * 27, 7)));
    write(&dir, FILES[3], &idx_bytes(&[2], &[0, 1]));
    match load(dir.path()).map(|d| d.train.len()) {
        Err(MnistError::File(WithPath {
            source: MnistFault::ImageSize { rows: 28, cols: 27, expected_rows: 28, expected_cols: 28 },
            path,
        })) => {
            assert_eq!(path, tei)
        }
        other => panic!("expected ImageSize, got {other:?}"),
    }
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = Scratch::new("mnist-count");
    let images = write(&dir, "images", &idx_bytes(&[3, 28, 28], &noise(3 * 784, 7)));
    let labels = write(&dir, "labels", &idx_bytes(&[2], &[0, 1]));
    match split_err(&images, &labels) {
        MnistError::CountMismatch { images: i, image_count, labels: l, label_count } => {
            assert_eq!((image_count, label_count), (3, 2));
            assert_eq!((i, l), (images, labels));
        }
        e => panic!("expected CountMismatch, got {e:?}"),
    }
}

#[test]
fn the_classes_are_zero_to_the_largest_label() {
    let dir = Scratch::new("mnist-label");
    let images = write(&dir, "images", &idx_bytes(&[4, 28, 28], &noise(4 * 784, 8)));
    for (labels, classes) in [([1u8, 10, 3, 4], 11), ([0, 9, 9, 255], 256), ([9, 9, 0, 0], 10)] {
        let path = write(&dir, "labels", &idx_bytes(&[4], &labels));
        let split = load_split(&images, &path).unwrap();
        assert_eq!(split.labels, labels.map(u16::from).to_vec());
        assert_eq!(split.class_names.len(), classes);
        assert_eq!(split.class_names[classes - 1], (classes - 1).to_string());
    }
}

#[test]
fn a_split_without_images_is_refused() {
    let dir = Scratch::new("mnist-empty");
    let images = write(&dir, "images", &idx_bytes(&[0, 28, 28], &[]));
    let labels = write(&dir, "labels", &idx_bytes(&[0], &[]));
    let e = split_err(&images, &labels);
    assert!(matches!(&e, MnistError::File(WithPath { source: MnistFault::Empty, path }) if *path == images), "{e:?}");
}

#[test]
fn idx_errors_pass_through_the_loader() {
    let dir = Scratch::new("mnist-idx");
    let images = write(&dir, "images", &idx_bytes(&[2, 28, 28], &noise(2 * 784, 9)));
    let bad_labels = write(&dir, "labels", &idx_bytes(&[2, 1], &[0, 1]));
    let e = split_err(&images, &bad_labels);
    assert!(
        matches!(
            e,
            MnistError::File(WithPath {
                source: MnistFault::Idx(IdxFault::Magic { found: 0x0802, expected: 0x0801, .. }),
                ..
            })
        ),
        "{e:?}"
    );
    let e = split_err(&dir.join("missing"), &bad_labels);
    assert!(matches!(e, MnistError::File(WithPath { source: MnistFault::Idx(IdxFault::Io(_)), .. })), "{e:?}");
}

/// Writes the four files of a tiny MNIST (5 training and 3 test images) into `dir`,
/// the test files under their uncompressed names; returns the expected splits.
fn tiny_mnist(dir: &Scratch) -> (Split, Split) {
    let (tri, trl) = mnist_like(5, 10);
    let (tei, tel) = mnist_like(3, 11);
    write(dir, FILES[0], &gzip(&tri));
    write(dir, FILES[1], &gzip(&trl));
    write(dir, FILES[2].trim_end_matches(".gz"), &tei);
    write(dir, FILES[3].trim_end_matches(".gz"), &tel);
    let classes = trl[8..].iter().chain(&tel[8..]).map(|&l| usize::from(l) + 1).max().unwrap();
    let split = |images: &[u8], labels: &[u8]| Split {
        shape: [1, 28, 28],
        images: images[16..].to_vec(),
        labels: labels[8..].iter().map(|&l| u16::from(l)).collect(),
        class_names: Split::numbered_classes(classes),
    };
    (split(&tri, &trl), split(&tei, &tel))
}

#[test]
fn load_reads_the_four_files_gzipped_or_not() {
    let dir = Scratch::new("mnist-load");
    let (train, test) = tiny_mnist(&dir);
    let data = load(dir.path()).unwrap();
    assert_eq!(data.train, train);
    assert_eq!(data.test, test);
    assert_eq!((data.train.len(), data.test.len()), (5, 3));
    assert_eq!(data.test.image(2), &test.images[2 * 784..3 * 784]);

    // With both names present, the .gz file wins.
    let (other, other_labels) = mnist_like(2, 12);
    write(&dir, FILES[2], &gzip(&other));
    write(&dir, FILES[3], &gzip(&other_labels));
    assert_eq!(load(dir.path()).unwrap().test.len(), 2);
}

#[test]
fn a_missing_file_is_named() {
    let dir = Scratch::new("mnist-missing");
    match load(dir.path()) {
        Err(MnistError::Missing { file, dir: d }) => {
            assert_eq!(file, "train-images-idx3-ubyte.gz");
            assert_eq!(d, dir.path());
        }
        other => panic!("expected Missing, got {:?}", other.map(|m| m.train.len())),
    }
    tiny_mnist(&dir);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let e = load(dir.path()).map(|m| m.train.len()).unwrap_err();
    assert!(matches!(&e, MnistError::Missing { file, .. } if file == "t10k-labels-idx1-ubyte.gz"), "{e:?}");
    assert!(e.to_string().contains("t10k-labels-idx1-ubyte.gz is missing"), "{e}");
    // A folder that does not exist: the first file is missing.
    assert!(matches!(load(dir.join("nowhere")), Err(MnistError::Missing { .. })));
}

#[test]
fn preprocessing_pads_with_background_and_normalises() {
    // torchvision's Pad(2) → ToTensor → Normalize((0.1307,), (0.3081,)), by hand.
    let (images, labels) = (noise(2 * 784, 13), vec![4u16, 2]);
    let split = Split { shape: [1, 28, 28], images: images.clone(), labels, class_names: Split::numbered_classes(10) };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let preprocess = Preprocess::mnist();
    preprocess.fill_batch(&split, &[1, 0, 1], &mut x, &mut y).unwrap();
    assert_eq!(y, vec![2, 4, 2]);
    assert_eq!(x.len(), 3 * 1024);
    let expected: Vec<f32> =
        [1, 0, 1].iter().flat_map(|&i| common::preprocess(&images[i * 784..(i + 1) * 784])).collect();
    for (k, (a, e)) in x.iter().zip(&expected).enumerate() {
        assert!((a - e).abs() <= 1e-6, "element {k}: {a} vs {e}");
    }
    // The padding reads (0 − 0.1307)/0.3081 ≈ −0.4242; a white pixel ≈ 2.8215.
    assert!((x[0] - (-0.424_212_9)).abs() < 1e-6, "{}", x[0]);
    let mut white = vec![0.0; 1024];
    preprocess.apply(Pixels::U8(&[255; 784]), [1, 28, 28], &mut white);
    assert!((white[2 * 32 + 2] - 2.821_488).abs() < 1e-5, "{}", white[2 * 32 + 2]);
}
