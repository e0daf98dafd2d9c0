#!/usr/bin/env bash
# Sets qwen-lsp up on a fresh machine, then shows one real completion from the default model.
#
#   scripts/setup.sh            set up (idempotent) and run the demo completion
#   scripts/setup.sh --no-demo  set up only (what the test command uses)
#
# Environment:
#   PYTHON                 interpreter for the virtual environment (default: python3)
#   QWEN_LSP_VENV          where the virtual environment goes (default: .venv)
#   QWEN_LSP_CMAKE_ARGS    llama-cpp-python build flags. The default is built WITHOUT
#                          -march=native, from the instruction sets this CPU reports (AVX, AVX2,
#                          FMA, F16C, BMI2 and the AVX-512 extensions, each only when present):
#                          a native build enables AMX on CPUs that report it, and virtual
#                          machines that trap AMX crash with SIGILL on the first matrix
#                          multiply; a fixed AVX-512 build crashes the same way on CPUs without
#                          AVX-512 (most AMD before Zen 4). On your own machine
#                          "-DGGML_NATIVE=ON" may be faster; add "-DGGML_CUDA=ON" for an
#                          NVIDIA GPU.
#   QWEN_LSP_CACHE_DIR     where models are stored (default: $XDG_CACHE_HOME/qwen-lsp/models)
set -euo pipefail
cd "$(dirname "$0")/.."

demo=1
[ "${1:-}" = "--no-demo" ] && demo=0

PYTHON=${PYTHON:-python3}
VENV=${QWEN_LSP_VENV:-.venv}
LLAMA_VERSION=0.3.36

# The GGML instruction-set switches for what this CPU reports in /proc/cpuinfo (Linux).
# AMX is never turned on (see above); without /proc/cpuinfo, AVX2 is assumed.
cpu_flags() {
  local have args="-DGGML_NATIVE=OFF"
  have=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || echo "flags : avx avx2 fma f16c bmi2")
  local pair
  for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 \
      avx512_vnni:AVX512_VNNI avx512vbmi:AVX512_VBMI avx512_bf16:AVX512_BF16; do
    if printf ' %s ' "$have" | grep -q " ${pair%%:*} "; then
      args="$args -DGGML_${pair#*:}=ON"
    else
      args="$args -DGGML_${pair#*:}=OFF"
    fi
  done
  printf '%s -DLLAVA_BUILD=OFF' "$args"
}
CMAKE_FLAGS=${QWEN_LSP_CMAKE_ARGS:-$(cpu_flags)}

step() { printf '\n== %s\n' "$*" >&2; }

step "virtual environment ($VENV)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip

# pip reuses a wheel it built before without looking at CMAKE_ARGS, so a wheel built once
# with the wrong flags would keep crashing. We build the wheel ourselves into a folder
# named after the version and the flags, and install from there.
flags_id=$(printf '%s %s' "$LLAMA_VERSION" "$CMAKE_FLAGS" | sha256sum | cut -c1-16)
wheel_dir="${XDG_CACHE_HOME:-$HOME/.cache}/qwen-lsp/wheels/llama-cpp-python-$flags_id"
installed_id=$(cat "$VENV/.llama-cpp-build-id" 2>/dev/null || true)
if [ "$installed_id" != "$flags_id" ] || ! "$PY" -c "import llama_cpp" 2>/dev/null; then
  if ! ls "$wheel_dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    step "building llama-cpp-python $LLAMA_VERSION (about 10 minutes on 2 cores)"
    echo "CMAKE_ARGS=$CMAKE_FLAGS" >&2
    mkdir -p "$wheel_dir.tmp"
    CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
      "$PY" -m pip wheel -q --disable-pip-version-check --no-cache-dir --no-deps \
      -w "$wheel_dir.tmp" "llama-cpp-python==$LLAMA_VERSION"
    rm -rf "$wheel_dir" && mv "$wheel_dir.tmp" "$wheel_dir"
  fi
  step "installing llama-cpp-python from $wheel_dir"
  "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel_dir"/llama_cpp_python-*.whl
  echo "$flags_id" > "$VENV/.llama-cpp-build-id"
fi

# The bench extra too: the test suite runs two evaluation floors from benchmarks/.
step "qwen-lsp and its dependencies (extras: test, bench)"
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,bench]"

step "default model"
"$VENV/bin/qwen-lsp" models pull

if [ "$demo" = 1 ]; then
  step "demo: qwen-lsp complete examples/demo.py:5:5 (the model fills in the function body)"
  "$VENV/bin/qwen-lsp" complete examples/demo.py:5:5
  printf '\nReady. Point your editor at: %s/bin/qwen-lsp   (see README.md)\n' "$PWD/$VENV" >&2
fi
