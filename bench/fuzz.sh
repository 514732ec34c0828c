#!/usr/bin/env bash
# Coverage-guided fuzzing of zoo's parsers (issue #18): builds the libFuzzer harnesses of Fuzz/
# (one executable per parser entry point, -sanitize=fuzzer,address, zoo's own modules
# instrumented too), seeds each corpus from the committed fixtures, runs each harness for
# FUZZ_SECONDS (per-input timeout 2 s, RSS limit 2 GB), and reports executions, coverage and
# findings per harness. Each finding (crash, leak, timeout, OOM) is copied to
# fixtures/fuzz/<harness>/ for `swift test` to replay (FuzzRegressionTests).
# Fuzz/dict/<harness>.dict, where present, is passed with -dict (keys, signatures, field tags).
# Usage: bench/fuzz.sh [OUT_DIR]   (default bench/out; corpora and logs there, not committed)
#   FUZZ_SECONDS=600     per harness
#   FUZZ_RUNS=N          also stop a harness after N executions (then FUZZ_SECONDS is a cap)
#   FUZZ_TARGETS=a,b     a subset (names as in Fuzz/Package.swift)
#   FUZZ_APPEND=1        add rows to an existing fuzz.md instead of starting a new table
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}/fuzz
seconds=${FUZZ_SECONDS:-600}
all=zoo-header,onnx-import,keras-config,keras-archive,embeddings,npy,catalog,oci-manifest,http-headers,image-decode
IFS=, read -r -a targets <<< "${FUZZ_TARGETS:-$all}"
mkdir -p "$out"
scripts/setup.sh
(cd Fuzz && swift build -c release --build-path ../.build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld) > "$out/build.log" 2>&1 \
  || { tail -n 30 "$out/build.log"; exit 1; }
bin=$(cd Fuzz && swift build -c release --build-path ../.build-fuzz --show-bin-path)

seed() {  # seed DIR: copy the committed files that exercise harness $1
  local t=$1 d=$2
  mkdir -p "$d"
  case "$t" in
    zoo-header) find fixtures/zoo -name '*.zoo' -size -2M -exec cp {} "$d" \; ;;
    onnx-import) find fixtures/onnx -name '*.onnx' -size -2M -exec cp {} "$d" \; ;;
    keras-config) python3 - "$d" <<'PY'
import glob, os, sys, zipfile
d = sys.argv[1]
for i, f in enumerate(sorted(glob.glob("fixtures/keras/**/*.json", recursive=True))[:200]):
    open(os.path.join(d, f"json{i}"), "wb").write(open(f, "rb").read())
for i, f in enumerate(sorted(glob.glob("fixtures/keras/**/*.keras", recursive=True))[:100]):
    try:
        with zipfile.ZipFile(f) as z:
            open(os.path.join(d, f"keras{i}"), "wb").write(z.read("config.json"))
    except Exception:
        pass
PY
    ;;
    keras-archive) python3 - "$d" <<'PY'
import glob, os, sys, zipfile
d = sys.argv[1]
# Each .keras fixture rewritten small: its config and metadata, the weights cut to their first
# 96 bytes (the harness stops before HDF5), stored and deflated, so runs stay fast.
for i, f in enumerate(sorted(glob.glob("fixtures/keras/**/*.keras", recursive=True))):
    with zipfile.ZipFile(f) as z:
        members = {n: z.read(n) for n in z.namelist()}
    for method, tag in ((zipfile.ZIP_STORED, "s"), (zipfile.ZIP_DEFLATED, "d")):
        with zipfile.ZipFile(os.path.join(d, f"k{i}{tag}.keras"), "w", method) as z:
            for n, data in members.items():
                z.writestr(n, data[:96] if n.endswith(".h5") else data)
PY
    ;;
    embeddings) python3 - "$d" <<'PY'
import glob, os, sys
d = sys.argv[1]
# The harness's first byte picks the format: 0 w2v text, 1 w2v binary, 2 GloVe, 3 w2v text .gz, 4 binary .gz, 5 GloVe .zip.
pick = {".txt": [0, 2], ".bin": [1], ".vec": [0], ".gz": [3, 4], ".zip": [5]}
for i, f in enumerate(sorted(glob.glob("fixtures/embeddings/*"))):
    ext = os.path.splitext(f)[1]
    if os.path.getsize(f) > 1 << 20:
        continue
    for k in pick.get(ext, []):
        open(os.path.join(d, f"e{i}_{k}"), "wb").write(bytes([k]) + open(f, "rb").read())
PY
    ;;
    npy) (find fixtures/onnx -name '*.npy' -size -256k || true) | sort | sed -n '1,100p' | xargs -I{} cp {} "$d" ;;
    catalog) cp zoo.json "$d/"; find fixtures -name '*catalog*.json' -size -1M -exec cp {} "$d" \; ;;
    oci-manifest) python3 - "$d" <<'PY'
import json, os, sys
d = sys.argv[1]
h = "sha256:" + "ab" * 32
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.zoo.model.v1",
     "config": {"mediaType": "application/vnd.zoo.model.card.v1+json", "digest": h, "size": 600},
     "layers": [{"mediaType": "application/vnd.zoo.model.layer.v1.zoo", "digest": h, "size": 12824,
                 "annotations": {"org.opencontainers.image.title": "m.zoo"}}],
     "annotations": {"org.zoo.model.digest": h}}
open(os.path.join(d, "manifest"), "w").write(json.dumps(m))
i = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
     "manifests": [{"mediaType": m["mediaType"], "digest": h, "size": 700, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}
open(os.path.join(d, "index"), "w").write(json.dumps(i))
PY
    ;;
    http-headers) printf '%s' 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"' > "$d/bearer"
      printf '%s' 'Basic realm="zoo-test"' > "$d/basic"; printf '%s' '0-65535' > "$d/range"
      printf '%s' 'registry.example.com:5000/team/model:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000' > "$d/ref"
      printf '%s' '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}' > "$d/errors" ;;
    image-decode) (find fixtures/vision -type f \( -name '*.jpg' -o -name '*.png' -o -name '*.bmp' -o -name '*.gif' \) -size -200k || true) | sort | sed -n '1,150p' | xargs -I{} cp {} "$d" ;;
  esac
}

[ -f "$out/fuzz.md" ] && [ -n "${FUZZ_APPEND:-}" ] || printf '| harness | executions | exec/s | coverage (cov / ft) | corpus | crashes | leaks | timeouts | OOMs |\n|---|---|---|---|---|---|---|---|---|\n' > "$out/fuzz.md"
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t" seeds="$out/seeds/$t" art="$out/artifacts/$t/"
  # Findings of earlier runs are in fixtures/fuzz/ already; this run's start from none.
  rm -rf "$seeds" "$art"; seed "$t" "$seeds"
  mkdir -p "$corpus" "$art"
  rc=0 dict=() extra=()
  [ -f "Fuzz/dict/$t.dict" ] && dict=(-dict="Fuzz/dict/$t.dict")
  [ -n "${FUZZ_RUNS:-}" ] && extra+=(-runs="$FUZZ_RUNS")
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=Fuzz/lsan.supp SWIFT_BACKTRACE=enable=no "$bin/fuzz-$t" "$corpus" "$seeds" -max_total_time="$seconds" -timeout=2 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" -close_fd_mask=3 "${dict[@]}" "${extra[@]}" > "$out/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -n 1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log" | tail -n 1 || true)
  cov=$( (grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$out/$t.log" || true) | tail -n 1 | sed 's/cov: //; s/ ft: / \/ /')
  files=$(find "$corpus" -type f | wc -l)
  count() { find "$art" -name "$1-*" | wc -l; }
  c=$(count crash) l=$(count leak) to=$(count timeout) o=$(count oom)
  # A leak LeakSanitizer reports at exit rather than per input has no input to save; count it from the log.
  if [ "$l" -eq 0 ] && grep -q "ERROR: LeakSanitizer" "$out/$t.log"; then l=1; fi
  for f in "$art"*; do
    [ -f "$f" ] || continue
    mkdir -p "fixtures/fuzz/$t"; cp "$f" "fixtures/fuzz/$t/"
  done
  echo "$t: ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?}, corpus $files, crashes $c, leaks $l, timeouts $to, OOMs $o (exit $rc)"
  echo "| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | $files | $c | $l | $to | $o |" >> "$out/fuzz.md"
done
echo; cat "$out/fuzz.md"; echo "written to $out/fuzz.md"
