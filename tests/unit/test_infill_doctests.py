"""Holes the doctests test (benchmarks/infill_doctests.py): which holes are kept, and that an
answer's run tells a right answer from a wrong one. No model; each check is a subprocess."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from benchmarks import infill_doctests as doctests
from benchmarks import infill_real as ir
from benchmarks import infill_real_scores as scores

MODULE = '''"""A module of the pool."""


def clamp(value, low, high):
    """Clamp value into [low, high].

    >>> clamp(5, 0, 3)
    3
    >>> clamp(-2, 0, 3)
    0
    >>> clamp(1, 0, 3)
    1
    """
    if value > high:
        return high
    if value < low:
        return low
    if value is None:
        raise TypeError("never taken by the examples")
    _unused = None
    return value


def broken(x):
    """A doctest that fails on the file as it is.

    >>> broken(1)
    2
    """
    y = x
    z = y
    w = z
    return w


def untested(x):
    """No examples."""
    y = x + 1
    z = y * 2
    w = z - 3
    return w
'''
PATH = "/usr/lib/python3/poolmodule.py"


@functools.cache
def _found() -> tuple[tuple[ir.Site, doctests.Doctest], ...]:
    return tuple(doctests.candidates(PATH, MODULE))


def _hole(shape: str, line: str) -> tuple[ir.Site, doctests.Doctest, ir.Task]:
    """The candidate hole of ``shape`` starting on ``line``, its doctest, its task (the
    cursor after the indentation)."""
    lines = MODULE.split("\n")
    for site, test in _found():
        if site.shape == shape and lines[site.first].strip() == line:
            return site, test, ir.make_task(MODULE, site, "indent")
    raise AssertionError(f"no {shape} hole at {line!r}")


def test_only_passing_doctests_of_functions_are_found() -> None:
    found = doctests.probe(PATH, MODULE)
    assert [d.name for d in found] == ["poolmodule.clamp"]
    clamp = found[0]
    lines = MODULE.split("\n")
    ran = {lines[n - 1].strip() for n in clamp.lines}
    assert {"if value > high:", "return high", "return low"} <= ran
    assert 'raise TypeError("never taken by the examples")' not in ran
    assert lines[clamp.docstring_row].strip().startswith('"""Clamp')


def test_holes_are_kept_where_the_examples_run() -> None:
    found = _found()
    assert {d.name for _, d in found} == {"poolmodule.clamp"}
    kept = {(s.shape, MODULE.split("\n")[s.first].strip()) for s, _ in found}
    assert ("line", "return high") in kept
    assert ("function", '"""Clamp value into [low, high].') in kept
    # a branch no example takes: whatever fills it passes
    assert not any("raise TypeError" in line for shape, line in kept if shape == "line")


def test_a_hole_whose_removal_no_example_notices_is_dropped() -> None:
    checker = doctests.Checker()
    noticed, test, _ = _hole("line", "return low")
    unnoticed = _hole("line", "_unused = None")[0]
    assert doctests.detects_empty(checker, MODULE, noticed, test)
    assert not doctests.detects_empty(checker, MODULE, unnoticed, test)


def test_an_answer_is_run_against_the_original_examples() -> None:
    checker = doctests.Checker()
    _, test, task = _hole("function", '"""Clamp value into [low, high].')
    assert checker.check(test, task.reference).passed
    # no docstring in the answer: the original examples still run
    right = "return max(low, min(value, high))"
    assert checker.check(test, task.program(right)).passed
    wrong = checker.check(test, task.program("return value"))
    assert not wrong.passed and wrong.status == "failed"
    assert "failed" in checker.check(test, task.program("return (")).status
    looping = doctests.check(test, task.program("while True:\n        pass"), timeout=2.0)
    assert looping.status == "timeout"


def test_an_answer_runs_in_a_folder_of_its_own() -> None:
    _, test, task = _hole("line", "return high")
    name = f"written-by-an-answer-{os.getpid()}.txt"
    answer = f"open({name!r}, 'w').write('x'); return high"
    assert doctests.check(test, task.program(answer)).passed
    assert not (Path.cwd() / name).exists()


def test_the_sample_takes_one_hole_of_each_function_in_turn() -> None:
    def site(first: int) -> ir.Site:
        return ir.Site("python", "line", "m.py", first, first)

    a = doctests.Doctest("m", "m.a", "", 0, frozenset())
    b = doctests.Doctest("m", "m.b", "", 0, frozenset())
    found = [(site(n), a) for n in range(1, 6)] + [(site(n), b) for n in range(10, 12)]
    ordered = doctests.spread(found, "7")
    assert sorted(ordered, key=lambda p: p[0].key) == sorted(found, key=lambda p: p[0].key)
    assert {ordered[0][1].name, ordered[1][1].name} == {"m.a", "m.b"}
    assert {ordered[2][1].name, ordered[3][1].name} == {"m.a", "m.b"}
    assert [d.name for _, d in ordered[4:]] == ["m.a"] * 3
    assert ordered == doctests.spread(list(reversed(found)), "7")


def test_tested_rows_show_the_pass_rate_and_its_lead() -> None:
    checker = doctests.Checker()
    _, test, task = _hole("line", "return high")
    completions = {"raw first line": ("return low", 1.0), "server": ("return high", 1.0)}
    record = scores.score_record(
        task, completions, scores.SyntaxCounter(), lambda p: checker.check(test, p)
    )
    assert record["variants"]["server"]["passed"]
    assert not record["variants"]["raw first line"]["passed"]
    rows = scores.summarize([record], ["raw first line", "server"])
    assert rows[0]["server"]["passed"] == 100.0
    assert scores.lead(rows[0], figure="passed") == 100.0
    printed = scores.table(rows, ["raw first line", "server"])
    assert "pass vs best cut" in printed and "+100.0" in printed
    untested = scores.score_record(task, completions, scores.SyntaxCounter())
    assert "passed" not in scores.summarize([untested], ["server"])[0]["server"]
