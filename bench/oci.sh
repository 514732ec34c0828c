#!/usr/bin/env bash
# Times zoo push / zoo pull of a ~550 MB model (VGG16, bench/make_models.py) through the
# loopback CNCF distribution registry (Debian docker-registry), against skopeo copying the
# same bytes: push vs `skopeo copy oci:LAYOUT docker://…` (the layout `zoo export` wrote),
# pull vs `skopeo copy docker://… oci:NEW`. Every timed copy goes to a fresh registry with
# empty storage (so no HEAD hits or mounts), and skopeo's blob-info cache lives in a fresh
# HOME. RUNS rounds, interleaved zoo, skopeo, zoo, …; the table keeps each side's median.
# Usage: bench/oci.sh [OUT_DIR]   (default bench/out; nothing here is committed)
#   RUNS=3   rounds per side
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
runs=${RUNS:-3}
mkdir -p "$out/models" "$out/oci"
scripts/setup.sh --bench
swift build -c release --product zoo >/dev/null
zoo=$(swift build -c release --show-bin-path)/zoo
model="$out/models/vgg16.zoo"
if [ ! -f "$model" ]; then
  [ -f "$out/models/vgg16.onnx" ] || python3 bench/make_models.py "$out/models" --only vgg16
  "$zoo" convert "$out/models/vgg16.onnx" -o "$model" -f >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/zoo-oci-bench.XXXXXX")
regpid=""
cleanup() { [ -n "$regpid" ] && kill "$regpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export ZOO_HOME="$work/home" HOME="$work/userhome" XDG_CONFIG_HOME="$work/userhome/.config"
mkdir -p "$HOME"
"$zoo" pull "$model" --name vgg16 >/dev/null
"$zoo" export vgg16 "$work/layout" --tag v1 >/dev/null
bytes=$(stat -c %s "$model")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_registry() {  # a fresh registry with empty storage on $port
  [ -n "$regpid" ] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null || true
  rm -rf "$work/registry"
  mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry/data" "$port" > "$work/registry/config.yml"
  docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
  regpid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.05; done
  echo "oci.sh: the registry did not start" >&2; exit 1
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); python3 -c "print(f'{$t1 - $t0:.3f}')"; }
fresh_home() { rm -rf "$HOME/.local" "$ZOO_HOME/oci" "$ZOO_HOME/downloads"; }

zp=() sp=() zl=() sl=()
for r in $(seq 1 "$runs"); do
  start_registry; fresh_home
  zp+=("$(seconds "$zoo" push vgg16 "oci://127.0.0.1:$port/bench/vgg16:v1")")
  # zoo pull into an empty store, from the registry zoo pushed to.
  rm -rf "$work/pullhome"
  zl+=("$(ZOO_HOME="$work/pullhome" seconds "$zoo" pull "oci://127.0.0.1:$port/bench/vgg16:v1")")
  start_registry; fresh_home
  sp+=("$(seconds skopeo copy --dest-tls-verify=false "oci:$work/layout:v1" "docker://127.0.0.1:$port/bench/vgg16:v1")")
  rm -rf "$work/pulled-layout"
  sl+=("$(seconds skopeo copy --src-tls-verify=false "docker://127.0.0.1:$port/bench/vgg16:v1" "oci:$work/pulled-layout:v1")")
  echo "round $r: push zoo ${zp[-1]} s, skopeo ${sp[-1]} s; pull zoo ${zl[-1]} s, skopeo ${sl[-1]} s"
done
# The pulled model is the pushed one.
"$zoo" --version >/dev/null
ZOO_HOME="$work/pullhome" "$zoo" verify vgg16:v1 >/dev/null
python3 - "$bytes" "${zp[*]}" "${sp[*]}" "${zl[*]}" "${sl[*]}" > "$out/oci.md" <<'PY'
import statistics, sys
size = int(sys.argv[1])
zp, sp, zl, sl = (list(map(float, a.split())) for a in sys.argv[2:6])
m = statistics.median
print(f"Model: VGG16 .zoo, {size / 1e6:.0f} MB, through a loopback docker-registry 2.8 (fresh storage per copy); "
      f"median of {len(zp)} interleaved rounds. Ratio: zoo / skopeo time (target ≤ 1.5).")
print()
print("| direction | zoo s | skopeo s | ratio | zoo MB/s |")
print("|---|---|---|---|---|")
print(f"| push | {m(zp):.2f} | {m(sp):.2f} | {m(zp) / m(sp):.2f} | {size / 1e6 / m(zp):.0f} |")
print(f"| pull | {m(zl):.2f} | {m(sl):.2f} | {m(zl) / m(sl):.2f} | {size / 1e6 / m(zl):.0f} |")
PY
cat "$out/oci.md"
echo "written to $out/oci.md"
