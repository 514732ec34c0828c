#!/usr/bin/env bash
# Times `zoo pull URL` of a ~575 MB ONNX model from a loopback HTTP server
# against `curl` download + `zoo convert` of the same file, in one run.
# Usage: bench/pull.sh [OUT_DIR]   (default bench/out; nothing here is committed)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(cd "${1:-bench/out}" 2>/dev/null && pwd || (mkdir -p "${1:-bench/out}" && cd "${1:-bench/out}" && pwd))
scripts/setup.sh --bench
command -v curl >/dev/null || { apt-get install -y -qq curl >/dev/null; }
python3 -c "import onnx" 2>/dev/null || python3 -m pip install -q -r fixtures/generator/requirements.txt
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
src="$out/vgg19.onnx"
[ -f "$src" ] || python3 bench/make_vgg19_onnx.py "$src"
size=$(stat -c %s "$src")
port=8765
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
url="http://127.0.0.1:$port/vgg19.onnx"
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
echo "source: $url ($size bytes), $(nproc) cores"
hyperfine --warmup 1 --runs 5 --export-json "$out/pull.json" \
  -n "curl + zoo convert" "curl -s -o $out/dl.onnx $url && $zoo convert $out/dl.onnx -o $out/dl.zoo" \
  -n "zoo pull" --prepare "rm -rf $out/zoo-home" "ZOO_HOME=$out/zoo-home $zoo pull $url"
rm -rf "$out/zoo-home" "$out/dl.onnx" "$out/dl.zoo"
python3 - "$out/pull.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
a, b = r["curl + zoo convert"]["mean"], r["zoo pull"]["mean"]
print(f"\ncurl + zoo convert {a*1000:.0f} ms, zoo pull {b*1000:.0f} ms, ratio {b / a:.2f} (target <= 1.3)")
PY
