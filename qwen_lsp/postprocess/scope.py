"""Names a function declares only below the cursor: a suggestion line that uses one has
left the hole (rule ``declared-below`` in cuts).

Locals of Go, Rust, JavaScript and TypeScript exist from their declaration on: ``x``
used above ``let x`` is an error (Go, Rust) or a ReferenceError (``const``/``let``;
``var`` is hoisted and left out). A suggestion whose continuation line reads such a name
is writing the code that follows the hole, out of order. Read from the tree (which
function the cursor is in) and from the declarations' text (one pattern per language);
Python and C are left out (Python names are bound anywhere in the function; C's
declarations are not one pattern).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from qwen_lsp import syntax
from qwen_lsp.languages import web
from qwen_lsp.postprocess.window import parsed_window

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
    cursor = window.cursor_byte
    node = window.tree.root_node.descendant_for_byte_range(cursor, cursor)
    function = next((n for n in _ancestors(node) if n.type in _FUNCTIONS), None)
    if function is None or function.end_byte <= cursor:
        return frozenset()
    code = function.text or b""
    split = cursor - function.start_byte
    above = code[:split].decode("utf-8", syntax.UTF8_ERRORS)
    below = code[split:].decode("utf-8", syntax.UTF8_ERRORS)
    return declared_names(language, below) - used_names(above)


def _ancestors(node: Node | None) -> Iterator[Node]:
    while node is not None:
        yield node
        node = node.parent
