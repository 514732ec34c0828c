#!/usr/bin/env bash
# Installs the Debian packages zoo needs, when they are missing. Idempotent.
#   scripts/setup.sh           build/test dependencies
#   scripts/setup.sh --bench   also the tools the benchmarks use (hyperfine, openssl, time)
#   scripts/setup.sh --fixtures  also protoc-c (to regenerate Sources/CONNXProto)
set -euo pipefail
# docker-registry (the CNCF distribution registry), skopeo and htpasswd (apache2-utils): the OCI tests.
packages=(pkg-config libhdf5-dev libprotobuf-c-dev libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev
          docker-registry skopeo apache2-utils)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(hyperfine openssl time python3-numpy) ;;
    --fixtures) packages+=(protobuf-c-compiler) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 64 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH; install Swift 6 from swift.org" >&2; exit 1; }
