#!/usr/bin/env bash
# Importing a synthetic 3,000,000 x 300 word2vec binary (~3.6 GB): zoo convert vs
# gensim's KeyedVectors.load_word2vec_format vs cp, same run; then the
# per-query time of zoo similar after load.
# GENSIM_PYTHON=/path/to/venv/bin/python (fixtures/generator/requirements-embeddings.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
mkdir -p "$out"
py=${GENSIM_PYTHON:-python3}
scripts/setup.sh --bench
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
src="$out/w2v-3m.bin"
[ -f "$src" ] || python3 bench/make_word2vec.py "$src"
cat "$src" > /dev/null
echo "source: $src ($(stat -c %s "$src") bytes), $(nproc) cores"
# Each run writes a fresh file with no dirty pages left from the last one:
# the outputs are removed (freeing 3.6 GB of blocks is not part of either
# job) and the disk synced before every timed command.
hyperfine --warmup 1 --runs 5 --export-json "$out/embeddings.json" \
  --prepare "rm -f $out/copy.bin $out/w2v-3m.zoo; sync" \
  -n "cp" "cp $src $out/copy.bin" \
  -n "zoo convert" "$zoo convert $src -o $out/w2v-3m.zoo" \
  -n "gensim load_word2vec_format" "$py -c \"from gensim.models import KeyedVectors; KeyedVectors.load_word2vec_format('$src', binary=True)\""
rm -f "$out/copy.bin"
[ -f "$out/w2v-3m.zoo" ] || "$zoo" convert "$src" -o "$out/w2v-3m.zoo" >/dev/null
"$zoo" similar "$out/w2v-3m.zoo" w12345_x -k 10 --timing >/dev/null
python3 - "$out/embeddings.json" <<'PY'
import json, sys
res = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for stat in ("mean", "median"):
    cp, z, g = (res[k][stat] for k in ("cp", "zoo convert", "gensim load_word2vec_format"))
    print(f"\n{stat}: cp {cp:.2f} s, zoo convert {z:.2f} s, gensim {g:.2f} s")
    print(f"  zoo vs gensim: {g / z:.1f}x faster (target >= 5); zoo / cp = {z / cp:.2f} (target <= 2)")
PY
