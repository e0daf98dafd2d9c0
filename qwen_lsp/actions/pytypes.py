"""Python annotations the module can still evaluate.

Python evaluates a function's annotations when the def runs (unless the module has
``from __future__ import annotations``), so a signature that says ``Optional[str]`` in a
file that never imported ``Optional`` breaks the whole module at import. Small models
write the typing module's aliases all the time, and the action edits the signature only
(it adds no import): :func:`builtin_generics` rewrites the aliases that have a built-in
spelling (``List[int]`` -> ``list[int]``, ``Optional[X]`` -> ``X | None``, ``Union[A, B]``
-> ``A | B``), and :func:`unknown_names` finds the names an annotation uses that the file
does not know, so that such an edit is refused.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator

from tree_sitter import Node

from qwen_lsp.actions.target import parse

_LOWERED = {"List", "Dict", "Set", "FrozenSet", "Tuple", "Type"}
_ALIAS = re.compile(r"\b(?:typing\.)?(List|Dict|Set|FrozenSet|Tuple|Type|Optional|Union)\[")
_BUILTINS = frozenset(dir(builtins))


def _closing(text: str, at: int) -> int:
    """Index of the bracket closing the one opened just before ``at`` (-1: none)."""
    depth = 1
    for index in range(at, len(text)):
        if text[index] in "[(":
            depth += 1
        elif text[index] in "])":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _top_level_parts(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def builtin_generics(signature: str, known: set[str]) -> str:
    """``signature`` with the typing aliases the file does not know (``known``: the names
    it uses) spelled as built-ins; anything else is left as it is."""
    out, at = [], 0
    for match in _ALIAS.finditer(signature):
        name = match.group(1)
        if match.start() < at or name in known:
            continue
        end = _closing(signature, match.end())
        if end < 0:
            break
        inner = builtin_generics(signature[match.end() : end], known)
        if name in _LOWERED:
            replaced = f"{name.lower()}[{inner}]"
        else:
            parts = _top_level_parts(inner) + (["None"] if name == "Optional" else [])
            replaced = " | ".join(dict.fromkeys(parts))
        out.append(signature[at : match.start()] + replaced)
        at = end + 1
    out.append(signature[at:])
    return "".join(out)


def known_names(text: str) -> set[str]:
    """The names a Python file binds where its functions' annotations are evaluated: at
    its top level (imports, definitions, assignments, also under if/try/with) and in its
    classes' bodies. The file is parsed, never run; one that does not parse binds the
    identifiers it uses anywhere."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set(re.findall(r"[A-Za-z_]\w*", text))
    names: set[str] = set()
    _bind(tree.body, names)
    return names


def _bind(body: list[ast.stmt], names: set[str]) -> None:
    for statement in body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(statement.name)
        elif isinstance(statement, ast.ClassDef):
            names.add(statement.name)
            _bind(statement.body, names)  # a method's annotations see its class's names
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.For):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        if isinstance(statement, ast.If | ast.Try | ast.With | ast.For | ast.While):
            for field in ("body", "orelse", "finalbody"):
                _bind(getattr(statement, field, []), names)
            for handler in getattr(statement, "handlers", []):
                _bind(handler.body, names)
            for item in getattr(statement, "items", []):
                if item.optional_vars is not None:
                    names.update(
                        n.id for n in ast.walk(item.optional_vars) if isinstance(n, ast.Name)
                    )


def _annotation_names(node: Node, source: bytes) -> Iterator[str]:
    """The names an annotation evaluates (not an attribute's right side, not strings)."""
    if node.type == "string":
        return
    if node.type == "identifier":
        yield source[node.start_byte : node.end_byte].decode("utf-8", "replace")
        return
    if node.type == "attribute":
        value = node.child_by_field_name("object")
        if value is not None:
            yield from _annotation_names(value, source)
        return
    for child in node.named_children:
        yield from _annotation_names(child, source)


def unknown_names(old_text: str, new_text: str, start: int, end: int) -> list[str]:
    """Names the annotations in code points [start, end] of ``new_text`` use that
    ``old_text`` (the file before) neither uses nor gets from builtins; none when the
    file does not evaluate its annotations (``from __future__ import annotations``)."""
    if re.search(r"^from\s+__future__\s+import\s+[^\n]*\bannotations\b", old_text, re.M):
        return []
    known = known_names(old_text) | _BUILTINS
    snapshot, root = parse("python", new_text)
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    unknown: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte < start_byte or node.start_byte > end_byte:
            continue
        if node.type == "type":
            for name in _annotation_names(node, snapshot.source):
                if name not in known and name not in unknown:
                    unknown.append(name)
            continue
        stack.extend(node.children)
    return unknown
