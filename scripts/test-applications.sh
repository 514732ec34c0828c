#!/usr/bin/env bash
# Opt-in suite (`make test-applications`): every Keras model x variant of the catalog (top and notop),
# full size with seeded random weights, as the weights-only legacy .h5 keras.applications publishes,
# converted with no flags (zoo recognises the architecture by the weights), then run against what
# Keras computed: top at its input size, notop at three sizes.
# Usage: scripts/test-applications.sh [OUT_DIR]   (default bench/out/applications; never committed)
#   ONLY=keras-vgg16,keras-mobilenet   a subset of catalog names
#   VENV=/tmp/keras-venv               the pinned Keras virtualenv (created when missing)
#   ZOO=path/to/zoo                    use this zoo binary instead of building one
#   REGENERATE=1                       make the models anew (they are kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out/applications}
venv=${VENV:-/tmp/keras-venv}
mkdir -p "$out"
scripts/setup.sh
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-deps -r fixtures/generator/requirements-keras.txt
fi
# The generated models are kept between runs; REGENERATE=1 (or a different ONLY) makes them anew.
if [ "${REGENERATE:-0}" = 1 ] || ! grep -q '"expected_id"' "$out/index.json" 2>/dev/null || [ "$(cat "$out/.only" 2>/dev/null)" != "${ONLY:-}" ]; then
  "$venv/bin/python" fixtures/generator/make_applications.py "$out" ${ONLY:+--only "$ONLY"} 2>&1 | grep -v "^W0000\|warn" || true
  echo "${ONLY:-}" > "$out/.only"
fi
if [ -n "${ZOO:-}" ]; then zoo=$ZOO; else
  swift build -c release --product zoo >/dev/null
  zoo=$(swift build -c release --show-bin-path)/zoo
fi
echo
echo "| model | recognised as | size | max abs err | max rel err | cosine | parity (rtol 1e-4, atol 1e-5·max(1, max|ref|)) |"
echo "|---|---|---|---|---|---|---|"
fail=0
while IFS=$'\t' read -r name expected weights runs; do
  if ! "$zoo" convert "$out/$weights" -o "$out/$name.zoo" >/dev/null 2> "$out/$name.convert.err"; then
    echo "| $name | conversion failed: $(head -c 300 "$out/$name.convert.err") | | | | | FAIL |"
    fail=1
    continue
  fi
  got=$("$zoo" inspect "$out/$name.zoo" --json | python3 -c 'import json, sys; print((json.load(sys.stdin)["card"].get("metadata") or {}).get("keras.application", "?"))')
  [ "$got" = "$expected" ] || fail=1
  while IFS=$'\t' read -r size input output maxabs; do
    atol=$(python3 -c "print(1e-5 * max(1.0, $maxabs))")
    rc=0
    "$zoo" parity "$out/$name.zoo" --input "$out/$input" --expect "$out/$output" --atol "$atol" --json > "$out/$name.$size.json" 2> "$out/$name.$size.err" || rc=$?
    python3 - "$out/$name.$size.json" "$name" "$size" "$rc" "$got" "$expected" <<'PY'
import json, sys
path, name, size, rc, got, expected = sys.argv[1:]
label = got if got == expected else f"{got} (expected {expected})"
try:
    r = json.load(open(path))[0]
    print(f"| {name} | {label} | {size} | {r['maxAbsError']:.3g} | {r['maxRelError']:.3g} | {r['cosine']:.8f} | {'pass' if r['passed'] else 'FAIL'} |")
except Exception:
    print(f"| {name} | {label} | {size} | error (exit {rc}): {open(path[:-5] + '.err').read().strip()[:200]} | | | FAIL |")
PY
    [ "$rc" = 0 ] || fail=1
  done < <(echo "$runs" | tr ';' '\n' | tr ',' '\t')
done < <(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    runs = ";".join("%dx%d,%s,%s,%r" % (r["size"][0], r["size"][1], r["input"], r["output"], r["max_abs"]) for r in m["runs"])
    print(m["name"], m["expected_id"], m["weights"], runs, sep="\t")
' "$out/index.json")
exit $fail
