//! CIFAR-10's binary version, read and checked: `data_batch_1.bin` … `data_batch_5.bin`
//! (the training split, in that order) and `test_batch.bin`, each a run of 3073-byte
//! records (one label byte, then 1024 red, 1024 green and 1024 blue bytes, each plane a
//! row-major 32×32 image, so the bytes are already C×H×W), and `batches.meta.txt` (one
//! class name per line, blank lines skipped; CIFAR-10's ten names when it is absent).
//!
//! A folder holds them unpacked (in it, or in its `cifar-10-batches-bin/` as the tarball
//! unpacks), or as the tarball `cifar-10-binary.tar.gz` itself, read without unpacking.
//! Every size is checked before anything is allocated: a file that is not a whole number
//! of records (a truncated download) is a [`CifarError`] naming it. The official files
//! hold 10 000 records each; any whole number is read, so smaller sets of the same format
//! load too.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use layers::{AtPath, WithPath};
use thiserror::Error;

use crate::data::{ImageSet, TrainTest};
use crate::memory::Budget;

/// Where the binary version is published.
pub const URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// The tarball's name.
pub const TARBALL: &str = "cifar-10-binary.tar.gz";
/// The tarball's MD5, as the official page gives it.
pub const TARBALL_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// The folder the tarball unpacks to.
pub const FOLDER: &str = "cifar-10-batches-bin";
/// The training files, in the order their images are numbered.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class names, one per line.
pub const META_FILE: &str = "batches.meta.txt";
/// One image's shape.
pub const SHAPE: [usize; 3] = [3, 32, 32];
/// Pixel bytes of one image.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label, then the pixels.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// CIFAR-10's class names, by label (used when there is no `batches.meta.txt`).
pub const CLASS_NAMES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// The largest `batches.meta.txt` read.
const META_LIMIT: u64 = 1 << 20;

/// What is wrong with a CIFAR-10 folder or tarball: the file (a tarball's member as
/// `TARBALL:MEMBER`) and a [`CifarFault`].
pub type CifarError = WithPath<CifarFault>;

/// What is wrong with a file of CIFAR-10 (named by [`CifarError`]'s `path`).
#[derive(Debug, Error)]
pub enum CifarFault {
    /// A file of the set is not there.
    #[error("missing (CIFAR-10's binary version has data_batch_1.bin … data_batch_5.bin and test_batch.bin)")]
    Missing,
    /// A file whose size is not a positive whole number of records.
    #[error(
        "{size} bytes is not a whole number of {RECORD_BYTES}-byte records (1 label byte and {IMAGE_BYTES} \
         pixel bytes each){}",
        if *size == 0 { "; the file is empty" } else { "; is it truncated?" }
    )]
    Size {
        /// Its size in bytes.
        size: u64,
    },
    /// A file that ended before the size its header (or the file system) gave.
    #[error("truncated: {0}")]
    Truncated(String),
    /// A label that names no class.
    #[error("record {record} has label {label}, but there are {classes} classes")]
    Label {
        /// The record, from 0.
        record: usize,
        /// Its label byte.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A `batches.meta.txt` that cannot be used.
    #[error("{0}")]
    Meta(String),
    /// Pixels (of the folder or tarball) over the memory limit, counted from the sizes
    /// before reading them.
    #[error("{bytes} bytes of pixels exceed the limit of {limit} bytes (see --max-memory)")]
    TooLarge {
        /// The pixel bytes counted so far.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A file that cannot be read, or a tarball that is not one: the operating system's or
    /// the archive's error.
    #[error("{0}")]
    Read(String),
}

/// Where a folder's CIFAR-10 files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The `.bin` files, in this folder.
    Unpacked(PathBuf),
    /// The tarball.
    Tarball(PathBuf),
}

/// The CIFAR-10 files of `dir`: unpacked in it or in its `cifar-10-batches-bin/`, else
/// its `cifar-10-binary.tar.gz`; `None` when it has neither.
pub fn find(dir: &Path) -> Option<Source> {
    let has_bins = |d: &Path| d.join(TRAIN_FILES[0]).is_file() || d.join(TEST_FILE).is_file();
    if has_bins(dir) {
        Some(Source::Unpacked(dir.to_path_buf()))
    } else if has_bins(&dir.join(FOLDER)) {
        Some(Source::Unpacked(dir.join(FOLDER)))
    } else if dir.join(TARBALL).is_file() {
        Some(Source::Tarball(dir.join(TARBALL)))
    } else {
        None
    }
}

/// Whether `dir` is meant for CIFAR-10: it holds its files ([`find`]), or its name
/// contains `cifar` (in any case). `lenet5 train` fetches the tarball into such a folder
/// when the files are missing.
pub fn is_cifar_folder(dir: &Path) -> bool {
    find(dir).is_some()
        || dir
            .canonicalize()
            .unwrap_or_else(|_| dir.to_path_buf())
            .file_name()
            .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().contains("cifar"))
}

/// Loads both splits from `dir` ([`find`]), within the machine's memory.
pub fn load(dir: impl AsRef<Path>) -> Result<TrainTest<ImageSet>, CifarError> {
    load_limited(dir, Budget::of_machine().bytes)
}

/// Loads both splits from `dir` ([`find`]); an error before reading when their pixels
/// would take more than `max_bytes`.
pub fn load_limited(dir: impl AsRef<Path>, max_bytes: u64) -> Result<TrainTest<ImageSet>, CifarError> {
    let dir = dir.as_ref();
    let mut files = Files::new(max_bytes);
    match find(dir) {
        None => return Err(WithPath::new(dir.join(TARBALL), CifarFault::Missing)),
        Some(Source::Unpacked(folder)) => files.read_folder(&folder)?,
        Some(Source::Tarball(path)) => files.read_tarball(&path)?,
    }
    files.into_sets()
}

/// One file's records: labels and pixels.
#[derive(Debug, Default)]
struct Records {
    file: PathBuf,
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

/// The files read so far: the six batch files by position (the five training files,
/// then the test file) and the class names.
struct Files {
    batches: [Option<Records>; 6],
    names: Option<(PathBuf, String)>,
    /// Where the files came from (for errors about the whole set).
    origin: PathBuf,
    bytes: u64,
    max_bytes: u64,
}

impl Files {
    fn new(max_bytes: u64) -> Self {
        Files { batches: Default::default(), names: None, origin: PathBuf::new(), bytes: 0, max_bytes }
    }

    /// The position of a batch file named `name` (a path's last component), if it is one.
    fn position(name: &str) -> Option<usize> {
        TRAIN_FILES.iter().chain([&TEST_FILE]).position(|f| *f == name)
    }

    /// Checks that a file of `size` bytes is whole records and fits the limit, counting it.
    fn admit(&mut self, file: &Path, size: u64) -> Result<usize, CifarError> {
        if size == 0 || !size.is_multiple_of(RECORD_BYTES as u64) {
            return Err(WithPath::new(file, CifarFault::Size { size }));
        }
        let records = size / RECORD_BYTES as u64;
        self.bytes = self.bytes.saturating_add(records.saturating_mul(IMAGE_BYTES as u64));
        if self.bytes > self.max_bytes {
            return Err(WithPath::new(&self.origin, CifarFault::TooLarge { bytes: self.bytes, limit: self.max_bytes }));
        }
        usize::try_from(records).map_err(|_| WithPath::new(file, CifarFault::Size { size }))
    }

    /// Reads `records` records of the batch at `position` from `reader`.
    fn read_batch(
        &mut self,
        position: usize,
        file: PathBuf,
        records: usize,
        reader: &mut dyn Read,
    ) -> Result<(), CifarError> {
        let mut batch = Records { file, labels: vec![0; records], pixels: vec![0; records * IMAGE_BYTES] };
        for (label, pixels) in batch.labels.iter_mut().zip(batch.pixels.chunks_exact_mut(IMAGE_BYTES)) {
            let read = reader.read_exact(std::slice::from_mut(label)).and_then(|()| reader.read_exact(pixels));
            read.map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    CifarFault::Truncated(format!("it ends before its {records} records"))
                }
                _ => CifarFault::Read(e.to_string()),
            })
            .at(&batch.file)?;
        }
        self.batches[position] = Some(batch);
        Ok(())
    }

    fn read_folder(&mut self, folder: &Path) -> Result<(), CifarError> {
        self.origin = folder.to_path_buf();
        let names: Vec<&str> = TRAIN_FILES.iter().chain([&TEST_FILE]).copied().collect();
        // Every size first: nothing is allocated for a set that cannot load.
        let mut sizes = Vec::new();
        for name in &names {
            let path = folder.join(name);
            let size = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m.len(),
                Ok(_) => return Err(WithPath::new(path, CifarFault::Read("not a file".into()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(WithPath::new(path, CifarFault::Missing));
                }
                Err(e) => return Err(WithPath::new(path, CifarFault::Read(e.to_string()))),
            };
            let records = self.admit(&path, size)?;
            sizes.push((path, records));
        }
        for (position, (path, records)) in sizes.into_iter().enumerate() {
            let opened = File::open(&path).map_err(|e| CifarFault::Read(e.to_string())).at(&path)?;
            self.read_batch(position, path, records, &mut BufReader::new(opened))?;
        }
        let meta = folder.join(META_FILE);
        if meta.is_file() {
            let size = std::fs::metadata(&meta).map(|m| m.len()).unwrap_or(0);
            let opened = File::open(&meta).map_err(|e| CifarFault::Read(e.to_string())).at(&meta)?;
            self.read_meta(meta, size, opened)?;
        }
        Ok(())
    }

    fn read_tarball(&mut self, path: &Path) -> Result<(), CifarError> {
        self.origin = path.to_path_buf();
        let bad = |e: std::io::Error| {
            let fault = match e.kind() {
                std::io::ErrorKind::UnexpectedEof => CifarFault::Truncated(e.to_string()),
                _ => CifarFault::Read(e.to_string()),
            };
            WithPath::new(path, fault)
        };
        let opened = File::open(path).map_err(bad)?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(opened)));
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let member = entry.path().map_err(bad)?.into_owned();
            let Some(name) = member.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            let file = PathBuf::from(format!("{}:{}", path.display(), member.display()));
            let size = entry.header().size().map_err(bad)?;
            if let Some(position) = Files::position(&name) {
                let records = self.admit(&file, size)?;
                self.read_batch(position, file, records, &mut entry)?;
            } else if name == META_FILE {
                self.read_meta(file, size, &mut entry)?;
            }
        }
        Ok(())
    }

    /// Reads the class names of a `batches.meta.txt` of `size` bytes.
    fn read_meta(&mut self, file: PathBuf, size: u64, reader: impl Read) -> Result<(), CifarError> {
        if size > META_LIMIT {
            return Err(WithPath::new(
                file,
                CifarFault::Meta(format!("{size} bytes; a list of names is at most {META_LIMIT}")),
            ));
        }
        let mut text = String::new();
        reader.take(META_LIMIT).read_to_string(&mut text).map_err(|e| CifarFault::Meta(e.to_string())).at(&file)?;
        self.names = Some((file, text));
        Ok(())
    }

    /// The class names: `batches.meta.txt`'s non-blank lines (distinct, at most 256), else
    /// CIFAR-10's.
    fn class_names(&self) -> Result<Vec<String>, CifarError> {
        let Some((file, text)) = &self.names else {
            return Ok(CLASS_NAMES.iter().map(|n| n.to_string()).collect());
        };
        let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        let bad = |reason: String| WithPath::new(file, CifarFault::Meta(reason));
        if names.is_empty() || names.len() > 256 {
            return Err(bad(format!("{} class names; one per line, 1 to 256", names.len())));
        }
        if let Some(i) = (1..names.len()).find(|&i| names[..i].contains(&names[i])) {
            return Err(bad(format!("{:?} names two classes", names[i])));
        }
        Ok(names)
    }

    /// The training split (the five files in order) and the test split, labels checked.
    fn into_sets(mut self) -> Result<TrainTest<ImageSet>, CifarError> {
        let class_names = self.class_names()?;
        let mut batches = Vec::new();
        for (position, batch) in self.batches.iter_mut().enumerate() {
            let name = TRAIN_FILES.iter().chain([&TEST_FILE]).nth(position).copied().unwrap_or(TEST_FILE);
            let missing = || WithPath::new(format!("{}:{name}", self.origin.display()), CifarFault::Missing);
            let batch = batch.take().ok_or_else(missing)?;
            if let Some(record) = batch.labels.iter().position(|&l| usize::from(l) >= class_names.len()) {
                let label = CifarFault::Label { record, label: batch.labels[record], classes: class_names.len() };
                return Err(WithPath::new(batch.file, label));
            }
            batches.push(batch);
        }
        let test = batches.split_off(TRAIN_FILES.len());
        Ok(TrainTest { train: set(batches, &class_names), test: set(test, &class_names) })
    }
}

/// One split from its files' records, in order.
fn set(batches: Vec<Records>, class_names: &[String]) -> ImageSet {
    let count: usize = batches.iter().map(|b| b.labels.len()).sum();
    let mut images = Vec::with_capacity(count * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(count);
    for batch in batches {
        images.extend_from_slice(&batch.pixels);
        labels.extend(batch.labels.iter().map(|&l| u16::from(l)));
    }
    ImageSet { shape: SHAPE, images, labels, class_names: class_names.to_vec() }
}
