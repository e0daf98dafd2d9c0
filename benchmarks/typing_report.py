"""The typing benchmark's report: the table, the comparison lines, the latency CDF.

Reads the configurations' results as benchmarks/typing_replay.py returns them (the
figures of benchmarks/typing_metrics.py). `comparisons` sets each configuration against
the naive baseline run in the same invocation (so the ratios compare like with like) and
the would-accept rates against the default's on the same keystrokes; `plot_cdf` draws
the share of keystrokes with a suggestion shown within a latency (matplotlib, from the
`bench` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.typing_metrics import paired_accept, ratio


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f}s" if value >= 10_000 else f"{value:.0f}ms"


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def table(results: dict[str, dict[str, Any]]) -> str:
    header = (
        "config", "keys", "shown", "p50", "p95", "p99", "<=300ms", "<=1s", "pause<=300ms",
        "accept", "prompt proc/reused", "cancel-gen", "peak RSS", "cold file", "cold 300-line",
    )  # fmt: skip
    rows = [header]
    for name, r in results.items():
        m, tokens = r["metrics"], r["tokens"]
        rows.append(
            (
                name,
                str(m["keystrokes"]),
                str(m["shown"]),
                fmt_ms(m["p50_ms"]),
                fmt_ms(m["p95_ms"]),
                fmt_ms(m["p99_ms"]),
                fmt_pct(m["share_300ms"]),
                fmt_pct(m["share_1s"]),
                fmt_pct(m["pause_share_300ms"]),
                fmt_pct(m["accept_rate"]) + f" ({m['accepted']}/{m['shown']})",
                f"{tokens['processed']}/{tokens['reused']}",
                str(tokens["generated_cancelled"]),
                f"{r['memory'].get('peak_mb', 0):.0f}MB",
                fmt_s(r["cold_files_median_s"]),
                fmt_s(r["cold_300_line"]["seconds"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def comparisons(results: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    found: dict[str, Any] = {}
    lines: list[str] = []
    base = results.get("baseline")
    if base is not None:
        b = base["metrics"]
        # With VS Code's cancels and no cancellation in the server, the baseline's queue of
        # full-prompt generations grows with every keystroke and it may show nothing at
        # all; its single unqueued request (the cold 300-line figure) is then the fairest
        # finite yardstick, a lower bound on the real ratio.
        single = base["cold_300_line"]["seconds"]
        single_ms = None if single is None else single * 1000
        for name, r in results.items():
            if name == "baseline":
                continue
            m = r["metrics"]
            p50, p95 = ratio(b["p50_ms"], m["p50_ms"]), ratio(b["p95_ms"], m["p95_ms"])
            vs_single = {
                "p50": ratio(single_ms, m["p50_ms"]),
                "p95": ratio(single_ms, m["p95_ms"]),
            }
            found[f"{name}_vs_baseline"] = {
                "p50": p50,
                "p95": p95,
                "shown": m["shown"],
                "baseline_shown": b["shown"],
                "vs_baseline_single_request": vs_single,
            }
            if not m["shown"]:
                head = f"p50 and p95 n/a ({name} showed no suggestion)"
            elif not b["shown"]:
                head = "p50 and p95 unbounded (the baseline showed no suggestion)"
            else:
                head = f"p50 {fmt_x(p50)}, p95 {fmt_x(p95)}"
            lines.append(
                f"{name} vs baseline: {head}; shown {m['shown']}/{m['keystrokes']} vs "
                f"{b['shown']}/{b['keystrokes']}, within 1 s {fmt_pct(m['share_1s'])} vs "
                f"{fmt_pct(b['share_1s'])}"
            )
            lines.append(
                f"  {name} vs one unqueued baseline request ({fmt_s(single)}): "
                f"p50 {fmt_x(vs_single['p50'])}, p95 {fmt_x(vs_single['p95'])}"
            )
    if "default" in results and "no-cache-speculation" in results:
        on = results["default"]["metrics"]["accept_rate"]
        off = results["no-cache-speculation"]["metrics"]["accept_rate"]
        found["accept_default_vs_no_cache_speculation"] = {"default": on, "off": off}
        lines.append(f"would-accept: default {fmt_pct(on)} vs cache+speculation off {fmt_pct(off)}")
    if "default" in results:
        for name, r in results.items():
            if name in ("default", "baseline"):
                continue
            pair = paired_accept(results["default"]["events"], r["events"])
            found[f"accept_paired_default_vs_{name}"] = pair
            lines.append(
                f"would-accept where both show a suggestion ({pair['both']} keystrokes): "
                f"default {pair['accepted'][0]} vs {name} {pair['accepted'][1]}; accepted per "
                f"keystroke {fmt_pct(pair['per_keystroke'][0])} vs "
                f"{fmt_pct(pair['per_keystroke'][1])}"
            )
    for name, r in results.items():
        steady = r.get("memory_after_first_round", {})
        if steady.get("samples") and steady["seconds"] >= 120:
            lines.append(
                f"{name} memory after the first round over all files: "
                f"{steady['start_mb']:.0f} -> {steady['end_mb']:.0f} MB over "
                f"{steady['seconds']:.0f} s, drift {steady['drift_pct']:+.1f}% "
                f"(first vs last {steady['window_s']:.0f} s), peak {steady['peak_mb']:.0f} MB"
            )
        memory = r["memory_replay"]
        if memory.get("samples"):
            lines.append(
                f"{name} memory over the replay: {memory['start_mb']:.0f} -> "
                f"{memory['end_mb']:.0f} MB, drift {memory['drift_pct']:+.1f}% "
                f"(first vs last {memory['window_s']:.0f} s)"
            )
    return found, lines


def plot_cdf(results: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in results.items():
        events = r["events"]
        shown = sorted(e["latency_ms"] for e in events if e["latency_ms"] is not None)
        if not events:
            continue
        xs = [max(x, 1.0) for x in shown]
        ys = [(i + 1) / len(events) for i in range(len(shown))]
        ax.step(xs, ys, where="post", label=f"{name} ({len(shown)}/{len(events)} shown)")
    for limit in (300, 1000):
        ax.axvline(limit, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(1, 20_000)
    ax.set_ylim(0, 1)
    ax.set_xlabel("keystroke to suggestion shown (ms, log)")
    ax.set_ylabel("share of all keystrokes")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
