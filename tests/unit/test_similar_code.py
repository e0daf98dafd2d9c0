"""The chunk of a file most like the code above the cursor (qwen_lsp/similar_code.py), and
where the FIM window puts it."""

from __future__ import annotations

from typing import Any, cast

from qwen_lsp.background import PromptWindows
from qwen_lsp.context import FimWindow, fim_window
from qwen_lsp.engine import KvReuse
from qwen_lsp.settings import Settings
from qwen_lsp.similar_code import (
    KEEP_SHARE,
    MIN_SIMILARITY,
    identifiers,
    jaccard,
    similar_chunk,
)
from tests.unit.test_context import COUNT


def method(name: str, body: list[str]) -> list[str]:
    return [f"    def {name}(self, a, b):\n", *(f"        {line}\n" for line in body), "\n"]


def filler(count: int) -> list[str]:
    """Lines without a name in them: like no code."""
    return [f"    # {'-' * (i % 7 + 1)}\n" for i in range(count)]


def other_code(count: int) -> list[str]:
    return [f"total_{i} = compute_{i}(value_{i})\n" for i in range(count)]


CHECKED = ["a = _convert(a, strict=True)", "r = a.op(b, context=self)", "return r"]
# The method being written: its signature and docstring, the cursor below them.
CURRENT = ["    def remainder(self, a, b):\n", '        """The remainder of a by b."""\n']


def test_jaccard() -> None:
    a, b = identifiers(["x = f(y)"]), identifiers(["x = g(y)"])
    assert jaccard(a, b) == 2 / 4
    assert jaccard(a, a) == 1.0
    assert jaccard(a, frozenset()) == 0.0


def test_the_most_similar_chunk_above_the_window_is_found() -> None:
    above = [*method("divide", CHECKED), *filler(60), *CURRENT]
    chunk = similar_chunk(above, 40, [], 0, 1000, COUNT)
    assert chunk is not None and chunk.above
    assert "        a = _convert(a, strict=True)\n" in chunk.lines
    assert chunk.start + len(chunk.lines) <= 40  # nothing the window holds already
    assert chunk.similarity >= MIN_SIMILARITY


def test_a_chunk_below_the_suffix_is_found_too() -> None:
    above = [*filler(60), *CURRENT]
    below = [*filler(20), *method("divide", CHECKED)]
    chunk = similar_chunk(above, 40, below, 100, 1000, COUNT)
    assert chunk is not None and not chunk.above
    assert "        a = _convert(a, strict=True)\n" in chunk.lines


def test_nothing_alike_gives_no_chunk() -> None:
    above = [*filler(60), *CURRENT]
    assert similar_chunk(above, 40, other_code(30), 100, 1000, COUNT) is None
    assert similar_chunk(above, 40, [], 0, 0, COUNT) is None  # the budget is 0: off
    assert similar_chunk(["\n"] * 50, 30, [], 0, 1000, COUNT) is None  # no identifiers above


def test_the_chunk_keeps_its_first_lines_within_the_budget_without_blank_edges() -> None:
    above = ["\n", "\n", *method("divide", CHECKED), *filler(60), *CURRENT]
    chunk = similar_chunk(above, 40, [], 0, 12, COUNT)
    assert chunk is not None
    assert chunk.lines[0].strip() and chunk.lines[-1].strip()
    assert sum(COUNT(line) for line in chunk.lines) <= 12
    assert above[chunk.start : chunk.start + len(chunk.lines)] == list(chunk.lines)


def test_the_chunk_does_not_end_with_a_line_that_opens_a_block() -> None:
    # the budget ends the chunk right after the loop's header: its body is not shown, and
    # the header goes too (the window's first line would read as that body)
    body = ["a = _convert(a, strict=True)", "for r in a.ops(b, context=self):", "    use(r)"]
    above = [*method("divide", body), *filler(60), *CURRENT]
    header = sum(COUNT(line) for line in above[:3])  # the def, `a = ...` and the `for`
    chunk = similar_chunk(above, 40, [], 0, header, COUNT)
    assert chunk is not None
    assert chunk.lines == tuple(above[:2])  # the def and its first line
    uncut = similar_chunk(above, 40, [], 0, header, COUNT, open_end_cut=False)
    assert uncut is not None and uncut.lines == tuple(above[:3])  # the switch, to measure
    whole = similar_chunk(above, 40, [], 0, 1000, COUNT)
    assert whole is not None and "            use(r)\n" in whole.lines  # with its body: kept


def test_the_window_puts_a_chunk_from_above_in_file_order_before_its_lines() -> None:
    lines = [*method("divide", CHECKED), *filler(80), *CURRENT]
    text = "".join(lines) + "        "
    plain = fim_window(text, len(text), COUNT, 100, 20)
    w = fim_window(text, len(text), COUNT, 100, 20, similar_tokens=40)
    assert "_convert" not in plain.prefix.split("def remainder")[0]
    assert w.prefix.endswith(plain.prefix)  # the window itself is the same
    head = w.prefix[: -len(plain.prefix)]
    assert "        a = _convert(a, strict=True)\n" in head
    assert w.prefix_start_line == plain.prefix_start_line
    assert text.startswith(head)  # the file's own lines, in file order


def test_the_window_puts_a_chunk_from_below_after_the_outline() -> None:
    lines = [*filler(80), *CURRENT]
    below = [*filler(30), *method("divide", CHECKED)]
    text = "".join(lines) + "        \n" + "".join(below)
    offset = len("".join(lines)) + 8
    w = fim_window(text, offset, COUNT, 100, 20, similar_tokens=40)
    plain = fim_window(text, offset, COUNT, 100, 20)
    assert w.suffix == plain.suffix
    assert "_convert(a, strict=True)" not in plain.prefix + plain.suffix
    assert "        a = _convert(a, strict=True)\n" in w.prefix
    assert w.prefix.endswith(plain.prefix)


def test_the_chunk_stays_while_typing_on_the_cursor_line() -> None:
    lines = [*method("divide", CHECKED), *filler(80), *CURRENT]
    text = "".join(lines)
    prefixes = set()
    for typed in ("", "        ", "        if", "        if _convert(b) is None:"):
        document = text + typed
        w = fim_window(document, len(document), COUNT, 100, 20, similar_tokens=40)
        prefixes.add(w.prefix)
    assert len(prefixes) == 1


def test_the_rule_switch_and_a_zero_budget_leave_the_window_as_it_was() -> None:
    lines = [*method("divide", CHECKED), *filler(80), *CURRENT]
    text = "".join(lines) + "        "
    plain = fim_window(text, len(text), COUNT, 100, 20)
    off = fim_window(
        text, len(text), COUNT, 100, 20, similar_tokens=40, disabled_rules=("similar-code",)
    )
    assert off == plain
    assert fim_window(text, len(text), COUNT, 100, 20, similar_tokens=0) == plain


def test_the_chunk_shown_before_stays_while_nearly_as_good_as_the_best() -> None:
    """A change of the chunk is the window read again: the one the last window showed is
    kept while it scores KEEP_SHARE of the best, and given up below that."""
    query = identifiers(CURRENT)
    best = [*method("remainder", ["a = _convert(a)", "return a"]), *filler(2)]  # 6 lines
    near = [*method("divide", ["a = a"]), *filler(3)]
    weak = [*method("divide", ["x = _convert(y, z, w)"]), *filler(3)]
    score = {
        name: jaccard(identifiers(block), query)
        for name, block in (("best", best), ("near", near), ("weak", weak))
    }
    assert KEEP_SHARE * score["best"] <= score["near"] < score["best"]
    assert MIN_SIMILARITY <= score["weak"] < KEEP_SHARE * score["best"]
    for first, expected_kept in ((near, True), (weak, False)):
        above = [*first, *best, *filler(60), *CURRENT]
        chosen = similar_chunk(above, 40, [], 0, 1000, COUNT)
        assert chosen is not None and chosen.start == 6  # the best, with nothing to keep
        again = similar_chunk(above, 40, [], 0, 1000, COUNT, keep=chosen.head)
        assert again == chosen
        before = similar_chunk(above, 40, [], 0, 1000, COUNT, keep=tuple(first))
        assert before is not None and (before.start == 0) == expected_kept


def test_the_window_reports_the_chunks_head_and_keeps_it() -> None:
    lines = [*method("divide", CHECKED), *filler(80), *CURRENT]
    text = "".join(lines) + "        "
    w = fim_window(text, len(text), COUNT, 100, 20, similar_tokens=40)
    assert w.similar_head and w.similar_head[0] == "    def divide(self, a, b):\n"
    again = fim_window(
        text, len(text), COUNT, 100, 20, similar_tokens=40, similar_keep=w.similar_head
    )
    assert again == w
    assert fim_window(text, len(text), COUNT, 100, 20).similar_head == ()


def test_the_prompt_windows_keep_each_documents_chunk() -> None:
    """The chooser of windows (background.PromptWindows) remembers the chunk per document:
    where the chunk shown before is nearly as good, the next window keeps it; another
    document starts afresh."""
    best = [*method("remainder", ["a = _convert(a)", "return a"]), *filler(2)]
    near = [*method("divide", ["a = a"]), *filler(3)]
    before = "".join([*near, *filler(66), *CURRENT]) + "        "
    after = "".join([*near, *best, *filler(60), *CURRENT]) + "        "
    settings = Settings(prefixTokens=100, suffixTokens=20, widePrefixTokens=0, similarTokens=40)
    windows = PromptWindows(cast(Any, None), cast(Any, None))

    def head(uri: str, text: str, user: bool = True) -> str:
        def reuse(window: FimWindow) -> KvReuse:
            return KvReuse(1000, 1000)  # all of it in the KV cache: never cut

        choice = windows.choose(
            uri, text, len(text), COUNT, settings, False, reuse, 100.0, may_cut=user
        )
        return choice.window.similar_head[0]

    assert head("file:///a.py", before) == near[0]
    assert head("file:///a.py", after) == near[0]  # kept
    assert head("file:///b.py", after) == best[0]  # the best, nothing to keep
    # Background work (speculation after an accepted suggestion, elsewhere in the file)
    # neither keeps its chunk for the user's next request nor loses the kept one.
    assert head("file:///c.py", before) == near[0]
    assert head("file:///c.py", after, user=False) == near[0]
    assert head("file:///b.py", before, user=False) == near[0]  # (nothing better there)
    assert head("file:///b.py", after) == best[0]  # as the user's last request left it
