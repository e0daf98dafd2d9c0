"""Neovim 0.11 with the plugin (editors/nvim) against the real server and model."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from tests.editors.ansi_png import render_png
from tests.editors.conftest import (
    DOCSTRING_ACTION,
    GEOMETRY,
    GEOMETRY_LINES,
    HERE,
    ROOT,
    RUNS_MODEL,
    SCREENSHOTS,
    SERVER,
    SHAPES,
    assert_docstring_added,
    needs,
    needs_chromium,
    needs_tmux,
    read_report,
    run_editor,
    tail,
    which,
)

NVIM = which("nvim")
SCRIPT = HERE / "nvim_test.lua"
PLUGIN = ROOT / "editors" / "nvim"


def _nvim_version() -> str:
    if NVIM is None:
        return ""
    out = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.splitlines()[0] if out.stdout else ""


_VERSION = _nvim_version()
pytestmark = [
    needs(
        _VERSION.startswith("NVIM v0.1") and _VERSION >= "NVIM v0.11",
        f"Neovim 0.11+ ({_VERSION or 'no nvim'})",
    ),
    *RUNS_MODEL,
]


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "QWEN_LSP_PLUGIN": str(PLUGIN),
        "QWEN_LSP_CMD": str(SERVER),
        "QWEN_LSP_FILE": str(workdir / "shapes.py"),
        "QWEN_LSP_REPORT": str(workdir / "nvim-report.json"),
        "QWEN_LSP_SERVER_LOG": str(workdir / "server.log"),
        # Keep Neovim's own state (lsp.log, shada) out of the user's home.
        "XDG_STATE_HOME": str(workdir.parent / "state"),
        "XDG_DATA_HOME": str(workdir.parent / "state"),
        **extra,
    }


def _tmux_out(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _check_saved(workdir: Path) -> dict[str, Any]:
    report = read_report(workdir / "nvim-report.json")
    saved = (workdir / "shapes.py").read_text()
    steps = {s["step"]: s for s in report["steps"]}
    first = str(steps["ghost"]["suggestion"])
    # accept-word then accept-all: the typed text followed by the whole suggestion.
    assert "    return " + first in saved
    assert steps["accept_word"]["line"] == "    return " + str(steps["accept_word"]["word"])
    # accept-line twice: the first two lines of the block suggestion, nothing more.
    block = str(steps["ghost_block"]["suggestion"]).split("\n")
    lines = saved.split("\n")
    at = lines.index("def fibonacci(n):")
    assert lines[at + 1 : at + 3] == ["    " + block[0], block[1]]
    assert lines[at + 3 :] == [""]
    assert "dismissed" in steps and "ghost_auto_block" in steps
    return report


def _run_nvim(workdir: Path, script: Path = SCRIPT, **extra: str) -> float:
    assert NVIM is not None
    argv = [NVIM, "--headless", "--clean", "-S", str(script)]
    return run_editor(argv, workdir, _env(workdir, **extra), "nvim")


def test_neovim_headless(workdir: Path) -> None:
    (workdir / "shapes.py").write_text(SHAPES)
    seconds = _run_nvim(workdir)
    _check_saved(workdir)
    print(f"neovim headless: {seconds:.1f} s")


def test_neovim_code_action_docstring(workdir: Path) -> None:
    """Visual selection, `gra`, the docstring action picked from the menu: the resolved
    edit is applied by Neovim and written."""
    path = workdir / "shapes.py"
    path.write_text(GEOMETRY)
    first, last = GEOMETRY_LINES
    seconds = _run_nvim(
        workdir,
        QWEN_LSP_SCENARIO="code_action",
        QWEN_LSP_ACTION=DOCSTRING_ACTION,
        QWEN_LSP_LINES=f"{first}-{last}",
    )
    report = read_report(workdir / "nvim-report.json")
    menu = next(s for s in report["steps"] if s["step"] == "menu")
    # The server lists its actions without the model; the menu has more than the one used.
    assert DOCSTRING_ACTION in menu["titles"] and "Qwen: Explain" in menu["titles"], menu
    saved = path.read_text()
    assert saved.splitlines() == report["lines"]
    docstring = assert_docstring_added(saved, GEOMETRY, "circle_area")
    print(f"neovim code action: {seconds:.1f} s; docstring {docstring.splitlines()[0]!r}")


@needs_tmux
@needs_chromium
def test_neovim_screenshot(workdir: Path) -> None:
    """The same script in a real terminal (tmux), captured at each ghost text and rendered."""
    (workdir / "shapes.py").write_text(SHAPES)
    hold = workdir.parent / "hold"
    hold.mkdir()
    assert NVIM is not None
    cols, rows = 92, 20
    socket = f"qwen-lsp-test-{uuid.uuid4().hex[:8]}"
    rc_file = workdir.parent / "nvim.rc"
    env = _env(workdir, QWEN_LSP_HOLD_DIR=str(hold), COLORTERM="truecolor")
    shell = f"{NVIM} --clean -S {SCRIPT} 2>{workdir / 'nvim-stderr.log'}; echo $? > {rc_file}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    passed = [f"-e{k}={v}" for k, v in env.items() if k.startswith(("QWEN_LSP_", "XDG_", "COLOR"))]
    size = ["-x", str(cols), "-y", str(rows)]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "nvim", *size, "-c", str(workdir), *passed, shell],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        shots = {1: "neovim-ghost-text.png", 2: "neovim-ghost-block.png"}
        deadline = time.monotonic() + 900
        taken = 0
        while not rc_file.exists():
            assert time.monotonic() < deadline, "nvim in tmux did not finish"
            n = taken + 1
            if (hold / f"ready-{n}").exists():
                time.sleep(0.5)  # let the terminal draw
                screen = _tmux_out([*tmux, "capture-pane", "-p", "-e", "-t", "nvim"])
                where = "#{cursor_x} #{cursor_y}"
                cursor = _tmux_out([*tmux, "display-message", "-p", "-t", "nvim", where]).split()
                (workdir / f"neovim-screen-{n}.txt").write_text(screen)
                if n in shots:
                    render_png(
                        screen,
                        SCREENSHOTS / shots[n],
                        cols,
                        rows,
                        cursor=(int(cursor[0]), int(cursor[1])),
                    )
                (hold / f"done-{n}").touch()
                taken = n
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    rc = rc_file.read_text().strip()
    assert rc == "0", f"nvim exited {rc}:\n{tail((workdir / 'nvim-stderr.log').read_text())}"
    assert taken == 2
    _check_saved(workdir)
    for name in ("neovim-ghost-text.png", "neovim-ghost-block.png"):
        assert (SCREENSHOTS / name).stat().st_size > 5000


def test_neovim_checkhealth(workdir: Path) -> None:
    (workdir / "shapes.py").write_text(SHAPES)
    report = workdir / "checkhealth.txt"
    _run_nvim(workdir, HERE / "nvim_health.lua", QWEN_LSP_REPORT=str(report))
    text = report.read_text()
    assert "OK Neovim 0.1" in text
    assert "OK qwen-lsp " in text
    assert "OK running (client" in text
    assert "is loaded" in text, text
    assert "ERROR" not in text, text
