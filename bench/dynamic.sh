#!/usr/bin/env bash
# Dynamic shapes and the op registry (issue 11), measured side by side in one run:
#  1. fixed-shape latency: the zoo built from BASELINE (the commit before the op registry and plan
#     cache) against the zoo built from the work tree, on full-size ResNet50, VGG16, MobileNetV2 and
#     InceptionV3 (bench/make_models.py, random weights), batch 1, interleaved processes;
#  2. planning: the time of the first run's plan (the one run that plans; later runs reuse it);
#  3. a ResNet50 declared [N, 3, H, W] run at new sizes: plan time per size, latency against
#     onnxruntime on the same file, and parity with onnxruntime at each size.
# Usage: bench/dynamic.sh [OUT_DIR]   (default bench/out; nothing here is committed)
#   THREADS=2  PROCS=3  BASELINE=5808d14  MODELS=resnet50,vgg16,mobilenetv2,inception_v3
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
threads=${THREADS:-2}
procs=${PROCS:-3}
baseline=${BASELINE:-5808d14}
models=${MODELS:-resnet50,vgg16,mobilenetv2,inception_v3}
mdir="$out/models" res="$out/dynamic"
mkdir -p "$mdir" "$res"
scripts/setup.sh --bench
python3 -c "import onnx, onnxruntime" 2>/dev/null || python3 -m pip install -q -r fixtures/generator/requirements.txt

# Two release builds, one after the other (never two swift builds at once).
src="$out/baseline-src"
if [ ! -d "$src/.git" ] && [ ! -f "$src/.git" ]; then git worktree add --detach "$src" "$baseline" >/dev/null; fi
git -C "$src" checkout -q --detach "$baseline"
(cd "$src" && swift build -c release --product zoo --scratch-path .build-release >/dev/null)
old="$src/.build-release/release/zoo"
swift build -c release --product zoo >/dev/null
new=$(swift build -c release --show-bin-path)/zoo
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), THREADS=$threads, PROCS=$procs, baseline $(git -C "$src" rev-parse --short HEAD), work tree $(git rev-parse --short HEAD)"
median() { sed -n 's/^latency: median \([0-9.]*\) ms.*/\1/p' "$1" | head -n 1; }
plan() { sed -n 's/^plan: \([0-9.]*\) ms.*/\1/p' "$1" | head -n 1; }
best() { printf '%s\n' "$@" | sort -g | head -n 1; }

echo
echo "| model | baseline ms | registry + plan cache ms | ratio | first-run plan ms |"
echo "|---|---|---|---|---|"
IFS=, read -r -a names <<< "$models"
for m in "${names[@]}"; do
  case "$m" in inception_v3) size=299 ;; *) size=224 ;; esac
  [ -f "$mdir/$m.onnx" ] || python3 bench/make_models.py "$mdir" --only "$m" >/dev/null
  "$old" convert "$mdir/$m.onnx" -o "$res/$m.old.zoo" >/dev/null
  "$new" convert "$mdir/$m.onnx" -o "$res/$m.new.zoo" >/dev/null
  x="$mdir/input_${size}_b1.npy"
  [ -f "$x" ] || python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(1).standard_normal((1, 3, $size, $size), dtype=np.float32))" "$x"
  o=() n=() p=()
  for i in $(seq 1 "$procs"); do
    "$old" run "$res/$m.old.zoo" --input "$x" --threads "$threads" --repeat 20 --timing >/dev/null 2>"$res/$m.old.$i.txt"
    "$new" run "$res/$m.new.zoo" --input "$x" --threads "$threads" --repeat 20 --timing >/dev/null 2>"$res/$m.new.$i.txt"
    o+=("$(median "$res/$m.old.$i.txt")") n+=("$(median "$res/$m.new.$i.txt")") p+=("$(plan "$res/$m.new.$i.txt")")
  done
  bo=$(best "${o[@]}") bn=$(best "${n[@]}")
  echo "| $m | $bo (${o[*]}) | $bn (${n[*]}) | $(python3 -c "print('%.3f' % ($bn / $bo))") | $(best "${p[@]}") |"
done

echo
echo "ResNet50 with input [N, 3, H, W]: one plan per new size (each size in a fresh process: the plan is its first run)"
echo "| size | plan ms | zoo ms | onnxruntime ms | zoo / ORT | parity vs ORT |"
echo "|---|---|---|---|---|---|"
[ -f "$mdir/resnet50_dynamic.onnx" ] || python3 bench/make_models.py "$mdir" --only resnet50 --dynamic --no-check >/dev/null
"$new" convert "$mdir/resnet50_dynamic.onnx" -o "$res/resnet50_dynamic.zoo" >/dev/null
for hw in "224 224" "256 256" "320 240" "193 301"; do
  set -- $hw
  x="$res/input_${1}x${2}.npy"
  python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(2).standard_normal((1, 3, $1, $2), dtype=np.float32))" "$x"
  python3 bench/ort_latency.py "$mdir/resnet50_dynamic.onnx" "$x" --threads "$threads" --warmup 3 --runs 10 --save-output "$res/ort_${1}x${2}.npy" > "$res/ort_${1}x${2}.json"
  "$new" run "$res/resnet50_dynamic.zoo" --input "$x" --threads "$threads" --repeat 10 --timing >/dev/null 2>"$res/zoo_${1}x${2}.txt"
  ort=$(python3 -c 'import json, sys; print("%.2f" % json.load(open(sys.argv[1]))["median_ms"])' "$res/ort_${1}x${2}.json")
  zm=$(median "$res/zoo_${1}x${2}.txt")
  verdict=$("$new" parity "$res/resnet50_dynamic.zoo" --input "$x" --expect "$res/ort_${1}x${2}.npy" >/dev/null 2>&1 && echo pass || echo FAIL)
  echo "| ${1}x${2} | $(plan "$res/zoo_${1}x${2}.txt") | $zm | $ort | $(python3 -c "print('%.2f' % ($zm / $ort))") | $verdict |"
done
