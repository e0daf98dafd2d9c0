"""VS Code itself (Code-OSS 1.96.4 through code-server) with the packaged extension.

Also runs the extension's own checks: tsc and its `node --test` unit tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.editors.conftest import (
    EDITORS_DIR,
    HERE,
    INSTALL_HINT,
    ROOT,
    SCREENSHOTS,
    SERVER,
    SHAPES,
    needs_model,
    tail,
)

EXTENSION = ROOT / "editors" / "vscode"
HOST = EDITORS_DIR / "vscode-host"
NPM = shutil.which("npm")
NODE = shutil.which("node")

needs_build_tools = pytest.mark.skipif(
    NPM is None or not (EXTENSION / "node_modules" / ".bin" / "vsce").exists(),
    reason=f"the extension's npm packages are not installed: {INSTALL_HINT}",
)


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    return subprocess.run(
        [NPM, "run", "--silent", *args],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=600,
    )


@needs_build_tools
def test_vscode_extension_typecheck_and_unit_tests() -> None:
    typecheck = _npm("typecheck")
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    unit = _npm("test")
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "# fail 0" in unit.stdout


@pytest.fixture(scope="module")
def vsix() -> Path:
    built = _npm("package")
    assert built.returncode == 0, built.stdout + built.stderr
    path = EXTENSION / "qwen-lsp.vsix"
    assert path.stat().st_size > 10_000
    return path


@needs_build_tools
@needs_model()
@pytest.mark.skipif(
    not (HOST / "node_modules" / "code-server").exists()
    or not (HOST / "node_modules" / "playwright-core").exists(),
    reason=f"code-server and playwright-core not installed in {HOST}: {INSTALL_HINT}",
)
@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason=f"chromium not installed: {INSTALL_HINT}"
)
def test_vscode_ghost_text_and_tab(vsix: Path, workdir: Path) -> None:
    path = workdir / "shapes.py"
    path.write_text(SHAPES)
    assert NODE is not None
    screenshot = SCREENSHOTS / "vscode-ghost-text.png"
    env = {
        **os.environ,
        "QWEN_LSP_EDITORS_HOST": str(HOST),
        "QWEN_LSP_VSIX": str(vsix),
        "QWEN_LSP_CMD": str(SERVER),
        "QWEN_LSP_FILE": str(path),
        "QWEN_LSP_STATE_DIR": str(workdir.parent / "state"),
        "QWEN_LSP_REPORT": str(workdir / "vscode-report.json"),
        "QWEN_LSP_SCREENSHOT": str(screenshot),
        # Outside the opened folder, so that it does not show in the screenshot's explorer.
        "QWEN_LSP_SERVER_LOG": str(workdir.parent / "server.log"),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [NODE, str(HERE / "vscode_test.js")],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=900,
    )
    (workdir / "vscode-stderr.log").write_bytes(proc.stderr)
    assert proc.returncode == 0, f"vscode_test.js exited {proc.returncode}:\n{tail(proc.stderr)}"
    report = json.loads((workdir / "vscode-report.json").read_text())
    assert report["ok"] is True, report
    ghost = report["ghostText"].split("\n")[0].rstrip()
    assert ghost.strip(), report
    saved = path.read_text()
    assert "    return " + ghost in saved
    assert saved.startswith(SHAPES.rstrip(" \n"))
    assert screenshot.stat().st_size > 10_000
    print(f"vscode: {time.monotonic() - started:.1f} s; ghost text {ghost!r}")
