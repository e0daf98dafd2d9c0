"""Names a function declares only below the cursor: a suggestion line that uses one has
left the hole (rule ``declared-below`` in cuts).

Locals of Go, Rust, JavaScript and TypeScript exist from their declaration on: ``x``
used above ``let x`` is an error (Go, Rust) or a ReferenceError (``const``/``let``;
``var`` is hoisted and left out). A suggestion whose continuation line reads such a name
is writing the code that follows the hole, out of order. Read from the tree (which
function the cursor is in) and from the declarations' text (one pattern per language);
Python and C are left out (Python names are bound anywhere in the function; C's
declarations are not one pattern).

For Python, the other way round: names the function reads after the cursor that nothing
binds (:func:`unbound_below`), which the gap at the cursor has to bind; a suggestion line
that binds one is part of the gap (rules ``unsure-insert`` and ``paragraph`` keep it),
unless it binds it only inside an ``if`` or loop of its own (rule ``bound-inside`` cuts).
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Container, Sequence

from tree_sitter import Node

from qwen_lsp import syntax
from qwen_lsp.languages import web
from qwen_lsp.postprocess.window import ParsedWindow, parsed_window

# Declarations of local names, per language: every group that matched is a name.
_DECLARATION_RE = {
    # Not ``var``: it is hoisted, so reading one above its declaration is legal (undefined).
    "javascript": re.compile(r"\b(?:const|let)\s+([A-Za-z_$][\w$]*)"),
    "typescript": re.compile(r"\b(?:const|let)\s+([A-Za-z_$][\w$]*)"),
    "go": re.compile(r"\bvar\s+(\w+)|(\w+(?:\s*,\s*\w+)*)\s*:="),
    "rust": re.compile(r"\blet\s+(?:mut\s+)?([A-Za-z_]\w*)"),
}
# The functions whose local names are looked for: JavaScript's and TypeScript's; Go's
# methods and function literals (its declarations share JavaScript's node name); Rust's.
_FUNCTIONS = web.JS_FUNCTIONS | {
    "method_declaration",
    "func_literal",
    "function_item",
    "closure_expression",
}
_WORD_RE = re.compile(r"(?<![\w$.])[A-Za-z_$][\w$]*")
# String literals and line comments: their words are not names in use.
_NOT_CODE_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`[^`]*`|//.*")


def declared_names(language: str | None, text: str) -> frozenset[str]:
    pattern = _DECLARATION_RE.get(language or "")
    if pattern is None:
        return frozenset()
    found: set[str] = set()
    for match in pattern.finditer(_NOT_CODE_RE.sub(" ", text)):
        for group in match.groups():
            if group:
                found.update(name.strip() for name in group.split(","))
    return frozenset(found)


def used_names(line: str) -> frozenset[str]:
    """The words of a line that can be variables (not after a ``.``, not in a string)."""
    return frozenset(_WORD_RE.findall(_NOT_CODE_RE.sub(" ", line)))


def declared_below(language: str | None, prefix: str, suffix: str) -> frozenset[str]:
    """Names the function around the cursor declares after the cursor and does not
    mention before it (its parameters, its code above the cursor); empty when the
    cursor is in no function or the language has no declaration pattern here. Read in
    the window around the cursor the syntax check parses (window.py)."""
    if language is None or language not in _DECLARATION_RE:
        return frozenset()
    window = parsed_window(language, prefix, suffix)
    functions = _functions_around(window, _FUNCTIONS)
    if not functions:
        return frozenset()
    function, cursor = functions[0], window.cursor_byte
    code = function.text or b""
    split = cursor - function.start_byte
    above = code[:split].decode("utf-8", syntax.UTF8_ERRORS)
    below = code[split:].decode("utf-8", syntax.UTF8_ERRORS)
    return declared_names(language, below) - used_names(above)


def _functions_around(window: ParsedWindow, types: Container[str]) -> list[Node]:
    """The functions (nodes of ``types``) around the window's cursor, innermost first;
    empty when there is none or the innermost ends before the cursor (a cursor just
    after a function's last line is not in it)."""
    cursor = window.cursor_byte
    node: Node | None = window.tree.root_node.descendant_for_byte_range(cursor, cursor)
    functions = []
    while node is not None:
        if node.type in types:
            functions.append(node)
        node = node.parent
    if not functions or functions[0].end_byte <= cursor:
        return []
    return functions


# --- Python: names the code after the cursor reads that nothing binds ---------------------

# (node type, field) whose identifiers a Python statement binds.
_PY_BINDING_FIELDS = {
    ("assignment", "left"),
    ("for_statement", "left"),
    ("for_in_clause", "left"),
    ("named_expression", "name"),
    ("as_pattern", "alias"),
    ("function_definition", "name"),
    ("class_definition", "name"),
}
# Nodes all of whose identifiers are bound (parameters, imports, with's ``as`` targets,
# ``global``, match patterns).
_PY_BINDING_NODES = {
    "parameters",
    "lambda_parameters",
    "import_statement",
    "import_from_statement",
    "future_import_statement",
    "as_pattern_target",
    "global_statement",
    "nonlocal_statement",
    "case_pattern",
}
_PY_DEFINITIONS = ("function_definition", "class_definition")
# Identifiers that are neither read nor bound: attribute names, keyword argument names.
_PY_NOT_NAMES = {("attribute", "attribute"), ("keyword_argument", "name")}
# Inside a target, these read their base (``data[k] = v`` reads ``data``).
_PY_READ_TARGETS = {"attribute", "subscript"}
_PY_KNOWN = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"self", "cls", "__class__"}


def unbound_below(language: str | None, prefix: str, suffix: str) -> frozenset[str]:
    """Names the Python function around the cursor reads after the cursor that nothing
    binds: not its parameters or code above the cursor, not its code below, not the
    module's names, enclosing functions' or builtins. The code missing at the cursor has
    to bind them (a gap whose next line reads ``data`` was cut before ``data = ...``).
    Empty outside a function or in another language. Read in the parsed window around
    the cursor (window.py), so a module name bound beyond it may show up here: a
    suggestion rebinding a module's name is rare, and this set only keeps lines that do
    (cuts._binds_what_the_gap_needs)."""
    if language != "python":
        return frozenset()
    window = parsed_window(language, prefix, suffix)
    functions = _functions_around(window, ("function_definition",))
    if not functions:
        return frozenset()
    function, cursor = functions[0], window.cursor_byte
    reads: list[Node] = []
    bound: set[str] = set()
    _python_names(function, reads, bound)
    above = {_text(n) for n in reads if n.start_byte < cursor}
    needed = {_text(n) for n in reads if n.start_byte >= cursor} - above - bound
    if not needed:
        return frozenset()
    module: set[str] = set()
    _python_names(window.tree.root_node, [], module, skip_bodies=True)
    for outer in functions[1:]:  # what enclosing functions bind (the closure's names)
        _python_names(outer, [], module)
    return frozenset(needed - module - _PY_KNOWN)


def _python_names(
    node: Node, reads: list[Node], bound: set[str], skip_bodies: bool = False
) -> None:
    """Walk ``node``: identifiers read into ``reads``, names bound into ``bound``.
    ``skip_bodies``: of a function or class only its name (a module's own names, not its
    functions' parameters and locals). A stack, not recursion: a deeply nested literal
    must not exhaust Python's recursion limit."""
    stack = [(node, False)]
    while stack:
        node, binding = stack.pop()
        if node.type == "identifier":
            if binding:
                bound.add(_text(node))
            else:
                reads.append(node)
            continue
        for index, child in reversed(list(enumerate(node.children))):
            field = node.field_name_for_child(index)
            if (node.type, field) in _PY_NOT_NAMES:
                continue
            if skip_bodies and field != "name" and node.type in _PY_DEFINITIONS:
                continue
            child_binding = (
                binding
                or (node.type, field) in _PY_BINDING_FIELDS
                or child.type in _PY_BINDING_NODES
            ) and child.type not in _PY_READ_TARGETS
            stack.append((child, child_binding))


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", syntax.UTF8_ERRORS)


# Python strings (any prefix, triple-quoted ones across lines) and comments.
_PY_NOT_CODE_RE = re.compile(
    r"(?s)[rRbBuUfF]{0,2}(?:'''.*?(?:'''|$)|\"\"\".*?(?:\"\"\"|$)|'(?:\\.|[^'\\\n])*'"
    r"|\"(?:\\.|[^\"\\\n])*\")|#[^\n]*"
)
# What a line of Python binds: an assignment's targets (no call in them), a ``for``
# statement's, ``as`` names, walrus names, definitions, imports.
_PY_ASSIGNED_RE = re.compile(r"^\s*([\w\s,*\[\].]+?)\s*(?::[^=\n]*)?=(?!=)")
_PY_FOR_RE = re.compile(r"^\s*(?:async\s+)?for\s+(.+?)\s+in\b")
_PY_NAMED_RE = re.compile(r"\bas\s+(\w+)|(\w+)\s*:=|^\s*(?:async\s+def|def|class)\s+(\w+)")
_PY_IMPORT_RE = re.compile(r"^\s*(?:from\s+\S+\s+)?import\s+(.+)")


def python_bound_names(lines: Sequence[str]) -> frozenset[str]:
    """The names Python ``lines`` (a suggestion's) bind, read from their text: a
    suggestion's lines do not parse alone (indented, cut anywhere)."""
    code = _PY_NOT_CODE_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), "\n".join(lines))
    found: set[str] = set()
    for line in code.split("\n"):
        for pattern in (_PY_ASSIGNED_RE, _PY_FOR_RE, _PY_IMPORT_RE):
            match = pattern.match(line)
            if match:
                found.update(used_names(match.group(1)))
        for match in _PY_NAMED_RE.finditer(line):
            found.update(group for group in match.groups() if group)
    return frozenset(found - _PY_KNOWN)
