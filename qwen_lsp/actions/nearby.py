"""Names of a file that look like the one a diagnostic says is undefined ("did you mean").

Told only that `eky` is undefined, the 0.5B model mostly copies the line back unchanged:
it does not look for the name that was meant. A language server's quick fix would offer
the names bound nearby that are spelled almost the same; the prompt of Fix tells the
model those names (the model still writes the fix). Pure: the snapshot's tree in, names
out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from tree_sitter import Node

from qwen_lsp.documents import Snapshot

# The messages of undefined names: ruff/pyflakes "Undefined name `x`", ESLint "'x' is not
# defined.", TypeScript "Cannot find name 'x'", rustc "cannot find value `x` in this
# scope", Go "undefined: x", Pyright '"x" is not defined'.
_UNDEFINED = re.compile(r"(?i)undefined|not defined|cannot find|unresolved|unknown name")
_QUOTED = re.compile(r"[`'\"]([A-Za-z_$][\w$]*)[`'\"]")
_GO_STYLE = re.compile(r"undefined: ([A-Za-z_$][\w$]*)")
MAX_SUGGESTED = 3


def undefined_name(message: str) -> str | None:
    """The name a diagnostic's message says is undefined, or None (another problem)."""
    if not _UNDEFINED.search(message):
        return None
    quoted = _QUOTED.search(message) or _GO_STYLE.search(message)
    return quoted.group(1) if quoted else None


def _identifiers(node: Node) -> Iterator[Node]:
    """The identifier leaves under ``node`` (names, properties, fields, types)."""
    cursor = node.walk()
    while True:
        current = cursor.node
        assert current is not None
        if current.child_count == 0:
            if current.type.endswith("identifier"):
                yield current
        elif cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or cursor.node == node:
                return


def similar_names(snapshot: Snapshot, name: str, start: int, end: int) -> list[str]:
    """Names of the file spelled almost like ``name``, most alike first; those of the
    code points [start, end) (the function being fixed) before those elsewhere."""
    tree = snapshot.tree
    if tree is None:
        return []
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    inside: Counter[str] = Counter()
    elsewhere: Counter[str] = Counter()
    for node in _identifiers(tree.root_node):
        text = node.text.decode("utf-8", "replace") if node.text else ""
        if not text or text == name:
            continue
        here = start_byte <= node.start_byte < end_byte
        (inside if here else elsewhere)[text] += 1
    scored = []
    for word in inside.keys() | elsewhere.keys():
        distance = slip_distance(name, word)
        # A slip is a letter or two: `length` is not a slip of `entr`, `entry` is.
        if distance <= (1 if len(name) <= 4 else 2):
            # A name of the function itself is likelier the one meant.
            scored.append((distance, word not in inside, -(inside[word] + elsewhere[word]), word))
    scored.sort()
    return [word for *_, word in scored[:MAX_SUGGESTED]]


def slip_distance(a: str, b: str) -> int:
    """Edits from ``a`` to ``b``, a letter added, dropped, changed or two swapped each
    (optimal string alignment distance): `eky` is one slip from `key`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)
            )
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]
