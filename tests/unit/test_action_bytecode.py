"""The same-bytecode verdict of Simplify edits (benchmarks/action_bytecode.py)."""

from __future__ import annotations

from benchmarks.action_bytecode import bytecode_verdict
from benchmarks.action_verdicts import GOOD, UNCHECKED

METHOD = """class Buffer:
    def pop(self):
        if not self.items:
            return None
        else:
            item = self.items[-1]
            del self.items[-1]
            return item
"""


def test_an_else_after_a_return_dropped_compiles_to_the_same_code() -> None:
    new = """class Buffer:
    def pop(self):
        if not self.items:
            return None
        item = self.items[-1]
        del self.items[-1]
        return item
"""
    verdict = bytecode_verdict(METHOD, new)
    assert verdict.outcome == GOOD, verdict


def test_nested_ifs_joined_compile_to_the_same_code() -> None:
    old = "def f(a, b):\n    if a:\n        if b:\n            print(1)\n    return 2\n"
    new = "def f(a, b):\n    if a and b:\n        print(1)\n    return 2\n"
    assert bytecode_verdict(old, new).outcome == GOOD


def test_another_behaviour_or_another_shape_says_nothing() -> None:
    changed = METHOD.replace("self.items[-1]\n            del", "self.items[0]\n            del")
    assert bytecode_verdict(METHOD, changed).outcome == UNCHECKED
    old = "def f(a):\n    y = a + 1\n    return y\n"
    assert bytecode_verdict(old, "def f(a):\n    return a + 1\n").outcome == UNCHECKED
    assert bytecode_verdict(old, "def f(a:\n").outcome == UNCHECKED


def test_branches_that_assign_one_name_are_a_conditional_expression() -> None:
    old = (
        "def mode(m):\n    if m is None:\n        x = None\n    elif m < 0:\n        x = 0\n"
        "    else:\n        x = m & 7\n    return x\n"
    )
    new = "def mode(m):\n    x = None if m is None else 0 if m < 0 else m & 7\n    return x\n"
    assert bytecode_verdict(old, new).outcome == GOOD
    # The branches swapped, another name, a second statement: not the same.
    swapped = "def mode(m):\n    x = m & 7 if m is None else 0 if m < 0 else None\n    return x\n"
    assert bytecode_verdict(old, swapped).outcome == UNCHECKED
    other = "def f(c):\n    if c:\n        x = 1\n    else:\n        y = 2\n    return x\n"
    assert bytecode_verdict(other, "def f(c):\n    x = 1 if c else 2\n    return x\n").outcome == (
        UNCHECKED
    )
    more = "def f(c):\n    if c:\n        x = 1\n        print(x)\n    else:\n        x = 2\n"
    assert bytecode_verdict(more, "def f(c):\n    x = 1 if c else 2\n").outcome == UNCHECKED
    attribute = "def f(o, c):\n    if c:\n        o.x = 1\n    else:\n        o.x = 2\n"
    assert bytecode_verdict(attribute, "def f(o, c):\n    o.x = 1 if c else 2\n").outcome == (
        UNCHECKED
    )
