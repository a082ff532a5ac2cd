#!/usr/bin/env bash
# Installs the Debian packages kiln needs (only the missing ones; nothing when all are present),
# then configures the CMake Release build in build/. Used by `make demo` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev            # oneDNN 2.6: the CPU backend
  libfmt-dev             # formatting in the runtime
  libgtest-dev libgmock-dev
  libbenchmark-dev       # tools/bench
  libcli11-dev           # kiln's command line
  nlohmann-json3-dev     # --json output and reports
  libonnx-dev libprotobuf-dev protobuf-compiler  # onnx/: import, export, checker
  libonnx-testdata       # ONNX's node tests (conformance)
  zlib1g-dev             # .npz (deflate)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${BUILD_DIR:-build}
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
