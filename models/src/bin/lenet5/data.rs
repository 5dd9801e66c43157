//! Where the data is and how it is read: an image folder (`DIR/train/<class>/…`), a
//! CIFAR-10 folder (its binary version, unpacked or as the tarball, fetched when missing
//! into a folder whose name says cifar), or an IDX folder with MNIST's four file names,
//! fetched from the mirrors when they are missing.

use std::path::{Path, PathBuf};

use layers::WithPath;
use models::data::{FolderError, ImageSet, TrainTest, image_folder};
use models::memory::Budget;
use models::{cifar, mnist};

use crate::Failure;

/// The data folder used when neither `--data` nor `MNIST_DIR` names one; `train` creates it
/// and downloads MNIST into it. Any other folder must exist.
pub const DEFAULT_DATA: &str = "data/mnist";

/// `--data`, else `$MNIST_DIR`, else [`DEFAULT_DATA`].
pub fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("MNIST_DIR").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
}

/// Loads both splits from `dir`: an image folder when it has a `train` subfolder (its
/// decoded pixels at most `budget`, checked from the headers), a CIFAR-10 folder when it
/// has CIFAR-10's files or its name says cifar ([`cifar::is_cifar_folder`]; the tarball
/// fetched first when missing, from `$CIFAR10_URL` if set), else an IDX folder, whose
/// missing files are downloaded first when `fetch` is set (and the feature is on) into an
/// empty folder or one of MNIST's files only.
pub fn load(dir: &Path, fetch: bool, budget: &Budget) -> Result<TrainTest<ImageSet>, Failure> {
    if cifar::is_cifar_folder(dir) && cifar::find(dir).is_none() && fetch {
        #[cfg(feature = "download")]
        {
            let url = std::env::var("CIFAR10_URL").unwrap_or_else(|_| cifar::URL.to_string());
            eprintln!("downloading {} into {}", cifar::TARBALL, dir.display());
            models::download::fetch_cifar10(dir, &url, cifar::TARBALL_MD5)?;
        }
    }
    let missing = mnist::FILES.iter().any(|f| mnist::find_file(dir, f).is_none());
    if !image_folder::is_image_folder(dir) && !cifar::is_cifar_folder(dir) && missing && fetch {
        if let Some(other) = foreign_file(dir) {
            return Err(Failure::Usage(format!(
                "{}: not a data folder (it holds {other:?}, but none of MNIST's four IDX files, no train/CLASS/ \
                 image folders and no CIFAR-10 batches); MNIST is downloaded only into an empty folder",
                dir.display()
            )));
        }
        #[cfg(feature = "download")]
        {
            let mirrors: Vec<String> = match std::env::var("MNIST_MIRROR") {
                Ok(m) => vec![m],
                Err(_) => models::download::MIRRORS.iter().map(|s| s.to_string()).collect(),
            };
            models::download::fetch_missing(dir, &mirrors, |f| eprintln!("downloading {f} into {}", dir.display()))?;
        }
        #[cfg(not(feature = "download"))]
        return Err(Failure::Usage(format!("{}: the MNIST files are missing (pass --data DIR)", dir.display())));
    }
    models::data::load_folder(dir, budget.bytes).map_err(|e| match e {
        FolderError::ImageFolder(e @ WithPath { source: image_folder::ImageFolderFault::TooLarge { .. }, .. }) => {
            Failure::Usage(e.to_string())
        }
        FolderError::ImageFolder(e) => e.into(),
        FolderError::Cifar(e @ WithPath { source: cifar::CifarFault::TooLarge { .. }, .. }) => {
            Failure::Usage(e.to_string())
        }
        FolderError::Cifar(e) => e.into(),
        FolderError::Idx(e) => e.into(),
    })
}

/// A file in `dir` that is not one of MNIST's (nor a partial download of one), if any:
/// MNIST is fetched into an empty folder or one it was being fetched into, never into a
/// folder of other data (a user's files named otherwise).
fn foreign_file(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).find(|name| {
        let stem = name.trim_end_matches(".gz");
        !name.starts_with('.')
            && !mnist::FILES.iter().any(|f| name.starts_with(f.trim_end_matches(".gz")) || stem == *f)
    })
}

/// An existing folder, or a usage error naming it.
pub fn existing(dir: &Path) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Usage(format!("{}: no such data folder (pass --data DIR)", dir.display())));
    }
    Ok(())
}

/// The bytes of both splits' pixels, held in memory while the command runs.
pub fn bytes(data: &TrainTest<ImageSet>) -> u128 {
    (data.train.images.len() + data.test.images.len()) as u128
}
