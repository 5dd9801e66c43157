//! An error about one file: the file, and what went wrong with it.
//!
//! The error enums of files (checkpoints, IDX files, image folders, …) say only what went
//! wrong; [`WithPath`] adds which file, once, and prints `"{path}: {what went wrong}"`.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// An error about a file: the file and what went wrong with it.
///
/// ```
/// use std::path::Path;
/// use layers::{AtPath, WithPath};
///
/// let path = Path::new("no/such/file.safetensors");
/// let err: WithPath<std::io::Error> = std::fs::read(path).at(path).unwrap_err();
/// assert_eq!(err.path, path);
/// assert!(err.to_string().starts_with("no/such/file.safetensors: "));
/// ```
#[derive(Debug, Error)]
#[error("{}: {source}", .path.display())]
pub struct WithPath<E> {
    /// The file.
    pub path: PathBuf,
    /// What went wrong with it.
    #[source]
    pub source: E,
}

impl<E> WithPath<E> {
    /// `source`, about the file at `path`.
    pub fn new(path: impl Into<PathBuf>, source: E) -> Self {
        WithPath { path: path.into(), source }
    }

    /// The same file, with its error turned into another (e.g. an `io::Error` into an
    /// enum's `Io` variant).
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> WithPath<F> {
        WithPath { path: self.path, source: f(self.source) }
    }
}

/// Names the file of a `Result`'s error: `fs::read(path).at(path)?`.
pub trait AtPath<T, E> {
    /// The error, if any, as one about the file at `path`.
    fn at(self, path: &Path) -> Result<T, WithPath<E>>;
}

impl<T, E> AtPath<T, E> for Result<T, E> {
    fn at(self, path: &Path) -> Result<T, WithPath<E>> {
        self.map_err(|source| WithPath::new(path, source))
    }
}
