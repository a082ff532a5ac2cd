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
  python3-venv python3-numpy python3-torch python3-torchvision  # PyTorch interop tests (torch 1.13)
  python3-pil            # interop.tensorboard decodes the PNG images kiln writes
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

# The Python test venv: Debian's torch through --system-site-packages, onnxruntime, onnx and
# tensorboard (reads kiln's event files in interop.tensorboard) from PyPI. numpy stays below 2
# (torch 1.13 breaks on numpy 2).
venv=.venv
if ! "$venv/bin/python" -c "import torch, torchvision, onnx, onnxruntime, tensorboard, safetensors" 2>/dev/null; then
  echo "install-deps: building the test venv in $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2" "onnxruntime==1.19.2" "onnx==1.16.2" "tensorboard==2.17.1" "safetensors==0.4.5"
fi

build_dir=${BUILD_DIR:-build}
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
