#!/usr/bin/env python3
"""Write a large synthetic .zoo file for benchmarks, straight from docs/FORMAT.md.

This is an independent implementation of the format (Python standard library
plus numpy), so `zoo verify` accepting its output also checks that the spec is
complete enough to write a file without zoo's code.

    python3 bench/make_zoo.py OUT.zoo [--tensors 40] [--megabytes 550] [--seed 0]
"""
import argparse
import hashlib
import json
import struct

import numpy as np

MAGIC = b"\x89ZOO\r\n\x1a\n"
PREAMBLE = 128
PAGE = 4096
ALIGN = 64


def align(n, a):
    return (n + a - 1) // a * a


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--tensors", type=int, default=40)
    ap.add_argument("--megabytes", type=float, default=550)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    per = int(args.megabytes * 1e6 / args.tensors / 4)
    cols = 1024
    rows = max(1, per // cols)
    arrays, entries, pos = [], [], 0
    for i in range(args.tensors):
        a = rng.standard_normal((rows, cols), dtype=np.float32)
        raw = a.tobytes()
        off = align(pos, ALIGN)
        entries.append({"dtype": "f32", "length": len(raw), "name": f"layer{i:02d}.weight",
                        "offset": off, "sha256": hashlib.sha256(raw).hexdigest(), "shape": [rows, cols]})
        arrays.append((off, raw))
        pos = off + len(raw)
    header = {
        "card": {"converter": {"name": "bench/make_zoo.py", "version": "1"}, "inputs": [],
                 "name": f"bench-{args.tensors}x{rows}x{cols}", "outputs": [], "task": "benchmark"},
        "dataLength": pos,
        "graph": {"inputs": [], "nodes": [], "outputs": []},
        "tensors": entries,
    }
    hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    data_offset = align(PREAMBLE + len(hb) + 1, PAGE)
    pre = MAGIC + struct.pack("<HHIQ", 1, 0, 0, len(hb)) + hashlib.sha256(hb).digest()
    pre += b"\0" * (PREAMBLE - len(pre))
    with open(args.out, "wb") as f:
        f.write(pre)
        f.write(hb)
        f.write(b"\0" * (data_offset - PREAMBLE - len(hb)))
        written = 0
        for off, raw in arrays:
            f.write(b"\0" * (off - written))
            f.write(raw)
            written = off + len(raw)
    print(f"wrote {args.out}: {args.tensors} tensors, {data_offset + pos} bytes")


if __name__ == "__main__":
    main()
