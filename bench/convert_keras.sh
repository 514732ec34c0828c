#!/usr/bin/env bash
# Times `zoo convert` of a full-size VGG16 legacy Keras .h5 (~553 MB, random
# weights) against `cp` of the same file, in one run, with peak memory.
# Needs the Keras venv for the generator: KERAS_PYTHON=/path/to/venv/bin/python
# (see fixtures/generator/requirements-keras.txt). Nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
py=${KERAS_PYTHON:-python3}
mkdir -p "$out"
scripts/setup.sh --bench
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
src="$out/vgg16.h5"
[ -f "$src" ] || "$py" bench/make_vgg16_h5.py "$src"
size=$(stat -c %s "$src")
cat "$src" > /dev/null
echo "source: $src ($size bytes), $(nproc) cores"
# Each run writes a fresh file with no dirty pages left from the last one
# (outputs removed, disk synced before every timed command).
hyperfine --warmup 1 --runs 10 --export-json "$out/convert_keras.json" \
  --prepare "rm -f $out/copy.h5 $out/vgg16.zoo; sync" \
  -n "cp" "cp $src $out/copy.h5" \
  -n "cp + sync" "cp $src $out/copy.h5 && sync $out/copy.h5" \
  -n "zoo convert" "$zoo convert $src -o $out/vgg16.zoo"
peak=$(/usr/bin/time -f "%M" "$zoo" convert "$src" -o "$out/vgg16.zoo" 2>&1 >/dev/null | tail -n 1)
"$zoo" verify "$out/vgg16.zoo"
rm -f "$out/copy.h5"
python3 bench/convert_summary.py "$out/convert_keras.json" "$peak" "$size"
