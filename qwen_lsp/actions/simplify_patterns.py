"""The pieces the Simplify finders share (simplify_hints.py): a :class:`Hint`, a walk
over a tree-sitter tree, and the base of a finder, which reads one node at a time."""

from __future__ import annotations

from collections.abc import Iterator
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

    def _span(self, first: Node, last: Node, replacement: str, why: str, kind: str) -> Hint:
        return Hint(first.start_point[0], last.end_point[0], replacement, why, kind)

    def _next(self, node: Node) -> Node | None:
        sibling = node.next_named_sibling
        return sibling
