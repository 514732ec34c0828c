#!/usr/bin/env bash
# Resource bombs (issue #18, deliverable 5): bench/make_bombs.py writes small files that claim
# huge sizes (zip and gzip bombs, a 10^15-element .npy, a .zoo header at and over its cap,
# 10,000-deep JSON, a 10^6-node ONNX graph, a 10 TB HDF5 dataset); each goes through the zoo
# command a user would run, under /usr/bin/time -v, in a fresh directory with its own TMPDIR.
# Records exit status, the error line, peak RSS, wall time and anything left on disk.
# Usage: bench/bombs.sh [OUT_DIR]   (default bench/out; the bombs themselves go to OUT_DIR/bombs/files)
#   VENV=/tmp/zoo-bombs-venv   where the generator's pinned environment is created
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}/bombs
venv=${VENV:-/tmp/zoo-bombs-venv}
mkdir -p "$out"
scripts/setup.sh --bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q -r bench/requirements-bombs.txt
fi
swift build -c release > "$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; exit 1; }
zoo=$(swift build -c release --show-bin-path)/zoo
rm -rf "$out/files"
"$venv/bin/python" bench/make_bombs.py "$out/files" > "$out/sizes.txt"
python3 bench/run_bombs.py "$zoo" "$out/files" | tee "$out/bombs.md"
