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


SHAPES = '''import sys

SCALE = 3


class Shape:
    """Sizes scaled by the module's constant."""

    def __init__(self):
        self.total = 0

    def grow(self, n):
        if isinstance(n, int):
            self.total = self.total + n * SCALE
            return self.total
        else:
            return None

    @staticmethod
    def double(x):
        if isinstance(x, int):
            return x * 2
        return -1

    @classmethod
    def label(cls, x):
        return cls.__name__ + ":" + str(x)


class Strict:
    def __init__(self, required):
        self.required = required

    def show(self, x):
        if hasattr(self, "required"):
            return "set"
        return "bare " + str(x)


def width(x):
    if sys.maxsize > 0:
        return len(str(x)) * SCALE
    return 0
'''


def _method(name: str, text: str = SHAPES) -> str:
    """The method's source as the corpus gives it (indented, decorators included)."""
    lines = text.split("\n")
    start = found = next(i for i, line in enumerate(lines) if f"def {name}(" in line)
    while lines[start - 1].strip().startswith("@"):
        start -= 1
    end = found + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith("        ")):
        end += 1
    return "\n".join(lines[start:end]).rstrip()


def test_a_method_of_a_top_level_class_is_planned_without_self() -> None:
    grow = _method("grow")
    assert action_calls.method_owner(SHAPES, grow, "grow") == "Shape"
    assert action_calls.method_owner(SHAPES, "    def grow(self, n):\n        pass", "grow") == ""
    calls, why = action_calls.call_plan(grow, owner="Shape")
    assert why == "" and all(len(ast.literal_eval(c)) == 1 for c in calls)
    assert action_calls.call_plan(grow)[1] == "not a top-level function"
    double = _method("double")
    assert double.strip().startswith("@staticmethod")
    calls, why = action_calls.call_plan(double, owner="Shape")
    assert why == "" and all(len(ast.literal_eval(c)) == 1 for c in calls)
    init = _method("__init__")
    assert action_calls.call_plan(init, owner="Shape")[1] == "a constructor"
    varargs = "def join(*parts):\n    return '-'.join(parts)\n"
    lengths = {len(ast.literal_eval(c)) for c in action_calls.call_plan(varargs)[0]}
    assert max(lengths) == 2  # more than the none required


def test_a_method_is_called_on_a_fresh_instance_and_its_state_compared() -> None:
    grow = _method("grow")
    same = SHAPES.replace(
        "            self.total = self.total + n * SCALE\n", "            self.total += n * SCALE\n"
    )
    verdict = action_calls.calls_verdict(SHAPES, same, "grow", grow, 60)
    assert verdict.outcome == GOOD, verdict.note
    # The same result, but the instance left as it was: bad.
    stateless = SHAPES.replace(
        "            self.total = self.total + n * SCALE\n            return self.total\n",
        "            return self.total + n * SCALE\n",
    )
    verdict = action_calls.calls_verdict(SHAPES, stateless, "grow", grow, 60)
    assert verdict.outcome == BAD, verdict.note
    double = _method("double")
    simpler = SHAPES.replace(
        "        if isinstance(x, int):\n            return x * 2\n        return -1",
        "        return x * 2 if isinstance(x, int) else -1",
    )
    assert action_calls.calls_verdict(SHAPES, simpler, "double", double, 60).outcome == GOOD
    wrong = SHAPES.replace("return x * 2", "return x + 2")
    assert action_calls.calls_verdict(SHAPES, wrong, "double", double, 60).outcome == BAD
    label = _method("label")
    joined = SHAPES.replace('cls.__name__ + ":" + str(x)', 'f"{cls.__name__}:{x}"')
    assert action_calls.calls_verdict(SHAPES, joined, "label", label, 60).outcome == GOOD
    # A constructor that needs arguments: the instance is made without __init__.
    show = _method("show")
    other = SHAPES.replace('"bare " + str(x)', '"bare" + str(x)')
    verdict = action_calls.calls_verdict(SHAPES, other, "show", show, 60)
    assert verdict.outcome == BAD and "bare" in verdict.note


def test_a_function_runs_with_its_module_globals_and_sys() -> None:
    function = SHAPES[SHAPES.index("def width") :]
    same = SHAPES.replace(
        "    if sys.maxsize > 0:\n        return len(str(x)) * SCALE\n    return 0",
        "    return len(str(x)) * SCALE if sys.maxsize > 0 else 0",
    )
    assert action_calls.calls_verdict(SHAPES, same, "width", function, 60).outcome == GOOD
    other = SHAPES.replace("len(str(x)) * SCALE", "len(repr(x)) * SCALE")
    assert action_calls.calls_verdict(SHAPES, other, "width", function, 60).outcome == BAD


def test_what_does_not_repeat_or_does_not_vary_proves_nothing() -> None:
    clock = "from time import perf_counter as tick\n\n\ndef stamp(x):\n    return (tick(), x)\n"
    function = clock[clock.index("def stamp") :]
    verdict = action_calls.calls_verdict(clock, clock, "stamp", function, 60)
    assert verdict.outcome == UNCHECKED and "run again" in verdict.note
    nothing = "def nothing(x):\n    if x:\n        return None\n    return None\n"
    verdict = action_calls.calls_verdict(
        nothing, "def nothing(x):\n    return None\n", "nothing", nothing, 60
    )
    assert verdict.outcome == UNCHECKED and "the same" in verdict.note


def test_a_bound_moved_by_one_is_found() -> None:
    old = (
        "def within(v, low, high):\n    if low <= v and v <= high:\n        return True\n"
        "    else:\n        return False\n"
    )
    same = "def within(v, low, high):\n    return low <= v and v <= high\n"
    assert action_calls.calls_verdict(old, same, "within", old, 60).outcome == GOOD
    shifted = "def within(v, low, high):\n    return low <= v < high\n"
    assert action_calls.calls_verdict(old, shifted, "within", old, 60).outcome == BAD


def test_a_constructor_that_reaches_the_world_is_not_run() -> None:
    text = (
        "import time\n\n\nclass Client:\n    def __init__(self):\n"
        "        self.started = time.monotonic()\n\n"
        "    def greet(self, x):\n        return hasattr(self, 'started'), str(x)\n"
    )
    assert action_calls.calm_classes(text) == []
    assert action_calls.calm_classes(SHAPES) == ["Shape", "Strict"]
    greet = text[text.index("    def greet") :].rstrip()
    verdict = action_calls.calls_verdict(text, text, "greet", greet, 60)
    # Made without __init__: no clock read (its value would differ from run to run).
    assert verdict.outcome == GOOD and verdict.details["returned"] == len(action_calls.POOL)
    calm = text.replace("time.monotonic()", "0")
    called = action_calls.calls_verdict(calm, calm.replace("str(x)", "repr(x)"), "greet", greet, 60)
    assert called.outcome == BAD and "True" in called.note  # constructed: it has `started`
