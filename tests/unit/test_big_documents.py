"""Issue 13, items 1, 2 and 8: didChange batches, huge documents, text the tokenizer rejects.

Batches are checked property-style (seeded random batches against a plain reference and a
fresh parse); the cost of a keystroke on a huge document is compared with the cost of one
on a small document in the same test, with a generous factor.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest

from qwen_lsp import documents
from qwen_lsp.actions.target import parse
from qwen_lsp.crossfile.header import CrossFileContext
from qwen_lsp.documents import DocumentStore, Snapshot
from qwen_lsp.settings import Settings
from qwen_lsp.text_index import TextChange, clean_text

BLOCK = '''\
class Account{n}:
    """A bank account (café, 😀)."""

    def deposit(self, amount: float) -> float:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        return self.balance


'''


def python_text(size: int, block: str = BLOCK) -> str:
    """A Python file of about ``size`` characters: ``block`` repeated, numbered by {n}."""
    parts, total, n = [], 0, 0
    while total < size:
        parts.append(block.replace("{n}", str(n)))
        total += len(parts[-1])
        n += 1
    return "".join(parts)


def _nodes(snapshot: Snapshot) -> list[tuple[str, int, int, tuple[int, int], tuple[int, int]]]:
    assert snapshot.tree is not None
    found = []
    cursor = snapshot.tree.walk()
    visited_children = False
    while True:
        node = cursor.node
        assert node is not None
        if not visited_children:
            found.append(
                (node.type, node.start_byte, node.end_byte, node.start_point, node.end_point)
            )
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
        else:
            return found


def _reference(text: str, changes: list[TextChange]) -> str:
    """The text after ``changes``, each applied on a fresh snapshot (the plain way)."""
    for new_text, range_ in changes:
        if range_ is None:
            text = new_text
            continue
        snapshot = Snapshot.build("file:///r.txt", "plaintext", 0, text, language=None)
        start = snapshot.clamped_offset(*range_[0])
        end = snapshot.clamped_offset(*range_[1])
        start, end = min(start, end), max(start, end)
        text = text[:start] + new_text + text[end:]
    return text


_PIECES = ["x", "def f():\n", "    ", "\n", "\r\n", "é", "😀", "(", ")", ":", "'", "#", " "]


def _random_change(rng: random.Random, snapshot: Snapshot) -> TextChange:
    if rng.random() < 0.02:
        return ("".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 30))), None)
    lines = snapshot.line_count()

    def position() -> tuple[int, int]:
        line = rng.randint(0, lines)  # one past the end: clamped
        return line, rng.randint(0, 12)

    start, end = position(), position()
    if rng.random() < 0.5:
        end = start
    text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 4)))
    return text, (start, end)


@pytest.mark.parametrize("seed", range(40))
def test_a_batch_gives_the_text_lines_and_tree_of_a_fresh_parse(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 400)))
    store = DocumentStore()
    document = store.open("file:///t.py", "python", 1, text)
    expected_text = text
    for version in range(2, 8):
        size = rng.choice([1, 2, 5, 9, 30, 120])  # both sides of the batch threshold
        changes: list[TextChange] = []
        for _ in range(size):
            # positions refer to the text after the changes before them
            now = Snapshot.build("file:///n.py", "python", 0, _reference(expected_text, changes))
            changes.append(_random_change(rng, now))
        store.change("file:///t.py", version, changes)
        expected_text = _reference(expected_text, changes)
        got = document.snapshot()
        assert got.text == expected_text
        assert got.version == version
        fresh = Snapshot.build("file:///t.py", "python", version, expected_text)
        assert got.line_count() == fresh.line_count()
        for line in range(fresh.line_count()):
            assert got.line_range(line) == fresh.line_range(line)
        assert _nodes(got) == _nodes(fresh)


def _spread_batch(text: str, count: int) -> list[TextChange]:
    lines = text.count("\n") + 1
    step = max(1, lines // count)
    return [("#", (((i * step) % lines, 0), ((i * step) % lines, 0))) for i in range(count)]


def test_a_thousand_edits_in_one_notification_cost_one_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13, item 1: 1,000 one-character edits on a 0.56 MB Python file took 47 s (a
    reparse per edit). Now: one parse, and seconds at most on a loaded machine (< 1 s is
    the figure measured by benchmarks/bench_bigdoc.py)."""
    text = python_text(560_000)
    store = DocumentStore()
    document = store.open("file:///big.py", "python", 1, text)
    parses = []
    real_parse = documents._parse

    def counting(*args: object, **kwargs: object) -> object:
        parses.append(1)
        return real_parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(documents, "_parse", counting)
    changes = _spread_batch(text, 1000)
    start = time.perf_counter()
    store.change("file:///big.py", 2, changes)
    seconds = time.perf_counter() - start
    assert len(parses) == 1
    assert seconds < 20  # before: 47 s unloaded, 285 s on this shared machine
    monkeypatch.undo()
    fresh = Snapshot.build("file:///big.py", "python", 2, _reference(text, changes))
    assert document.snapshot().text == fresh.text
    assert _nodes(document.snapshot()) == _nodes(fresh)


def test_a_keystroke_on_a_9_mb_file_costs_no_more_than_a_copy_of_its_text() -> None:
    """Issue 13, item 2: a keystroke on a 12 MB file cost ~0.2 s on the event loop (the
    line index rebuilt, the text encoded and split into lines per change: 1.7 s at 9 MB
    on this shared machine). What remains is the one copy of the text a new immutable str
    costs (measured here, on the same text, as the yardstick): no pass over the lines."""
    # ASCII: one byte a character, the cheapest copy, so the yardstick is strict
    text = python_text(9_000_000).replace("é", "e").replace("😀", ":)")
    assert len(text) > documents.MAX_PARSE_BYTES  # no tree: the text work alone
    middle = len(text) // 2
    copies = []
    for _ in range(7):
        start = time.perf_counter()
        copied = text[:middle] + "x" + text[middle:]
        copies.append(time.perf_counter() - start)
    del copied
    keystroke = _keystroke_seconds(text)
    copy = statistics.median(copies)
    assert keystroke < 4 * copy + 0.02, (keystroke, copy)


def _keystroke_seconds(text: str) -> float:
    """Median cost of what didChange does for one typed character (the store's change and
    the cross-file ring's record)."""
    store = DocumentStore()
    cross_file = CrossFileContext(documents=store.snapshots)
    store.open("file:///k.py", "python", 1, text)
    line = text.count("\n", 0, len(text) // 2)
    costs = []
    for version in range(2, 9):
        start = time.perf_counter()
        document = store.change("file:///k.py", version, [("x", ((line, 4), (line, 4)))])
        cross_file.record_edit(document.snapshot(), line, line)
        costs.append(time.perf_counter() - start)
    assert document.snapshot().line_at(line).startswith("    " + "x" * 7)
    return statistics.median(costs)


def test_a_completion_reads_a_window_bounded_by_the_settings_not_the_file() -> None:
    from qwen_lsp.completion import request_window

    text = python_text(9_000_000)
    snapshot = Snapshot.build("file:///w.py", "python", 1, text)
    offset = len(text) // 2
    view = request_window(snapshot, offset, Settings())
    assert len(view.text) < 600_000
    assert text[view.start : view.start + len(view.text)] == view.text
    assert view.start <= offset <= view.start + len(view.text)
    assert view.start_line % 16 == 0
    assert snapshot.position_at(view.start) == (view.start_line, 0)
    small = Snapshot.build("file:///s.py", "python", 1, python_text(20_000))
    assert request_window(small, 100, Settings()).text is small.text


def test_lone_surrogates_become_replacement_characters_with_the_same_coordinates() -> None:
    raw = "a\ud800b = '😀\udfff'\nc"
    cleaned = clean_text(raw)
    assert cleaned == "a\ufffdb = '😀\ufffd'\nc"
    cleaned.encode("utf-8")  # the tokenizer's encoding no longer fails
    for one, other in ((raw, cleaned),):
        assert len(one) == len(other)
        assert len(one.encode("utf-16-le", "surrogatepass")) == len(other.encode("utf-16-le"))
        assert len(one.encode("utf-8", "surrogatepass")) == len(other.encode("utf-8"))
    store = DocumentStore()
    document = store.open("file:///s.py", "python", 1, raw)
    assert document.text == cleaned
    store.change("file:///s.py", 2, [("\udc00x", ((1, 1), (1, 1)))])
    assert document.text == cleaned + "\ufffdx"
    assert document.position_at(len(document.text)) == (1, 3)


def test_checks_parse_a_text_without_a_tree_instead_of_failing_an_assert() -> None:
    snapshot, root = parse("python", "x = 1\x00\n")
    assert snapshot.tree is None and root.type == "module"


def test_an_action_on_a_file_too_large_to_parse_is_refused_with_a_message() -> None:
    """Issue 13, item 2: action checks parsed a 50 MB file twice, then failed an assert."""
    from qwen_lsp.actions.catalogue import find_spec
    from qwen_lsp.actions.checks import check_change
    from qwen_lsp.actions.edits import FileChange, OffsetEdit
    from qwen_lsp.actions.prompt import ActionInput
    from qwen_lsp.actions.target import find_target

    text = python_text(3_000_000)
    snapshot = Snapshot.build("file:///w/huge.py", "python", 1, text)
    assert snapshot.tree is None
    target = find_target(snapshot, 0, 20)
    spec = find_spec("docstring")
    assert target is not None and spec is not None
    edit = OffsetEdit(target.start, target.end, "class Account0:\n    pass")
    change = FileChange(snapshot.uri, text, (edit,), 1, language="python")
    start = time.perf_counter()
    message = check_change(ActionInput(spec, snapshot, target), change)
    assert "huge.py is too large" in message
    assert time.perf_counter() - start < 5  # no parse of the whole file
