#!/usr/bin/env python3
"""Write a synthetic word2vec binary file (default 3,000,000 x 300, ~3.6 GB) for benchmarks.

Same layout as GoogleNews-vectors-negative300.bin: "V D\\n", then per word the
word, a space, D little-endian float32. Seeded; never committed.

    python3 bench/make_word2vec.py OUT.bin [--words 3000000] [--dim 300]
"""
import argparse

import numpy as np

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("out")
ap.add_argument("--words", type=int, default=3_000_000)
ap.add_argument("--dim", type=int, default=300)
args = ap.parse_args()
rng = np.random.default_rng(0)
block = 100_000
with open(args.out, "wb") as f:
    f.write(f"{args.words} {args.dim}\n".encode())
    for start in range(0, args.words, block):
        n = min(block, args.words - start)
        vecs = rng.standard_normal((n, args.dim), dtype=np.float32).astype("<f4")
        parts = []
        for i in range(n):
            parts.append(f"w{start + i}_x ".encode())
            parts.append(vecs[i].tobytes())
        f.write(b"".join(parts))
print(f"wrote {args.out}: {args.words} x {args.dim}")
