"""Shared set-up for the real-editor tests: where the editors are, the work files, artifacts.

Each test runs an editor as a subprocess against the real server and default model and
asserts on its exit code and the file it saved. They skip with the reason when an editor
or the model is missing: `scripts/install_editors.sh` installs the editors.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def model_ready() -> bool:
    from lsp_server.models import ModelError, resolve, verify

    try:
        verify(resolve(None))
        return True
    except ModelError:
        return False


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


def needs_model() -> pytest.MarkDecorator:
    reason = "default model not pulled: run scripts/setup.sh"
    return pytest.mark.skipif(not model_ready(), reason=reason)


def tail(text: str | bytes | None, n: int = 4000) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[-n:]
