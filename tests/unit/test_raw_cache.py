"""The raw model's answers kept between evaluation runs (benchmarks/raw_cache.py), without a
model: a stand-in raw model that answers each task with a text of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.evaluation import Generated, Progress, run_passes
from benchmarks.raw_cache import CACHED, RawCache, raw_pass


@dataclass(frozen=True)
class Task:
    id: str
    prefix: str


TASKS = [Task(f"t{i}", f"prefix {i}") for i in range(5)]


class StandIn:
    """Answers ``prefix -> answer`` (upper case by default) and counts what it was asked."""

    def __init__(self, answer: str = "") -> None:
        self.asked: list[str] = []
        self.answer = answer

    def run(self, tasks: Sequence[Any], progress: Progress) -> dict[str, Generated]:
        self.asked += [t.id for t in tasks]
        return {t.id: Generated(self.answer or t.prefix.upper(), 0.5) for t in tasks}


def evaluate(path: Path, model: StandIn, identity: str = "model-a") -> dict[str, Generated]:
    cache = RawCache(path, identity)
    one, finish = raw_pass("raw", TASKS, model.run, cache, lambda t: (t.prefix,))
    generations, _ = run_passes([one], lambda _: None)
    return finish(generations["raw"], lambda _: None)


def test_a_second_run_generates_only_the_check(tmp_path: Path) -> None:
    path = tmp_path / "raw.json"
    first = StandIn()
    answers = evaluate(path, first)
    assert first.asked == [t.id for t in TASKS] and answers["t3"].text == "PREFIX 3"
    second = StandIn()
    again = evaluate(path, second)
    assert [a.text for a in again.values()] == [a.text for a in answers.values()]
    assert len(second.asked) == 1  # the one answer checked on this machine
    assert sum(bool(a.extra.get(CACHED)) for a in again.values()) == len(TASKS) - 1
    assert not any(CACHED in e["extra"] for e in RawCache(path, "model-a").entries.values())


def test_a_new_task_is_generated_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "raw.json"
    cache = RawCache(path, "model-a")
    cache.put(cache.key("prefix 1"), Generated("kept 1", 1.0))
    cache.put(cache.key("prefix 2"), Generated("kept 2", 2.0))
    cache.save()
    model = StandIn()
    answers = evaluate(path, model)
    # t1 is the check (the quickest the file answers): "PREFIX 1" here, not "kept 1"
    assert model.asked[:4] == ["t0", "t1", "t3", "t4"]
    assert model.asked[4:] == ["t2"]  # the file differs on this machine: all generated
    assert [answers[t.id].text for t in TASKS] == [t.prefix.upper() for t in TASKS]
    assert answers["t2"].extra[CACHED] is False and CACHED not in answers["t0"].extra
    assert RawCache(path, "model-a").get(cache.key("prefix 2")) == Generated("PREFIX 2", 0.5)


def test_the_file_is_trusted_when_the_check_agrees(tmp_path: Path) -> None:
    path = tmp_path / "raw.json"
    cache = RawCache(path, "model-a")
    cache.put(cache.key("prefix 1"), Generated("PREFIX 1", 1.0))
    cache.put(cache.key("prefix 2"), Generated("kept 2", 2.0))  # this machine would differ
    cache.save()
    model = StandIn()
    answers = evaluate(path, model)
    assert model.asked == ["t0", "t1", "t3", "t4"]
    assert answers["t2"].text == "kept 2" and answers["t2"].extra[CACHED]


def test_another_model_or_code_finds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "raw.json"
    evaluate(path, StandIn())
    other = StandIn("other model")
    answers = evaluate(path, other, identity="model-b")
    assert other.asked == [t.id for t in TASKS]
    assert {a.text for a in answers.values()} == {"other model"}
    assert len(RawCache(path, "model-b").entries) == 2 * len(TASKS)  # both kept


def test_without_a_file_every_task_is_generated() -> None:
    model = StandIn()
    one, finish = raw_pass("raw", TASKS, model.run, None, lambda t: ())
    generations, _ = run_passes([one], lambda _: None)
    assert finish(generations["raw"], lambda _: None)["t4"].text == "PREFIX 4"
    assert model.asked == [t.id for t in TASKS]
