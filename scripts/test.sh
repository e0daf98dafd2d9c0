#!/usr/bin/env bash
# Runs the whole test suite: lint, types, unit tests, and the protocol tests with the real
# default model. Sets everything up first (idempotent), so it works on a fresh clone.
# Arguments go to pytest instead of the whole suite (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-demo
VENV=${QWEN_LSP_VENV:-.venv}
PY="$VENV/bin/python"
PYTEST=("$PY" -m pytest -q -p no:cacheprovider)

unit_pid=""
if [ $# -eq 0 ]; then
  # The unit tests need no model and no editor: about three minutes of one core, run beside
  # the editors' install, the lint and the first model tests instead of before them (on CI's
  # two cores that is their time off its budget). A busy core is what users' machines have
  # too: no test may depend on an idle one.
  unit_log=$(mktemp)
  "${PYTEST[@]}" tests/unit >"$unit_log" 2>&1 &
  unit_pid=$!
  trap 'kill "$unit_pid" 2>/dev/null || true; rm -f "$unit_log"' EXIT
  set -- tests --ignore=tests/unit
fi

printf '\n== editors: Neovim, Emacs/eglot, code-server + Chromium, extension build tools\n' >&2
scripts/install_editors.sh
printf '\n== ruff\n' >&2
"$VENV/bin/ruff" check qwen_lsp tests scripts benchmarks
"$VENV/bin/ruff" format --check qwen_lsp tests scripts benchmarks
printf '\n== mypy --strict qwen_lsp\n' >&2
"$VENV/bin/mypy"
printf '\n== pytest %s\n' "$*" >&2
# The slowest tests are listed: CI has a time budget, and this is where it goes.
status=0
"${PYTEST[@]}" --durations=25 "$@" || status=$?
if [ -n "$unit_pid" ]; then
  unit_status=0
  wait "$unit_pid" || unit_status=$?
  printf '\n== pytest tests/unit (ran beside the above)\n' >&2
  cat "$unit_log"
  if [ "$status" -eq 0 ]; then status=$unit_status; fi
fi
exit "$status"
