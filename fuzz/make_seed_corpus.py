#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (fuzz/corpus/{idx,checkpoint}): small valid
files of each shape the loaders accept, plus near misses. Rerun after a format
change; the files are committed so that CI fuzzes from the same start.

fuzz/corpus/graph is not written here: fuzz_graph's inputs are opaque bytes
that its decoder turns into a graph, so its seeds are inputs picked from a
fuzzing run (GG_FUZZ_GRAPH_VERBOSE=1 prints what each builds), together
building and running every op. After a change to the decoder, pick them anew
the same way (and re-find the regressions/graph reproducers)."""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def idx(dims, payload=None):
    n = 1
    for d in dims:
        n *= d
    body = bytes((i * 37) % 256 for i in range(n)) if payload is None else payload
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body


def ckpt(step, arch, tensors):
    payload = struct.pack("<QI", step, len(arch)) + arch + struct.pack("<I", len(tensors))
    for name, dims, values in tensors:
        payload += struct.pack("<I", len(name)) + name + struct.pack("<I", len(dims))
        payload += b"".join(struct.pack("<q", d) for d in dims)
        payload += b"".join(struct.pack("<f", v) for v in values)
    header = b"GGCKPT\r\n" + struct.pack("<IIQ", 1, zlib.crc32(payload), len(payload))
    return header + payload


def write(folder, name, data):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


labels = idx([10], bytes(range(10)))
images = idx([3, 4, 4])
write("idx", "labels.idx1", labels)
write("idx", "images.idx3", images)
write("idx", "rank4.idx", idx([2, 1, 2, 3]))
write("idx", "labels.idx1.gz", gzip.compress(labels, mtime=0))
write("idx", "images.idx3.gz", gzip.compress(images, mtime=0))
write("idx", "two_members.gz", gzip.compress(images[:10], mtime=0) + gzip.compress(images[10:], mtime=0))
write("idx", "truncated.idx3", images[:-5])
write("idx", "zero_dim.idx", idx([3, 0, 2], b""))

write("checkpoint", "empty_model.ckpt", ckpt(0, b"", []))
write("checkpoint", "dense.ckpt", ckpt(7, b"Dense(3) -> Softmax", [
    (b"dense/kernel", [2, 3], [0.5, -1.0, 2.0, 0.0, 1e-3, -7.25]),
    (b"dense/bias", [3], [0.0, 0.1, -0.1]),
    (b"adam/step", [], [3.0]),
]))
write("checkpoint", "conv.ckpt", ckpt(1, b"Conv2D(2,3x3)", [
    (b"conv/kernel", [2, 1, 3, 3], [float(i) / 9 for i in range(18)]),
]))
