//! The IDX file format of MNIST, plain or gzip-compressed, read defensively: every size is
//! checked against the file before anything is allocated from it.
//!
//! Layout: a big-endian u32 magic `0x0000TTDD` (TT = 0x08 for unsigned bytes, DD = the
//! number of dimensions), DD big-endian u32 dimensions, then the data in row-major order.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use layers::{AtPath, WithPath};
use thiserror::Error;

/// The largest IDX payload accepted (MNIST's largest file holds 47 MB).
pub const MAX_IDX_BYTES: usize = 1 << 30;

/// What is wrong with an IDX file: the file, and an [`IdxFault`].
pub type IdxError = WithPath<IdxFault>;

/// What is wrong with an IDX file (the file is named by [`IdxError`]'s `path`).
#[derive(Debug, Error)]
pub enum IdxFault {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(std::io::Error),
    /// The gzip stream is corrupt.
    #[error("broken gzip data: {0}")]
    Gzip(std::io::Error),
    /// The magic number is not that of an unsigned-byte IDX file of the expected rank.
    #[error(
        "bad magic number {found:#010x}, expected {expected:#010x} (an IDX file of {dims} dimension(s) of unsigned bytes)"
    )]
    Magic {
        /// The magic found.
        found: u32,
        /// The magic expected.
        expected: u32,
        /// The expected number of dimensions.
        dims: usize,
    },
    /// The file ends before the header or the data it announces.
    #[error("truncated: the header announces {expected} bytes of data, the file holds {got}")]
    Truncated {
        /// Bytes announced.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The file holds more bytes than its header announces.
    #[error("{extra} unexpected byte(s) after the data the header announces")]
    TrailingBytes {
        /// How many bytes follow the data (at least).
        extra: usize,
    },
    /// The dimensions multiply to more than fits, or more than [`MAX_IDX_BYTES`].
    #[error("dimensions {dims:?} describe more than {MAX_IDX_BYTES} bytes")]
    TooLarge {
        /// The dimensions.
        dims: Vec<u32>,
    },
}

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions.
    pub dims: Vec<usize>,
    /// The bytes in row-major order.
    pub data: Vec<u8>,
}

/// Reads an IDX file of `rank` dimensions, decompressing it when it starts with the gzip
/// magic (whatever its name).
pub fn read_idx(path: &Path, rank: usize) -> Result<Idx, IdxError> {
    let file = BufReader::new(File::open(path).map_err(IdxFault::Io).at(path)?);
    parse_idx_auto(file, rank, path)
}

/// Parses an IDX stream of `rank` dimensions, plain or gzip-compressed (told apart by the
/// gzip magic `1f 8b`); `path` names it in errors.
pub fn parse_idx_auto(mut r: impl Read, rank: usize, path: &Path) -> Result<Idx, IdxError> {
    let mut head = [0u8; 2];
    let n = read_full(&mut r, &mut head).map_err(IdxFault::Io).at(path)?;
    let prefix = std::io::Cursor::new(head[..n].to_vec());
    if n == 2 && head == [0x1f, 0x8b] {
        let gz = MultiGzDecoder::new(prefix.chain(r));
        parse_idx(gz, rank, path, true)
    } else {
        parse_idx(prefix.chain(r), rank, path, false)
    }
}

/// Parses an IDX stream of `rank` dimensions (`path` names it in errors; `gzip` says
/// whether read errors are gzip corruption).
pub fn parse_idx(r: impl Read, rank: usize, path: &Path, gzip: bool) -> Result<Idx, IdxError> {
    parse(r, rank, gzip).at(path)
}

fn parse(mut r: impl Read, rank: usize, gzip: bool) -> Result<Idx, IdxFault> {
    let fail = |source: std::io::Error| if gzip { IdxFault::Gzip(source) } else { IdxFault::Io(source) };
    let header_len = 4 * (1 + rank);
    let mut header = vec![0u8; header_len];
    let got = read_full(&mut r, &mut header).map_err(fail)?;
    if got < 4 {
        return Err(IdxFault::Truncated { expected: header_len, got });
    }
    let expected_magic = 0x0800 | rank as u32;
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if magic != expected_magic {
        return Err(IdxFault::Magic { found: magic, expected: expected_magic, dims: rank });
    }
    if got < header_len {
        return Err(IdxFault::Truncated { expected: header_len, got });
    }
    let raw: Vec<u32> = header[4..].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
    let size = raw
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .filter(|&s| s <= MAX_IDX_BYTES)
        .ok_or_else(|| IdxFault::TooLarge { dims: raw.clone() })?;
    // Read at most what the header announces, growing the buffer as data arrives, so a
    // lying header cannot make us allocate more than the file holds.
    let mut data = Vec::new();
    let got = (&mut r).take(size as u64).read_to_end(&mut data).map_err(fail)?;
    if got < size {
        return Err(IdxFault::Truncated { expected: size, got });
    }
    let mut extra = [0u8; 1];
    if read_full(&mut r, &mut extra).map_err(fail)? > 0 {
        return Err(IdxFault::TrailingBytes { extra: 1 });
    }
    Ok(Idx { dims: raw.into_iter().map(|d| d as usize).collect(), data })
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
