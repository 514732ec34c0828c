#!/usr/bin/env bash
# The main job on the bundled defaults, offline: pull each bundled demo model
# from the catalog (zoo.json: ONNX networks with the topology of each zoo
# family, made by fixtures/generator with reference outputs from onnxruntime)
# → convert → verify → register, then run parity against onnxruntime's
# outputs, and print a summary table. Then transfer learning, offline: a small
# headless Keras backbone from the fixtures (random weights), a committed image
# set of four visually distinct classes, zoo fit on it, zoo classify on held-out
# images. Uses a private registry in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product zoo
zoo="$(swift build -c release --show-bin-path)/zoo"
export ZOO_HOME; ZOO_HOME=$(mktemp -d)
export ZOO_OFFLINE=1
trap 'rm -rf "$ZOO_HOME"' EXIT

echo "== zoo pull demo-resnet_bottleneck; zoo info"
"$zoo" pull demo-resnet_bottleneck --catalog zoo.json
"$zoo" info demo-resnet_bottleneck | head -12
echo

rows=()
status=0
for name in alexnet_tiny vgg_block resnet_bottleneck mobilenetv2_block inception_block squeezenet_fire densenet_block shufflenet_unit; do
  "$zoo" pull "demo-$name" --catalog zoo.json >/dev/null
  "$zoo" verify "demo-$name" >/dev/null
  if report=$("$zoo" parity "demo-$name" --input "fixtures/onnx/$name.in0.npy" --expect "fixtures/onnx/$name.out0.npy" --json); then
    verdict=pass
  else
    verdict=FAIL
    status=67
  fi
  err=$(printf '%s' "$report" | python3 -c 'import json,sys; print("%.2e" % max(r["maxAbsError"] for r in json.load(sys.stdin)))' 2>/dev/null || echo "?")
  digest=$("$zoo" info --json "demo-$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["digest"][7:19])')
  rows+=("$(printf '%-26s %-14s %-8s %-10s %s' "demo-$name" "$digest" ok "$err" "$verdict")")
done
echo "== pull → convert → verify → parity against onnxruntime (bundled models, offline)"
printf '%-26s %-14s %-8s %-10s %s\n' model digest verify "max |err|" parity
printf '%s\n' "${rows[@]}"
echo

echo "== transfer learning: zoo convert a notop backbone → zoo fit on image folders → zoo classify"
work=$(mktemp -d)
trap 'rm -rf "$ZOO_HOME" "$work"' EXIT
"$zoo" convert fixtures/vision/backbone.keras -o "$work/backbone.zoo" --preprocess tf --size 64,64 --name demo-backbone
"$zoo" fit "$work/backbone.zoo" fixtures/vision/demo/train --val fixtures/vision/demo/val --name demo-shapes 2>"$work/fit.log"
tail -1 "$work/fit.log"
"$zoo" classify demo-shapes fixtures/vision/demo/test --top 1 --json | python3 -c '
import json, os, sys
preds = json.load(sys.stdin)["predictions"]
right = 0
for p in preds:
    truth = os.path.basename(p["path"]).split("_")[0]
    guess = p["top"][0]["label"]
    right += guess == truth
    print("  %-20s %-9s %.3f %s" % (os.path.basename(p["path"]), guess, p["top"][0]["score"], "" if guess == truth else "(wrong)"))
print("held-out accuracy: %d/%d" % (right, len(preds)))
'
echo
"$zoo" list
exit $status
