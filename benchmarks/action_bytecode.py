"""Same bytecode: a Python module whose rewrite compiles to the same instructions,
constants and names (line numbers aside) behaves the same however it is called.

A sufficient check, not a necessary one: for the Simplify edits that only move code
around (an ``else`` after a ``return`` dropped, nested ``if`` statements joined with
``and``, an assignment in both branches made a conditional expression) CPython often
emits the very same code; other edits (a temporary dropped) compile differently and
this says nothing about them. Pure: compiling runs nothing.
"""

from __future__ import annotations

from types import CodeType

from benchmarks.action_verdicts import GOOD, UNCHECKED, Verdict


def _shape(code: CodeType) -> tuple[object, ...]:
    """What a code object does, without where its lines are."""
    consts = tuple(_shape(c) if isinstance(c, CodeType) else (type(c), c) for c in code.co_consts)
    return (
        code.co_code,
        code.co_exceptiontable,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_qualname,
        consts,
    )


def bytecode_verdict(old: str, new: str) -> Verdict:
    """GOOD when the two module texts compile to the same code, line numbers aside."""
    try:
        before = _shape(compile(old, "module.py", "exec", dont_inherit=True))
        after = _shape(compile(new, "module.py", "exec", dont_inherit=True))
    except (SyntaxError, ValueError) as exc:
        return Verdict(UNCHECKED, f"does not compile: {exc}")
    if before == after:
        return Verdict(GOOD, "same bytecode (line numbers aside)")
    return Verdict(UNCHECKED, "different bytecode")
