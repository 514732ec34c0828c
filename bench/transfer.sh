#!/usr/bin/env bash
# Transfer-learning throughput, side by side in one run (issue #15's targets):
#  1. zoo features on 500 JPEGs (400x300) with ResNet50 (random weights,
#     bench/make_models.py) at batch 32, against the Python pipeline people use:
#     PIL decode + torchvision's ImageNet transform (PIL bilinear + numpy) +
#     onnxruntime at batch 32 (bench/python_pipeline.py). Both with THREADS threads.
#  2. Decode + preprocess alone: zoo (zoo-bench decode, THREADS threads) against the
#     same PIL code in one process (as the pipeline above runs it) and in one
#     process per core with the files split between them (a DataLoader with workers).
#  3. Head training: 2,000 x 2,048 features, 10 classes, 100 L-BFGS epochs (zoo-bench head).
# Runs are interleaved (Python, zoo, Python, zoo) and each side keeps its best.
# Usage: bench/transfer.sh [OUT_DIR]   (default bench/out; nothing here is committed)
#   THREADS=2  RUNS=2  VENV=/tmp/zoo-transfer-venv
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
threads=${THREADS:-2}
runs=${RUNS:-2}
venv=${VENV:-/tmp/zoo-transfer-venv}
data="$out/transfer"
mkdir -p "$data" "$out/models"
scripts/setup.sh --bench
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import PIL, onnxruntime, onnx" 2>/dev/null || "$venv/bin/pip" install -q -r bench/requirements-transfer.txt
py="$venv/bin/python"
swift build -c release --product zoo >/dev/null
swift build -c release --product zoo-bench >/dev/null
bin=$(swift build -c release --show-bin-path)
[ -f "$out/models/resnet50.onnx" ] || "$py" bench/make_models.py "$out/models" --only resnet50
rm -f "$data/head.f32"; "$py" bench/make_transfer_data.py "$data"
"$bin/zoo" convert "$out/models/resnet50.onnx" -o "$data/resnet50.zoo" --preprocess torchvision --size 224,224 -f >/dev/null
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), THREADS=$threads, RUNS=$runs," \
  "onnxruntime $("$py" -c 'import onnxruntime; print(onnxruntime.__version__)'), Pillow $("$py" -c 'import PIL; print(PIL.__version__)')"
rate() { "$py" -c 'import json, sys; print("%.1f" % json.loads(sys.stdin.read())["imagesPerSecond"])'; }
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }
cat "$data"/images/*/*.jpg "$data/resnet50.zoo" "$out/models/resnet50.onnx" >/dev/null

py_rates=() zoo_rates=()
for r in $(seq "$runs"); do
  py_rates+=("$("$py" bench/python_pipeline.py "$out/models/resnet50.onnx" "$data/images" --batch 32 --threads "$threads" | rate)")
  zoo_rates+=("$("$bin/zoo" features "$data/resnet50.zoo" "$data/images" --batch 32 --threads "$threads" -o "$data/features.npz" --json | rate)")
done
p=$(best "${py_rates[@]}") z=$(best "${zoo_rates[@]}")
echo "features, ResNet50 batch 32, 500 JPEGs: Python (PIL + onnxruntime) ${py_rates[*]} images/s; zoo ${zoo_rates[*]} images/s; best zoo/Python = $(python3 -c "print('%.2f' % ($z / $p))")"

dpy=() dzoo=() dpy1=()
for r in $(seq "$runs"); do
  # PIL as the pipeline above runs it: one process, decoding in the main loop.
  dpy1+=("$("$py" bench/python_pipeline.py none "$data/images" --decode-only | rate)")
  # PIL in one process per core, the files split between them (what a DataLoader with workers does);
  # each worker times its own loop (interpreter start-up is not counted), the slowest one decides.
  files=("$data"/images/*/*.jpg)
  n=${#files[@]}
  for k in $(seq 0 $((threads - 1))); do
    "$py" - "$k" "$threads" "${files[@]}" > "$data/pil-worker-$k.txt" <<'PY' &
import sys, time
sys.path.insert(0, "bench")
from python_pipeline import prepare
k, t = int(sys.argv[1]), int(sys.argv[2])
mine = sys.argv[3:][k::t]
t0 = time.perf_counter()
for p in mine:
    prepare(p)
print(time.perf_counter() - t0)
PY
  done
  wait
  slowest=$(cat "$data"/pil-worker-*.txt | sort -g | tail -n 1)
  dpy+=("$(python3 -c "print('%.1f' % ($n / $slowest))")")
  dzoo+=("$("$bin/zoo-bench" decode "$data/images" 224 224 torchvision 256 | rate)")
done
p=$(best "${dpy[@]}") z=$(best "${dzoo[@]}") p1=$(best "${dpy1[@]}")
echo "decode + preprocess (resize 256, crop 224, normalise): PIL 1 process ${dpy1[*]} images/s; PIL $threads processes ${dpy[*]} images/s; zoo ($threads threads) ${dzoo[*]} images/s; best zoo/PIL(1 process) = $(python3 -c "print('%.2f' % ($z / $p1))"), zoo/PIL($threads processes) = $(python3 -c "print('%.2f' % ($z / $p))")"

"$bin/zoo-bench" head "$data/head.f32" "$data/head.i64" 2000 2048 10 100 | "$py" -c '
import json, sys
r = json.loads(sys.stdin.read())
print("head training, 2,000 x 2,048 features, 10 classes: %d L-BFGS epochs in %.2f s (train accuracy %.3f)" % (r["epochs"], r["seconds"], r["trainAccuracy"]))'
