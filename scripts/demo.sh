#!/usr/bin/env bash
# The main job on the bundled defaults, offline: for each bundled ONNX model
# (tiny networks with the topology of each zoo family, made by
# fixtures/generator with reference outputs from onnxruntime):
# convert → verify → run → parity, then a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product zoo
zoo="$(swift build -c release --show-bin-path)/zoo"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== zoo convert fixtures/onnx/resnet_bottleneck.onnx; zoo inspect"
"$zoo" convert fixtures/onnx/resnet_bottleneck.onnx -o "$out/resnet_bottleneck.zoo"
"$zoo" inspect "$out/resnet_bottleneck.zoo"
echo

rows=()
status=0
for name in alexnet_tiny vgg_block resnet_bottleneck mobilenetv2_block inception_block squeezenet_fire densenet_block shufflenet_unit; do
  model="$out/$name.zoo"
  "$zoo" convert "fixtures/onnx/$name.onnx" -o "$model" >/dev/null
  "$zoo" verify "$model" >/dev/null
  "$zoo" run "$model" --input "fixtures/onnx/$name.in0.npy" -o "$out/$name.out.npy"
  if report=$("$zoo" parity "$model" --input "fixtures/onnx/$name.in0.npy" --expect "fixtures/onnx/$name.out0.npy" --json); then
    verdict=pass
  else
    verdict=FAIL
    status=67
  fi
  err=$(printf '%s' "$report" | python3 -c 'import json,sys; print("%.2e" % max(r["maxAbsError"] for r in json.load(sys.stdin)))' 2>/dev/null || echo "?")
  digest=$("$zoo" inspect --json "$model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"][7:19])')
  rows+=("$(printf '%-20s %-14s %-8s %-10s %s' "$name" "$digest" ok "$err" "$verdict")")
done
echo "== convert → verify → run → parity against onnxruntime (bundled models, offline)"
printf '%-20s %-14s %-8s %-10s %s\n' model digest verify "max |err|" parity
printf '%s\n' "${rows[@]}"
exit $status
