//! torchvision's `ImageFolder` layout: `ROOT/train/<class>/*.png|jpg|jpeg` and
//! `ROOT/test/<class>/…`. The classes are the training split's folder names in sorted
//! order (a class's index is its position); files are taken in sorted order, other files
//! are skipped. Images are gray (1 channel) when every image of both splits is gray, else
//! RGB (3 channels, gray ones converted), and all of one size: another size is an error
//! naming the file. Decoding runs under [`crate::predict::limits`].

use std::path::{Path, PathBuf};

use super::{ImageSet, TrainTest};
use crate::predict::{MAX_IMAGE_FILE_BYTES, limits};

/// What is wrong with an image folder.
#[derive(Debug, thiserror::Error)]
pub enum ImageFolderError {
    /// A folder or file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file could not be decoded as an image.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: image::ImageError,
    },
    /// The layout is not `train/<class>/…` and `test/<class>/…`.
    #[error("{path}: {reason}")]
    Layout {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image whose size differs from the first one's.
    #[error(
        "{path}: the image is {width}×{height}, but {first} is {first_width}×{first_height}; every image must have one size"
    )]
    Size {
        /// The file.
        path: PathBuf,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The first image read.
        first: PathBuf,
        /// Its width.
        first_width: u32,
        /// Its height.
        first_height: u32,
    },
}

/// Whether `dir` looks like an image folder root (it has a `train` subfolder).
pub fn is_image_folder(dir: &Path) -> bool {
    dir.join("train").is_dir()
}

/// Loads both splits of the image folder at `root`.
pub fn load(root: &Path) -> Result<TrainTest<ImageSet>, ImageFolderError> {
    let classes = class_folders(&root.join("train"))?;
    let test_classes = class_folders(&root.join("test"))?;
    if let Some(extra) = test_classes.iter().find(|c| !classes.contains(c)) {
        return Err(ImageFolderError::Layout {
            path: root.join("test").join(extra),
            reason: "a class with no folder in train/".into(),
        });
    }
    let mut files = Vec::new();
    for split in ["train", "test"] {
        let mut list = Vec::new();
        for (index, class) in classes.iter().enumerate() {
            let dir = root.join(split).join(class);
            if split == "test" && !dir.is_dir() {
                continue;
            }
            let images = image_files(&dir)?;
            if images.is_empty() {
                return Err(ImageFolderError::Layout { path: dir, reason: "no .png, .jpg or .jpeg file".into() });
            }
            list.extend(images.into_iter().map(|f| (f, index as u16)));
        }
        files.push(list);
    }
    let decoded: Vec<Vec<(PathBuf, image::DynamicImage, u16)>> = files
        .into_iter()
        .map(|list| list.into_iter().map(|(f, l)| decode(&f).map(|img| (f, img, l))).collect())
        .collect::<Result<_, _>>()?;
    let all = || decoded.iter().flatten();
    let (first, first_img, _) = all().next().expect("train/ holds at least one class with an image");
    let (width, height) = (first_img.width(), first_img.height());
    if let Some((path, img, _)) = all().find(|(_, img, _)| (img.width(), img.height()) != (width, height)) {
        return Err(ImageFolderError::Size {
            path: path.clone(),
            width: img.width(),
            height: img.height(),
            first: first.clone(),
            first_width: width,
            first_height: height,
        });
    }
    let channels = if all().all(|(_, img, _)| !img.color().has_color()) { 1 } else { 3 };
    let shape = [channels, height as usize, width as usize];
    let mut splits = decoded.into_iter().map(|list| {
        let mut set = ImageSet {
            shape,
            images: Vec::new(),
            labels: Vec::with_capacity(list.len()),
            class_names: classes.clone(),
        };
        for (_, img, label) in list {
            if channels == 1 {
                set.images.extend(img.to_luma8().into_raw());
            } else {
                let rgb = img.to_rgb8();
                // Interleaved RGB → channel planes.
                for c in 0..3 {
                    set.images.extend(rgb.pixels().map(|p| p.0[c]));
                }
            }
            set.labels.push(label);
        }
        set
    });
    let train = splits.next().expect("two splits");
    let test = splits.next().expect("two splits");
    Ok(TrainTest { train, test })
}

/// The sorted names of the subfolders of `dir`; an error when there is none.
fn class_folders(dir: &Path) -> Result<Vec<String>, ImageFolderError> {
    let io = |source| ImageFolderError::Io { path: dir.to_path_buf(), source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.path().is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(ImageFolderError::Layout { path: dir.to_path_buf(), reason: "no class folder".into() });
    }
    if names.len() > usize::from(u16::MAX) {
        return Err(ImageFolderError::Layout { path: dir.to_path_buf(), reason: "more than 65535 classes".into() });
    }
    Ok(names)
}

/// The sorted `.png`, `.jpg` and `.jpeg` files (any case) of `dir`.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, ImageFolderError> {
    let io = |source| ImageFolderError::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if path.is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn decode(path: &Path) -> Result<image::DynamicImage, ImageFolderError> {
    let io = |source| ImageFolderError::Io { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_IMAGE_FILE_BYTES {
        return Err(io(std::io::Error::other(format!("larger than {MAX_IMAGE_FILE_BYTES} bytes"))));
    }
    let mut reader = image::ImageReader::open(path).map_err(io)?.with_guessed_format().map_err(io)?;
    reader.limits(limits());
    reader.decode().map_err(|source| ImageFolderError::Decode { path: path.to_path_buf(), source })
}
