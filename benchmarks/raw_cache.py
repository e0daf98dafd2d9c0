"""The raw model's answers kept between runs of an evaluation (``--raw-cache FILE``).

The raw model is the baseline, not the thing under test: greedy, a fixed prompt, nothing
of this project's server in it. Its answer to a task is a function of the model file,
llama.cpp, the prompt code and the task, so a run may take it from an earlier run instead
of reading the prompt again (half the model time of the CI floors). An answer is kept
under a key of all of these: the model file's name and size, llama-cpp-python's version,
the source of the functions that build the prompt and generate (``code``), and the
task's own inputs. Another machine's CPU may round differently: every run generates one
task the file answers again and trusts the file only when that answer is the same;
otherwise every task is generated (and the file updated).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from benchmarks.evaluation import Generated, Pass, Progress

# in the ``extra`` of an answer taken from the file
CACHED = "from_raw_cache"


class _Task(Protocol):
    @property
    def id(self) -> str: ...


def identity(model_path: Path, code: Sequence[Callable[..., Any]]) -> str:
    """What the raw answers depend on besides the task: model, llama.cpp, prompt code."""
    import llama_cpp

    sources = hashlib.sha256("".join(inspect.getsource(f) for f in code).encode()).hexdigest()
    size = model_path.stat().st_size
    return f"{model_path.name}:{size}:llama-cpp-python {llama_cpp.__version__}:{sources[:16]}"


class RawCache:
    """Answers by key, read from and written back to ``path``."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            self.entries = json.loads(path.read_text()).get("answers", {})

    def key(self, *inputs: Any) -> str:
        text = json.dumps([self.identity, *inputs], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> Generated | None:
        entry = self.entries.get(key)
        return Generated(**entry) if entry is not None else None

    def put(self, key: str, answer: Generated) -> None:
        self.entries[key] = asdict(answer)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # sorted keys, one answer a line: a regenerated file diffs by the answers changed
        body = ",\n".join(
            f"{json.dumps(k)}: {json.dumps(self.entries[k], ensure_ascii=False, sort_keys=True)}"
            for k in sorted(self.entries)
        )
        self.path.write_text('{"answers": {\n' + body + "\n}}\n")


@dataclass
class RawPlan:
    """Which tasks the raw model must answer: those the file has no answer for, and one it
    has (the check that this machine gives the same answers)."""

    cache: RawCache
    keys: dict[str, str]  # task id -> key
    cached: dict[str, Generated]  # answers taken from the file
    todo: list[Any]  # tasks to generate
    check: str  # the task generated again to check the file ("" when it has none)


def plan(
    cache: RawCache, tasks: Sequence[_Task], inputs_of: Callable[[Any], Sequence[Any]]
) -> RawPlan:
    """``inputs_of``: what of a task the raw model's answer depends on (its key's part)."""
    keys = {task.id: cache.key(*inputs_of(task)) for task in tasks}
    found = {task.id: cache.get(keys[task.id]) for task in tasks}
    cached = {task_id: answer for task_id, answer in found.items() if answer is not None}
    # the check: the answer that took least time (a long one is a long wait for nothing)
    check = min(cached, key=lambda task_id: cached[task_id].seconds, default="")
    cached.pop(check, None)
    todo = [task for task in tasks if task.id not in cached]
    return RawPlan(cache, keys, cached, todo, check)


def settle(
    raw_plan: RawPlan,
    tasks: Sequence[_Task],
    generated: dict[str, Generated],
    generate: Callable[[Sequence[Any]], dict[str, Generated]],
) -> dict[str, Generated]:
    """Every task's raw answer: the generated ones, and the file's when its answer to the
    check task is the one generated now (else the rest generated with ``generate``). The
    file is written back with the answers generated. Answers the file had are marked
    ``extra[CACHED]``: True when taken from it, False when this machine answered otherwise
    (so that a run can tell a file out of date from another machine's rounding)."""
    fresh = dict(generated)
    kept = raw_plan.cache.get(raw_plan.keys[raw_plan.check]) if raw_plan.check else None
    differs = False
    if kept is not None and kept.text != generated[raw_plan.check].text:
        differs = True
        print(
            f"== raw answers in {raw_plan.cache.path} differ on this machine ({raw_plan.check}:"
            f" {kept.text!r} kept, {generated[raw_plan.check].text!r} now): generating all",
            file=sys.stderr,
        )
        fresh.update(generate([t for t in tasks if t.id in raw_plan.cached]))
    for task_id, answer in fresh.items():
        raw_plan.cache.put(raw_plan.keys[task_id], answer)
    raw_plan.cache.save()
    answers = {**fresh, **({} if differs else raw_plan.cached)}
    for task_id in raw_plan.cached:
        answer = answers[task_id]
        answers[task_id] = replace(answer, extra={**answer.extra, CACHED: not differs})
    return {t.id: answers[t.id] for t in tasks}


Run = Callable[[Sequence[Any], Progress], dict[str, Generated]]


def raw_pass(
    name: str,
    tasks: Sequence[_Task],
    run: Run,
    cache: RawCache | None,
    inputs_of: Callable[[Any], Sequence[Any]],
) -> tuple[Pass, Callable[[dict[str, Generated], Progress], dict[str, Generated]]]:
    """The raw model's pass (evaluation.run_passes) over the tasks ``cache`` does not
    answer (all of them without one), and what turns its answers into every task's."""
    if cache is None:
        return Pass(name, "raw model", tasks, run), lambda generated, _: generated
    raw_plan = plan(cache, tasks, inputs_of)
    title = f"raw model ({len(raw_plan.cached)} of {len(tasks)} answers from {cache.path})"

    def finish(generated: dict[str, Generated], progress: Progress) -> dict[str, Generated]:
        return settle(raw_plan, tasks, generated, lambda rest: run(rest, progress))

    return Pass(name, title, raw_plan.todo, run), finish
