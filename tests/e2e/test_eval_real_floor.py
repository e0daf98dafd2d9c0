"""Real-file holes floor (issue 17): on every hole shape, the server may not fall below the raw
model's indentation cut, and may add no syntax error.

Runs benchmarks/eval_infill_real.py on a fixed seeded subset: Python (the standard library of
the interpreter running the tests), 2 holes of each shape, each with every cursor kind that
fits it (24 tasks), the server over stdio (one model thread, two servers at once) against
the raw model (its answers from tests/fixtures/raw_answers.json, one checked), with the
default model. No tests exist in those files: the figures are edit similarity and
exact match of the suggestion against the removed text (benchmarks/infill_real_scores.py).

To see it fail, break the server on purpose, e.g. single-line suggestions only:
    QWEN_LSP_FLOOR_SERVER_OPTIONS='{"multiline": false}' .venv/bin/python -m pytest \\
        tests/e2e/test_eval_real_floor.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import raw_answers_copy, raw_answers_on_file, run_evaluation

# ---------------------------------------------------------------------------- floors
#
# Measured on this subset (seed 1, 24 tasks), 0.5B model, at 33d6a72, mean edit similarity
# (points) against the raw model's indentation cut (its answers are the same in both runs):
#                         all    line  partial  lines   body  function   exact  syntax err.
#   raw n_indent          37.3   42.8   23.4    41.9   44.4    32.6      4.2%      5
#   server                43.7   51.3   48.5    26.7   69.3    21.2     20.8%      1
#   server, multiline off 36.4   50.0   48.5    30.2   49.0    10.6     12.5%      1
# The server is ahead overall (+6.4) but behind on runs of lines (-15.2) and whole function
# bodies (-11.4): issue 17's open gaps, which these floors do not hide but hold where they
# are. One task moves the mean of all 24 by at most 4.2 points and a shape's (4 or 6 tasks)
# by 17 to 25, so the floors are: never below the cut overall (today +6.4, one and a half
# tasks of room), and no shape more than 20 points below it (today's worst -15.2). Both
# fail with single-line suggestions only (QWEN_LSP_FLOOR_SERVER_OPTIONS='{"multiline":
# false}': -0.9 overall, -22.0 on function bodies).
SIMILARITY_MARGIN = 0.0  # points of mean edit similarity over all 24 tasks
SHAPE_SIMILARITY_MARGIN = 20.0  # points, per shape
BASELINE = "raw n_indent"
# Suggestions that add a syntax error, known and left to fix: none. (The one there was, a
# mid-line rewrite of the code after the cursor, `self.|_read_pos =| 0` given
# `_read_pos += size`, now gives `_read_pos +=`: postprocess/checks.py mends the line.)
KNOWN_SYNTAX_ERRORS: frozenset[str] = frozenset()


def floor_failures(evaluation: dict[str, Any]) -> list[str]:
    """What breaks the similarity floors (empty when they hold)."""
    failures = []
    overall = evaluation["overall"]
    server, baseline = overall["server"]["similarity"], overall[BASELINE]["similarity"]
    if server < baseline - SIMILARITY_MARGIN:
        failures.append(f"all tasks: server {server} < {BASELINE} {baseline}")
    shapes, baselines = _by_shape(evaluation, "server"), _by_shape(evaluation, BASELINE)
    for shape, value in shapes.items():
        if value < baselines[shape] - SHAPE_SIMILARITY_MARGIN:
            failures.append(f"{shape}: server {value:.1f} < {BASELINE} {baselines[shape]:.1f}")
    return failures


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("eval")
    out = folder / "eval_infill_real.json"
    args = ["--languages", "python", "--per-shape", "2", "--seed", "1", "--raw-early-stop"]
    args += ["--raw-cache", str(raw_answers_copy(folder))]
    # the server on both cores (two shares of the tasks) once the raw answers are read
    args += ["--jobs", "0"]
    options = os.environ.get("QWEN_LSP_FLOOR_SERVER_OPTIONS")
    if options:  # a deliberately broken server, to see the floor fail
        args += ["--server-options", options]
    return run_evaluation("benchmarks.eval_infill_real", out, *args)


def _by_shape(evaluation: dict[str, Any], variant: str) -> dict[str, float]:
    """Mean edit similarity (points) per shape, every cursor kind together."""
    totals: dict[str, list[float]] = {}
    for task in evaluation["tasks"]:
        totals.setdefault(task["shape"], []).append(task["variants"][variant]["similarity"])
    return {shape: 100.0 * sum(v) / len(v) for shape, v in totals.items()}


@pytest.mark.model
def test_server_is_not_below_the_indentation_cut(evaluation: dict[str, Any]) -> None:
    assert evaluation["overall"]["server"]["n"] == 24, evaluation["overall"]
    assert set(_by_shape(evaluation, "server")) == {"line", "partial", "lines", "body", "function"}
    assert not floor_failures(evaluation), (floor_failures(evaluation), evaluation["overall"])


@pytest.mark.model
def test_the_raw_answers_file_is_up_to_date(evaluation: dict[str, Any]) -> None:
    # (out of date, the floor still holds: the raw answers are generated, 100 s slower)
    assert raw_answers_on_file(evaluation) == 23, "regenerate tests/e2e/conftest.RAW_ANSWERS"


@pytest.mark.model
def test_server_adds_no_syntax_error(evaluation: dict[str, Any]) -> None:
    bad = [
        (task["id"], task["variants"]["server"]["completion"])
        for task in evaluation["tasks"]
        if task["variants"]["server"]["syntax_error"] and task["id"] not in KNOWN_SYNTAX_ERRORS
    ]
    assert not bad


def test_the_subset_is_fixed() -> None:
    """The subset (no model): 2 holes of each of the 5 shapes. That it is the same on every
    run and machine, test_the_raw_answers_file_is_up_to_date shows: the file finds its
    answers by each task's text."""
    from benchmarks import eval_infill_real

    args = eval_infill_real.parse_args(["--languages", "python", "--per-shape", "2", "--seed", "1"])
    tasks = eval_infill_real.load_tasks(args)[0]
    assert len(tasks) == 24  # 2 x (2 + 2 + 2 + 3 + 3) cursor kinds
    assert len({(t.id, t.hole) for t in tasks}) == 24
    assert Path(tasks[0].path).suffix == ".py"
