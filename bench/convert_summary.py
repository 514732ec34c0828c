#!/usr/bin/env python3
"""Print the ratios of a conversion bench (bench/convert.sh, bench/convert_keras.sh).

    bench/convert_summary.py HYPERFINE_JSON PEAK_RSS_KIB SOURCE_BYTES [RSS_TARGET]

The hyperfine JSON must hold the commands "cp", "cp + sync" and "zoo convert".
"""
import json
import sys

r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cp, cps, z = r["cp"]["mean"], r["cp + sync"]["mean"], r["zoo convert"]["mean"]
peak_kib, size = int(sys.argv[2]), int(sys.argv[3])
target = f" (target < {sys.argv[4]})" if len(sys.argv) > 4 else ""
print(f"\ncp {cp*1000:.0f} ms, cp+sync {cps*1000:.0f} ms, zoo convert {z*1000:.0f} ms")
print(f"ratio zoo convert / cp = {z / cp:.2f}  (target <= 2.0); / (cp + sync) = {z / cps:.2f}")
print(f"peak RSS of zoo convert = {peak_kib / 1024:.0f} MiB = {peak_kib * 1024 / size:.2f} x the source{target}")
