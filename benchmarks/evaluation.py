"""What the evaluations (eval_infill, eval_infill_real, eval_crossfile) share: one answer, the
server's settings for an evaluation, the figures kept of each generation, the revision
measured, and running their model passes one after the other or several at once.

A result file names the commit it measured (`revision`, "+dirty" with uncommitted
changes), since the figures drift with the code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


Progress = Callable[[str], None]


@dataclass(frozen=True)
class Pass:
    """One model pass of an evaluation (a server variant, or the raw model) over its tasks:
    its name in the results, the header line printed when it starts, the tasks (anything
    with an ``id``) and the run over some of them. A ``splittable`` pass may be run as
    several shares at once (each share its own server process or llama.cpp context) when
    there are more cores than passes. Consecutive tasks of one ``document`` (the same file
    with its cursor elsewhere, another hole of the same function) stay in one share: their
    prompts start alike, and the server that reads one finds the next in its KV cache."""

    name: str
    title: str
    tasks: Sequence[Any]
    run: Callable[[Sequence[Any], Progress], dict[str, Generated]]
    splittable: bool = True
    document: Callable[[Any], object] | None = None


JOBS_HELP = (
    "model passes run at once (default 1: each pass alone, so its s/task is the model's own"
    " speed; 0 = one per core). The answers are the same (greedy, one model thread per pass),"
    " only the times change; a pass split into shares may flip an answer near a tie (each"
    " server's KV cache holds other prompts)"
)


def jobs_of(jobs: int) -> int:
    """Passes at once for ``--jobs`` (0 = one per core this process may use)."""
    return jobs if jobs > 0 else len(os.sched_getaffinity(0))


def shares_of(passes: Sequence[Pass], jobs: int) -> list[int]:
    """How many shares each pass runs as: the ``jobs`` cores divided by the passes' task
    counts (a raw pass answered from its cache has one task left, the server pass beside
    it gets the other core), at least one each."""
    total = sum(len(one.tasks) for one in passes) or 1
    shares = []
    for one in passes:
        count = round(jobs * len(one.tasks) / total) if one.splittable else 1
        shares.append(min(max(1, count), max(1, len(one.tasks))))
    return shares


def split(
    tasks: Sequence[Any], count: int, document: Callable[[Any], object] | None = None
) -> list[list[Any]]:
    """``tasks`` in ``count`` shares, each run of consecutive tasks of one ``document`` (each
    task alone without it) in the same share, the runs dealt out in turn. Why: the
    floors' holes come with up to three cursors each; dealt out one by one, every cursor of
    a hole went to another server, which read the file's window cold again."""
    runs: list[list[Any]] = []
    for task in tasks:
        if runs and document is not None and document(runs[-1][-1]) == document(task):
            runs[-1].append(task)
        else:
            runs.append([task])
    return [[task for run in runs[i::count] for task in run] for i in range(count)]


def run_passes(
    passes: Sequence[Pass], progress: Progress, jobs: int = 1
) -> tuple[dict[str, dict[str, Generated]], dict[str, float]]:
    """Each pass's answers and seconds (the wall time of its slowest share), in the order
    given. With ``jobs`` > 1 that many run at once, each in a thread of its own (its
    progress lines prefixed with its name): a pass with one model thread leaves the other
    cores of a small machine idle, and passes share nothing (each server is its own
    process, the raw model its own llama.cpp context). A pass split into shares gives share
    i every n-th run of tasks of one document from its i-th (the same split on every run)."""
    runs = [
        (one, share, f"{one.name} {i + 1}/{count}" if count > 1 else one.name)
        for one, count in zip(passes, shares_of(passes, jobs), strict=True)
        for i, share in enumerate(split(one.tasks, count, one.document))
    ]

    def timed(run: tuple[Pass, Sequence[Any], str]) -> tuple[dict[str, Generated], float]:
        one, tasks, label = run
        print(f"== {one.title}" + (f" ({label})" if label != one.name else ""), file=sys.stderr)
        started = time.monotonic()
        if jobs > 1:
            answers = one.run(tasks, lambda message: progress(f"[{label}] {message}"))
        else:
            answers = one.run(tasks, progress)
        return answers, time.monotonic() - started

    if jobs <= 1:
        done = [timed(run) for run in runs]
    else:
        # the shortest first: a raw pass answered from its cache takes a core for a moment
        runs.sort(key=lambda run: len(run[1]))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(timed, runs))
    generations: dict[str, dict[str, Generated]] = {one.name: {} for one in passes}
    timings: dict[str, float] = {one.name: 0.0 for one in passes}
    for (one, _, _), (answers, seconds) in zip(runs, done, strict=True):
        generations[one.name].update(answers)
        timings[one.name] = max(timings[one.name], seconds)
    for one in passes:  # the tasks' own order, whatever the shares
        by_id = generations[one.name]
        generations[one.name] = {t.id: by_id[t.id] for t in one.tasks if t.id in by_id}
    return generations, timings
