#!/usr/bin/env bash
# Regenerate the C bindings for Protos/onnx.proto with protoc-c.
#
#   Protos/onnx.proto  ->  Sources/CONNXProto/onnx.pb-c.c
#                          Sources/CONNXProto/include/onnx.pb-c.h
#
# Needs protoc-c (Debian/Ubuntu: protobuf-c-compiler) and, to build the
# result, libprotobuf-c-dev. Run from anywhere; paths are repo-relative.
set -euo pipefail

cd "$(dirname "$0")/.."

command -v protoc-c >/dev/null || { echo "error: protoc-c not found (apt install protobuf-c-compiler)" >&2; exit 1; }

out=Sources/CONNXProto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

protoc-c --proto_path=Protos --c_out="$tmp" Protos/onnx.proto

mkdir -p "$out/include"
# The .c file does `#include "onnx.pb-c.h"`; SwiftPM puts include/ on the
# header search path of the C target, so no rewriting is needed.
grep -q '^#include "onnx.pb-c.h"' "$tmp/onnx.pb-c.c" \
  || { echo "error: unexpected #include line in generated onnx.pb-c.c" >&2; exit 1; }
mv "$tmp/onnx.pb-c.c" "$out/onnx.pb-c.c"
mv "$tmp/onnx.pb-c.h" "$out/include/onnx.pb-c.h"

echo "generated $out/onnx.pb-c.c and $out/include/onnx.pb-c.h ($(protoc-c --version | head -1))"
