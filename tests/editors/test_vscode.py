"""VS Code itself (Code-OSS 1.96.4 through code-server) with the packaged extension.

Also runs the extension's own checks: tsc and its `node --test` unit tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.settings import info, setting_fields
from tests.editors.conftest import (
    CHROMIUM,
    DOCSTRING_ACTION,
    EDITORS_DIR,
    GEOMETRY,
    GEOMETRY_LINES,
    HERE,
    ROOT,
    SCREENSHOTS,
    SERVER,
    SHAPES,
    assert_docstring_added,
    needs,
    needs_chromium,
    needs_model,
    read_report,
    run_editor,
)

EXTENSION = ROOT / "editors" / "vscode"
HOST = EDITORS_DIR / "vscode-host"
NPM = shutil.which("npm")
NODE = shutil.which("node")

needs_build_tools = needs(
    NPM is not None and (EXTENSION / "node_modules" / ".bin" / "vsce").exists(),
    "the extension's npm packages",
)
needs_code_server = needs(
    (HOST / "node_modules" / "code-server").exists()
    and (HOST / "node_modules" / "playwright-core").exists(),
    f"code-server and playwright-core (in {HOST})",
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


# The extension's own settings; every other qwenLsp.* setting is the server's.
EXTENSION_ONLY = {
    "enable",
    "languages",
    "server.command",
    "server.args",
    "server.env",
    "statusPollSeconds",
}


def test_vscode_contributes_exactly_the_server_settings() -> None:
    """Each server setting but the internal switches can be set in VS Code's Settings UI,
    and every setting is sent to the server (protocol.ts SERVER_SETTING_KEYS, generated);
    nothing the server does not know is sent (it would warn about it)."""
    pkg = json.loads((EXTENSION / "package.json").read_text())
    props = pkg["contributes"]["configuration"]["properties"]
    contributed = {key.removeprefix("qwenLsp.") for key in props} - EXTENSION_ONLY
    offered = {f.name for f in setting_fields() if not info(f.name).internal}
    assert contributed == offered, (
        f"package.json lacks {sorted(offered - contributed)}, "
        f"has settings the server does not offer: {sorted(contributed - offered)}"
    )
    generated = (EXTENSION / "src" / "protocol.ts").read_text()
    block = re.search(r"SERVER_SETTING_KEYS = \[(.*?)\] as const", generated, re.S)
    assert block is not None
    assert set(re.findall(r"'([A-Za-z]+)'", block.group(1))) == {f.name for f in setting_fields()}


@needs_build_tools
def test_vscode_extension_typecheck_and_unit_tests() -> None:
    typecheck = _npm("typecheck")
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    unit = _npm("test")
    assert unit.returncode == 0, unit.stdout + unit.stderr
    assert "# fail 0" in unit.stdout
    # The pull command's own tests ran (a stand-in qwen-lsp, progress, failure, cancel).
    assert re.search(r"^ok \d+ - runPull: cancelling interrupts the command$", unit.stdout, re.M)


@pytest.fixture(scope="module")
def vsix() -> Path:
    built = _npm("package")
    assert built.returncode == 0, built.stdout + built.stderr
    path = EXTENSION / "qwen-lsp.vsix"
    assert path.stat().st_size > 10_000
    return path


def _run_code_server(vsix: Path, workdir: Path, path: Path, **extra: str) -> float:
    """vscode_test.js with one scenario; its report must say ok."""
    assert NODE is not None
    env = {
        **os.environ,
        "QWEN_LSP_EDITORS_HOST": str(HOST),
        "QWEN_LSP_VSIX": str(vsix),
        "QWEN_LSP_CMD": str(SERVER),
        "QWEN_LSP_FILE": str(path),
        "QWEN_LSP_STATE_DIR": str(workdir.parent / "state"),
        "QWEN_LSP_REPORT": str(workdir / "vscode-report.json"),
        "QWEN_LSP_CHROMIUM": str(CHROMIUM),
        # Outside the opened folder, so that it does not show in the screenshot's explorer.
        "QWEN_LSP_SERVER_LOG": str(workdir.parent / "server.log"),
        **extra,
    }
    return run_editor([NODE, str(HERE / "vscode_test.js")], workdir, env, "vscode")


def _report(workdir: Path) -> dict[str, Any]:
    return read_report(workdir / "vscode-report.json")


def in_code_server(test: Any) -> Any:
    """Skip unless the extension can be built and code-server and Chromium are installed."""
    for mark in (needs_build_tools, needs_code_server, needs_chromium):
        test = mark(test)
    return test


@in_code_server
@needs_model
def test_vscode_ghost_text_and_tab(vsix: Path, workdir: Path) -> None:
    path = workdir / "shapes.py"
    path.write_text(SHAPES)
    screenshot = SCREENSHOTS / "vscode-ghost-text.png"
    seconds = _run_code_server(vsix, workdir, path, QWEN_LSP_SCREENSHOT=str(screenshot))
    report = _report(workdir)
    ghost = report["ghostText"].split("\n")[0].rstrip()
    assert ghost.strip(), report
    saved = path.read_text()
    assert "    return " + ghost in saved
    assert saved.startswith(SHAPES.rstrip(" \n"))
    assert screenshot.stat().st_size > 10_000
    # The status tooltip reports the model ready and the memory of the model states it keeps
    # for reuse (the chat head read when the file opened, the suggestions' own states).
    tooltip = report["statusTooltip"]
    assert re.search(r"model \S+ ready", tooltip), tooltip
    assert re.search(r"saved model states: [1-9]\d* MB", tooltip), tooltip
    print(f"vscode: {seconds:.1f} s; ghost text {ghost!r}")


@in_code_server
@needs_model
def test_vscode_code_action_docstring(vsix: Path, workdir: Path) -> None:
    """Select the function, Ctrl+., click the docstring action: VS Code resolves it, applies
    the edit, and the saved file has the docstring."""
    path = workdir / "shapes.py"
    path.write_text(GEOMETRY)
    screenshot = SCREENSHOTS / "vscode-code-actions.png"
    first, last = GEOMETRY_LINES
    seconds = _run_code_server(
        vsix,
        workdir,
        path,
        QWEN_LSP_SCENARIO="code_action",
        QWEN_LSP_ACTION=DOCSTRING_ACTION,
        QWEN_LSP_LINES=f"{first}-{last}",
        QWEN_LSP_SCREENSHOT=str(screenshot),
    )
    report = _report(workdir)
    offered = " ".join(report["offered"])
    assert DOCSTRING_ACTION in offered and "Qwen: Explain" in offered, report["offered"]
    saved = path.read_text()
    assert saved == report["saved"]
    docstring = assert_docstring_added(saved, GEOMETRY, "circle_area")
    assert screenshot.stat().st_size > 10_000
    print(f"vscode code action: {seconds:.1f} s; docstring {docstring.splitlines()[0]!r}")


@in_code_server
@needs_model  # "Pull Model" finds the default model there and only verifies it
def test_vscode_missing_model_offers_pull(vsix: Path, workdir: Path, tmp_path: Path) -> None:
    """qwenLsp.model points at a file that does not exist: the status bar shows the error
    and its fix, the notification's "Pull Model" button runs `qwen-lsp models pull`."""
    path = workdir / "shapes.py"
    path.write_text(SHAPES)
    missing = tmp_path / "models" / "missing.gguf"
    screenshot = SCREENSHOTS / "vscode-missing-model.png"
    seconds = _run_code_server(
        vsix,
        workdir,
        path,
        QWEN_LSP_SCENARIO="missing_model",
        QWEN_LSP_MISSING_MODEL=str(missing),
        QWEN_LSP_SCREENSHOT=str(screenshot),
    )
    report = _report(workdir)
    fix = "qwen-lsp models pull qwen2.5-coder-0.5b-instruct"
    assert str(missing) in report["statusTooltip"] and f"Fix: {fix}" in report["statusTooltip"]
    assert str(missing) in report["notification"] and fix in report["notification"]
    assert "Pull Model" in report["buttons"], report["buttons"]
    assert "qwen2.5-coder-0.5b-instruct is ready" in report["pulled"], report["pulled"]
    assert not missing.exists()
    print(f"vscode missing model: {seconds:.1f} s")
