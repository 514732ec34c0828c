#!/usr/bin/env bash
# The main job on the bundled default: build zoo, convert a bundled ONNX model
# (a ResNet bottleneck block made by fixtures/generator) into .zoo, then
# inspect and verify it. Later stages (registry, parity) join as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product zoo
zoo="$(swift build -c release --show-bin-path)/zoo"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== zoo convert fixtures/onnx/resnet_bottleneck.onnx"
"$zoo" convert fixtures/onnx/resnet_bottleneck.onnx -o "$out/resnet_bottleneck.zoo"
echo
echo "== zoo inspect"
"$zoo" inspect "$out/resnet_bottleneck.zoo"
echo
echo "== zoo verify"
"$zoo" verify "$out/resnet_bottleneck.zoo" fixtures/zoo/tiny-mlp.zoo
