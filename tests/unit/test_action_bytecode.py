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
