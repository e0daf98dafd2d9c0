"""Files generated from the settings, the protocol and the version are up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_current() -> None:
    """The VS Code settings and protocol types, the Neovim protocol module and help, and the
    README settings tables restate qwen_lsp/settings.py and protocol.py. After changing
    either, run `.venv/bin/python scripts/generate.py` and commit what it writes."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
