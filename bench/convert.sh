#!/usr/bin/env bash
# Times `zoo convert` of a full-size VGG19-shaped ONNX model (~575 MB, random
# weights) against `cp` of the same file, in one run, and reports peak memory.
# Usage: bench/convert.sh [OUT_DIR]   (default bench/out; nothing here is committed)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
mkdir -p "$out"
scripts/setup.sh --bench
python3 -c "import onnx" 2>/dev/null || python3 -m pip install -q -r fixtures/generator/requirements.txt
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
src="$out/vgg19.onnx"
[ -f "$src" ] || python3 bench/make_vgg19_onnx.py "$src"
size=$(stat -c %s "$src")
cat "$src" > /dev/null
echo "source: $src ($size bytes), $(nproc) cores"

# Each run writes a fresh file with no dirty pages left from the last one
# (outputs removed, disk synced before every timed command).
hyperfine --warmup 1 --runs 10 --export-json "$out/convert.json" \
  --prepare "rm -f $out/copy.onnx $out/vgg19.zoo; sync" \
  -n "cp" "cp $src $out/copy.onnx" \
  -n "cp + sync" "cp $src $out/copy.onnx && sync $out/copy.onnx" \
  -n "zoo convert" "$zoo convert $src -o $out/vgg19.zoo"

peak() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1; }
zc=$(peak "$zoo" convert "$src" -o "$out/vgg19.zoo")
"$zoo" verify "$out/vgg19.zoo"
rm -f "$out/copy.onnx"
python3 bench/convert_summary.py "$out/convert.json" "$zc" "$size" 2.5
