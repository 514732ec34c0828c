#!/usr/bin/env bash
# Times zoo's CPU runtime against onnxruntime on full-size ResNet50, VGG16,
# MobileNetV2 and InceptionV3 (random weights, bench/make_models.py), side by
# side in one run with the same thread count: batch-1 median latency, batch-8 and
# batch-32 throughput, peak RSS of each process, and zoo-vs-ORT parity on the batch-1 output.
# Usage: bench/runtime.sh [OUT_DIR]   (default bench/out; nothing here is committed)
#   THREADS=2   threads for both engines (ORT: intra_op_num_threads; zoo: --threads)
#   MODELS=resnet50,vgg16,mobilenetv2,inception_v3   a subset, comma-separated; also
#               densenet121, squeezenet1_1, shufflenet_v2, efficientnet_b0 (torchvision exports,
#               bench/make_torchvision_models.py, made with TORCH_VENV=/tmp/torch-venv, the
#               venv of `make test-exports`; skipped with a note when it is missing), and
#               resnet50_keras: Keras Applications ResNet50, channels-last, converted by zoo from
#               Keras's .h5 and run by ORT from Keras's own ONNX export (bench/make_keras_models.py,
#               the same venv plus bench/requirements-keras-nhwc.txt, installed when missing)
#   PROCS=3     fresh processes per engine and batch, interleaved ORT, zoo, ORT, zoo...;
#               the table keeps each engine's best median. The shared 2-core VM's speed
#               drifts for seconds to minutes at a time (ORT's MobileNetV2 batch 1 was
#               4.2 ms in some minutes and 7.0 ms in others), so both engines sample the
#               same windows and a single slow window does not decide a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
threads=${THREADS:-2}
models=${MODELS:-resnet50,vgg16,mobilenetv2,inception_v3,densenet121,squeezenet1_1,shufflenet_v2,efficientnet_b0,resnet50_keras}
procs=${PROCS:-3}
mdir="$out/models"
res="$out/runtime"
mkdir -p "$mdir" "$res"
scripts/setup.sh --bench
python3 -c "import onnx, onnxruntime" 2>/dev/null || python3 -m pip install -q -r fixtures/generator/requirements.txt
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), THREADS=$threads, PROCS=$procs," \
  "onnxruntime $(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')"
median_of() {  # the median (ms) in an ort_latency.py JSON line or a `zoo run --timing` stderr
  case "$1" in
    *.json) python3 -c 'import json, sys; print("%.2f" % json.load(open(sys.argv[1]))["median_ms"])' "$1" ;;
    *) sed -n 's/^latency: median \([0-9.]*\) ms.*/\1/p' "$1" | head -n 1 ;;
  esac
}

IFS=, read -r -a names <<< "$models"
for m in "${names[@]}"; do
  case "$m" in
    inception_v3) size=299 ;;
    resnet50 | vgg16 | mobilenetv2) size=224 ;;
    densenet121 | squeezenet1_1 | shufflenet_v2 | efficientnet_b0 | resnet50_keras) size=224 ;;
    *) echo "runtime.sh: unknown model $m" >&2; exit 64 ;;
  esac
  src="$mdir/$m.onnx" dst="$mdir/$m.zoo" zsrc="$mdir/$m.onnx" layout=nchw
  case "$m" in
    resnet50_keras)
      tv=${TORCH_VENV:-/tmp/torch-venv} zsrc="$mdir/$m.h5" layout=nhwc
      if [ ! -f "$src" ] || [ ! -f "$zsrc" ]; then
        if [ ! -x "$tv/bin/python" ]; then echo "runtime.sh: $m needs the torch venv ($tv; make test-exports creates it): skipped" >&2; continue; fi
        "$tv/bin/python" -c "import keras, h5py" 2>/dev/null || "$tv/bin/pip" install -q -r bench/requirements-keras-nhwc.txt
        KERAS_BACKEND=torch "$tv/bin/python" bench/make_keras_models.py "$mdir" >/dev/null 2>&1
      fi ;;
    densenet121 | squeezenet1_1 | shufflenet_v2 | efficientnet_b0)
      tv=${TORCH_VENV:-/tmp/torch-venv}
      if [ ! -f "$src" ]; then
        if [ ! -x "$tv/bin/python" ]; then echo "runtime.sh: $m needs the torch venv ($tv; make test-exports creates it): skipped" >&2; continue; fi
        "$tv/bin/python" bench/make_torchvision_models.py "$mdir" --only "$m" >/dev/null
      fi ;;
    *) [ -f "$src" ] || python3 bench/make_models.py "$mdir" --only "$m" ;;
  esac
  "$zoo" convert "$zsrc" -o "$dst" -f >/dev/null
  tag=$size; [ "$layout" = nhwc ] && tag=${size}_nhwc
  for b in 1 8 32; do
    x="$mdir/input_${tag}_b$b.npy"
    [ -f "$x" ] || python3 -c "
import numpy as np, sys
b, s, nhwc = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == 'nhwc'
np.save(sys.argv[1], np.random.default_rng(b).standard_normal((b, s, s, 3) if nhwc else (b, 3, s, s), dtype=np.float32))" "$x" "$b" "$size" "$layout"
  done
  cat "$src" "$zsrc" "$dst" > /dev/null   # page cache warm for both engines
  rm -f "$res/$m".*

  echo
  for b in 1 8 32; do
    x="$mdir/input_${tag}_b$b.npy" n=20 warm=3
    [ "$b" = 8 ] && n=10
    [ "$b" = 32 ] && n=5 warm=1
    ort_ms=() zoo_ms=()
    for p in $(seq 1 "$procs"); do
      save=()
      [ "$b" = 1 ] && [ "$p" = 1 ] && save=(--save-output "$res/$m.ort_b1.npy")
      f="$res/$m.b$b.p$p"
      /usr/bin/time -f %M -o "$f.ort.rss" \
        python3 bench/ort_latency.py "$src" "$x" --threads "$threads" --warmup "$warm" --runs "$n" "${save[@]}" > "$f.ort.json"
      ort_ms+=("$(median_of "$f.ort.json")")
      # zoo run does one warm-up run itself, then N timed runs; a failure is reported in the table, not fatal.
      rc=0
      /usr/bin/time -f %M -o "$f.zoo.rss" \
        "$zoo" run "$dst" --input "$x" --threads "$threads" --repeat "$n" --timing > /dev/null 2> "$f.zoo.txt" || rc=$?
      echo "$rc" > "$f.zoo.rc"
      if [ "$rc" != 0 ]; then
        zoo_ms+=("failed (exit $rc: $(tail -n 1 "$f.zoo.txt"))")
        break
      fi
      zoo_ms+=("$(median_of "$f.zoo.txt")")
    done
    echo "$m batch $b, median ms of $n runs per process: ORT ${ort_ms[*]} | zoo ${zoo_ms[*]}"
  done

  rc=0
  "$zoo" parity "$dst" --input "$mdir/input_${tag}_b1.npy" --expect "$res/$m.ort_b1.npy" \
    --rtol 1e-3 --atol 1e-4 --json > "$res/$m.parity.json" 2> "$res/$m.parity.txt" || rc=$?
  echo "$rc" > "$res/$m.parity.rc"
  python3 - "$res" "$m" <<'PY'
import sys
sys.path.insert(0, "bench")
from parity_report import summary
res, m = sys.argv[1:3]
got = summary(res, m)
if got:
    print(f"{m} parity vs ORT, batch 1 (rtol 1e-3, atol 1e-4): {'pass' if got[1] else 'FAIL'}, max abs error {got[0]:.3g}")
else:
    err = open(f"{res}/{m}.parity.txt").read().strip().splitlines()
    rc = open(f"{res}/{m}.parity.rc").read().strip()
    print(f"{m} parity: zoo parity failed (exit {rc}): {err[-1] if err else 'no output'}")
PY
done

python3 - "$res" "$models" "$threads" "$procs" > "$out/runtime.md" <<'PY'
import glob, json, os, re, sys
sys.path.insert(0, "bench")
from parity_report import summary
res, models, threads, procs = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]

def read(path):
    return open(path).read() if os.path.exists(path) else ""

def runs(m, b, engine):
    """(median ms, peak RSS KiB) per process; None for the whole engine when a zoo run failed."""
    out = []
    for f in sorted(glob.glob(f"{res}/{m}.b{b}.p*.{engine}.rss")):
        base = f[: -len(".rss")]
        rss = read(f).split()
        kib = int(rss[-1]) if rss and rss[-1].isdigit() else None
        if engine == "ort":
            out.append((json.loads(read(base + ".json"))["median_ms"], kib))
        else:
            hit = re.search(r"^latency: median ([0-9.]+) ms", read(base + ".txt"), re.M)
            if read(base + ".rc").strip() != "0" or not hit:
                return None
            out.append((float(hit.group(1)), kib))
    return out or None

def best(rs):  # best median over processes, worst peak RSS
    return (None, None) if not rs else (min(r[0] for r in rs), max((r[1] or 0) for r in rs) / 1024)

def parity(m):
    got = summary(res, m)
    if not got:
        return "zoo parity failed"
    return f"{got[0]:.2g} ({'pass' if got[1] else '**FAIL**'})"

f = lambda v, d=1: "failed" if v is None else f"{v:.{d}f}"
print(f"Threads: {threads} for both engines. Batch 1: median latency (ms) of 20 runs after warm-up; batch 8 and 32: "
      f"images/s from the median of 10 (5) runs; each the best of {procs} fresh processes per engine, run interleaved. "
      "Ratios are zoo / ORT: latency < 1 and throughput > 1 mean zoo is faster. Peak RSS: whole process, "
      "batch 1 / 8 / 32, MiB. Parity: zoo vs ORT on the batch-1 output, rtol 1e-3, atol 1e-4.")
print()
print("| model | b1 zoo ms | b1 ORT ms | b1 ratio | b8 zoo img/s | b8 ORT img/s | b8 ratio | b32 zoo img/s | b32 ORT img/s | b32 ratio | peak RSS zoo | peak RSS ORT | parity max abs error |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
import glob
for m in models:
    if not glob.glob(f"{res}/{m}.b1.*"):
        print(f"| {m} | skipped (no model: see the note above) | | | | | | | | | | | |")
        continue
    (z1, zr1), (z8, zr8), (z32, zr32) = (best(runs(m, b, "zoo")) for b in (1, 8, 32))
    (o1, or1), (o8, or8), (o32, or32) = (best(runs(m, b, "ort")) for b in (1, 8, 32))
    tput = lambda b, ms: None if ms is None else b * 1e3 / ms
    zt8, ot8, zt32, ot32 = tput(8, z8), tput(8, o8), tput(32, z32), tput(32, o32)
    ratio = lambda a, b: None if a is None or b is None else a / b
    print(f"| {m} | {f(z1, 2)} | {f(o1, 2)} | {f(ratio(z1, o1), 2)} | {f(zt8)} | {f(ot8)} | {f(ratio(zt8, ot8), 2)} | "
          f"{f(zt32)} | {f(ot32)} | {f(ratio(zt32, ot32), 2)} | "
          f"{f(zr1, 0)} / {f(zr8, 0)} / {f(zr32, 0)} | {f(or1, 0)} / {f(or8, 0)} / {f(or32, 0)} | {parity(m)} |")
PY
echo
cat "$out/runtime.md"
echo "written to $out/runtime.md"
