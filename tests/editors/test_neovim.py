"""Neovim 0.11 with the plugin (editors/nvim) against the real server and model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.editors.ansi_png import render_png
from tests.editors.conftest import (
    HERE,
    INSTALL_HINT,
    ROOT,
    SCREENSHOTS,
    SERVER,
    SHAPES,
    needs_model,
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


pytestmark = [
    pytest.mark.skipif(
        not _nvim_version().startswith("NVIM v0.1") or _nvim_version() < "NVIM v0.11",
        reason=f"Neovim 0.11+ not installed ({_nvim_version() or 'no nvim'}): {INSTALL_HINT}",
    ),
    needs_model(),
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


def _check_saved(workdir: Path) -> dict[str, object]:
    report = json.loads((workdir / "nvim-report.json").read_text())
    assert report["ok"] is True, report
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


def test_neovim_headless(workdir: Path) -> None:
    (workdir / "shapes.py").write_text(SHAPES)
    assert NVIM is not None
    started = time.monotonic()
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-S", str(SCRIPT)],
        cwd=workdir,
        env=_env(workdir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=900,
    )
    (workdir / "nvim-stderr.log").write_bytes(proc.stderr)
    assert proc.returncode == 0, f"nvim exited {proc.returncode}:\n{tail(proc.stderr)}"
    _check_saved(workdir)
    print(f"neovim headless: {time.monotonic() - started:.1f} s")


@pytest.mark.skipif(shutil.which("tmux") is None, reason=f"tmux not installed: {INSTALL_HINT}")
@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason=f"chromium not installed: {INSTALL_HINT}"
)
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
    assert NVIM is not None
    report = workdir / "checkhealth.txt"
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-S", str(HERE / "nvim_health.lua")],
        cwd=workdir,
        env=_env(workdir, QWEN_LSP_REPORT=str(report)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"nvim exited {proc.returncode}:\n{tail(proc.stderr)}"
    text = report.read_text()
    assert "OK Neovim 0.1" in text
    assert "OK qwen-lsp " in text
    assert "OK running (client" in text
    assert "is loaded" in text, text
    assert "ERROR" not in text, text
