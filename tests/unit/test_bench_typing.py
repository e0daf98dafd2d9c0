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


def _typed_events(span: str, chunks: list[str], shown: dict[int, str]) -> list[Any]:
    """A replay of ``span`` typed in ``chunks``; ``shown[i]`` is shown 50 ms after key i."""
    events = []
    typed = 0
    for index, chunk in enumerate(chunks):
        typed += len(chunk)
        sent = float(index)
        text = shown.get(index, "")
        event = typing_metrics.Event(
            "f.py", index, sent, 0.8, span[typed:], sent + 0.8, sent + 0.05 if text else None, text
        )
        event.typed = typed
        events.append(event)
    return events


def test_chars_saved_skips_what_an_accepted_suggestion_covers() -> None:
    span = "x = foo(1)\n    y = 2"
    chunks = [*"x = f", "o", "o", *"(1)", "\n    ", *"y = 2"]
    assert "".join(chunks) == span
    shown = {
        4: "oo(1)\n    y = 3",  # after "x = f": first line right (5 chars), whole wrong
        5: "o(1)",  # inside the accepted text: the user never typed this key
        10: "y = 2",  # after Enter: right, first line and whole (5 chars)
        11: " = 2",  # inside the accepted text again
    }
    events = _typed_events(span, chunks, shown)
    assert typing_metrics.chars_saved(events) == (10, len(span))
    # Whole text: the first suggestion's second line is not typed next, so the user types
    # on and accepts "o(1)" at the next key, then "y = 2".
    assert typing_metrics.chars_saved(events, whole=True) == (9, len(span))
    assert typing_metrics.accepted_chars("\n    y = 2\n", "\n    y = 2") == len("\n    y = 2")
    assert typing_metrics.accepted_chars("   ", "   ") == 0
    figures = typing_metrics.summarize(events)
    assert figures["chars_typed"] == len(span)
    assert figures["saved_line"] == pytest.approx(10 / len(span), abs=1e-4)
    assert figures["saved_whole"] == pytest.approx(9 / len(span), abs=1e-4)
    # Every key is followed by a pause (0.8 s); all 4 shown were acceptable within 300 ms.
    assert figures["pause_accept_300ms"] == pytest.approx(4 / len(chunks), abs=1e-4)


def test_chars_saved_counts_each_round_and_only_what_was_typed() -> None:
    span = "abcdef"
    first = _typed_events(span, list("abc"), {0: "bcdef"})  # replay cut after 3 keys
    second = _typed_events(span, list("abc"), {})
    assert typing_metrics.chars_saved(first) == (2, 3)  # "bc": the replay typed up to "c"
    assert typing_metrics.chars_saved(first + second) == (2, 6)  # round 2 saves nothing
    assert len(typing_metrics.replays(first + second)) == 2
    late = _typed_events(span, list("abc"), {0: "bcdef"})
    late[0].answered = 0.9  # after the next keystroke: not shown, nothing saved
    assert typing_metrics.chars_saved(late) == (0, 3)


def test_report_ratios_to_the_peer_loaded_to_idle_and_targets() -> None:
    from benchmarks import typing_report

    def result(saved: float, pauses: float, shown: int, first: float, p95: float) -> Any:
        metrics = {
            "saved_line": saved,
            "saved_whole": saved / 2,
            "pause_accept_300ms": pauses / 2,
            "pause_share_300ms": pauses,
            "shown": shown,
            "accept_rate": 0.5,
            "keystrokes": 100,
            "p50_ms": 5.0,
            "p95_ms": p95,
        }
        return {
            "metrics": metrics,
            "per_file": {"a.py": metrics, "b.py": {**metrics, "saved_line": saved / 4}},
            "cold_files": [{"round": 0, "seconds": first}, {"round": 1, "seconds": 0.01}],
            "cold_300_line": {"seconds": first},
            "per_replay": [
                {"file": "a.py", "round": r, **metrics, "shown": shown + r} for r in (0, 1)
            ],
        }

    results = {
        "default@idle": result(0.30, 0.85, 100, 1.0, 250.0),
        "peer@idle": result(0.15, 0.40, 60, 2.0, 900.0),
        "default@busy": result(0.27, 0.60, 90, 3.0, 400.0),
        "peer@busy": result(0.10, 0.20, 30, 4.0, 999.0),
    }
    assert typing_report.split_name("default@busy") == ("default", "busy")
    assert typing_report.split_name("default") == ("default", "idle")
    assert typing_report.first_suggestion_s(results["default@idle"]) == 1.0  # round 0 only
    vs_peer, text = typing_report.peer_ratios(results)
    assert vs_peer["default@idle/pooled"]["saved_line"] == 2.0
    assert vs_peer["default@idle/pooled"]["first_speedup"] == 2.0
    assert vs_peer["default@busy/b.py"]["saved_line"] == 2.7
    assert "default@idle" in text and "peer@idle" not in text.split("\n", 2)[2]
    loaded, _ = typing_report.load_ratios(results)
    assert loaded["default@busy/pooled"]["pause_share_300ms"] == pytest.approx(0.71, abs=0.01)
    assert loaded["peer@busy/pooled"]["shown"] == 0.5
    checks = {c["target"].split(":")[0]: c["met"] for c in typing_report.targets(results)}
    assert checks["[idle] chars saved (1st line) >= 1.5x peer, pooled"] is True
    assert checks["[idle] chars saved never below the peer on a file"] is True
    assert checks["[idle] pauses served within 300 ms >= 80%"] is True
    assert checks["[idle] first suggestion in a fresh file <= 1.5 s (median)"] is True
    assert checks["[idle] p95 <= 300 ms"] is True
    assert checks["[busy] every figure >= 80% of idle"] is False
    assert "MET" in typing_report.targets_text(typing_report.targets(results))
    assert typing_report.headline_table(results).count("pooled") == 4
    issue = typing_report.issue_table(results)
    assert "keys with a suggestion shown (of 100)" in issue
    assert "100-101" in issue and "a 30%" in issue  # ranges over the replays, per file


def test_engine_arguments_make_one_configuration_per_engine() -> None:
    from benchmarks import bench_typing

    args = bench_typing.parse_args(
        ["--engine", "http://127.0.0.1:8000/v1", "--engine-model", "qwen-coder"]
    )
    assert args.configs == "default"  # the in-process model, to compare with
    found = bench_typing.engine_configs(args.engine, args.engine_dialect, args.engine_model)
    assert found == {
        "engine-openai": {
            "backend": "openai",
            "engineUrl": "http://127.0.0.1:8000/v1",
            "engineModel": "qwen-coder",
        }
    }
    assert bench_typing.parse_args([]).configs == "default,baseline"
    args = bench_typing.parse_args(
        ["--engine", "http://a:1/v1", "--engine", "http://b:2", "--engine", "http://c:3/v1"]
        + ["--engine-dialect", "openai", "--engine-dialect", "llama-server"]
        + ["--engine-dialect", "openai"]
    )
    found = bench_typing.engine_configs(args.engine, args.engine_dialect, args.engine_model)
    assert list(found) == ["engine-openai-1", "engine-llama-server", "engine-openai-3"]
    assert found["engine-llama-server"] == {"backend": "llama-server", "engineUrl": "http://b:2"}
    with pytest.raises(SystemExit):  # argparse: not a dialect
        bench_typing.parse_args(["--engine", "http://a:1", "--engine-dialect", "vllm"])
    with pytest.raises(ValueError, match="one per --engine"):
        bench_typing.engine_configs(["http://a:1", "http://b:2", "http://c:3"], [], ["x", "y"])
    with pytest.raises(ValueError, match="http"):
        bench_typing.engine_configs(["127.0.0.1:8000"], [], [])


def test_engine_configurations_are_settings_the_server_accepts() -> None:
    from benchmarks import bench_typing
    from qwen_lsp.settings_resolve import resolve_settings

    for dialect in bench_typing.DIALECTS:
        options = bench_typing.engine_configs(["http://127.0.0.1:8080"], [dialect], ["m"])
        resolved = resolve_settings({}, next(iter(options.values())))
        assert resolved.settings.backend == dialect
        assert resolved.settings.engineUrl == "http://127.0.0.1:8080"
        assert resolved.settings.engineModel == "m"
        assert resolved.problems == []
