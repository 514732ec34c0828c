#!/usr/bin/env python3
"""The Python pipeline zoo features is compared with (bench/transfer.sh):
PIL decode + torchvision's ImageNet transform (Resize(256) bilinear, CenterCrop(224),
/255, mean/std) written with PIL and numpy, then onnxruntime at batch 32.

    python3 bench/python_pipeline.py MODEL.onnx DIR [--batch 32] [--threads 2] [--decode-only]

Prints one JSON line: images, seconds, imagesPerSecond.
"""
import argparse
import glob
import json
import os
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def prepare(path, resize=256, crop=224):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    im = im.resize((nw, nh), Image.BILINEAR)
    top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    im = im.crop((left, top, left + crop, top + crop))
    x = (np.asarray(im, np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--decode-only", action="store_true")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "**", "*.jpg"), recursive=True))
    sess = None
    if not a.decode_only:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
    t0 = time.perf_counter()
    outs = 0
    for i in range(0, len(files), a.batch):
        x = np.stack([prepare(p) for p in files[i:i + a.batch]])
        if sess is not None:
            outs += sess.run(None, {name: x})[0].shape[0]
    s = time.perf_counter() - t0
    print(json.dumps({"images": len(files), "seconds": s, "imagesPerSecond": len(files) / s}))


if __name__ == "__main__":
    main()
