#!/usr/bin/env bash
# The main job on the bundled default: build zoo, then inspect and verify the
# bundled demo model. Later stages (convert, parity) join as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product zoo
zoo="$(swift build -c release --show-bin-path)/zoo"
model=fixtures/zoo/tiny-mlp.zoo
echo "== zoo inspect $model"
"$zoo" inspect "$model"
echo
echo "== zoo verify $model"
"$zoo" verify "$model"
