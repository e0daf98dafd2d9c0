"""The evaluation's cursor variants (benchmarks/infill_tasks.py), without a model."""

from __future__ import annotations

from benchmarks.infill_tasks import Task, at_column_0, cut_at_dedent


def task(prefix: str, hole: str, suffix: str) -> Task:
    return Task("HumanEval/0/block/0", "block", prefix, hole, suffix, "", "f")


def test_the_cursor_at_column_0_moves_the_indentation_into_the_hole() -> None:
    indented = task('def f(x):\n    """Doc."""\n    ', "y = x\n    return y", "\n")
    moved = at_column_0(indented)
    assert moved.prefix == 'def f(x):\n    """Doc."""\n'
    assert moved.hole == "    y = x\n    return y"
    assert moved.reference == indented.reference  # the same program once filled
    assert moved.indent == indented.indent == 4  # the raw indentation cut is the same


def test_a_cursor_after_code_on_its_line_stays_where_it_is() -> None:
    mid_line = task("def f(x):\n    return ", "x + 1", "\n")
    assert at_column_0(mid_line) == mid_line


def test_the_indentation_cut_reads_the_hole_indentation_at_column_0() -> None:
    moved = at_column_0(task("def f(x):\n    ", "y = x\n    return y", "\n"))
    answer = "    y = x\n    return y\nprint(f(1))"
    assert cut_at_dedent(answer, moved.indent) == "    y = x\n    return y"
