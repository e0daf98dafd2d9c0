"""Python annotations the module can still evaluate.

Python evaluates a function's annotations when the def runs (unless the module has
``from __future__ import annotations``), so a signature that says ``Optional[str]`` in a
file that never imported ``Optional`` breaks the whole module at import. Small models
write the typing module's aliases all the time, and the action edits the signature only
(it adds no import): :func:`builtin_generics` rewrites the aliases that have a built-in
spelling (``List[int]`` -> ``list[int]``, ``Optional[X]`` -> ``X | None``, ``Union[A, B]``
-> ``A | B``), and :func:`unknown_names` finds the names an annotation uses that the file
does not know. Those the standard library offers (``Iterable``, ``Callable``, ``Any``...)
are imported (:func:`import_edit`: a second edit, below the module's first imports); the
others make the edit refused. :func:`added_imports` reads such an inserted import back,
for the checks.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Iterator, Sequence

from tree_sitter import Node

from qwen_lsp.actions.target import parse
from qwen_lsp.actions.text import line_end

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


# Built-in functions small models write as types: `callable | None` raises TypeError when
# the def runs. Taken where an annotation starts (after `:`, `->`, `[` or `|`), not called.
_FUNCTION_TYPES = {"callable": "Callable", "any": "Any"}
_FUNCTION_TYPE = re.compile(r"(?<=[:\[|>])(\s*)(callable|any)\b(?!\s*\()")


def builtin_generics(signature: str, known: set[str]) -> str:
    """``signature`` with the typing aliases the file does not know (``known``: the names
    it uses) spelled as built-ins, and built-in functions written as types (``callable``)
    spelled as the types; anything else is left as it is."""
    signature = _FUNCTION_TYPE.sub(
        lambda m: m[0] if m[2] in known else m[1] + _FUNCTION_TYPES[m[2]], signature
    )
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
            if any(p.startswith(("'", '"')) for p in parts):
                # `"Node" | None` raises TypeError when the def runs: kept (and imported).
                out.append(signature[at : match.end()] + inner + "]")
                at = end + 1
                continue
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


def annotation_names(text: str, start: int, end: int) -> list[str]:
    """The names the annotations in code points [start, end] of ``text`` evaluate, in
    order, each once."""
    snapshot, root = parse("python", text)
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    found: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte < start_byte or node.start_byte > end_byte:
            continue
        if node.type == "type":
            found.extend(n for n in _annotation_names(node, snapshot.source) if n not in found)
            continue
        stack.extend(reversed(node.children))
    return found


def unbound_names(old_text: str, new_text: str, start: int, end: int) -> list[str]:
    """Names the annotations in code points [start, end] of ``new_text`` use that
    ``old_text`` (the file before) neither binds nor gets from builtins."""
    known = known_names(old_text) | _BUILTINS
    return [n for n in annotation_names(new_text, start, end) if n not in known]


def unknown_names(old_text: str, new_text: str, start: int, end: int) -> list[str]:
    """:func:`unbound_names`, but none when the file does not evaluate its annotations
    (``from __future__ import annotations``)."""
    if re.search(r"^from\s+__future__\s+import\s+[^\n]*\bannotations\b", old_text, re.M):
        return []
    return unbound_names(old_text, new_text, start, end)


# --- the imports an annotation may add -----------------------------------------------------

# Names annotations take from the standard library, by module; only those Python 3.10 has
# (``X | None``, which the aliases are rewritten to, needs it anyway). The ABCs come from
# collections.abc, where typing's copies are deprecated.
_ABC_NAMES = frozenset(
    {
        "AsyncGenerator",
        "AsyncIterable",
        "AsyncIterator",
        "Awaitable",
        "Callable",
        "Collection",
        "Container",
        "Coroutine",
        "Generator",
        "Hashable",
        "ItemsView",
        "Iterable",
        "Iterator",
        "KeysView",
        "Mapping",
        "MappingView",
        "MutableMapping",
        "MutableSequence",
        "MutableSet",
        "Reversible",
        "Sequence",
        "Sized",
        "ValuesView",
    }
)
_TYPING_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "AnyStr",
        "BinaryIO",
        "ChainMap",
        "ClassVar",
        "Counter",
        "DefaultDict",
        "Deque",
        "Dict",
        "Final",
        "FrozenSet",
        "Generic",
        "IO",
        "List",
        "Literal",
        "NamedTuple",
        "NoReturn",
        "Optional",
        "OrderedDict",
        "Protocol",
        "Set",
        "SupportsAbs",
        "SupportsBytes",
        "SupportsComplex",
        "SupportsFloat",
        "SupportsIndex",
        "SupportsInt",
        "SupportsRound",
        "Text",
        "TextIO",
        "Tuple",
        "Type",
        "TypeAlias",
        "TypeGuard",
        "TypedDict",
        "Union",
    }
)
_MODULES = {"typing"}  # written as a module: ``typing.Any``


def import_lines(names: Iterable[str]) -> list[str]:
    """The import statements that bind those of ``names`` the standard library offers
    (collections.abc, then typing, then modules), one per module; the others are left."""
    wanted = set(names)
    lines = []
    for module, offered in (("collections.abc", _ABC_NAMES), ("typing", _TYPING_NAMES)):
        found = sorted(wanted & offered)
        if found:
            lines.append(f"from {module} import {', '.join(found)}")
    lines.extend(f"import {module}" for module in sorted(wanted & _MODULES))
    return lines


def added_imports(text: str) -> list[str] | None:
    """The names ``text`` binds when it is nothing but imports :func:`import_lines` may
    write (None when it is anything else: other modules, aliases, other statements)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.level == 0:
            offered = {"collections.abc": _ABC_NAMES, "typing": _TYPING_NAMES}.get(
                statement.module or ""
            )
            if offered is None:
                return None
            for alias in statement.names:
                if alias.asname is not None or alias.name not in offered:
                    return None
                names.append(alias.name)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname is not None or alias.name not in _MODULES:
                    return None
                names.append(alias.name)
        else:
            return None
    return names or None


_IMPORTS = frozenset({"import_statement", "import_from_statement", "future_import_statement"})


def import_edit(text: str, names: Sequence[str], newline: str = "\n") -> tuple[int, str] | None:
    """Where and what to insert into the file ``text`` so that it imports those of
    ``names`` the standard library offers (None: none of them): below the module's first
    imports (those before any other statement), else below its docstring, its header
    comments, or at the very top. Always above the module's first line of code."""
    lines = import_lines(names)
    if not lines:
        return None
    statements = newline.join(lines) + newline
    snapshot, root = parse("python", text)
    anchor: int | None = None  # the byte where the last leading docstring/import ends
    after_import = False
    comments: list[tuple[int, int]] = []  # (end byte, end row) of comments not yet placed
    for index, node in enumerate(root.children):
        if node.type == "comment":
            comments.append((node.end_byte, node.end_point[0]))
            continue
        docstring = (
            index == len(comments)
            and node.type == "expression_statement"
            and node.named_child_count == 1
            and node.named_children[0].type == "string"
        )
        if node.type in _IMPORTS or docstring:
            anchor, after_import, comments = node.end_byte, node.type in _IMPORTS, []
            continue
        if anchor is None:
            # Header comments: those a blank line parts from the code (a comment just above
            # a statement is that statement's).
            headed = [end for end, row in comments if row + 1 < node.start_point[0]]
            anchor = headed[-1] if headed else None
        break
    if anchor is None:
        return 0, statements + newline * 2
    at = line_end(text, snapshot.offset_from_byte(anchor))
    at += len(newline) if text.startswith(newline, at) else 0
    lead = newline if at == len(text) and not text.endswith(("\n", "\r")) else ""
    return at, lead + (statements if after_import else newline + statements)
