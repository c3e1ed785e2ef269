//! Reader for the IDX file format that MNIST is distributed in.
//!
//! An IDX file is a big-endian header followed by the array's elements:
//!
//! ```text
//! 00 00 <type> <rank>        magic: two zero bytes, the element type, the number of dimensions
//! <dim 0> .. <dim rank-1>    each dimension as a big-endian u32
//! <data>                     product(dims) elements, row-major (last dimension fastest)
//! ```
//!
//! Only the unsigned-byte element type (`0x08`) is supported; it is the one MNIST uses.
//! A file may be gzip-compressed: compression is detected from the gzip magic bytes
//! (`1f 8b`), never from the file name. A raw IDX file can't be mistaken for gzip,
//! because its first two bytes are zero.
//!
//! Every error names the file and displays on one line. A hostile header can't cause
//! a large allocation or an arithmetic overflow: the data size is computed with checked
//! arithmetic, nothing is allocated from it beyond what the input can actually hold,
//! and it is compared against the bytes that are really there.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The IDX element type for unsigned bytes, the only one supported.
const TYPE_U8: u8 = 0x08;
/// Upper bound on the initial buffer for decompressed data, as a multiple of the
/// compressed size, so that a hostile header can't reserve much more than the input.
const GZIP_PREALLOC_RATIO: usize = 8;

/// An n-dimensional array of unsigned bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header, outermost first (for MNIST images: `[n, rows, cols]`).
    /// The rank and every dimension are at least 1.
    pub dims: Vec<usize>,
    /// The elements in row-major order; its length is the product of `dims`.
    pub data: Vec<u8>,
}

/// A labelled image set: `images` is n*rows*cols bytes, row-major per image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Number of images, and of labels.
    pub n: usize,
    /// Rows of pixels in each image.
    pub rows: usize,
    /// Columns of pixels in each image.
    pub cols: usize,
    /// The pixels of all images, `n * rows * cols` bytes; image `i` is the slice
    /// `i * rows * cols .. (i + 1) * rows * cols`, row-major within it.
    pub images: Vec<u8>,
    /// One label per image, unchecked: range checks are left to the caller.
    pub labels: Vec<u8>,
}

/// An error reading an IDX file. Every variant names the file, and its `Display`
/// is a single line, e.g.
/// `workloads/data/mnist/train-images-idx3-ubyte.gz: truncated IDX file: header says 8000x28x28 (6272000 bytes of data), found 1234`.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be opened.
    #[error("{}: cannot open IDX file: {error}", .file.display())]
    Open {
        /// The file.
        file: PathBuf,
        /// What the operating system said (its text is part of the message).
        error: io::Error,
    },
    /// The file was opened but reading it failed.
    #[error("{}: cannot read IDX file: {error}", .file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said (its text is part of the message).
        error: io::Error,
    },
    /// The data starts with the gzip magic but is not a valid gzip stream
    /// (corrupt, cut short, bad checksum, or followed by garbage).
    #[error("{}: corrupt gzip stream: {error}", .file.display())]
    Gzip {
        /// The file.
        file: PathBuf,
        /// What the decompressor said (its text is part of the message).
        error: io::Error,
    },
    /// The first two bytes (after decompression) are not zero, so this is not an IDX file.
    #[error(
        "{}: not an IDX file: first two bytes are {:02x} {:02x}, expected 00 00",
        .file.display(), .found[0], .found[1]
    )]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// The first two bytes found.
        found: [u8; 2],
    },
    /// The element type byte is not `0x08` (unsigned byte).
    #[error(
        "{}: unsupported IDX element type 0x{type_byte:02x} ({}); only 0x08 (unsigned byte) is supported",
        .file.display(), type_name(*type_byte)
    )]
    UnsupportedType {
        /// The file.
        file: PathBuf,
        /// The third byte of the header.
        type_byte: u8,
    },
    /// The array does not have the rank the caller needs.
    #[error(
        "{}: expected a rank-{expected} IDX array, found rank {found} (dims {})",
        .file.display(), Dims(dims)
    )]
    BadRank {
        /// The file.
        file: PathBuf,
        /// The rank the caller needs.
        expected: usize,
        /// The rank in the file.
        found: usize,
        /// The dimensions in the file.
        dims: Vec<usize>,
    },
    /// The data ends inside the header.
    #[error(
        "{}: truncated IDX header: need {expected} bytes, found {found}",
        .file.display()
    )]
    TruncatedHeader {
        /// The file.
        file: PathBuf,
        /// Header bytes needed (4, or 4 + 4 * rank once the rank is known).
        expected: usize,
        /// Header bytes present.
        found: usize,
    },
    /// There are fewer data bytes than the header's dimensions promise.
    #[error(
        "{}: truncated IDX file: header says {} ({}), found {found}",
        .file.display(), Dims(dims), DataLen(*expected)
    )]
    Truncated {
        /// The file.
        file: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Data bytes promised, the product of `dims`; `None` if it overflows `usize`.
        expected: Option<usize>,
        /// Data bytes present after the header.
        found: usize,
    },
    /// There are more data bytes than the header's dimensions promise.
    #[error(
        "{}: trailing bytes after IDX data: header says {} ({expected} bytes of data), found {found}",
        .file.display(), Dims(dims)
    )]
    TrailingBytes {
        /// The file.
        file: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// Data bytes promised, the product of `dims`.
        expected: usize,
        /// Data bytes present after the header.
        found: usize,
    },
    /// The header has rank 0 or a zero dimension, so the array would be empty.
    #[error(
        "{}: empty IDX array: header says {}; the rank and every dimension must be at least 1",
        .file.display(), Dims(dims)
    )]
    EmptyDims {
        /// The file.
        file: PathBuf,
        /// The dimensions from the header.
        dims: Vec<usize>,
    },
    /// The file reads as valid IDX, but the SHA-256 of its decompressed content is not the
    /// one a checksum list (`SHA256SUMS`, see [`crate::data::checksums`]) gives for it.
    #[error(
        "{}: decompressed SHA-256 is {actual}, {list} line {line} expects {expected}",
        .file.display()
    )]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// The SHA-256 of its decompressed content, 64 lower-case hex digits.
        actual: String,
        /// The SHA-256 the list gives, 64 lower-case hex digits.
        expected: String,
        /// The list's file name (`SHA256SUMS`; it sits beside the file).
        list: String,
        /// The 1-based line of the list that names the file.
        line: usize,
    },
    /// An images file and its labels file disagree on the number of items.
    #[error(
        "{}: {images} images, but {} has {labels} labels",
        .images_file.display(), .labels_file.display()
    )]
    CountMismatch {
        /// The images file.
        images_file: PathBuf,
        /// The labels file.
        labels_file: PathBuf,
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
}

/// Displays dimensions as `8000x28x28`, or `rank 0` when there are none.
struct Dims<'a>(&'a [usize]);

impl fmt::Display for Dims<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, rest)) = self.0.split_first() else {
            return f.write_str("rank 0");
        };
        write!(f, "{first}")?;
        for d in rest {
            write!(f, "x{d}")?;
        }
        Ok(())
    }
}

/// Displays a promised data size, which may have overflowed `usize`.
struct DataLen(Option<usize>);

impl fmt::Display for DataLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n} bytes of data"),
            None => write!(f, "more than {} bytes of data", usize::MAX),
        }
    }
}

/// The name of an IDX element type byte, for messages.
fn type_name(type_byte: u8) -> &'static str {
    match type_byte {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0b => "16-bit integer",
        0x0c => "32-bit integer",
        0x0d => "32-bit float",
        0x0e => "64-bit float",
        _ => "not an IDX type",
    }
}

/// Read an IDX file, gzipped (detected by the 1f 8b magic, not by file name) or raw.
///
/// The whole file is read into memory, then parsed by [`parse_idx`].
///
/// # Errors
///
/// [`IdxError::Open`] or [`IdxError::Read`] if the file can't be read, and any error
/// of [`parse_idx`].
pub fn read_idx(path: &Path) -> Result<IdxArray, IdxError> {
    let mut file = File::open(path).map_err(|error| IdxError::Open {
        file: path.to_owned(),
        error,
    })?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|error| IdxError::Read {
            file: path.to_owned(),
            error,
        })?;
    parse_idx(&bytes, path)
}

/// Parse IDX bytes (gzip detected by magic). `path` is only used in messages.
///
/// Gzip input may hold several concatenated members, as `cat a.gz b.gz` makes.
///
/// # Errors
///
/// [`IdxError::Gzip`] for a corrupt gzip stream; [`IdxError::BadMagic`],
/// [`IdxError::UnsupportedType`], [`IdxError::TruncatedHeader`] or
/// [`IdxError::EmptyDims`] for a bad header; [`IdxError::Truncated`] or
/// [`IdxError::TrailingBytes`] if the data is not exactly as long as the header says.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, IdxError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let hint = bytes.len().saturating_mul(GZIP_PREALLOC_RATIO);
        parse_stream(MultiGzDecoder::new(bytes), hint, path)
    } else {
        parse_stream(bytes, bytes.len(), path)
    }
}

/// Parse an IDX stream. `size_hint` caps the initial data buffer; it must be small
/// enough to allocate whatever the header says. Errors from `reader` are reported as
/// [`IdxError::Gzip`]: a raw `&[u8]` reader never fails, so only a decoder can.
fn parse_stream<R: Read>(
    mut reader: R,
    size_hint: usize,
    path: &Path,
) -> Result<IdxArray, IdxError> {
    let file = || path.to_owned();
    let gzip = |error| IdxError::Gzip {
        file: path.to_owned(),
        error,
    };

    let mut magic = [0u8; 4];
    let got = read_full(&mut reader, &mut magic).map_err(gzip)?;
    if got >= 2 && magic[..2] != [0, 0] {
        return Err(IdxError::BadMagic {
            file: file(),
            found: [magic[0], magic[1]],
        });
    }
    if got < magic.len() {
        return Err(IdxError::TruncatedHeader {
            file: file(),
            expected: magic.len(),
            found: got,
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(IdxError::UnsupportedType {
            file: file(),
            type_byte: magic[2],
        });
    }

    // At most 255 * 4 bytes, whatever the header says.
    let rank = usize::from(magic[3]);
    let mut dim_bytes = vec![0u8; 4 * rank];
    let got = read_full(&mut reader, &mut dim_bytes).map_err(gzip)?;
    if got < dim_bytes.len() {
        return Err(IdxError::TruncatedHeader {
            file: file(),
            expected: magic.len() + dim_bytes.len(),
            found: magic.len() + got,
        });
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if dims.is_empty() || dims.contains(&0) {
        return Err(IdxError::EmptyDims { file: file(), dims });
    }

    let Some(expected) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        // No input can hold this much; count what there is without keeping it.
        let found = count_rest(&mut reader).map_err(gzip)?;
        return Err(IdxError::Truncated {
            file: file(),
            dims,
            expected: None,
            found,
        });
    };

    // Read one byte past the promised size, so that trailing data is noticed and a
    // gzip stream is always read to its end (where its checksum is verified).
    let limit = u64::try_from(expected)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut data = Vec::with_capacity(expected.min(size_hint));
    (&mut reader)
        .take(limit)
        .read_to_end(&mut data)
        .map_err(gzip)?;
    if data.len() < expected {
        return Err(IdxError::Truncated {
            file: file(),
            dims,
            expected: Some(expected),
            found: data.len(),
        });
    }
    if data.len() > expected {
        let rest = count_rest(&mut reader).map_err(gzip)?;
        return Err(IdxError::TrailingBytes {
            file: file(),
            dims,
            expected,
            found: data.len().saturating_add(rest),
        });
    }
    Ok(IdxArray { dims, data })
}

/// Read until `buf` is full or the input ends; returns the number of bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Count (and discard) the rest of the input, in constant memory.
fn count_rest<R: Read>(reader: &mut R) -> io::Result<usize> {
    let n = io::copy(reader, &mut io::sink())?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The SHA-256 of the IDX file `arr` was parsed from, as decompressed: the header is
/// rebuilt from `arr.dims` (`00 00 08 <rank>`, then each dimension as a big-endian u32) and
/// hashed with the data. The parser accepts no other header for these dims and no bytes
/// after the data, so this equals `zcat FILE | sha256sum` without keeping the decompressed
/// file in memory twice.
pub fn content_sha256(arr: &IdxArray) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let rank = u8::try_from(arr.dims.len()).expect("a parsed IDX array has rank <= 255");
    h.update([0, 0, TYPE_U8, rank]);
    for &d in &arr.dims {
        h.update(
            u32::try_from(d)
                .expect("a parsed IDX dimension fits in u32")
                .to_be_bytes(),
        );
    }
    h.update(&arr.data);
    h.finalize().into()
}

/// Read an images file (rank 3) and a labels file (rank 1) and check their counts agree.
///
/// Label values are not checked; that is left to the caller.
///
/// # Errors
///
/// Any error of [`read_idx`] for either file; [`IdxError::BadRank`] if the images
/// are not rank 3 or the labels not rank 1; [`IdxError::CountMismatch`] if the
/// number of images and labels differ.
pub fn read_image_set(images: &Path, labels: &Path) -> Result<ImageSet, IdxError> {
    read_image_set_verified(images, labels, |_, _| Ok(()))
}

/// [`read_image_set`], calling `verify` on each file as soon as it has been read (before
/// its rank is checked), so that a checksum check reports a damaged file as such.
///
/// # Errors
///
/// Those of [`read_image_set`], and any error of `verify`.
pub fn read_image_set_verified(
    images: &Path,
    labels: &Path,
    mut verify: impl FnMut(&Path, &IdxArray) -> Result<(), IdxError>,
) -> Result<ImageSet, IdxError> {
    let image_array = read_idx(images)?;
    verify(images, &image_array)?;
    let [n, rows, cols] = image_array.dims[..] else {
        return Err(IdxError::BadRank {
            file: images.to_owned(),
            expected: 3,
            found: image_array.dims.len(),
            dims: image_array.dims,
        });
    };
    let label_array = read_idx(labels)?;
    verify(labels, &label_array)?;
    let [n_labels] = label_array.dims[..] else {
        return Err(IdxError::BadRank {
            file: labels.to_owned(),
            expected: 1,
            found: label_array.dims.len(),
            dims: label_array.dims,
        });
    };
    if n != n_labels {
        return Err(IdxError::CountMismatch {
            images_file: images.to_owned(),
            labels_file: labels.to_owned(),
            images: n,
            labels: n_labels,
        });
    }
    Ok(ImageSet {
        n,
        rows,
        cols,
        images: image_array.data,
        labels: label_array.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use proptest::prelude::*;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Build an IDX file of unsigned bytes.
    fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
        encode_typed(TYPE_U8, dims, data)
    }

    /// Build an IDX file with any type byte.
    fn encode_typed(type_byte: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let rank = u8::try_from(dims.len()).unwrap();
        let mut out = vec![0, 0, type_byte, rank];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Bytes that don't compress to nothing, so a gzip of them has a real middle.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    fn p() -> &'static Path {
        Path::new("dir/test-idx3-ubyte")
    }

    fn parse(bytes: &[u8]) -> Result<IdxArray, IdxError> {
        parse_idx(bytes, p())
    }

    /// A file in the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &[u8]) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "nandspin-idx-test-{}-{n}-{name}",
                std::process::id()
            ));
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// The invariant every successful parse must satisfy.
    fn check_valid(arr: &IdxArray) {
        assert!(!arr.dims.is_empty());
        assert!(!arr.dims.contains(&0));
        let len = arr.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        assert_eq!(len, Some(arr.data.len()));
    }

    #[test]
    fn round_trip_raw() {
        let data: Vec<u8> = (0..24).collect();
        let arr = parse(&encode(&[2, 3, 4], &data)).unwrap();
        assert_eq!(
            arr,
            IdxArray {
                dims: vec![2, 3, 4],
                data
            }
        );
    }

    #[test]
    fn round_trip_gzip() {
        let data = noise(5 * 7 * 3);
        let arr = parse(&gzip(&encode(&[5, 7, 3], &data))).unwrap();
        assert_eq!(arr.dims, vec![5, 7, 3]);
        assert_eq!(arr.data, data);
    }

    #[test]
    fn round_trip_rank_1() {
        let arr = parse(&encode(&[3], &[7, 8, 9])).unwrap();
        assert_eq!(arr.dims, vec![3]);
        assert_eq!(arr.data, vec![7, 8, 9]);
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let file = encode(&[10, 10], &noise(100));
        let (a, b) = file.split_at(37);
        let mut two = gzip(a);
        two.extend_from_slice(&gzip(b));
        assert_eq!(parse(&two).unwrap().data, noise(100));
    }

    #[test]
    fn gzip_detected_by_magic_not_by_name() {
        let file = encode(&[2, 2], &[1, 2, 3, 4]);
        let gz_named_raw = TempFile::new("raw.gz", &file);
        let raw_named_gz = TempFile::new("gz-idx1-ubyte", &gzip(&file));
        assert_eq!(read_idx(&gz_named_raw.0).unwrap().data, vec![1, 2, 3, 4]);
        assert_eq!(read_idx(&raw_named_gz.0).unwrap().data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn open_error_names_file() {
        let path = Path::new("/nonexistent/nandspin/train-images-idx3-ubyte.gz");
        let err = read_idx(path).unwrap_err();
        assert!(matches!(err, IdxError::Open { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("/nonexistent/nandspin/train-images-idx3-ubyte.gz: cannot open"),
            "{msg}"
        );
    }

    #[test]
    fn read_error_on_directory() {
        let err = read_idx(&std::env::temp_dir()).unwrap_err();
        // Linux opens a directory but fails to read it; elsewhere opening may fail.
        assert!(
            matches!(err, IdxError::Read { .. } | IdxError::Open { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_header() {
        for (bytes, expected, found) in [
            (vec![], 4, 0),
            (vec![0], 4, 1),
            (vec![0, 0, 8], 4, 3),
            (encode(&[2, 3, 4], &[])[..12].to_vec(), 16, 12),
            (encode(&[2, 3, 4], &[])[..13].to_vec(), 16, 13),
        ] {
            for input in [bytes.clone(), gzip(&bytes)] {
                match parse(&input) {
                    Err(IdxError::TruncatedHeader {
                        expected: e,
                        found: f,
                        ..
                    }) => assert_eq!((e, f), (expected, found)),
                    other => panic!("{bytes:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn truncated_data() {
        let file = encode(&[2, 3, 4], &[0; 24]);
        for input in [file[..26].to_vec(), gzip(&file[..26])] {
            let err = parse(&input).unwrap_err();
            assert!(
                matches!(
                    err,
                    IdxError::Truncated {
                        expected: Some(24),
                        found: 10,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "dir/test-idx3-ubyte: truncated IDX file: header says 2x3x4 (24 bytes of data), found 10"
            );
        }
        // Header only, no data at all.
        assert!(matches!(
            parse(&file[..16]),
            Err(IdxError::Truncated { found: 0, .. })
        ));
    }

    #[test]
    fn trailing_bytes() {
        let mut file = encode(&[2, 3], &[0; 6]);
        file.extend_from_slice(&[9; 5]);
        for input in [file.clone(), gzip(&file)] {
            let err = parse(&input).unwrap_err();
            assert!(
                matches!(
                    err,
                    IdxError::TrailingBytes {
                        expected: 6,
                        found: 11,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "dir/test-idx3-ubyte: trailing bytes after IDX data: header says 2x3 (6 bytes of data), found 11"
            );
        }
    }

    #[test]
    fn bad_magic() {
        let mut file = encode(&[1], &[0]);
        file[1] = 0x03;
        for input in [file.clone(), gzip(&file), b"PK\x03\x04 zip".to_vec()] {
            let err = parse(&input).unwrap_err();
            assert!(matches!(err, IdxError::BadMagic { .. }), "{err:?}");
        }
        assert_eq!(
            parse(&file).unwrap_err().to_string(),
            "dir/test-idx3-ubyte: not an IDX file: first two bytes are 00 03, expected 00 00"
        );
    }

    #[test]
    fn unsupported_type() {
        let file = encode_typed(0x0d, &[1], &[0, 0, 0, 0]);
        for input in [file.clone(), gzip(&file)] {
            let err = parse(&input).unwrap_err();
            assert!(
                matches!(
                    err,
                    IdxError::UnsupportedType {
                        type_byte: 0x0d,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "dir/test-idx3-ubyte: unsupported IDX element type 0x0d (32-bit float); only 0x08 (unsigned byte) is supported"
            );
        }
    }

    #[test]
    fn empty_dims() {
        let err = parse(&encode(&[], &[5])).unwrap_err();
        assert!(matches!(err, IdxError::EmptyDims { ref dims, .. } if dims.is_empty()));
        assert!(err.to_string().contains("header says rank 0"), "{err}");
        let err = parse(&encode(&[3, 0, 4], &[])).unwrap_err();
        assert!(matches!(err, IdxError::EmptyDims { ref dims, .. } if *dims == [3, 0, 4]));
        assert!(err.to_string().contains("header says 3x0x4"), "{err}");
    }

    #[test]
    fn huge_dims_do_not_allocate_or_overflow() {
        let max = u32::MAX;
        // Fits in a 64-bit usize but could never be allocated.
        let big = encode(&[max, max], &[1, 2, 3]);
        // Overflows usize.
        let overflow = encode(&[max, max, max], &[1, 2, 3]);
        // The largest header there is: 255 dimensions.
        let widest = encode(&[max; 255], &[1, 2, 3]);
        for file in [big, overflow, widest] {
            for input in [file.clone(), gzip(&file)] {
                match parse(&input) {
                    Err(IdxError::Truncated { found: 3, .. }) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        let err = parse(&encode(&[max, max, max], &[])).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { expected: None, .. }));
        assert!(
            err.to_string()
                .contains("header says 4294967295x4294967295x4294967295 (more than"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_gzip_flipped_bytes() {
        let gz = gzip(&encode(&[40, 50], &noise(2000)));
        assert!(gz.len() > 1000, "noise should not compress");
        let mut bad = gz.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 8] {
            *b ^= 0xff;
        }
        let err = parse(&bad).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("dir/test-idx3-ubyte: corrupt gzip stream: ")
        );
    }

    #[test]
    fn corrupt_gzip_bad_checksum() {
        let mut gz = gzip(&encode(&[4], &[1, 2, 3, 4]));
        let crc_at = gz.len() - 8;
        gz[crc_at] ^= 1;
        let err = parse(&gz).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
    }

    #[test]
    fn corrupt_gzip_cut_in_half() {
        let gz = gzip(&encode(&[40, 50], &noise(2000)));
        let err = parse(&gz[..gz.len() / 2]).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
        // Cut just before the 8-byte trailer: all data is there, the checksum is not.
        let err = parse(&gz[..gz.len() - 8]).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
        // Only the gzip magic.
        let err = parse(&gz[..2]).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
    }

    #[test]
    fn corrupt_gzip_garbage_after_stream() {
        let mut gz = gzip(&encode(&[4], &[1, 2, 3, 4]));
        gz.extend_from_slice(b"garbage");
        let err = parse(&gz).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err:?}");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn content_sha256_is_the_digest_of_the_decompressed_file() {
        use sha2::{Digest, Sha256};
        for (dims, data) in [
            (vec![3u32, 4, 5], noise(60)),
            (vec![7], noise(7)),
            (vec![1, 1, 1, 1], vec![9]),
            // A dimension with a high byte set, to catch a wrong byte order.
            (vec![0x0100_0001, 0, 2], vec![]),
        ] {
            let file = encode(&dims, &data);
            let arr = IdxArray {
                dims: dims.iter().map(|&d| d as usize).collect(),
                data: data.clone(),
            };
            assert_eq!(
                content_sha256(&arr),
                <[u8; 32]>::from(Sha256::digest(&file))
            );
        }
        // Parsed from gzip, the digest is still the decompressed file's.
        let file = encode(&[2, 3, 4], &noise(24));
        let arr = parse(&gzip(&file)).unwrap();
        assert_eq!(
            hex(&content_sha256(&arr)),
            hex(&Sha256::digest(&file)),
            "gzip input"
        );
        // One pixel changed changes the digest.
        let mut other = arr.clone();
        other.data[5] ^= 1;
        assert_ne!(content_sha256(&arr), content_sha256(&other));
    }

    #[test]
    fn image_set_verify_sees_both_files_and_stops_on_error() {
        let images = TempFile::new("vimages", &encode(&[2, 1, 1], &[4, 5]));
        let labels = TempFile::new("vlabels", &encode(&[2], &[0, 1]));
        let mut seen = Vec::new();
        read_image_set_verified(&images.0, &labels.0, |p, a| {
            seen.push((p.to_owned(), a.dims.clone()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (images.0.clone(), vec![2, 1, 1]),
                (labels.0.clone(), vec![2])
            ]
        );
        let err = read_image_set_verified(&images.0, &labels.0, |p, _| {
            Err(IdxError::ChecksumMismatch {
                file: p.to_owned(),
                actual: "a".repeat(64),
                expected: "b".repeat(64),
                list: "SHA256SUMS".into(),
                line: 1,
            })
        })
        .unwrap_err();
        assert!(
            matches!(&err, IdxError::ChecksumMismatch { file, .. } if *file == images.0),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: decompressed SHA-256 is {}, SHA256SUMS line 1 expects {}",
                images.0.display(),
                "a".repeat(64),
                "b".repeat(64)
            )
        );
    }

    #[test]
    fn image_set_round_trip() {
        let pixels = noise(3 * 4 * 5);
        let images = TempFile::new("images.gz", &gzip(&encode(&[3, 4, 5], &pixels)));
        let labels = TempFile::new("labels", &encode(&[3], &[7, 0, 12]));
        let set = read_image_set(&images.0, &labels.0).unwrap();
        assert_eq!(
            set,
            ImageSet {
                n: 3,
                rows: 4,
                cols: 5,
                images: pixels,
                labels: vec![7, 0, 12], // 12: range checks are the caller's
            }
        );
    }

    #[test]
    fn image_set_wrong_rank() {
        let images3 = TempFile::new("images3", &encode(&[2, 2, 2], &[0; 8]));
        let images2 = TempFile::new("images2", &encode(&[2, 4], &[0; 8]));
        let labels1 = TempFile::new("labels1", &encode(&[2], &[0; 2]));
        let labels2 = TempFile::new("labels2", &encode(&[2, 1], &[0; 2]));

        let err = read_image_set(&images2.0, &labels1.0).unwrap_err();
        match &err {
            IdxError::BadRank {
                file,
                expected: 3,
                found: 2,
                dims,
            } => {
                assert_eq!(file, &images2.0);
                assert_eq!(dims, &[2, 4]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .ends_with(": expected a rank-3 IDX array, found rank 2 (dims 2x4)"),
            "{err}"
        );

        let err = read_image_set(&images3.0, &labels2.0).unwrap_err();
        assert!(
            matches!(&err, IdxError::BadRank { file, expected: 1, found: 2, .. } if *file == labels2.0),
            "{err:?}"
        );
    }

    #[test]
    fn image_set_count_mismatch() {
        let images = TempFile::new("images", &encode(&[3, 1, 1], &[0; 3]));
        let labels = TempFile::new("labels", &encode(&[2], &[0; 2]));
        let err = read_image_set(&images.0, &labels.0).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::CountMismatch {
                    images: 3,
                    labels: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("3 images, but "), "{msg}");
        assert!(msg.ends_with("has 2 labels"), "{msg}");
    }

    #[test]
    fn every_message_is_one_line() {
        let file = || PathBuf::from("f");
        let io_err = || io::Error::new(io::ErrorKind::InvalidData, "bad");
        let errors = [
            IdxError::Open {
                file: file(),
                error: io_err(),
            },
            IdxError::Read {
                file: file(),
                error: io_err(),
            },
            IdxError::Gzip {
                file: file(),
                error: io_err(),
            },
            IdxError::BadMagic {
                file: file(),
                found: [1, 2],
            },
            IdxError::UnsupportedType {
                file: file(),
                type_byte: 0xff,
            },
            IdxError::BadRank {
                file: file(),
                expected: 3,
                found: 1,
                dims: vec![5],
            },
            IdxError::TruncatedHeader {
                file: file(),
                expected: 4,
                found: 1,
            },
            IdxError::Truncated {
                file: file(),
                dims: vec![1, 2],
                expected: None,
                found: 1,
            },
            IdxError::TrailingBytes {
                file: file(),
                dims: vec![1],
                expected: 1,
                found: 2,
            },
            IdxError::EmptyDims {
                file: file(),
                dims: vec![],
            },
            IdxError::CountMismatch {
                images_file: file(),
                labels_file: file(),
                images: 1,
                labels: 2,
            },
            IdxError::ChecksumMismatch {
                file: file(),
                actual: "0".repeat(64),
                expected: "1".repeat(64),
                list: "SHA256SUMS".into(),
                line: 3,
            },
        ];
        for err in errors {
            let msg = err.to_string();
            assert!(msg.starts_with("f: "), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    /// A small valid IDX file: rank 1..=4, dims 1..=4, random data.
    fn valid_file() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(1u32..=4, 1..=4).prop_flat_map(|dims| {
            let len = dims.iter().product::<u32>() as usize;
            prop::collection::vec(any::<u8>(), len).prop_map(move |data| encode(&dims, &data))
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Set(usize, u8),
        Xor(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
            (any::<usize>(), 1u8..).prop_map(|(i, b)| Mutation::Xor(i, b)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            any::<usize>().prop_map(Mutation::Remove),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
        let len = bytes.len();
        match *m {
            _ if len == 0 => {}
            Mutation::Set(i, b) => bytes[i % len] = b,
            Mutation::Xor(i, b) => bytes[i % len] ^= b,
            Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Mutation::Remove(i) => {
                bytes.remove(i % len);
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }

    /// Parse, and if it succeeds, check the result is consistent.
    fn parse_checked(bytes: &[u8]) {
        if let Ok(arr) = parse(bytes) {
            check_valid(&arr);
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            parse_checked(&bytes);
        }

        #[test]
        fn never_panics_on_arbitrary_idx_like_bytes(
            type_byte in prop_oneof![Just(TYPE_U8), any::<u8>()],
            rank in prop_oneof![0u8..=4, any::<u8>()],
            rest in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut bytes = vec![0, 0, type_byte, rank];
            bytes.extend_from_slice(&rest);
            parse_checked(&bytes);
            parse_checked(&gzip(&bytes));
        }

        #[test]
        fn never_panics_on_arbitrary_gzip_like_bytes(rest in prop::collection::vec(any::<u8>(), 0..512)) {
            // A plausible gzip header (deflate, no flags) followed by noise.
            let mut bytes = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
            bytes.extend_from_slice(&rest);
            parse_checked(&bytes);
        }

        #[test]
        fn round_trips(file in valid_file()) {
            let raw = parse(&file).unwrap();
            check_valid(&raw);
            let rank = usize::from(file[3]);
            prop_assert_eq!(&raw.data[..], &file[4 + 4 * rank..]);
            prop_assert_eq!(parse(&gzip(&file)).unwrap(), raw);
        }

        #[test]
        fn never_panics_on_mutated_raw_file(
            file in valid_file(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let mut bytes = file;
            for m in &mutations {
                apply(&mut bytes, m);
            }
            parse_checked(&bytes);
            parse_checked(&gzip(&bytes));
        }

        #[test]
        fn never_panics_on_mutated_gzip_file(
            file in valid_file(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let mut bytes = gzip(&file);
            for m in &mutations {
                apply(&mut bytes, m);
            }
            parse_checked(&bytes);
        }
    }
}
