#!/usr/bin/env bash
# Mutation survey of every source format through `zoo convert` (issue #18, deliverable 3): builds
# the release binary and runs bench/mutate_cli.py (RUNS per format, default 3000; see its
# docstring for what counts as ok, refused, long, hang, crash and leftover). Mutants that hang,
# crash, leave files or print an unbounded error are kept in OUT_DIR/mutants for fixtures.
# Usage: bench/mutate_cli.sh [OUT_DIR]   (default bench/out)   RUNS=3000 FORMATS=hdf5,keras,onnx,embeddings
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}/mutate
mkdir -p "$out"
scripts/setup.sh
swift build -c release > "$out/build.log" 2>&1 || { tail -n 30 "$out/build.log"; exit 1; }
zoo=$(swift build -c release --show-bin-path)/zoo
python3 bench/mutate_cli.py --zoo "$zoo" --runs "${RUNS:-3000}" --formats "${FORMATS:-hdf5,keras,onnx,embeddings}" \
  --keep "$out/mutants" | tee "$out/mutate.log"
