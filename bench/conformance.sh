#!/usr/bin/env bash
# ONNX conformance side by side: per op, how many in-scope node cases of the pinned onnx pass in
# onnxruntime (recorded by fixtures/generator/make_onnx_conformance.py) and in zoo (swift test's
# ConformanceTests, whose expected_failures.txt lists what zoo does not pass yet).
# Usage: bench/conformance.sh            (prints a Markdown table; BENCHMARKS.md holds a run)
set -euo pipefail
cd "$(dirname "$0")/.."
swift test --filter ConformanceTests 2>&1 | grep -E "^conformance|✔ Test run|✘" || true
python3 - <<'PY'
import json
from collections import defaultdict
d = "fixtures/onnx/conformance/"
index = json.load(open(d + "index.json"))
failing = {l.split()[0] for l in open(d + "expected_failures.txt") if l.strip() and not l.startswith("#")}
per = defaultdict(lambda: [0, 0, 0])
for c in index["cases"]:
    if c["scope"] != "in":
        continue
    op = c["name"].split("/")[-1][5:].split("_")[0]
    key = next((o for o in c["ops"] if o.lower() == op.replace("_", "")), c["ops"][0] if c["ops"] else "?")
    per[key][0] += 1
    per[key][1] += c.get("onnxruntime") == "pass"
    per[key][2] += c["name"] not in failing
tot = [sum(v[i] for v in per.values()) for i in range(3)]
print(f"| op | cases | onnxruntime {index['onnxruntime']} | zoo |\n|---|---|---|---|")
for op, (n, o, z) in sorted(per.items()):
    print(f"| {op} | {n} | {o} | {z} |")
print(f"| **all** | {tot[0]} | {tot[1]} | {tot[2]} |")
PY
