#!/usr/bin/env python3
"""Cut the bundled 10,000-image Fashion-MNIST subset from the full data set.

Reads the four standard Fashion-MNIST files (gzipped IDX) from SRC and writes to OUT:

  train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz   8,000 images: the first 800 of
                                                            each class of SRC's training set
  t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz     2,000 images: the first 200 of
                                                            each class of SRC's test set
  SHA256SUMS                                                SHA-256 of each decompressed file

"First" is in file order. Each split is then shuffled by a Fisher-Yates shuffle driven by
splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
OOPSLA 2014), seeded with 1 for the training split and 2 for the test split: for i from
n-1 down to 1, j = next() % (i + 1), swap items i and j. The output is a pure function of
the input; the gzip files are written with mtime 0, no file name and compression level 9,
so the same zlib gives the same bytes.

Before cutting, the decompressed source files are checked against the SHA-256 digests of
the published Fashion-MNIST files (Xiao, Rasul, Vollgraf, arXiv:1708.07747, 2017), so the
subset is only ever cut from the real data.

usage: scripts/cut_fashion_subset.py [SRC] [OUT]
       SRC defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist),
       OUT to workloads/data/fashion-mnist (relative to the repository).
Python 3 standard library only.
"""

import gzip
import hashlib
import io
import os
import struct
import sys

# SHA-256 of the decompressed files of the full data set (60,000 train / 10,000 test).
SOURCE_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

CLASSES = 10
# (split prefix, images kept per class, shuffle seed)
SPLITS = [("train", 800, 1), ("t10k", 200, 2)]

MASK64 = (1 << 64) - 1


def splitmix64(seed):
    """The splitmix64 generator: yields 64-bit integers."""
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def shuffle(items, seed):
    """Fisher-Yates shuffle of `items` in place, driven by splitmix64(seed)."""
    rng = splitmix64(seed)
    for i in range(len(items) - 1, 0, -1):
        j = next(rng) % (i + 1)
        items[i], items[j] = items[j], items[i]


def fail(msg):
    sys.exit(f"cut_fashion_subset: {msg}")


def read_source(src, name):
    """The decompressed bytes of SRC/name.gz (or SRC/name), checked against SOURCE_SHA256."""
    for path in (os.path.join(src, name + ".gz"), os.path.join(src, name)):
        if os.path.exists(path):
            break
    else:
        fail(f"no {name}.gz nor {name} in {src}")
    with open(path, "rb") as f:
        raw = f.read()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256[name]:
        fail(f"{path}: SHA-256 of the decompressed file is {digest}, expected {SOURCE_SHA256[name]}")
    return data


def idx_images(data):
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    assert magic == 0x803 and len(data) == 16 + n * rows * cols
    size = rows * cols
    return rows, cols, [data[16 + i * size : 16 + (i + 1) * size] for i in range(n)]


def idx_labels(data):
    magic, n = struct.unpack(">II", data[:8])
    assert magic == 0x801 and len(data) == 8 + n
    return list(data[8:])


def write_gz(path, data):
    """gzip `data` to `path` reproducibly: mtime 0, no file name, level 9."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as g:
        g.write(data)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "workloads/data/fashion-mnist")
    os.makedirs(out, exist_ok=True)
    sums = []
    for split, per_class, seed in SPLITS:
        rows, cols, images = idx_images(read_source(src, f"{split}-images-idx3-ubyte"))
        labels = idx_labels(read_source(src, f"{split}-labels-idx1-ubyte"))
        taken = [0] * CLASSES
        keep = []
        for i, label in enumerate(labels):
            if taken[label] < per_class:
                taken[label] += 1
                keep.append(i)
        if taken != [per_class] * CLASSES:
            fail(f"{split}: only {taken} images per class")
        shuffle(keep, seed)
        n = len(keep)
        image_file = struct.pack(">IIII", 0x803, n, rows, cols) + b"".join(images[i] for i in keep)
        label_file = struct.pack(">II", 0x801, n) + bytes(labels[i] for i in keep)
        for name, data in (
            (f"{split}-images-idx3-ubyte", image_file),
            (f"{split}-labels-idx1-ubyte", label_file),
        ):
            write_gz(os.path.join(out, name + ".gz"), data)
            digest = hashlib.sha256(data).hexdigest()
            sums.append(f"{digest}  {name}\n")
            print(f"| {name}.gz | {n} | {digest} |")
    tmp = os.path.join(out, "SHA256SUMS.tmp")
    with open(tmp, "w") as f:
        f.writelines(sums)
    os.replace(tmp, os.path.join(out, "SHA256SUMS"))


if __name__ == "__main__":
    main()
