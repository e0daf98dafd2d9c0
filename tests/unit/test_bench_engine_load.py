"""The load benchmark's pure parts (benchmarks/engine_load.py, bench_engine_load's command
line): a level's figures from the typists' recorded events (issue 14, item 4)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("psutil", reason="pip install -e '.[bench]' (psutil)")

from benchmarks import bench_engine_load, engine_load  # noqa: E402
from benchmarks.typing_metrics import Event, event_record  # noqa: E402


def _record(
    sent: float, answered: float | None, text: str, gap: float, error: str = ""
) -> dict[str, Any]:
    event = Event("f.py", int(sent * 10), sent, gap, "x = 1\n", sent + gap, answered, text, error)
    return event_record(event)


def _typist(events: list[dict[str, Any]], prompt: int, reused: int) -> dict[str, Any]:
    tokens = {"prompt": prompt, "reused": reused, "processed": prompt - reused}
    return {"events": events, "tokens": tokens | {"cancelled_generations": 1}}


def test_a_level_pools_every_typists_keystrokes() -> None:
    first = _typist(
        [
            _record(0.0, 0.1, "x = 1", gap=0.2),  # shown in 100 ms
            _record(0.2, 0.5, "x = 1", gap=1.0),  # a pause, served in 300 ms
            _record(1.2, 1.3, "", gap=0.2, error="JsonRpcRequestCancelled: cancelled"),
        ],
        prompt=300,
        reused=270,
    )
    second = _typist(
        [
            _record(0.0, 0.9, "x = 1", gap=1.5),  # a pause, served late (900 ms)
            _record(1.5, 1.6, "", gap=0.2, error="JsonRpcException: boom"),
            _record(1.7, None, "", gap=0.2),  # never answered
        ],
        prompt=200,
        reused=150,
    )
    failed = {"failed": "RuntimeError: the server exited", "events": []}
    level = engine_load.level_summary(3, [first, second, failed])
    assert level["typists"] == 3
    assert level["keystrokes"] == 6
    assert level["shown"] == 3
    assert level["p50_ms"] == 300.0
    assert level["p95_ms"] == pytest.approx(840.0)
    assert level["pauses"] == 2 and level["pause_share_300ms"] == 0.5
    assert level["engine_tokens_per_keystroke"] == pytest.approx(80 / 6, abs=0.05)
    assert level["cancelled_requests"] == 1
    assert level["cancelled_generations"] == 2
    assert level["errors"] == 1
    assert level["failed_typists"] == ["RuntimeError: the server exited"]
    assert level["typist_p50_ms"] == [200.0, 900.0, None]
    rows = engine_load.table([level]).splitlines()
    assert rows[0].split()[0] == "typists" and rows[2].split()[:3] == ["3", "6", "3"]
    assert rows[2].split()[-1] == "2"  # one error answer, one failed typist


def test_an_engine_that_reports_no_prompt_counts_is_not_zero_work() -> None:
    level = engine_load.level_summary(1, [_typist([_record(0.0, 0.1, "x", 0.2)], 0, 0)])
    assert level["engine_tokens_per_keystroke"] is None
    assert engine_load.level_summary(1, [])["p50_ms"] is None


def test_the_plot_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    levels = [
        engine_load.level_summary(n, [_typist([_record(0.0, 0.1 * n, "x", 1.0)], 10, 5)])
        for n in (1, 2)
    ]
    path = tmp_path / "load.png"
    engine_load.plot_levels(levels, path, "test")
    assert path.stat().st_size > 0


def test_command_line() -> None:
    args = bench_engine_load.parse_args([])
    assert args.typists == [1, 2, 4, 8] and args.engine == "llama-server"
    assert args.files == ["textwrap.py"]
    args = bench_engine_load.parse_args(
        ["--typists", "1,2", "--engine", "in-process", "--files", "a.py, b.c"]
    )
    assert args.typists == [1, 2] and args.files == ["a.py", "b.c"]
    assert bench_engine_load.parse_args(["--engine", "vllm"]).engine == "vllm"
    with pytest.raises(argparse.ArgumentTypeError):
        bench_engine_load.parse_typists("0,2")
    with pytest.raises(SystemExit):
        bench_engine_load.parse_args(["--engine-dialect", "vllm"])


def test_llama_servers_own_counters_count_cancelled_prompts_too() -> None:
    page = (
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        "llamacpp:prompt_tokens_total 1200\n"
        "llamacpp:tokens_predicted_total 96\n"
    )
    assert engine_load.metric_sum(page, "llamacpp:prompt_tokens_total") == 1200.0
    assert engine_load.metric_sum(page, "llamacpp:nope") is None
    typist = _typist([_record(0.0, 0.1, "x", 0.2), _record(0.2, None, "", 0.2)], 30, 0)
    counters = {"prompt_tokens": 1200.0, "generated_tokens": 96.0}
    level = engine_load.level_summary(1, [typist], counters)
    assert level["engine_tokens_per_keystroke"] == 600.0
    assert level["engine_tokens_from"] == "engine counters"
    unknown = {"prompt_tokens": None, "generated_tokens": None}  # no --metrics
    level = engine_load.level_summary(1, [typist], unknown)
    assert level["engine_tokens_per_keystroke"] == 15.0
    assert level["engine_tokens_from"] == "answers"


VLLM_PAGE = (
    "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n"
    "# TYPE vllm:prompt_tokens_total counter\n"
    'vllm:prompt_tokens_total{engine="0",model_name="qwen-coder"} 900.0\n'
    'vllm:prompt_tokens_total{engine="1",model_name="qwen-coder"} 100.0\n'
    'vllm:prompt_tokens_cached_total{engine="0",model_name="qwen-coder"} 640.0\n'
    'vllm:prompt_tokens_cached_by_source_total{engine="0",source="device"} 640.0\n'
    'vllm:generation_tokens_total{engine="0",model_name="qwen-coder"} 42.0\n'
)


def test_vllms_labelled_counters_are_summed_and_its_cache_hits_left_out() -> None:
    counters = {
        key: engine_load.metric_sum(VLLM_PAGE, name)
        for key, name in engine_load.VLLM_COUNTERS.items()
    }
    # Both engines' series, and not the cached-by-source counter whose name starts alike.
    assert counters == {"prompt_tokens": 1000.0, "cached_tokens": 640.0, "generated_tokens": 42.0}
    assert engine_load.metric_sum(VLLM_PAGE, "vllm:prompt_tokens_cached") is None
    typist = _typist([_record(0.0, 0.1, "x", 0.2), _record(0.2, None, "", 0.2)], 30, 0)
    level = engine_load.level_summary(1, [typist], counters)
    assert level["engine_tokens_per_keystroke"] == 180.0  # (1000 - 640) / 2 keystrokes
    assert level["engine_tokens_from"] == "engine counters"
