#!/usr/bin/env bash
# Times `zoo verify` against `openssl dgst -sha256` on the same ~550 MB .zoo file
# in one run, plus `zoo inspect` (open + list, no hashing) and peak memory.
# Usage: bench/verify.sh [OUT_DIR]   (default bench/out; the file is not kept in git)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
mkdir -p "$out"
scripts/setup.sh --bench
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
file="$out/bench-550mb.zoo"
[ -f "$file" ] || python3 bench/make_zoo.py "$file" --tensors 40 --megabytes 550
size=$(stat -c %s "$file")
cat "$file" > /dev/null   # warm the page cache so both sides read from memory
echo "file: $file ($size bytes), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

hyperfine --warmup 2 --runs 10 --export-json "$out/verify.json" \
  -n "openssl dgst -sha256" "openssl dgst -sha256 $file" \
  -n "zoo verify" "$zoo verify $file" \
  -n "zoo inspect" "$zoo inspect $file"

echo
for i in 1 2 3; do "$zoo" inspect --timing "$file" 2>&1 >/dev/null; done | sed 's/^/in-process: /'

peak() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1; }
echo
zv=$(peak "$zoo" verify "$file")
echo "peak RSS (KiB): zoo verify $zv, openssl $(peak openssl dgst -sha256 "$file"), mapped file $((size / 1024))"
echo "zoo verify beyond the mapped file: $(( (zv - size / 1024) / 1024 )) MiB (target <= 64 MiB)"
python3 - "$out/verify.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
o, z, i = r["openssl dgst -sha256"]["mean"], r["zoo verify"]["mean"], r["zoo inspect"]["mean"]
print(f"\nratio zoo verify / openssl = {z / o:.2f}  (target <= 0.60)")
print(f"openssl {o*1000:.1f} ms, zoo verify {z*1000:.1f} ms, zoo inspect (whole process) {i*1000:.1f} ms")
PY
