"""Cross-file completion floor: with cross-file context the server must do better.

The task set and its scoring get fast tests first (no model): every masked line is needed
(the checks fail without it), the reference passes, and each line uses a name that only
another module defines. Then benchmarks/eval_crossfile.py runs a subset with the default model,
cross-file context off and on, the two servers at once.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from benchmarks import eval_crossfile as ec
from qwen_lsp.crossfile.definitions import definitions
from qwen_lsp.documents import Snapshot
from tests.e2e.conftest import run_evaluation

# ---------------------------------------------------------------------------- the task set


def test_tasks_are_unique_lines_with_unique_ids() -> None:
    tasks = ec.load_tasks()
    assert len(tasks) == len(ec.TASKS) >= 20
    assert len({t.id for t in tasks}) == len(tasks)
    for task in [*tasks, *ec.load_tasks(whole_lines=True)]:
        line = task.prefix[task.prefix.rfind("\n") + 1 :]
        assert task.column == len(line) and task.hole.strip()
        assert (task.prefix + task.hole + task.suffix) == ec.module_sources()[task.module]


def test_every_hole_uses_a_name_only_another_module_defines() -> None:
    sources = ec.module_sources()
    members: dict[str, set[str]] = {}  # everything a module defines, fields included
    top_level: dict[str, set[str]] = {}  # what a module's own code can call unqualified
    for module, text in sources.items():
        found = definitions(Snapshot.build(ec.uri_of(module), "python", 1, text))
        constants = set(re.findall(r"^([A-Z_]+) = ", text, re.M))
        top_level[module] = {d.name for d in found if d.top_level} | constants
        fields = set(re.findall(r"^    (\w+): ", text, re.M))
        members[module] = {d.name for d in found} | constants | fields
    for task in ec.load_tasks():
        line = task.prefix[task.prefix.rfind("\n") + 1 :] + task.hole
        used = set(re.findall(r"[A-Za-z_]\w*", line))
        elsewhere = set().union(
            *(n for m, n in members.items() if m not in (task.module, ec.CHECK))
        )
        assert used & (elsewhere - top_level[task.module]), task.id


def test_the_checks_need_every_line_and_pass_with_it() -> None:
    scorer = ec.Scorer(timeout=20)
    for task in [*ec.load_tasks(), *ec.load_tasks(whole_lines=True)]:
        assert scorer.score(task, task.hole)["passed"], task.id
        assert scorer.score(task, task.hole)["exact"]
        wrong = scorer.score(task, "pass")
        assert not wrong["passed"] and not wrong["exact"], task.id


def test_a_hanging_completion_times_out() -> None:
    task = next(t for t in ec.load_tasks(whole_lines=True) if t.hole.startswith("skipped = "))
    assert ec.Scorer(timeout=2).score(task, "while True: pass")["status"] == "timeout"


# ---------------------------------------------------------------------------- the floor

# Measured at 3e7c86a (all 23 tasks, 0.5B model, one thread, greedy):
#               passed  pass@1  exact  s/task  prompt tokens
#   off            3     13.0%  13.0%   2.51      358
#   on-256         7     30.4%  26.1%   4.42      588
#   on-512         6     26.1%  21.7%   7.21      817
# (masking whole lines instead, at 6e51d60: 3, 3 and 3 of 23: the model mostly writes some
# other line, whatever the context). At f24933e (the cursor line's indentation kept in the
# FIM prefix once code is typed) one task, sensors-2, swapped sides: the model writes
# `celsius_from_decikelvin(raw_temp)` or `air_temp_c` by a hair, now without the context
# and no longer with it: passed off 4, on 6 (exact 3 and 6 of 23, as before). Exact matches
# do not swap so: the floor on them holds the gain of the context with less luck in it.
# The floors hold today's figures less one task.
SUBSET = ""  # all tasks: about 1.5 minutes for the two servers at once (2 cores)
ON_MINUS_OFF_FLOOR = 1  # tasks passed with cross-file context minus without (today 2)
EXACT_GAIN_FLOOR = 2  # exact matches with it minus without (today 3)
ON_PASSED_FLOOR = 5  # tasks passed with it (today 6 of 23)


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("eval") / "eval_crossfile.json"
    # --jobs 0: the two servers at once, one per core (one model thread each): same answers
    args = ["--jobs", "0", *(["--tasks", SUBSET] if SUBSET else [])]
    return run_evaluation("benchmarks.eval_crossfile", out, *args)


@pytest.mark.model
def test_cross_file_context_helps(evaluation: dict[str, Any]) -> None:
    summary = evaluation["summary"]
    [on] = [variant for variant in summary if variant.startswith("on-")]
    gained = summary[on]["passed"] - summary["off"]["passed"]
    assert gained >= ON_MINUS_OFF_FLOOR, summary
    assert summary[on]["passed"] >= ON_PASSED_FLOOR, summary
    exact = {name: round(summary[name]["exact"] * summary[name]["n"] / 100) for name in (on, "off")}
    assert exact[on] - exact["off"] >= EXACT_GAIN_FLOOR, summary
