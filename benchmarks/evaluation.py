"""What the evaluations (eval_infill, eval_crossfile) share: one answer, the server's
settings for an evaluation, the figures kept of each generation, the revision measured.

A result file names the commit it measured (`revision`, "+dirty" with uncommitted
changes), since the figures drift with the code.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Generated:
    """One answer of a variant to a task: the text, its time, the error that left it empty,
    and figures of its generation (stop reason, tokens; the server's model text)."""

    text: str
    seconds: float
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# The evaluation measures what the server suggests, not how busy this machine is: the
# editor default time cap (4 s) would cut answers short whenever someone else uses the CPU
# (--server-options '{"maxSeconds": 4}' restores it). One thread, for the server and the raw
# model alike: on a machine with one physical core (two hyperthreads) llama.cpp with two
# threads ran 3-5x slower than with one as soon as any other process wanted the CPU.
EVAL_THREADS = 1
# Whole windows and whole blocks too: a cold prompt's cut and a slow block's first lines
# depend on the load (the typing benchmark measures them).
EVAL_DEFAULTS: dict[str, Any] = {
    "maxSeconds": 60.0,
    "threads": EVAL_THREADS,
    "coldPromptSeconds": 0.0,
    "blockShowAfterSeconds": 0.0,
}
# What the scores keep of the status's lastGeneration (protocol.GenerationFigures), by
# the names the result files have always used.
GENERATION_FIELDS = {
    "stopReason": "stop_reason",
    "promptTokens": "prompt_tokens",
    "reusedTokens": "reused_tokens",
    "generatedTokens": "generated_tokens",
}


def revision() -> str:
    """The work tree's commit (with "+dirty" when it has changes): figures drift with it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")
