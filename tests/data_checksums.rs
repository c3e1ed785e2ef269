//! Pins the bundled data subsets, the MNIST one in `workloads/data/mnist/` and the
//! Fashion-MNIST one in `workloads/data/fashion-mnist/`: each file's SHA-256 after
//! decompression must match the table in that folder's README.md and its `SHA256SUMS`
//! (which the loader checks at run time), and the IDX headers must give the expected image
//! and label counts. The Fashion-MNIST subset must also hold exactly 800 training and 200
//! test images of each of its 10 classes.
//!
//! The digests are hard-coded on purpose: changing the data must mean changing this test,
//! the README and `SHA256SUMS` together.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

/// One bundled data set: its folder under `workloads/data/`, and for each of its four
/// files (gzipped) the SHA-256 of the decompressed file and the number of images.
struct Bundle {
    folder: &'static str,
    files: [(&'static str, &'static str, usize); 4],
}

const MNIST: Bundle = Bundle {
    folder: "mnist",
    files: [
        (
            "train-images-idx3-ubyte.gz",
            "4558e82823066c7358f6b60c982bae521bd7e8b867e38d01eb2032b4c63fd1d9",
            8000,
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "a46f3f17f33941b53ad3f7ed39340ebc46d5cb736eef26bbfdeafb0d3f54458d",
            8000,
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "882ea10b9a23bf59bda47e56b662d5c73b34469e67c9d93c6e1730c8790d424c",
            2000,
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "584bc78f581755e0eeec22c3d907f9423ac8d0ef9191efe1613b3f110bce0ad0",
            2000,
        ),
    ],
};

const FASHION: Bundle = Bundle {
    folder: "fashion-mnist",
    files: [
        (
            "train-images-idx3-ubyte.gz",
            "193996d98be2497680acb4ee6d27f56e7e7c068c36f72d7100f9a8f9253aaee6",
            8000,
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "1f945e0b2f491e41aad578af8e4fa9f99ef2d4fb11bcf136f1d9ccc4f2c9c9e9",
            8000,
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "ef39953900c957fe44bf27898b2411a925a6090bff3ff1b4e95fe0eee785e4b9",
            2000,
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "1a6b8c13307e9af205385413fd722c2eaa723265acdca1a80423c29c236910f8",
            2000,
        ),
    ],
};

const BUNDLES: [Bundle; 2] = [MNIST, FASHION];

impl Bundle {
    fn dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("workloads/data")
            .join(self.folder)
    }

    /// Decompress one of the bundled files.
    fn decompress(&self, name: &str) -> Vec<u8> {
        let path = self.dir().join(name);
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: cannot open: {e}", path.display()));
        let mut bytes = Vec::new();
        MultiGzDecoder::new(file)
            .read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("{}: cannot decompress: {e}", path.display()));
        bytes
    }

    fn read(&self, name: &str) -> String {
        let path = self.dir().join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()))
    }
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
fn bundled_checksums_match_the_pinned_digests() {
    for b in BUNDLES {
        for (name, expected, _) in b.files {
            let actual = sha256_hex(&b.decompress(name));
            assert_eq!(
                actual, expected,
                "{}/{name}: SHA-256 of the decompressed file",
                b.folder
            );
        }
    }
}

#[test]
fn bundled_readme_tables_and_sha256sums_list_the_pinned_digests() {
    for b in BUNDLES {
        let readme = b.read("README.md");
        let sums = b.read("SHA256SUMS");
        let expected_sums: String = b
            .files
            .iter()
            .map(|(name, digest, _)| format!("{digest}  {}\n", name.trim_end_matches(".gz")))
            .collect();
        assert_eq!(sums, expected_sums, "{}/SHA256SUMS", b.folder);
        for (name, digest, count) in b.files {
            let row = format!("| {name} | {count} | {digest} |");
            assert!(
                readme.lines().any(|l| l == row),
                "{}/README.md has no row {row:?}",
                b.folder
            );
        }
    }
}

#[test]
fn bundled_image_counts() {
    for b in BUNDLES {
        for (name, _, count) in b.files.into_iter().filter(|f| f.0.contains("images")) {
            let bytes = b.decompress(name);
            // Magic 00 00 08 03: unsigned bytes, rank 3; then n, rows, cols.
            assert_eq!(bytes[..4], [0, 0, 0x08, 0x03], "{}/{name}: magic", b.folder);
            let (n, rows, cols) = (be_u32(&bytes, 4), be_u32(&bytes, 8), be_u32(&bytes, 12));
            assert_eq!(
                (n, rows, cols),
                (count, 28, 28),
                "{}/{name}: dims",
                b.folder
            );
            assert_eq!(
                bytes.len(),
                16 + n * rows * cols,
                "{}/{name}: length",
                b.folder
            );
        }
    }
}

/// The labels of a bundled labels file, after checking its header.
fn labels(b: &Bundle, name: &str, count: usize) -> Vec<u8> {
    let bytes = b.decompress(name);
    // Magic 00 00 08 01: unsigned bytes, rank 1; then n.
    assert_eq!(bytes[..4], [0, 0, 0x08, 0x01], "{}/{name}: magic", b.folder);
    let n = be_u32(&bytes, 4);
    assert_eq!(n, count, "{}/{name}: count", b.folder);
    assert_eq!(bytes.len(), 8 + n, "{}/{name}: length", b.folder);
    bytes[8..].to_vec()
}

#[test]
fn bundled_label_counts() {
    for b in BUNDLES {
        for (name, _, count) in b.files.into_iter().filter(|f| f.0.contains("labels")) {
            let l = labels(&b, name, count);
            assert!(l.iter().all(|&l| l < 10), "{}/{name}: label > 9", b.folder);
        }
    }
}

#[test]
fn fashion_subset_is_balanced_and_shuffled() {
    for (name, per_class) in [
        ("train-labels-idx1-ubyte.gz", 800),
        ("t10k-labels-idx1-ubyte.gz", 200),
    ] {
        let l = labels(&FASHION, name, 10 * per_class);
        let mut counts = [0usize; 10];
        for &c in &l {
            counts[usize::from(c)] += 1;
        }
        assert_eq!(counts, [per_class; 10], "{name}: images per class");
        // Shuffled: the first 256 images (what a short test run sees) hold every class.
        let mut seen = [false; 10];
        for &c in &l[..256] {
            seen[usize::from(c)] = true;
        }
        assert!(
            seen.iter().all(|&s| s),
            "{name}: the first 256 miss a class"
        );
    }
}
