"""Same behaviour on generated calls (benchmarks/action_calls.py): the Simplify verdict
beyond doctests, and a Fix's that is not the original code."""

from __future__ import annotations

import ast

from benchmarks import action_calls
from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED

CLAMP = '''def clamp(values, limit=3):
    """Values above the limit cut down to it."""
    out = []
    for value in values:
        if value > limit:
            out.append(limit)
        else:
            out.append(value)
    return out
'''
MODULE = "import math\n\n\n" + CLAMP + "\n\nCONSTANT = 1\n"


def test_calls_are_seeded_literals_of_small_values() -> None:
    calls, why = action_calls.call_plan(CLAMP)
    assert why == "" and len(calls) == len(action_calls.POOL)  # one required parameter
    assert all(isinstance(ast.literal_eval(c), tuple) for c in calls)
    two = "def f(a, b, c=1):\n    return a + b\n"
    calls, _ = action_calls.call_plan(two, seed=1)
    assert len(calls) == action_calls.MAX_CALLS
    assert calls == action_calls.call_plan(two, seed=1)[0]
    assert calls != action_calls.call_plan(two, seed=2)[0]


def test_functions_that_cannot_be_called_so_are_left_unchecked() -> None:
    cases = {
        "    def size(self):\n        return 1\n": "not a top-level function",
        "def size(self):\n    return 1\n": "a method",
        "def read(p):\n    return open(p).read()\n": "uses open",
        "def now(x):\n    return time.time() + x\n": "uses time",
        "def bump(x):\n    global N\n    N = x\n": "changes global state",
        "def f(a, *, key):\n    return a\n": "has required keyword-only parameters",
        "def f(a, b, c, d):\n    return a\n": "4 required parameters",
        "async def f(a):\n    return a\n": "a coroutine",
    }
    loop = "def encode(items):\n    for input in items:\n        yield input\n"
    assert action_calls.call_plan(loop)[1] == ""  # its own variable, not the built-in
    for source, why in cases.items():
        assert action_calls.call_plan(source) == ([], why), source


def test_records_are_compared_call_by_call() -> None:
    calls = ["(1,)", "(2,)", "('a',)", "(None,)"]
    old = {
        "records": [
            ["ok", "1", "(1,)", ""],
            ["ok", "4", "(2,)", ""],
            ["ok", "'aa'", "('a',)", ""],
            ["raise", "TypeError"],
        ]
    }
    same = action_calls.compare_records(calls, old, old, "f")
    assert same.outcome == GOOD and same.details == {"calls": 4, "returned": 3}
    changed = {"records": [*old["records"][:2], ["ok", "'a'", "('a',)", ""], old["records"][3]]}
    verdict = action_calls.compare_records(calls, old, changed, "f")
    assert verdict.outcome == BAD and verdict.note.startswith("f('a'): ok 'a', was ok 'aa'")
    raised = {"records": [*old["records"][:3], ["raise", "AttributeError"]]}
    assert action_calls.compare_records(calls, old, raised, "f").outcome == BAD
    printed = {"records": [["ok", "1", "(1,)", "hi\n"], *old["records"][1:]]}
    assert action_calls.compare_records(calls, old, printed, "f").outcome == BAD
    few = {"records": [["raise", "TypeError"]] * 3 + [["ok", "1", "(None,)", ""]]}
    verdict = action_calls.compare_records(calls, few, few, "f")
    assert verdict.outcome == UNCHECKED and "only 1" in verdict.note
    slow = {"records": [["timeout"], *old["records"][1:]]}
    verdict = action_calls.compare_records(calls, slow, old, "f")  # the slow call not counted
    assert verdict.outcome == UNCHECKED and "only 2" in verdict.note
    assert action_calls.compare_records(calls, None, old, "f").outcome == UNCHECKED
    broken = {"error": "import: SyntaxError"}
    verdict = action_calls.compare_records(calls, old, broken, "f")
    assert verdict.outcome == BAD and "SyntaxError" in verdict.note


def test_a_rewrite_is_run_in_the_sandbox_against_the_original() -> None:
    simpler = MODULE.replace(
        CLAMP.split('"""\n', 1)[1],
        "    return [min(value, limit) for value in values]\n",
    )
    verdict = action_calls.calls_verdict(MODULE, simpler, "clamp", CLAMP, 60)
    assert verdict.outcome == GOOD, verdict.note
    wrong = MODULE.replace("if value > limit:", "if value >= limit + 1 or value == 0:")
    verdict = action_calls.calls_verdict(MODULE, wrong, "clamp", CLAMP, 60)
    assert verdict.outcome == BAD and verdict.note.startswith("clamp(")
    # A module that replaces its Python function (heapq's `from _heapq import *`): unchecked.
    replaced = MODULE + "\nfrom math import floor as clamp\n"
    verdict = action_calls.calls_verdict(replaced, replaced, "clamp", CLAMP, 60)
    assert verdict.outcome == UNCHECKED and "not a Python function" in verdict.note
