"""The figures of the load benchmark (benchmarks/bench_engine_load.py), per number of
typists, from what the typing replays recorded (pure, but for the plot).

A level is N typists at once. Its keystrokes are the events of every typist's replay (the
records of benchmarks/typing_metrics.py: outcome, latency, planned gap); its engine work is
the sum of the servers' counters (prompt tokens minus the ones the engine served from its
cache, as the engine reported them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.typing_metrics import percentile
from benchmarks.typing_plan import PAUSE_THRESHOLD_S
from benchmarks.typing_report import fmt_ms, fmt_pct, grid

PAUSE_SERVED_MS = 300.0


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def metric_sum(text: str, name: str) -> float | None:
    """A metric of a Prometheus text page summed over its labelled series (vLLM labels
    each by engine and model: ``name{engine="0",model_name="m"} 12.0``), None if absent."""
    pattern = rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)"
    found = re.findall(pattern, text, re.MULTILINE)
    return sum(float(value) for value in found) if found else None


# llama-server's counters of the prompt tokens it evaluated (cached ones left out) and the
# tokens it generated, cancelled requests included: the work the clients cannot see.
ENGINE_COUNTERS = {
    "prompt_tokens": "llamacpp:prompt_tokens_total",
    "generated_tokens": "llamacpp:tokens_predicted_total",
}
# vLLM's: every prompt token it prefilled and the ones its prefix cache served (so the
# tokens it evaluated are their difference), and the tokens it generated.
VLLM_COUNTERS = {
    "prompt_tokens": "vllm:prompt_tokens_total",
    "cached_tokens": "vllm:prompt_tokens_cached_total",
    "generated_tokens": "vllm:generation_tokens_total",
}


def evaluated_prompt_tokens(counters: Mapping[str, float | None]) -> float | None:
    """The prompt tokens an engine evaluated over a span, from its counters' differences:
    llama-server counts only those; vLLM counts all, and its cache hits apart."""
    prompt = counters.get("prompt_tokens")
    if prompt is None:
        return None
    return prompt - (counters.get("cached_tokens") or 0)


def level_summary(
    typists: int,
    results: Sequence[dict[str, Any]],
    engine: Mapping[str, float | None] | None = None,
) -> dict[str, Any]:
    """One level's figures from its typists' results (``run_config``'s, or ``{"failed":
    reason}`` for a typist whose server failed). ``engine``: the engine's own counters
    (``ENGINE_COUNTERS``) over the level, when it keeps them: they count the prompts of
    requests cancelled before they answered too, which the servers' counters cannot."""
    events = [e for r in results for e in r.get("events", [])]
    shown = [e["latency_ms"] for e in events if e.get("latency_ms") is not None]
    pauses = [e for e in events if e["gap"] >= PAUSE_THRESHOLD_S]
    served = sum(
        1 for e in pauses if e.get("latency_ms") is not None and e["latency_ms"] <= PAUSE_SERVED_MS
    )
    outcomes: dict[str, int] = {}
    for e in events:
        outcomes[e["outcome"]] = outcomes.get(e["outcome"], 0) + 1
    tokens = [r.get("tokens") or {} for r in results]
    prompt = sum(t.get("prompt") or 0 for t in tokens)
    processed = sum(t.get("processed") or 0 for t in tokens)
    counted = evaluated_prompt_tokens(engine or {})
    if counted is not None and events:
        per_keystroke: float | None = round(counted / len(events), 1)
        source = "engine counters"
    else:
        # None when the engine reported no prompt counts (llama-cpp-python's server, given
        # text): zero would read as "no work".
        per_keystroke = round(processed / len(events), 1) if prompt and events else None
        source = "answers" if per_keystroke is not None else "not reported"
    per_typist = []
    for r in results:
        own = [e["latency_ms"] for e in r.get("events", []) if e.get("latency_ms") is not None]
        per_typist.append(_round(percentile(own, 50)))
    return {
        "typists": typists,
        "keystrokes": len(events),
        "shown": len(shown),
        "p50_ms": _round(percentile(shown, 50)),
        "p95_ms": _round(percentile(shown, 95)),
        "pauses": len(pauses),
        "pause_share_300ms": _share(served, len(pauses)),
        "engine_tokens_per_keystroke": per_keystroke,
        "engine_tokens_from": source,
        "engine_counters": dict(engine or {}),
        "cancelled_requests": outcomes.get("cancelled", 0),
        "cancelled_generations": sum(t.get("cancelled_generations") or 0 for t in tokens),
        "errors": outcomes.get("error", 0),
        "server_messages": sum(len(r.get("server_messages", [])) for r in results),
        "failed_typists": [r["failed"] for r in results if "failed" in r],
        "outcomes": outcomes,
        "typist_p50_ms": per_typist,
    }


def table(levels: Sequence[dict[str, Any]]) -> str:
    head = (
        "typists",
        "keys",
        "shown",
        "p50",
        "p95",
        "pauses<=300ms",
        "engine tok/key",
        "cancelled",
        "errors",
    )
    rows = [
        (
            str(level["typists"]),
            str(level["keystrokes"]),
            str(level["shown"]),
            fmt_ms(level["p50_ms"]),
            fmt_ms(level["p95_ms"]),
            fmt_pct(level["pause_share_300ms"]),
            "-"
            if level["engine_tokens_per_keystroke"] is None
            else f"{level['engine_tokens_per_keystroke']:.1f}",
            str(level["cancelled_requests"]),
            str(level["errors"] + len(level["failed_typists"])),
        )
        for level in levels
    ]
    return grid([head, *rows])


def plot_levels(levels: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [level["typists"] for level in levels]
    fig, (latency, pauses) = plt.subplots(2, 1, sharex=True, figsize=(7, 6))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95")):
        values = [level[key] if level[key] is not None else float("nan") for level in levels]
        latency.plot(counts, values, marker="o", label=label)
    latency.set_ylabel("keystroke to suggestion (ms)")
    latency.set_ylim(bottom=0)
    latency.legend()
    latency.set_title(title)
    shares = [
        100 * level["pause_share_300ms"] if level["pause_share_300ms"] is not None else 0.0
        for level in levels
    ]
    pauses.plot(counts, shares, marker="o")
    pauses.set_ylabel("pauses served within 300 ms (%)")
    pauses.set_ylim(0, 100)
    pauses.set_xlabel("typists at once")
    pauses.set_xticks(counts)
    for ax in (latency, pauses):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
