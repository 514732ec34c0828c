#!/usr/bin/env python3
"""Inputs for bench/transfer.sh, written on demand (never committed).

    python3 bench/make_transfer_data.py OUT_DIR [--images 500]

- OUT_DIR/images/<class>/NNN.jpg: 400x300 JPEGs (PIL, quality 90, 4:2:0) with
  smooth gradients, shapes and noise, in 10 class folders (the size of a
  typical phone photo after a first downscale);
- OUT_DIR/head.f32 / head.i64: 2,000 x 2,048 float32 features (10 overlapping
  Gaussian clusters, rectified like pooled ResNet50 features) and their int64 labels.
Seeded: the same command writes the same files.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=500)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    root = os.path.join(a.out, "images")
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    for i in range(a.images):
        c = i % 10
        d = os.path.join(root, "class%d" % c)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "%03d.jpg" % i)
        if os.path.exists(p):
            continue
        base = rng.uniform(0, 255, 3)
        slope = rng.uniform(-0.4, 0.4, (2, 3))
        img = base + xx[..., None] * slope[0] + yy[..., None] * slope[1] + rng.normal(0, 6, (300, 400, 3))
        im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(im)
        for _ in range(6):
            x0, y0 = rng.integers(0, 350), rng.integers(0, 250)
            draw.ellipse([x0, y0, x0 + rng.integers(20, 120), y0 + rng.integers(20, 120)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        im.save(p, quality=90)
    n, dim, k = 2000, 2048, 10
    centers = rng.normal(0, 1, (k, dim)).astype(np.float32)
    labels = np.arange(n) % k
    feats = np.maximum(centers[labels] + rng.normal(0, 12.0, (n, dim)).astype(np.float32), 0).astype(np.float32)
    feats.tofile(os.path.join(a.out, "head.f32"))
    labels.astype(np.int64).tofile(os.path.join(a.out, "head.i64"))


if __name__ == "__main__":
    main()
