#!/usr/bin/env python3
"""Reads graphgrad checkpoints (the format in frontends/checkpoint.h) without graphgrad.

  ckpt_compare.py step FILE      prints the step count the checkpoint holds
  ckpt_compare.py compare A B    exits 0 when A and B hold the same step, the same
                                 JSON document and bit-identical tensors (every
                                 variable: parameters, batch-norm statistics and
                                 optimizer slots); else prints each difference,
                                 with the count of differing bits, and exits 1

The CRC is checked, so a corrupt file is an error here too (exit 2).
"""
import json
import struct
import sys
import zlib

MAGIC = b"GGCKPT\r\n"


class Reader:
    def __init__(self, data, name):
        self.data, self.at, self.name = data, 0, name

    def take(self, n, what):
        if self.at + n > len(self.data):
            raise ValueError(f"{self.name}: payload ends inside {what}")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u32(self, what):
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]


def read(path):
    data = open(path, "rb").read()
    if len(data) < 24 or data[:8] != MAGIC:
        raise ValueError(f"{path}: not a graphgrad checkpoint")
    version, crc, length = struct.unpack("<IIQ", data[8:24])
    payload = data[24:]
    if length != len(payload):
        raise ValueError(f"{path}: truncated: header declares {length} bytes, the file holds {len(payload)}")
    if zlib.crc32(payload) != crc:
        raise ValueError(f"{path}: checksum mismatch")
    r = Reader(payload, path)
    step = r.u64("step")
    r.take(r.u32("architecture length"), "architecture")
    doc = json.loads(r.take(r.u32("json length"), "json")) if version >= 2 else None
    tensors = {}
    for _ in range(r.u32("tensor count")):
        name = r.take(r.u32("name length"), "name").decode()
        dims = [struct.unpack("<q", r.take(8, "dims"))[0] for _ in range(r.u32("rank"))]
        numel = 1
        for d in dims:
            numel *= d
        tensors[name] = (dims, r.take(4 * numel, "values"))
    if r.at != len(payload):
        raise ValueError(f"{path}: trailing bytes")
    return step, doc, tensors


def differing_bits(a, b):
    x = int.from_bytes(a, "little") ^ int.from_bytes(b, "little")
    return bin(x).count("1")


def compare(a_path, b_path):
    a_step, a_doc, a_t = read(a_path)
    b_step, b_doc, b_t = read(b_path)
    problems = []
    if a_step != b_step:
        problems.append(f"step {a_step} vs {b_step}")
    # The JSON holds the architecture, compile options, learning rate and the
    # callbacks' state: all of it is a function of the training state, so an
    # interrupted run must end with the same document as an uninterrupted one.
    if a_doc != b_doc:
        problems.append(f"JSON documents differ:\n  {json.dumps(a_doc, sort_keys=True)}\n  {json.dumps(b_doc, sort_keys=True)}")
    if set(a_t) != set(b_t):
        problems.append(f"tensor names differ: only in A {sorted(set(a_t) - set(b_t))}, only in B {sorted(set(b_t) - set(a_t))}")
    bits = values = 0
    for name in sorted(set(a_t) & set(b_t)):
        (ad, av), (bd, bv) = a_t[name], b_t[name]
        if ad != bd:
            problems.append(f"{name}: shape {ad} vs {bd}")
            continue
        values += len(av) // 4
        if av != bv:
            n = differing_bits(av, bv)
            floats = sum(1 for i in range(0, len(av), 4) if av[i:i + 4] != bv[i:i + 4])
            bits += n
            problems.append(f"{name}: {floats} of {len(av) // 4} values differ ({n} bits)")
    summary = f"{len(a_t)} tensors, {values} values, {bits} differing bits, step {a_step}"
    if problems:
        print(f"ckpt_compare: DIFFERENT ({summary}):")
        for p in problems:
            print("  " + p)
        return 1
    print(f"ckpt_compare: identical: {summary}, same JSON")
    return 0


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "step":
            print(read(argv[2])[0])
            return 0
        if len(argv) == 4 and argv[1] == "compare":
            return compare(argv[2], argv[3])
    except (OSError, ValueError) as e:
        print(f"ckpt_compare: {e}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
