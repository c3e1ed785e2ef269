//! Pins the bundled MNIST subset in `workloads/data/mnist/`: each file's SHA-256 after
//! decompression must match the table in that folder's README.md, and the IDX headers
//! must give the expected image and label counts.
//!
//! The digests are hard-coded on purpose: changing the data must mean changing this test
//! and the README together.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// The folder holding the bundled data.
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads/data/mnist")
}

/// (file, SHA-256 of the decompressed file), as in the README's table.
const CHECKSUMS: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "4558e82823066c7358f6b60c982bae521bd7e8b867e38d01eb2032b4c63fd1d9",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "a46f3f17f33941b53ad3f7ed39340ebc46d5cb736eef26bbfdeafb0d3f54458d",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "882ea10b9a23bf59bda47e56b662d5c73b34469e67c9d93c6e1730c8790d424c",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "584bc78f581755e0eeec22c3d907f9423ac8d0ef9191efe1613b3f110bce0ad0",
    ),
];

/// Decompress one of the bundled files.
fn decompress(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: cannot open: {e}", path.display()));
    let mut bytes = Vec::new();
    MultiGzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("{}: cannot decompress: {e}", path.display()));
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The big-endian u32 at `offset`.
fn be_u32(bytes: &[u8], offset: usize) -> usize {
    let b: [u8; 4] = bytes[offset..offset + 4].try_into().unwrap();
    u32::from_be_bytes(b) as usize
}

#[test]
fn bundled_mnist_checksums_match_readme() {
    for (name, expected) in CHECKSUMS {
        let actual = sha256_hex(&decompress(name));
        assert_eq!(actual, expected, "{name}: SHA-256 of the decompressed file");
    }
}

#[test]
fn bundled_mnist_image_counts() {
    for (name, count) in [
        ("train-images-idx3-ubyte.gz", 8000),
        ("t10k-images-idx3-ubyte.gz", 2000),
    ] {
        let bytes = decompress(name);
        // Magic 00 00 08 03: unsigned bytes, rank 3; then n, rows, cols.
        assert_eq!(bytes[..4], [0, 0, 0x08, 0x03], "{name}: magic");
        let (n, rows, cols) = (be_u32(&bytes, 4), be_u32(&bytes, 8), be_u32(&bytes, 12));
        assert_eq!((n, rows, cols), (count, 28, 28), "{name}: dims");
        assert_eq!(bytes.len(), 16 + n * rows * cols, "{name}: length");
    }
}

#[test]
fn bundled_mnist_label_counts() {
    for (name, count) in [
        ("train-labels-idx1-ubyte.gz", 8000),
        ("t10k-labels-idx1-ubyte.gz", 2000),
    ] {
        let bytes = decompress(name);
        // Magic 00 00 08 01: unsigned bytes, rank 1; then n.
        assert_eq!(bytes[..4], [0, 0, 0x08, 0x01], "{name}: magic");
        let n = be_u32(&bytes, 4);
        assert_eq!(n, count, "{name}: count");
        assert_eq!(bytes.len(), 8 + n, "{name}: length");
        assert!(bytes[8..].iter().all(|&l| l < 10), "{name}: label > 9");
    }
}
