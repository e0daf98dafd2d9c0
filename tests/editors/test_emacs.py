"""Emacs (eglot 1.9, batch mode) against the real server and model.

eglot 1.9 has no inline completion: the server answers textDocument/completion for it,
driven here through `completion-at-point`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from lsp_server.models import cache_dir
from tests.editors.conftest import HERE, INSTALL_HINT, SERVER, SHAPES, needs_model, tail

EMACS = shutil.which("emacs")


def _has_eglot() -> bool:
    if EMACS is None:
        return False
    probe = subprocess.run(
        [EMACS, "--batch", "--eval", '(progn (require \'eglot) (princ "ok"))'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return probe.returncode == 0 and probe.stdout.endswith("ok")


pytestmark = [
    pytest.mark.skipif(not _has_eglot(), reason=f"Emacs with eglot not installed: {INSTALL_HINT}"),
    needs_model(),
]


def test_emacs_eglot_completion(workdir: Path) -> None:
    path = workdir / "shapes.py"
    path.write_text(SHAPES)
    assert EMACS is not None
    env = {
        **os.environ,
        "QWEN_LSP_CMD": str(SERVER),
        "QWEN_LSP_FILE": str(path),
        "QWEN_LSP_REPORT": str(workdir / "emacs-report.json"),
        "QWEN_LSP_SERVER_LOG": str(workdir / "server.log"),
        # No user init and no ~/.emacs.d writes; the model stays where it is.
        "HOME": str(workdir.parent),
        "QWEN_LSP_CACHE_DIR": str(cache_dir()),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [EMACS, "--batch", "-l", str(HERE / "eglot_test.el")],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=900,
    )
    (workdir / "emacs-stderr.log").write_bytes(proc.stderr)
    assert proc.returncode == 0, f"emacs exited {proc.returncode}:\n{tail(proc.stderr)}"
    report = json.loads((workdir / "emacs-report.json").read_text())
    assert report["ok"] is True, report
    saved = path.read_text()
    assert saved == report["saved"]
    last = saved.rstrip("\n").split("\n")[-1]
    assert last == report["after"]
    assert last.startswith("    return ") and len(last.strip()) > len("return")
    assert saved.startswith(SHAPES.rstrip(" \n"))
    print(f"emacs eglot: {time.monotonic() - started:.1f} s; completed {last.strip()!r}")
