#!/usr/bin/env python3
"""Builds the embedded Fashion-MNIST subset (class-balanced, fixed seed) from Debian's
dataset-fashion-mnist package. Reproducible: same input files + same seed -> same bytes.

usage: python3 make-subset.py [SRC=/usr/share/datasets/fashion-mnist] [OUT=.]
"""
import gzip, random, struct, sys, os

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
SEED = 20240601
PER_CLASS = {"train": 1000, "t10k": 200}

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]

def write_idx_gz(path, magic_type, dims, payload):
    header = bytes([0, 0, magic_type, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    # mtime=0 keeps the .gz byte-identical across runs.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(header + payload)

for split, per_class in PER_CLASS.items():
    (n, h, w), pixels = read_idx(f"{SRC}/{split}-images-idx3-ubyte.gz")
    (_,), labels = read_idx(f"{SRC}/{split}-labels-idx1-ubyte.gz")
    rng = random.Random(f"{SEED}-{split}")
    chosen = []
    for c in range(10):
        idx = [i for i in range(n) if labels[i] == c]
        chosen.extend(sorted(rng.sample(idx, per_class)))
    # Class-major order compresses better (similar images adjacent); the pipeline shuffles anyway.
    img = b"".join(pixels[i * h * w:(i + 1) * h * w] for i in chosen)
    lab = bytes(labels[i] for i in chosen)
    write_idx_gz(f"{OUT}/{split}-images-idx3-ubyte.gz", 0x08, (len(chosen), h, w), img)
    write_idx_gz(f"{OUT}/{split}-labels-idx1-ubyte.gz", 0x08, (len(chosen),), lab)
    print(split, len(chosen), "images")
