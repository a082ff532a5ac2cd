#!/usr/bin/env bash
# Set-up for `make demo` and `make test` on a Debian 12 machine: installs the missing Debian
# packages, builds ONNX's C++ library once per machine (tools/build-onnx.sh), builds the Python
# test venv when it is missing, and configures the CMake Release build when its build file is
# missing. Each step that fails prints one line naming the step and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

step=""
trap 'rc=$?; if ((rc)); then echo "install-deps: the step \"$step\" failed (exit $rc); see the lines above" >&2; fi' EXIT

# Every package is named here, also those another package only recommends or happens to pull in
# (apt runs with --no-install-recommends): oneDNN's CMake config requires OpenCL's development
# files, which libdnnl-dev only recommends.
packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev  # oneDNN 2.6: the CPU backend; its dnnl-config.cmake needs OpenCL
  libfmt-dev                      # formatting in the runtime
  libgtest-dev libgmock-dev
  libbenchmark-dev                # tools/bench
  libcli11-dev                    # kiln's command line
  nlohmann-json3-dev              # --json output and reports
  libprotobuf-dev protobuf-compiler  # onnx/ (ONNX's library is built on them) and TensorBoard files
  libonnx-testdata                # ONNX 1.12's node tests (conformance)
  zlib1g-dev                      # .npz (deflate), PNG images
  python3-venv                    # the test venv, and the venv for CMake's wheel (ONNX build)
  python3-numpy python3-torch python3-torchvision  # PyTorch interop tests (torch 1.13)
  python3-pil                     # interop.tensorboard decodes the PNG images kiln writes
)

step="find the missing Debian packages"
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
  step="apt-get update"
  $sudo apt-get update -qq
  step="apt-get install ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX's C++ library, current release, cached outside the checkout so that every clone on this
# machine (CI's included) shares one build.
if [[ $(id -u) -eq 0 ]]; then cache_default=/var/cache/kiln; else cache_default=${XDG_CACHE_HOME:-$HOME/.cache}/kiln; fi
cache=${KILN_CACHE:-$cache_default}
step="build ONNX's C++ library into $cache (tools/build-onnx.sh)"
onnx_root=$(tools/build-onnx.sh "$cache" | tail -1)

# The Python test venv: Debian's torch 1.13 through --system-site-packages, onnxruntime, onnx and
# tensorboard (reads kiln's event files in interop.tensorboard) from PyPI. numpy stays below 2
# (torch 1.13 breaks on numpy 2).
venv=.venv
if ! "$venv/bin/python" -c "import torch, torchvision, onnx, onnxruntime, tensorboard, safetensors" 2>/dev/null; then
  echo "install-deps: building the test venv in $venv"
  step="make the test venv $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  step="pip install the test venv's packages into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "numpy<2" "onnxruntime==1.19.2" "onnx==1.16.2" "tensorboard==2.17.1" "safetensors==0.4.5"
fi

# The venv of today's PyTorch: torch 2.15 (its dynamo exporter writes IR 10 and opsets 18+),
# onnxscript (which that exporter needs), onnx 1.23.2 (reference outputs of ONNX's current node
# tests, checker) and onnxruntime 1.31. No --system-site-packages: Debian's torch 1.13 must not
# shadow it. torchvision has no release for torch 2.15 yet; 0.29's model definitions (pure Python)
# run on it, so it comes without its dependencies (they would pull torch 2.14).
venv2=.venv-torch2
if ! "$venv2/bin/python" -c "import torch, torchvision, onnxscript, onnx, onnxruntime, safetensors
assert torch.__version__.startswith('2.15.') and onnx.__version__ == '1.23.2'" 2>/dev/null; then
  echo "install-deps: building the torch 2.15 venv in $venv2 (several GiB with torch's CUDA wheels)"
  step="make the torch 2.15 venv $venv2"
  rm -rf "$venv2"
  /usr/bin/python3 -m venv "$venv2"
  step="pip install torch 2.15 and friends into $venv2"
  "$venv2/bin/pip" install -q --disable-pip-version-check "torch==2.15.0" "onnxscript==0.7.2" "onnx==1.23.2" \
    "onnxruntime==1.31.1" "safetensors==0.4.5" "pillow"
  "$venv2/bin/pip" install -q --disable-pip-version-check --no-deps "torchvision==0.29.2"
fi

# Configure when the build file is missing (a first run, or a configure that failed half-way and
# left CMakeCache.txt behind) or when it was configured against another ONNX.
build_dir=${BUILD_DIR:-build}
if [[ ! -f $build_dir/build.ninja ]] ||
   ! grep -qx "KILN_ONNX_ROOT:PATH=$onnx_root" "$build_dir/CMakeCache.txt" 2>/dev/null; then
  step="configure CMake in $build_dir"
  rm -f "$build_dir/CMakeCache.txt"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_ONNX_ROOT:PATH="$onnx_root"
fi
step=""
