"""Emacs (eglot 1.9, batch mode) against the real server and model.

eglot 1.9 has no inline completion: the server answers textDocument/completion for it,
driven here through `completion-at-point`. It cannot resolve code actions either: the
server then runs the picked action through a command and applies it with
workspace/applyEdit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from qwen_lsp.modelstore import StoreConfig
from qwen_lsp.settings_resolve import resolve_settings
from tests.editors.conftest import (
    DOCSTRING_ACTION,
    GEOMETRY,
    GEOMETRY_LINES,
    HERE,
    RUNS_MODEL,
    SERVER,
    SHAPES,
    assert_docstring_added,
    needs,
    read_report,
    run_editor,
)

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


pytestmark = [needs(_has_eglot(), "Emacs with eglot"), *RUNS_MODEL]


def _run_emacs(workdir: Path, path: Path, **extra: str) -> float:
    assert EMACS is not None
    env = {
        **os.environ,
        "QWEN_LSP_CMD": str(SERVER),
        "QWEN_LSP_FILE": str(path),
        "QWEN_LSP_REPORT": str(workdir / "emacs-report.json"),
        "QWEN_LSP_SERVER_LOG": str(workdir / "server.log"),
        # No user init and no ~/.emacs.d writes; the model stays where it is.
        "HOME": str(workdir.parent),
        "QWEN_LSP_CACHE_DIR": str(
            StoreConfig.from_settings(resolve_settings(os.environ).settings).cache_dir
        ),
        **extra,
    }
    argv = [EMACS, "--batch", "-l", str(HERE / "eglot_test.el")]
    return run_editor(argv, workdir, env, "emacs")


def test_emacs_eglot_completion(workdir: Path) -> None:
    path = workdir / "shapes.py"
    path.write_text(SHAPES)
    seconds = _run_emacs(workdir, path)
    report = read_report(workdir / "emacs-report.json")
    saved = path.read_text()
    assert saved == report["saved"]
    last = saved.rstrip("\n").split("\n")[-1]
    assert last == report["after"]
    assert last.startswith("    return ") and len(last.strip()) > len("return")
    assert saved.startswith(SHAPES.rstrip(" \n"))
    print(f"emacs eglot: {seconds:.1f} s; completed {last.strip()!r}")


def test_emacs_eglot_code_action_docstring(workdir: Path) -> None:
    """The region, `eglot-code-actions`, the docstring action picked from its menu: the
    server's workspace/applyEdit lands in the buffer, which is saved."""
    path = workdir / "shapes.py"
    path.write_text(GEOMETRY)
    first, last = GEOMETRY_LINES
    seconds = _run_emacs(
        workdir,
        path,
        QWEN_LSP_SCENARIO="code_action",
        QWEN_LSP_ACTION=DOCSTRING_ACTION,
        QWEN_LSP_LINES=f"{first}-{last}",
    )
    report = read_report(workdir / "emacs-report.json")
    assert DOCSTRING_ACTION in report["offered"] and "Qwen: Explain" in report["offered"]
    saved = path.read_text()
    assert saved == report["saved"]
    docstring = assert_docstring_added(saved, GEOMETRY, "circle_area")
    print(f"emacs code action: {seconds:.1f} s; docstring {docstring.splitlines()[0]!r}")
