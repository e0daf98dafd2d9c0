#!/usr/bin/env bash
# Runs the whole test suite: lint, types, unit tests, and the protocol tests with the real
# default model. Sets everything up first (idempotent), so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-demo
printf '\n== editors: Neovim, Emacs/eglot, code-server + Chromium, extension build tools\n' >&2
scripts/install_editors.sh
VENV=${QWEN_LSP_VENV:-.venv}
PY="$VENV/bin/python"
printf '\n== ruff\n' >&2
"$VENV/bin/ruff" check qwen_lsp tests scripts benchmarks
"$VENV/bin/ruff" format --check qwen_lsp tests scripts benchmarks
printf '\n== mypy --strict qwen_lsp\n' >&2
"$VENV/bin/mypy"
printf '\n== pytest\n' >&2
# The slowest tests are listed: CI has a time budget, and this is where it goes.
"$PY" -m pytest -q -p no:cacheprovider --durations=25 "$@"
