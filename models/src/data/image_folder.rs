//! torchvision's `ImageFolder` layout: `ROOT/train/<class>/*.png|jpg|jpeg` and
//! `ROOT/test/<class>/…`. The classes are the training split's folder names in sorted
//! order (a class's index is its position); files are taken in sorted order, other files
//! are skipped. Images are gray (1 channel) when every image of both splits is gray, else
//! RGB (3 channels, gray ones converted), and all of one size: another size is an error
//! naming the file. Every header is read before any pixel is decoded: an image of more than
//! [`MAX_IMAGE_PIXELS`] pixels (the limit of `predict` too), or a set whose decoded pixels
//! exceed the caller's limit, is refused then. Decoding runs under
//! [`crate::predict::limits`], one image at a time.

use std::path::{Path, PathBuf};

use layers::{AtPath, WithPath};

use super::{ImageSet, TrainTest};
use crate::memory::{Budget, bytes as bytes_text};
use crate::predict::{MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, limits};

/// What is wrong with an image folder: the folder or file at fault, and an
/// [`ImageFolderFault`].
pub type ImageFolderError = WithPath<ImageFolderFault>;

/// What is wrong with a folder or file of an image folder (named by [`ImageFolderError`]'s
/// `path`).
#[derive(Debug, thiserror::Error)]
pub enum ImageFolderFault {
    /// A folder or file could not be read.
    #[error(transparent)]
    Io(std::io::Error),
    /// A file could not be decoded as an image (boxed: the decoder's error is large).
    #[error(transparent)]
    Decode(Box<image::ImageError>),
    /// The layout is not `train/<class>/…` and `test/<class>/…`.
    #[error("{0}")]
    Layout(String),
    /// An image of more than [`MAX_IMAGE_PIXELS`] pixels, or of none.
    #[error("the image is {width}×{height} pixels; at most {MAX_IMAGE_PIXELS} and at least 1 are read")]
    Pixels {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// The decoded set (of the folder) would be larger than the limit.
    #[error(
        "{images} images of {}×{}×{} decode to {}, over the limit of {} (--max-memory to raise it)",
        shape[0], shape[1], shape[2], bytes_text(*bytes), bytes_text(u128::from(*limit))
    )]
    TooLarge {
        /// Images in both splits.
        images: usize,
        /// Their shape `[C, H, W]`.
        shape: [usize; 3],
        /// Their decoded bytes.
        bytes: u128,
        /// The limit.
        limit: u64,
    },
    /// An image whose size differs from the first one's.
    #[error(
        "the image is {width}×{height}, but {first} is {first_width}×{first_height}; every image must have one size"
    )]
    Size {
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

/// Loads both splits of the image folder at `root`, at most half the machine's memory of
/// decoded pixels ([`Budget::of_machine`]; see [`load_limited`]).
pub fn load(root: impl AsRef<Path>) -> Result<TrainTest<ImageSet>, ImageFolderError> {
    load_limited(root, Budget::of_machine().bytes)
}

/// Loads both splits of the image folder at `root`, refusing, from the images' headers and
/// before any pixel is decoded, an image of more than [`MAX_IMAGE_PIXELS`] pixels and a set
/// whose decoded pixels (both splits, one byte per channel) exceed `max_bytes`. Images are
/// then decoded one at a time into the set.
pub fn load_limited(root: impl AsRef<Path>, max_bytes: u64) -> Result<TrainTest<ImageSet>, ImageFolderError> {
    let root = root.as_ref();
    let classes = class_folders(&root.join("train"))?;
    let test_classes = class_folders(&root.join("test"))?;
    if let Some(extra) = test_classes.iter().find(|c| !classes.contains(c)) {
        let reason = "a class with no folder in train/".into();
        return Err(WithPath::new(root.join("test").join(extra), ImageFolderFault::Layout(reason)));
    }
    let mut splits = Vec::new();
    for split in ["train", "test"] {
        let mut list = Vec::new();
        for (index, class) in classes.iter().enumerate() {
            let dir = root.join(split).join(class);
            if split == "test" && !dir.is_dir() {
                continue;
            }
            let images = image_files(&dir)?;
            if images.is_empty() {
                return Err(WithPath::new(dir, ImageFolderFault::Layout("no .png, .jpg or .jpeg file".into())));
            }
            list.extend(images.into_iter().map(|f| (f, index as u16)));
        }
        splits.push(list);
    }
    // The headers first: one size, the pixel limit, the colour, the total.
    let mut first: Option<(PathBuf, u32, u32)> = None;
    let mut colour = false;
    for (path, _) in splits.iter().flatten() {
        let header = read_header(path)?;
        colour |= header.colour;
        match &first {
            None => first = Some((path.clone(), header.width, header.height)),
            Some((first, width, height)) if (header.width, header.height) != (*width, *height) => {
                return Err(WithPath::new(
                    path,
                    ImageFolderFault::Size {
                        width: header.width,
                        height: header.height,
                        first: first.clone(),
                        first_width: *width,
                        first_height: *height,
                    },
                ));
            }
            Some(_) => {}
        }
    }
    let Some((_, width, height)) = first else {
        return Err(WithPath::new(root.join("train"), ImageFolderFault::Layout("no image".into())));
    };
    let channels = if colour { 3 } else { 1 };
    let shape = [channels, height as usize, width as usize];
    let images = splits.iter().map(Vec::len).sum::<usize>();
    let per_image = u128::from(width) * u128::from(height) * channels as u128;
    let bytes = per_image * images as u128;
    if bytes > u128::from(max_bytes) {
        let too_large = ImageFolderFault::TooLarge { images, shape, bytes, limit: max_bytes };
        return Err(WithPath::new(root, too_large));
    }
    let mut sets = splits.into_iter().map(|list| -> Result<ImageSet, ImageFolderError> {
        let mut set = ImageSet {
            shape,
            images: Vec::with_capacity(list.len() * per_image as usize),
            labels: Vec::with_capacity(list.len()),
            class_names: classes.clone(),
        };
        for (path, label) in list {
            let img = decode(&path)?;
            if (img.width(), img.height()) != (width, height) {
                let mismatch = std::io::Error::other("its pixels do not match its header");
                return Err(WithPath::new(
                    path,
                    ImageFolderFault::Decode(Box::new(image::ImageError::IoError(mismatch))),
                ));
            }
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
        Ok(set)
    });
    let train = sets.next().expect("two splits")?;
    let test = sets.next().expect("two splits")?;
    Ok(TrainTest { train, test })
}

/// The sorted names of the subfolders of `dir`; an error when there is none.
fn class_folders(dir: &Path) -> Result<Vec<String>, ImageFolderError> {
    let io = |source| WithPath::new(dir, ImageFolderFault::Io(source));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.path().is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(WithPath::new(dir, ImageFolderFault::Layout("no class folder".into())));
    }
    if names.len() > usize::from(u16::MAX) {
        return Err(WithPath::new(dir, ImageFolderFault::Layout("more than 65535 classes".into())));
    }
    Ok(names)
}

/// The sorted `.png`, `.jpg` and `.jpeg` files (any case) of `dir`.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, ImageFolderError> {
    let io = |source| WithPath::new(dir, ImageFolderFault::Io(source));
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

/// What an image's header says.
struct Header {
    width: u32,
    height: u32,
    colour: bool,
}

/// A reader of the image file at `path` under the decoder's [`limits`], after checking its
/// size on disk.
fn reader(path: &Path) -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>, ImageFolderError> {
    let io = |source| WithPath::new(path, ImageFolderFault::Io(source));
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_IMAGE_FILE_BYTES {
        return Err(io(std::io::Error::other(format!("larger than {MAX_IMAGE_FILE_BYTES} bytes"))));
    }
    let mut reader = image::ImageReader::open(path).map_err(io)?.with_guessed_format().map_err(io)?;
    reader.limits(limits());
    Ok(reader)
}

/// The size and colour of the image at `path`, from its header; an error for more than
/// [`MAX_IMAGE_PIXELS`] pixels, or none.
fn read_header(path: &Path) -> Result<Header, ImageFolderError> {
    let decode_err = |source| WithPath::new(path, ImageFolderFault::Decode(Box::new(source)));
    let decoder = reader(path)?.into_decoder().map_err(decode_err)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS || width == 0 || height == 0 {
        return Err(WithPath::new(path, ImageFolderFault::Pixels { width, height }));
    }
    Ok(Header { width, height, colour: image::ImageDecoder::color_type(&decoder).has_color() })
}

fn decode(path: &Path) -> Result<image::DynamicImage, ImageFolderError> {
    reader(path)?.decode().map_err(|e| ImageFolderFault::Decode(Box::new(e))).at(path)
}
