#!/usr/bin/env python3
"""Time onnxruntime on one model and one input, as users run it: the reference for bench/runtime.sh.

CPU execution provider, intra_op_num_threads=THREADS, inter_op_num_threads=1,
ORT_SEQUENTIAL, default graph optimizations (ORT_ENABLE_ALL). WARMUP untimed
runs, then RUNS timed runs of session.run; prints one JSON line on stdout with
the median/min/mean latency and the throughput (batch / median).

    python3 bench/ort_latency.py MODEL.onnx INPUT.npy [--threads 2] [--warmup 3] [--runs 20] [--save-output OUT.npy]
"""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("input", help=".npy file for the model's single input")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--save-output", metavar="OUT.npy", help="write the first output of the first run here")
    args = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # the default, spelled out
    start = time.perf_counter()
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - start) * 1e3
    x = np.load(args.input)
    feed = {sess.get_inputs()[0].name: x}
    out_name = sess.get_outputs()[0].name

    first = None
    for _ in range(args.warmup):
        y = sess.run([out_name], feed)[0]
        first = y if first is None else first
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        y = sess.run([out_name], feed)[0]
        times.append((time.perf_counter() - t0) * 1e3)
        first = y if first is None else first
    if args.save_output:
        np.save(args.save_output, first)

    median = statistics.median(times)
    batch = x.shape[0]
    print(json.dumps({
        "model": args.model, "input": args.input, "batch": batch, "threads": args.threads, "runs": args.runs,
        "warmup": args.warmup, "load_ms": round(load_ms, 1), "median_ms": round(median, 3),
        "min_ms": round(min(times), 3), "mean_ms": round(statistics.fmean(times), 3),
        "images_per_s": round(batch * 1e3 / median, 2), "ort_version": ort.__version__,
    }))


if __name__ == "__main__":
    main()
