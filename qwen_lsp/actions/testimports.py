"""The imports a generated Python test file lacks.

The 0.5B model writes ``pytest.raises`` without ``import pytest``, and uses the module's
other names (``Decimal`` beside the ``Context`` it was asked about) without importing
them: the file then fails on a NameError before any assertion is tried. Such names are
found by reading the file (parsed, never run) and imported: ``pytest``, a standard
library module, or a name the module under test binds at its top level.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys

_BUILTINS = frozenset(dir(builtins))
_FROM_LINE = re.compile(r"^from[ \t]+([\w.]+)[ \t]+import[ \t]+([\w, \t]+)$")


def _top_level(text: str) -> set[str]:
    """The names a Python file binds at its top level (also under if/try/with); those of a
    file that does not parse: none."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    body = list(tree.body)
    while body:
        statement = body.pop()
        if isinstance(statement, ast.Import | ast.ImportFrom):
            names.update(a.asname or a.name.split(".")[0] for a in statement.names)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(statement, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody"):
                body.extend(getattr(statement, field, []))
            for handler in getattr(statement, "handlers", []):
                body.extend(handler.body)
    return names


def _bound_anywhere(tree: ast.Module) -> set[str]:
    """Every name a file binds, in any scope: a name bound nowhere fails wherever used."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
    return names


def unbound_names(tests: str) -> list[str]:
    """The names ``tests`` reads and binds nowhere (nor are they built-ins), in order of
    first use; none for a file that does not parse."""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError):
        return []
    bound = _bound_anywhere(tree) | _BUILTINS | {"__file__", "__name__"}
    used = sorted(
        (node.lineno, node.col_offset, node.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound
    )
    return list(dict.fromkeys(name for _, _, name in used))


def with_missing_imports(
    tests: str, module: str | None, module_text: str, existing: str = ""
) -> str:
    """``tests`` with imports of the names it uses and binds nowhere, that are ``pytest``,
    a standard library module, or (``module``: the tests are in their own file) a name the
    module under test binds at its top level, which its ``module_text`` is read for. Put
    above the file's first import, or (the module's names) joining its ``from module
    import`` line. ``existing``: the test file the tests are appended to (its imports
    count)."""
    have = _top_level(existing)
    unbound = [n for n in unbound_names(tests) if n not in have]
    if not unbound:
        return tests
    # Tests in the module's own file see its names: importing them would shadow nothing
    # but is noise.
    in_module = _top_level(module_text)
    modules = [
        n for n in unbound if n not in in_module and (n == "pytest" or n in sys.stdlib_module_names)
    ]
    names = [n for n in unbound if n in in_module and n not in modules] if module else []
    if not modules and not names:
        return tests
    lines = tests.split("\n")
    if names:
        for index, line in enumerate(lines):
            match = _FROM_LINE.match(line.rstrip())
            if match and match[1] == module:
                lines[index] = line.rstrip() + ", " + ", ".join(names)
                break
        else:
            modules_line = f"from {module} import {', '.join(names)}"
            lines.insert(_after_imports(lines), modules_line)
    for name in reversed(modules):
        lines.insert(_first_import(lines), f"import {name}")
    return "\n".join(lines)


def _first_import(lines: list[str]) -> int:
    """Where an ``import`` goes: above the file's first import, else at its top."""
    return next((i for i, line in enumerate(lines) if re.match(r"(import|from)\s", line)), 0)


def _after_imports(lines: list[str]) -> int:
    """Where a ``from`` import goes: below the file's leading imports."""
    at = 0
    for index, line in enumerate(lines):
        if re.match(r"(import|from)\s", line):
            at = index + 1
        elif line.strip() and not line.startswith("#"):
            break
    return at
