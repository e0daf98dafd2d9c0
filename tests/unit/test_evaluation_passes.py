"""The evaluations' model passes run one after the other or at once (benchmarks/evaluation.py),
without a model: passes that can only finish together show whether they ran at once."""

from __future__ import annotations

import threading

import pytest

from benchmarks.evaluation import Generated, Pass, Progress, jobs_of, run_passes


def meeting_pass(name: str, barrier: threading.Barrier) -> Pass:
    """A pass that waits for the other passes at ``barrier`` (BrokenBarrierError when they do
    not run at the same time) and answers one task with its name."""

    def run(progress: Progress) -> dict[str, Generated]:
        barrier.wait()
        progress("done")
        return {"task": Generated(name, 0.0)}

    return Pass(name, f"{name} title", run)


def test_passes_at_once_keep_their_order_and_names() -> None:
    barrier = threading.Barrier(2, timeout=10)
    lines: list[str] = []
    passes = [meeting_pass("server", barrier), meeting_pass("raw", barrier)]
    generations, timings = run_passes(passes, lines.append, jobs=2)
    assert list(generations) == ["server", "raw"] == list(timings)
    assert [generations[name]["task"].text for name in generations] == ["server", "raw"]
    assert sorted(lines) == ["[raw] done", "[server] done"]  # whose line it is


def test_one_job_runs_the_passes_one_after_the_other() -> None:
    barrier = threading.Barrier(2, timeout=0.5)
    passes = [meeting_pass("server", barrier), meeting_pass("raw", barrier)]
    with pytest.raises(threading.BrokenBarrierError):  # the first waits alone
        run_passes(passes, lambda _: None, jobs=1)


def test_one_job_per_core_with_zero() -> None:
    assert jobs_of(3) == 3
    assert jobs_of(0) >= 1
