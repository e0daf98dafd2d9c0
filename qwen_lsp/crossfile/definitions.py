"""A document's definitions (functions, classes, types, methods), found with its syntax
tree, each as the cross-file header shows it: whole when short, else its head (signature
and first lines) or, for a class, an outline (method bodies left out).

Which node types are definitions, containers and bodies is the language's record's
(:class:`qwen_lsp.languages.Definitions`); this module is the walk over the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp import languages
from qwen_lsp.documents import Snapshot
from qwen_lsp.languages import Definitions

# A definition is shown whole up to this many lines; a longer one as its head (signature
# and first lines), a longer class as an outline (method bodies left out).
WHOLE_DEFINITION_LINES = 14
HEAD_LINES = 6
OUTLINE_LINES = 24
ELIDED = "..."


@dataclass(frozen=True)
class Definition:
    name: str
    start_line: int  # tree-sitter rows (lines ended by "\n")
    end_line: int  # inclusive
    lines: tuple[str, ...]  # what the prompt shows
    top_level: bool
    whole: bool = True  # False: an outline or a head, some of its lines left out


MAX_DEPTH = 6


def _node_name(node: Node, rules: Definitions) -> str:
    named = node.child_by_field_name("name")
    if named is not None:
        if named.type in rules.qualified_names and named.named_child_count:
            named = named.named_children[-1]  # `M.total` goes by `total`
        return (named.text or b"").decode("utf-8", "replace")
    # C and C++ functions: the name is at the end of a chain of declarators
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:
        if declarator.type in ("identifier", "field_identifier", "qualified_identifier"):
            return (declarator.text or b"").decode("utf-8", "replace")
        declarator = declarator.child_by_field_name("declarator")
    return ""


def _shown_node(node: Node) -> Node:
    """The node whose text shows a definition: with its decorators, its `type` keyword,
    its `const` declaration."""
    parent = node.parent
    if parent is not None and parent.type in (
        "decorated_definition",
        "type_declaration",
        "lexical_declaration",
        "variable_declaration",
    ):
        if parent.named_child_count == 1 or parent.type == "decorated_definition":
            return parent
    return node


def _body(node: Node, rules: Definitions) -> Node | None:
    body = node.child_by_field_name("body")
    if body is None and rules.bodies:
        body = next((c for c in node.named_children if c.type in rules.bodies), None)
    return body


def definitions(snapshot: Snapshot) -> list[Definition]:
    """The definitions of a document, in file order (empty without a tree or a language)."""
    spec = languages.find(snapshot.language)
    if snapshot.tree is None or spec is None:
        return []
    rules = spec.definitions
    lines = snapshot.text.split("\n")
    found: list[Definition] = []

    def visit(node: Node, depth: int, header: str | None) -> None:
        for child in node.named_children:
            kind = child.type
            if kind in rules.leaves or kind in rules.containers:
                if kind == "variable_declarator":
                    value = child.child_by_field_name("value")
                    if value is None or value.type not in rules.function_values:
                        continue
                name = _node_name(child, rules)
                if name:
                    found.append(_definition(name, child, lines, rules, header))
                if kind in rules.containers and depth < MAX_DEPTH:
                    body = _body(child, rules)
                    if body is not None:  # its members show under its first line
                        visit(body, depth + 1, lines[child.start_point[0]].rstrip("\r"))
            elif kind in rules.descend and depth < MAX_DEPTH:
                # an impl block or a class body: its header names the methods' owner
                owner = header
                if kind in ("impl_item",):
                    owner = lines[child.start_point[0]].rstrip("\r")
                visit(child, depth + 1, owner)

    visit(snapshot.tree.root_node, 0, None)
    return found


def _definition(
    name: str, node: Node, lines: list[str], rules: Definitions, header: str | None
) -> Definition:
    shown = _shown_node(node)
    first, last = shown.start_point[0], shown.end_point[0]
    if shown.end_point[1] == 0 and last > first:
        last -= 1  # a node that ends at a line start ends on the line before
    text = [line.rstrip("\r") for line in lines[first : last + 1]]
    whole = len(text) <= WHOLE_DEFINITION_LINES
    if not whole:
        if node.type in rules.containers:
            text = _outline(node, lines, first, last, rules)
        else:
            text = _head(node, lines, first, rules)
    if header is not None:
        text = [header, *text]
    return Definition(name, first, last, tuple(text), header is None, whole)


def _head(node: Node, lines: list[str], first: int, rules: Definitions) -> list[str]:
    """The signature (up to where the body starts) and the first lines after it."""
    body = _body(node, rules)
    signature_end = body.start_point[0] if body is not None else first
    end = max(signature_end + 1, first + HEAD_LINES)
    head = [line.rstrip("\r") for line in lines[first:end]]
    indent = _indentation(lines[first + 1] if first + 1 < len(lines) else "") or "    "
    return [*head, indent + ELIDED]


def _outline(node: Node, lines: list[str], first: int, last: int, rules: Definitions) -> list[str]:
    """A class without its method bodies: fields and signatures, what callers need."""
    skipped: set[int] = set()
    body = _body(node, rules)
    for member in body.named_children if body is not None else []:
        inner = member
        if inner.type == "decorated_definition":
            inner = inner.child_by_field_name("definition") or inner
        member_body = _body(inner, rules)
        if inner.type not in rules.leaves or member_body is None:
            continue
        body_first = member_body.start_point[0]
        body_last = member_body.end_point[0]
        if body_first == inner.start_point[0]:
            body_first += 1  # a brace body starts on the signature's line
        skipped.update(range(body_first, body_last + 1))
    shown: list[str] = []
    for index in range(first, last + 1):
        if index in skipped:
            # a stub on the signature's line: `def f(self) -> int: ...`, `f() { ... }`
            if shown and index - 1 not in skipped:
                shown[-1] += " ... }" if shown[-1].endswith("{") else " " + ELIDED
            continue
        if lines[index].strip():
            shown.append(lines[index].rstrip("\r"))
    return shown[:OUTLINE_LINES]


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
