"""Same bytecode: a Python module whose rewrite compiles to the same instructions,
constants and names (line numbers aside) behaves the same however it is called.

A sufficient check, not a necessary one: for the Simplify edits that only move code
around (an ``else`` after a ``return`` dropped, nested ``if`` statements joined with
``and``, an assignment in both branches made a conditional expression) CPython often
emits the very same code; other edits (a temporary dropped) compile differently and
this says nothing about them. One equivalence is applied first, to both texts, as
CPython does not: ``if c: x = a`` / ``else: x = b`` (one assignment to the same plain name
in each branch) is ``x = a if c else b``: the same test, the same branch evaluated, the
same name bound, in the same order. Pure: compiling runs nothing.
"""

from __future__ import annotations

import ast
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


class _ConditionalAssignments(ast.NodeTransformer):
    """``if c: x = a else: x = b`` made ``x = a if c else b`` (inner ones first, so that an
    ``elif`` chain of such assignments becomes one nested conditional expression)."""

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        yes, no = _assigned(node.body), _assigned(node.orelse)
        if yes is None or no is None or yes[0] != no[0]:
            return node
        value = ast.IfExp(test=node.test, body=yes[1], orelse=no[1])
        assign = ast.Assign(targets=[ast.Name(id=yes[0], ctx=ast.Store())], value=value)
        return ast.copy_location(assign, node)


def _assigned(body: list[ast.stmt]) -> tuple[str, ast.expr] | None:
    """The name and value of a block that is one assignment to one plain name."""
    if len(body) != 1 or not isinstance(body[0], ast.Assign) or len(body[0].targets) != 1:
        return None
    target = body[0].targets[0]
    return (target.id, body[0].value) if isinstance(target, ast.Name) else None


def _compiled(text: str) -> CodeType:
    tree = _ConditionalAssignments().visit(ast.parse(text, "module.py"))
    return compile(ast.fix_missing_locations(tree), "module.py", "exec", dont_inherit=True)


def bytecode_verdict(old: str, new: str) -> Verdict:
    """GOOD when the two module texts compile to the same code, line numbers aside."""
    try:
        before = _shape(_compiled(old))
        after = _shape(_compiled(new))
    except (SyntaxError, ValueError) as exc:
        return Verdict(UNCHECKED, f"does not compile: {exc}")
    if before == after:
        return Verdict(GOOD, "same bytecode (line numbers aside)")
    return Verdict(UNCHECKED, "different bytecode")
