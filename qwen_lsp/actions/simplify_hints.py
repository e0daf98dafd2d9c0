"""Concrete simplifications of a function, found with tree-sitter (for Simplify).

Asked only to "simplify" a function, the 0.5B model copies it back or changes its layout;
told which lines to change and into what, it writes the change. This module finds such
changes, each one that keeps the behaviour exactly (the code it would replace has no
comments, the names it joins are the same text), in Python and JavaScript/TypeScript:

- an ``if``/``else`` returning ``True``/``False`` (or an ``if`` returning one, followed by
  a ``return`` of the other): one ``return`` of the condition (``bool(...)``/``!!`` when
  the condition need not be a boolean);
- ``c ? true : false`` / ``True if c else False``: the condition;
- a temporary returned right after it is assigned: ``return`` of its value;
- an ``if`` whose body is one ``if``, neither with an ``else``: one ``if`` joined by
  ``and``/``&&``;
- ``if k in d: v = d[k] else: v = w``: ``v = d.get(k, w)`` (Python);
- a list built by a loop that only appends (perhaps under one ``if``): a comprehension
  (Python);
- ``if c: v = a else: v = b``: ``v = a if c else b`` (``v = c ? a : b`` in JavaScript),
  when it fits a line;
- an ``else`` after an ``if`` that ends with ``return``/``raise``/``throw`` or
  ``continue``/``break``: the lines under the ``else`` move out (``elif``/``else if``:
  a plain ``if``);
- an ``else:`` holding only an ``if``: ``elif`` (Python);
- a loop whose body is only ``if c: return True`` followed by ``return False``:
  ``return any(c for ...)`` (``all(not c ...)`` the other way round; Python, not when the
  test could tell a generator from a loop: a walrus, a lambda, ``await``, ``next``);
- ``not a in b`` / ``not a is b``: ``a not in b`` / ``a is not b``; ``while 1:``:
  ``while True:``; ``range(0, n)``: ``range(n)`` (Python, ``range`` not rebound);
- ``n = n + 1`` where every binding of ``n`` in the function is a number or such a step:
  ``n += 1`` (Python; on a list or an array ``+=`` works in place, on a number it is ``+``);
- ``{ name: name }``: ``{ name }`` (JavaScript; not ``__proto__``);
- an arrow function whose block only returns a value: ``(x) => value``;
- a ``var`` in a function's own block, read only after it and by no hoisted function,
  bound nowhere else: ``const`` (``let`` when it is assigned again).

Each :class:`Hint` says which document lines to replace, what to replace them with, and
why, for the prompt (prompt.py); :func:`with_span_replaced` puts the model's answer there.
"""

from __future__ import annotations

from qwen_lsp.actions.simplify_js import JavaScriptFinder
from qwen_lsp.actions.simplify_patterns import STRINGS, Finder, Hint, walk
from qwen_lsp.actions.simplify_py import PythonFinder
from qwen_lsp.actions.target import Target, parse
from qwen_lsp.actions.text import dedent, indent_lines, indent_of
from qwen_lsp.documents import Snapshot

__all__ = ["Hint", "find_hints", "first_hint", "same_code", "with_span_replaced"]

MAX_LINE = 88  # a suggested line longer than this is no simplification
_JS = frozenset({"javascript", "typescript", "tsx"})


def find_hints(snapshot: Snapshot, target: Target) -> list[Hint]:
    """The simplifications found in the target, in document order, none overlapping."""
    language = snapshot.language
    tree = snapshot.tree
    if tree is None or language is None or tree.root_node.has_error:
        return []
    if language == "python":
        finder: Finder = PythonFinder(snapshot)
    elif language in _JS:
        finder = JavaScriptFinder(snapshot)
    else:
        return []
    start, end = snapshot.byte_offset(target.start), snapshot.byte_offset(target.end)
    found: list[Hint] = []
    strings: list[tuple[int, int]] = []  # lines of the strings spanning lines
    # From the smallest node holding the target: this runs when actions are listed, and a
    # walk over a whole 1.6 MB file took 0.7 s.
    around = tree.root_node.descendant_for_byte_range(start, end) or tree.root_node
    for node in walk(around):
        if node.end_byte <= start or node.start_byte >= end:
            continue
        if node.type in STRINGS and node.start_point[0] != node.end_point[0]:
            strings.append((node.start_point[0], node.end_point[0]))
        if node.start_byte < start or node.end_byte > end:
            continue
        hint = finder.hint(node)
        if hint is None:
            continue
        if len(hint.replacement.split("\n")[0]) + _indent(snapshot, hint.first) <= MAX_LINE:
            found.append(hint)
    # Lines moved to another indentation, or joined, change a string spanning them.
    found = [h for h in found if not any(a <= h.last and b >= h.first for a, b in strings)]
    found.sort(key=lambda h: (h.first, -h.last))
    kept: list[Hint] = []
    for hint in found:
        if not kept or hint.first > kept[-1].last:
            kept.append(hint)
    return kept


def _indent(snapshot: Snapshot, line: int) -> int:
    lines = snapshot.text.split("\n")
    return len(indent_of(lines[line]).expandtabs(4)) if line < len(lines) else 0


def with_span_replaced(text: str, start: int, end: int, hint: Hint, answer: str) -> str | None:
    """The target (code points [start, end) of ``text``, "\\n" line ends) with the hint's
    lines replaced by the answer, re-indented to the first of them; None when the answer
    is longer than the lines it replaces and the suggestion together (not such lines:
    the caller reads it as a whole rewrite)."""
    lines = dedent(answer.replace("\r\n", "\n")).strip("\n").split("\n")
    if not lines or not lines[0].strip():
        return None
    target = text[start:end].replace("\r\n", "\n")
    first_line = text[:start].count("\n")
    own = target.split("\n")
    low, high = hint.first - first_line, hint.last - first_line
    if low < 0 or high >= len(own):
        return None
    if len(lines) > max(high - low + 1, len(hint.replacement.split("\n"))) + 1:
        return None
    indent = indent_of(own[low])
    return "\n".join([*own[:low], indent_lines("\n".join(lines), indent), *own[high + 1 :]])


def retry_start(snapshot: Snapshot, target: Target) -> str:
    """What a second attempt at a simplification starts its answer with: the first new
    line (the 0.5B model told that `elif c:` becomes `if c:` wrote `elif c:` again, and
    told the lines an `else` holds move out dropped their last one)."""
    hint = first_hint(snapshot, target)
    return hint.replacement.split("\n")[0] + "\n" if hint is not None else ""


def first_hint(snapshot: Snapshot, target: Target) -> Hint | None:
    """The simplification Simplify asks for (one change per request: the first)."""
    hints = find_hints(snapshot, target)
    return hints[0] if hints else None


def _leaves(language: str, code: str) -> list[str]:
    snapshot, root = parse(language, dedent(code))
    found: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            continue
        if node.child_count == 0:
            found.append(
                snapshot.source[node.start_byte : node.end_byte].decode("utf-8", "replace")
            )
        stack.extend(reversed(node.children))
    return found


def same_code(language: str, a: str, b: str) -> bool:
    """Whether two versions of the code have the same tokens (layout and comments aside):
    the model's answer is the simplification the finder suggested, which keeps the
    behaviour; another one might not."""
    return _leaves(language, a) == _leaves(language, b)
