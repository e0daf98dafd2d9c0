"""Shared set-up for the real-editor tests: where the editors are, the work files, artifacts.

Each test runs an editor as a subprocess against the real server and default model and
asserts on its exit code and the file it saved. They skip with the reason when an editor
or the model is missing: `scripts/install_editors.sh` installs the editors. Every test in
this folder carries the ``editors`` marker, so ``pytest -m "not model and not editors"`` is
the fast loop.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RUNS_MODEL

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
SERVER = VENV_BIN / "qwen-lsp"
ARTIFACTS = ROOT / ".artifacts" / "editors"
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
EDITORS_DIR = Path(
    os.environ.get("QWEN_LSP_EDITORS_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qwen-lsp" / "editors"
)
INSTALL_HINT = "run scripts/install_editors.sh"
CHROMIUM = Path(os.environ.get("QWEN_LSP_CHROMIUM") or "/usr/bin/chromium")

# The file every editor test edits: the model completes `return ` at its end (the
# Neovim test then types a new function header below it for a block suggestion).
SHAPES = (
    "import math\n"
    "\n"
    "\n"
    "def circle_area(radius):\n"
    '    """Return the area of a circle with the given radius."""\n'
    "    \n"
)

# The file the code-action tests work on: they select circle_area (lines 4-5) and ask for
# a docstring; `add` must come through untouched.
GEOMETRY = (
    "import math\n"
    "\n"
    "\n"
    "def circle_area(radius):\n"
    "    return math.pi * radius ** 2\n"
    "\n"
    "\n"
    "def add(a, b):\n"
    "    return a + b\n"
)
GEOMETRY_LINES = (4, 5)
DOCSTRING_ACTION = "Qwen: Add docstring"


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``editors`` (the hook sees the whole session's items)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.editors)


def which(name: str) -> str | None:
    local = VENV_BIN / name
    return str(local) if local.exists() else shutil.which(name)


@pytest.fixture
def workdir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A scratch project folder; its logs are copied to .artifacts/editors/<test>/."""
    project = tmp_path / "project"
    project.mkdir()
    yield project
    dest = ARTIFACTS / request.node.name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    for path in tmp_path.rglob("*"):
        wanted = path.suffix in (".log", ".json", ".py", ".txt")
        if wanted and path.is_file() and "state" not in path.parts:
            shutil.copy2(path, dest / path.name)


def needs_model(test: Any) -> Any:
    """Marks a test that runs the default model."""
    for mark in RUNS_MODEL:
        test = mark(test)
    return test


def needs(installed: bool, what: str) -> pytest.MarkDecorator:
    """Skip unless ``what`` (an editor, a tool) is installed, saying how to install it."""
    return pytest.mark.skipif(not installed, reason=f"{what} not installed: {INSTALL_HINT}")


needs_chromium = needs(CHROMIUM.exists(), f"chromium ({CHROMIUM})")
needs_tmux = needs(shutil.which("tmux") is not None, "tmux")


def run_editor(
    argv: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    name: str,
    *,
    timeout: float = 900,
) -> float:
    """Run an editor script to its end in ``workdir``; assert that it exited 0.

    Its stderr (the script's step log) is kept as ``<name>-stderr.log``. Returns seconds.
    """
    started = time.monotonic()
    proc = subprocess.run(
        list(argv),
        cwd=workdir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    (workdir / f"{name}-stderr.log").write_bytes(proc.stderr)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{tail(proc.stderr)}"
    return time.monotonic() - started


def read_report(path: Path) -> dict[str, Any]:
    """The JSON report an editor script wrote; it must say ok."""
    report: dict[str, Any] = json.loads(path.read_text())
    assert report.get("ok") is True, report
    return report


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    assert len(found) == 1, f"expected one function {name!r}, found {len(found)}"
    return found[0]


def assert_docstring_added(saved: str, original: str, name: str) -> str:
    """The docstring action did what it says on ``name`` and nothing else.

    The model's words are not fixed, so this checks properties: the file still parses,
    ``name`` now has a docstring, its signature and statements are those of ``original``,
    and every other top-level statement is unchanged. Returns the docstring.
    """
    try:
        tree = ast.parse(saved)
    except SyntaxError as exc:
        raise AssertionError(f"the saved file does not parse ({exc}):\n{saved}") from exc
    before = ast.parse(original)
    fn, old_fn = _function(tree, name), _function(before, name)
    assert ast.get_docstring(old_fn) is None, "the original already had a docstring"
    docstring = ast.get_docstring(fn)
    assert docstring, f"{name} has no docstring:\n{saved}"
    assert ast.dump(fn.args) == ast.dump(old_fn.args), f"the signature changed:\n{saved}"
    body = [ast.dump(s) for s in fn.body[1:]]
    assert body == [ast.dump(s) for s in old_fn.body], f"the body changed:\n{saved}"
    others = [ast.dump(n) for n in tree.body if n is not fn]
    assert others == [ast.dump(n) for n in before.body if n is not old_fn], saved
    # The code lines themselves, not just their meaning, are as they were.
    for line in original.splitlines()[old_fn.lineno - 1 : old_fn.end_lineno]:
        assert line in saved.splitlines(), f"{line!r} was rewritten:\n{saved}"
    return docstring


def tail(text: str | bytes | None, n: int = 4000) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[-n:]
