#!/usr/bin/env bash
# Opt-in suite (`make test-exports`): torchvision architectures with seeded random weights, exported by
# torch.onnx at opsets 11, 13 and 17 with dynamic batch/height/width (make_exports.py), converted by zoo
# with no flags and run at two input sizes against what onnxruntime computed on the same file.
# Usage: scripts/test-exports.sh [OUT_DIR]   (default bench/out/exports; never committed)
#   ONLY=resnet18,vit_b_16        a subset of architectures
#   VENV=/tmp/torch-venv          the pinned torch virtualenv (created when missing; the PyPI torch
#                                 wheel brings its CUDA runtime packages, about 3 GB)
#   ZOO=path/to/zoo               use this zoo binary instead of building one
#   REGENERATE=1                  export anew (exports are kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/exports}
venv=${VENV:-/tmp/torch-venv}
mkdir -p "$out"
scripts/setup.sh
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r fixtures/generator/requirements-exports.txt
fi
if [ "${REGENERATE:-0}" = 1 ] || [ ! -f "$out/index.json" ] || [ "$(cat "$out/.only" 2>/dev/null)" != "${ONLY:-}" ]; then
  "$venv/bin/python" fixtures/generator/make_exports.py "$out" ${ONLY:+--only "$ONLY"}
  echo "${ONLY:-}" > "$out/.only"
fi
if [ -n "${ZOO:-}" ]; then zoo=$ZOO; else
  swift build -c release --product zoo >/dev/null
  zoo=$(swift build -c release --show-bin-path)/zoo
fi
echo
echo "| model | opset | size | max abs err | max rel err | cosine | parity (rtol 1e-3, atol 1e-4·max(1, max|ref|)) |"
echo "|---|---|---|---|---|---|---|"
fail=0
while IFS=$'\t' read -r name arch opset model runs; do
  if [ "$model" = "-" ]; then
    echo "| $arch | $opset | | torch.onnx could not export: $runs | | | skipped |"
    continue
  fi
  if ! "$zoo" convert "$out/$model" -o "$out/$name.zoo" -f >/dev/null 2> "$out/$name.convert.err"; then
    echo "| $arch | $opset | | conversion failed: $(head -c 300 "$out/$name.convert.err") | | | FAIL |"
    fail=1
    continue
  fi
  while IFS=$'\t' read -r size input output maxabs; do
    atol=$(python3 -c "print(1e-4 * max(1.0, $maxabs))")
    rc=0
    "$zoo" parity "$out/$name.zoo" --input "$out/$input" --expect "$out/$output" --rtol 1e-3 --atol "$atol" --json > "$out/$name.$size.json" 2> "$out/$name.$size.err" || rc=$?
    python3 - "$out/$name.$size.json" "$arch" "$opset" "$size" "$rc" <<'PY'
import json, sys
path, arch, opset, size, rc = sys.argv[1:]
try:
    r = json.load(open(path))[0]
    print(f"| {arch} | {opset} | {size} | {r['maxAbsError']:.3g} | {r['maxRelError']:.3g} | {r['cosine']:.8f} | {'pass' if r['passed'] else 'FAIL'} |")
except Exception:
    print(f"| {arch} | {opset} | {size} | error (exit {rc}): {open(path[:-5] + '.err').read().strip()[:200]} | | | FAIL |")
PY
    [ "$rc" = 0 ] || fail=1
  done < <(echo "$runs" | tr ';' '\n' | tr ',' '\t')
done < <(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if "export_error" in m:
        print(m["name"], m["architecture"], m["opset"], "-", m["export_error"].replace("\t", " "), sep="\t")
        continue
    runs = ";".join("%s,%s,%s,%r" % (r["size"], r["input"], r["output"], r["max_abs"]) for r in m["runs"])
    print(m["name"], m["architecture"], m["opset"], m["model"], runs, sep="\t")
' "$out/index.json")
exit $fail
