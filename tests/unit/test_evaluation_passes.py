"""The evaluations' model passes run one after the other, at once, or split into shares
(benchmarks/evaluation.py), without a model: passes that can only finish together show
whether they ran at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from benchmarks.evaluation import (
    Generated,
    Pass,
    Progress,
    jobs_of,
    run_passes,
    shares_of,
    split,
)


@dataclass(frozen=True)
class Task:
    id: str


def meeting_pass(name: str, barrier: threading.Barrier) -> Pass:
    """A pass that waits for the other passes at ``barrier`` (BrokenBarrierError when they do
    not run at the same time) and answers one task with its name."""

    def run(tasks: Sequence[Any], progress: Progress) -> dict[str, Generated]:
        barrier.wait()
        progress("done")
        return {"task": Generated(name, 0.0)}

    return Pass(name, f"{name} title", [Task("task")], run)


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


def test_a_pass_with_more_tasks_than_the_others_takes_the_spare_cores() -> None:
    def answering(name: str, count: int) -> Pass:
        return Pass(name, name, [Task(str(i)) for i in range(count)], lambda t, p: {})

    assert shares_of([answering("server", 40), answering("raw", 40)], 2) == [1, 1]
    assert shares_of([answering("server", 40), answering("raw", 1)], 2) == [2, 1]
    assert shares_of([answering("server", 1)], 4) == [1]  # no share without a task
    whole = Pass("crossfile", "c", [Task("a"), Task("b")], lambda t, p: {}, splittable=False)
    assert shares_of([whole], 2) == [1]


def test_the_shares_of_a_pass_run_at_once_and_their_answers_keep_the_task_order() -> None:
    barrier = threading.Barrier(2, timeout=10)
    lines: list[str] = []

    def run(tasks: Sequence[Any], progress: Progress) -> dict[str, Generated]:
        barrier.wait()  # both shares at once, or BrokenBarrierError
        progress(",".join(t.id for t in tasks))
        return {t.id: Generated(t.id.upper(), 1.0) for t in reversed(tasks)}

    tasks = [Task(name) for name in "abcde"]
    generations, timings = run_passes([Pass("server", "s", tasks, run)], lines.append, jobs=2)
    assert list(generations["server"]) == list("abcde")
    assert [g.text for g in generations["server"].values()] == list("ABCDE")
    assert sorted(lines) == ["[server 1/2] a,c,e", "[server 2/2] b,d"]
    assert list(timings) == ["server"]


def test_the_tasks_of_one_document_stay_in_one_share_in_their_order() -> None:
    # a hole with its three cursors, one with two, then holes alone: the runs dealt in turn
    tasks = [Task(name) for name in ["a1", "a2", "a3", "b1", "b2", "c1", "d1", "a4"]]
    shares = split(tasks, 2, lambda task: task.id[0])
    assert [[t.id for t in share] for share in shares] == [
        ["a1", "a2", "a3", "c1", "a4"],
        ["b1", "b2", "d1"],
    ]
    # without documents every task is its own run: every n-th task, as before
    assert [[t.id for t in share] for share in split(tasks, 3)] == [
        ["a1", "b1", "d1"],
        ["a2", "b2", "a4"],
        ["a3", "c1"],
    ]
    assert split(tasks[:1], 2, lambda task: task.id[0]) == [[tasks[0]], []]


def test_a_pass_runs_its_documents_shares_at_once() -> None:
    lines: list[str] = []

    def run(tasks: Sequence[Any], progress: Progress) -> dict[str, Generated]:
        progress(",".join(t.id for t in tasks))
        return {t.id: Generated(t.id, 1.0) for t in tasks}

    tasks = [Task(name) for name in ["a1", "a2", "b1", "c1", "c2"]]
    one = Pass("server", "s", tasks, run, document=lambda task: task.id[0])
    generations, _ = run_passes([one], lines.append, jobs=2)
    assert list(generations["server"]) == ["a1", "a2", "b1", "c1", "c2"]
    assert sorted(lines) == ["[server 1/2] a1,a2,c1,c2", "[server 2/2] b1"]
