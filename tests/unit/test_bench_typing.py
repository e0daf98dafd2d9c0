"""The pure parts of the typing benchmark (benchmarks/bench_typing.py): keystroke plan, span
choice (typing_plan), metrics (typing_metrics, typing_memory)."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.importorskip("psutil", reason="pip install -e '.[bench]' (psutil)")

from benchmarks import typing_memory, typing_metrics, typing_plan  # noqa: E402


def _offset(text: str, line: int, utf16_col: int) -> int:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    start = starts[line]
    units = 0
    for i, char in enumerate(text[start:]):
        if units >= utf16_col:
            return start + i
        units += len(char.encode("utf-16-le")) // 2
    return len(text)


SOURCE = (
    "def greet(name):\n"
    "    if name:\n"
    "        return f'héllo {name} 🎉 ok'\n"
    "    return '世界'\n"
    "\n"
    "x = 1\n"
)


def test_plan_retypes_the_span_exactly_with_utf16_positions() -> None:
    start = SOURCE.index("if name")
    end = SOURCE.index("'世界'") + len("'世界'")
    strokes = typing_plan.plan_keystrokes(SOURCE, start, end, seed=7)
    document = SOURCE[:start] + SOURCE[end:]
    for stroke in strokes:
        at = _offset(document, stroke.line, stroke.utf16_col)
        document = document[:at] + stroke.text + document[at:]
        cursor = at + len(stroke.text)
        assert _offset(document, stroke.cursor_line, stroke.cursor_col) == cursor
        assert document[:cursor] == SOURCE[: start + stroke.typed]
    assert document == SOURCE
    # Enter and the auto-indent after it are one change.
    assert "\n        " in [s.text for s in strokes]
    assert all(len(s.text) == 1 or s.text[0] == "\n" for s in strokes)
    # Gaps: seeded, in range, with a pause at each end of line and at the end.
    assert strokes == typing_plan.plan_keystrokes(SOURCE, start, end, seed=7)
    assert strokes != typing_plan.plan_keystrokes(SOURCE, start, end, seed=8)
    low, high = typing_plan.GAP_RANGE_S
    for i, stroke in enumerate(strokes):
        line_ends = i + 1 == len(strokes) or strokes[i + 1].text.startswith("\n")
        if line_ends:
            assert typing_plan.PAUSE_RANGE_S[0] <= stroke.gap <= typing_plan.PAUSE_RANGE_S[1]
        else:
            assert low <= stroke.gap <= high or stroke.gap >= typing_plan.PAUSE_RANGE_S[0]
    assert len(typing_plan.plan_keystrokes(SOURCE, start, end, seed=7, max_keystrokes=5)) == 5


def test_span_is_a_function_body_without_its_docstring() -> None:
    text = 'def f(a):\n    """Doc."""\n    b = a + 1\n    return b * 2\n\n\ndef g():\n    pass\n'
    start, end = typing_plan.choose_span(text, "python", seed=1, chars=(10, 40))
    assert text[start:end] == "b = a + 1\n    return b * 2"
    c = "int f(int a) {\n    int b = a + 1;\n    return b;\n}\n"
    start, end = typing_plan.choose_span(c, "c", seed=1, chars=(10, 15))
    assert c[start:end] == "int b = a + 1;"  # the leading statements of a longer body


def _event(
    sent: float, answered: float | None, text: str, rest: str, gap: float
) -> typing_metrics.Event:
    return typing_metrics.Event("f.py", 0, sent, gap, rest, sent + gap, answered, text)


def test_summarize_shown_latency_shares_and_accepts() -> None:
    events = [
        _event(0.0, 0.02, "return x", "return x\n", 0.15),  # shown fast, accepted
        _event(1.0, 1.10, "return y", "return x\n", 0.80),  # shown after pause, not accepted
        _event(2.0, 2.50, "foo", "foo", 0.20),  # answered after the next keystroke: late
        _event(3.0, 3.01, "   ", "x", 0.20),  # blank: nothing shown
        _event(4.0, None, "", "x", 1.00),  # never answered, followed by a pause
    ]
    figures = typing_metrics.summarize(events)
    assert figures["keystrokes"] == 5
    assert figures["shown"] == 2
    assert figures["outcomes"] == {"shown": 2, "late": 1, "empty": 1, "unanswered": 1}
    assert figures["p50_ms"] == pytest.approx(60.0)
    assert figures["share_300ms"] == pytest.approx(0.4)
    assert figures["pause_keystrokes"] == 2
    assert figures["pause_share_300ms"] == pytest.approx(0.5)
    assert figures["accept_rate"] == pytest.approx(0.5)
    assert figures["p50_all_ms"] is None  # most keystrokes got nothing: infinite
    assert typing_metrics.is_accepted("\n    return x  \n    more", "\n    return x + 1")
    assert not typing_metrics.is_accepted("\n  \n", "\n  \n")
    memory = typing_memory.memory_summary(
        [(float(t), (100 + t // 60) * 2**20) for t in range(0, 600)]
    )
    assert memory["peak_mb"] == 109 and memory["drift_pct"] == pytest.approx(9.0, abs=0.1)


def test_paired_accept_compares_the_same_keystrokes() -> None:
    def record(shown: bool, accepted: bool) -> dict[str, Any]:
        return {"latency_ms": 10.0 if shown else None, "accepted": accepted}

    fast = [record(True, True), record(True, False), record(True, False), record(True, True)]
    slow = [record(True, True), record(False, False), record(False, False), record(True, False)]
    pair = typing_metrics.paired_accept(fast, slow)
    assert pair["both"] == 2  # keystrokes 0 and 3
    assert pair["accepted"] == (2, 1)
    assert pair["per_keystroke"] == (0.5, 0.25)
