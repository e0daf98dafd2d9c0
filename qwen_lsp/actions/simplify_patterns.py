"""The pieces the Simplify finders share (simplify_hints.py): a :class:`Hint`, a walk
over a tree-sitter tree, and the base of a finder, which reads one node at a time."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp.documents import Snapshot


@dataclass(frozen=True)
class Hint:
    """One simplification: replace document lines [first, last] (0-based) with
    ``replacement`` (dedented, "\\n" line ends), for the reason ``why``."""

    first: int
    last: int
    replacement: str
    why: str
    kind: str


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def has_comment(node: Node) -> bool:
    return any(n.type == "comment" for n in walk(node))


def statements(block: Node | None) -> list[Node]:
    """A block's statements (a lone statement, for a JS body without braces)."""
    if block is None:
        return []
    if block.type in ("block", "statement_block"):
        return [c for c in block.named_children]
    return [block]


class Finder:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.source = snapshot.source

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def hint(self, node: Node) -> Hint | None:
        raise NotImplementedError

    def _span(self, first: Node, last: Node, replacement: str, why: str, kind: str) -> Hint | None:
        """The lines of nodes ``first`` to ``last`` replaced; None when they hold more
        (``} else if (c) {``, a comment after the last): it would be lost."""
        line_start = self.source.rfind(b"\n", 0, first.start_byte) + 1
        line_end = self.source.find(b"\n", last.end_byte)
        after = self.source[last.end_byte : line_end if line_end >= 0 else len(self.source)]
        if self.source[line_start : first.start_byte].strip() or after.strip(b" \t\r;"):
            return None
        return Hint(first.start_point[0], last.end_point[0], replacement, why, kind)

    def _next(self, node: Node) -> Node | None:
        sibling = node.next_named_sibling
        return sibling

    def one_line_hint(self, node: Node, new: str, why: str, kind: str) -> Hint:
        """The line of a one-line ``node`` with ``new`` in its place, as a hint."""
        line = node.start_point[0]
        return Hint(line, line, self.with_replaced(node, new), why, kind)

    def with_replaced(self, node: Node, new: str) -> str:
        """The (dedented) line of a one-line ``node`` with ``new`` in its place."""
        line_start = self.source.rfind(b"\n", 0, node.start_byte) + 1
        line_end = self.source.find(b"\n", node.end_byte)
        line = self.source[line_start : line_end if line_end >= 0 else len(self.source)]
        before = line[: node.start_byte - line_start].decode("utf-8", "replace")
        after = line[node.end_byte - line_start :].decode("utf-8", "replace")
        return (before + new + after).strip(" \t\r")

    def uses(self, scope: Node, name: str) -> list[Node]:
        """The identifiers ``name`` in ``scope``."""
        return [n for n in walk(scope) if n.type == "identifier" and self.text(n) == name]

    def enclosing(self, node: Node, types: Collection[str]) -> Node | None:
        """The nearest ancestor of one of ``types``."""
        parent = node.parent
        while parent is not None and parent.type not in types:
            parent = parent.parent
        return parent


# Strings spanning lines: moving their lines to another indentation changes their text.
STRINGS = frozenset({"string", "template_string"})


def has_multiline_string(node: Node) -> bool:
    return any(n.type in STRINGS and n.start_point[0] != n.end_point[0] for n in walk(node))
