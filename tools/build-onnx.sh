#!/usr/bin/env bash
# Builds ONNX's C++ library (protobuf classes, checker, shape inference, version converter,
# function bodies of the ops ONNX defines as functions) from the release's source package on
# PyPI, against Debian's protobuf, and installs it under a per-machine cache. Debian 12's
# libonnx is 1.12 (IR 8, opset 17): too old for what today's PyTorch exports (IR 10, opset 18+).
# Prints the install prefix on its last line. Builds once per machine and version; a finished
# install is marked by a stamp file, so an interrupted build is redone from scratch.
#
# usage: tools/build-onnx.sh CACHE_DIR
set -euo pipefail

version=1.23.2  # IR 14, opset 28
sha256=008cb0467b2bbee41448acc7da8b6f4e704624cb0d327a2d5adafc7ce19bc5b8  # of onnx-$version.tar.gz, checked after the download
cache=${1:?usage: tools/build-onnx.sh CACHE_DIR}
prefix=$cache/onnx-$version
stamp=$prefix/.kiln-built

if [[ -f $stamp ]]; then
  echo "$prefix"
  exit 0
fi

fail() { echo "build-onnx: $*" >&2; exit 1; }

work=$cache/onnx-$version-build
rm -rf "$work" "$prefix"
mkdir -p "$work"

# ONNX's CMakeLists needs CMake 3.26; Debian 12 has 3.25. CMake's own wheel from PyPI.
tools_venv=$cache/cmake-venv
if ! "$tools_venv/bin/cmake" --version >/dev/null 2>&1; then
  /usr/bin/python3 -m venv "$tools_venv" || fail "cannot make the venv for CMake's wheel in $tools_venv"
  "$tools_venv/bin/pip" install -q "cmake>=3.26,<4" || fail "pip could not install CMake >= 3.26 (needed by ONNX $version)"
fi

echo "build-onnx: fetching onnx $version's source package from PyPI" >&2
# --no-binary onnx: the source package, while its build tools still come as wheels.
"$tools_venv/bin/pip" download -q --no-deps --no-binary onnx "onnx==$version" -d "$work" >&2 ||
  fail "pip could not download onnx==$version's source package"
archive=$work/onnx-$version.tar.gz
[[ -f $archive ]] || fail "pip did not leave $archive"
echo "$sha256  $archive" | sha256sum -c --quiet - >&2 || fail "$archive does not have the expected SHA-256"
tar -xzf "$archive" -C "$work" || fail "cannot unpack $archive"

echo "build-onnx: building ONNX $version's C++ library (once per machine, about 5 minutes on 2 cores)" >&2
log=$work/build.log
if ! {
  "$tools_venv/bin/cmake" -S "$work/onnx-$version" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DONNX_BUILD_PYTHON=OFF -DONNX_BUILD_TESTS=OFF -DONNX_GEN_PB_TYPE_STUBS=OFF \
    -DONNX_USE_PROTOBUF_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX="$prefix" &&
    "$tools_venv/bin/cmake" --build "$work/build" -j "$(nproc)" &&
    "$tools_venv/bin/cmake" --install "$work/build"
} >"$log" 2>&1; then
  tail -20 "$log" >&2
  fail "building ONNX $version failed; the whole log is $log"
fi
touch "$stamp"
rm -rf "$work"
echo "$prefix"
