"""Typing-replay benchmark: real files retyped key by key against the real server over stdio.

    .venv/bin/python -m benchmarks.bench_typing [--configs default,baseline] [--quick]
        [--duration SECONDS] [--seed N] [--files textwrap.py,zpipe.c] [--out PATH]

For each configuration (a set of initializationOptions) a fresh server is started. With
the model loaded, it first measures the cold suggestion in a freshly opened 300-line file.
Then every source file (real files of this machine, several languages and sizes, none
written for the benchmark) is opened with one function body deleted, and the body is typed
back the way VS Code drives a server: per keystroke an incremental didChange, then a new
textDocument/inlineCompletion request, after `$/cancelRequest` for the previous request if
it has not answered yet. Enter and the auto-indent that follows are one change. Gaps
between keys are seeded (lognormal around 150 ms, 60-400 ms), with pauses of 0.7-2 s
after 8% of keys and at the end of every line.

A keystroke's suggestion is *shown* when its request answers with non-blank text before
the next keystroke; its latency is from sending the didChange to that answer. A shown
suggestion would be *accepted* when the text typed next starts with its first line.
Before the first keystroke in each file the client asks once at the cursor and waits (the
user placing the cursor and looking): that is the file's cold first suggestion.

Prints a table, writes JSON (--out, default .artifacts/bench_typing.json), a latency CDF
next to it (.png) and each server's stderr (.<config>.server.log). The naive baseline
(fresh full prompt per request, no cache, no cancellation) runs in the same invocation,
so the ratio lines compare like with like.

The parts, one module each: benchmarks/typing_plan.py (the span to retype, the keystrokes
and their gaps), typing_sources.py (the files of this machine), typing_replay.py (the
client that plays the editor), typing_metrics.py (outcomes, latencies, would-accept),
typing_memory.py (the server's RSS), typing_report.py (table, comparisons, CDF). This
module holds the configurations and the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import REPO
from benchmarks.typing_plan import (
    GAP_MEDIAN_S,
    GAP_RANGE_S,
    PAUSE_PROBABILITY,
    PAUSE_RANGE_S,
    PAUSE_THRESHOLD_S,
)
from benchmarks.typing_replay import run_config
from benchmarks.typing_report import comparisons, plot_cdf, table
from benchmarks.typing_sources import load_sources

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "baseline": {
        "kvReuse": False,
        "suggestionCache": False,
        "speculation": False,
        "cancelStale": False,
        "followTyping": False,
    },
    "no-kv-reuse": {"kvReuse": False},
    "no-cache": {"suggestionCache": False},
    "no-speculation": {"speculation": False},
    "no-cancel": {"cancelStale": False},
    "no-follow": {"followTyping": False},
    "block-fim": {"blockPrompt": "fim"},
    "no-cache-speculation": {"suggestionCache": False, "speculation": False},
    "threads-1": {"threads": 1},
}


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


async def main_async(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"unknown configuration(s): {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        return 2
    files = [f.strip() for f in args.files.split(",")] if args.files else None
    sources, skipped = load_sources(files, args.seed, args.max_keystrokes)
    if not sources:
        print("no source files found")
        return 2
    print(f"seed {args.seed}; files:")
    for s in sources:
        d = s.describe()
        print(
            f"  {d['name']:<12} {d['language']:<10} {d['lines']:>5} lines, span lines "
            f"{d['span_lines'][0]}-{d['span_lines'][1]} ({d['span_chars']} chars, "
            f"{d['keystrokes']} keystrokes)  {d['path']}"
        )
    for reason in skipped:
        print(f"  skipped {reason}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    model = {"model": args.model} if args.model else {}
    for name in names:
        try:
            results[name] = await run_config(
                name, {**model, **CONFIGS[name]}, sources, out, args.duration, args.request_timeout
            )
        except Exception as exc:  # one broken configuration must not lose the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"[{name}] FAILED: {failed[name]}", flush=True)
    print()
    print(table(results))
    found, lines = comparisons(results)
    print()
    for line in lines:
        print(line)
    document = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": _git_commit(),
            "seed": args.seed,
            "model": args.model or "default",
            "quick": args.quick,
            "duration": args.duration,
            "max_keystrokes": args.max_keystrokes,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "gaps": {
                "median_s": GAP_MEDIAN_S,
                "range_s": GAP_RANGE_S,
                "pause_probability": PAUSE_PROBABILITY,
                "pause_range_s": PAUSE_RANGE_S,
                "pause_threshold_s": PAUSE_THRESHOLD_S,
            },
        },
        "sources": [s.describe() for s in sources],
        "skipped": skipped,
        "failed": failed,
        "comparisons": found,
        "configs": results,
    }
    out.write_text(json.dumps(document, indent=1))
    png = out.with_suffix(".png")
    plot_cdf(results, png, f"typing replay, {len(sources)} files, seed {args.seed}")
    print(f"\nwrote {out} and {png}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--configs", default="", help=f"comma list of: {', '.join(CONFIGS)}")
    parser.add_argument("--quick", action="store_true", help="one file, 40 keystrokes")
    parser.add_argument("--files", default="", help="comma list of file names (see SOURCES)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-keystrokes", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="replay for this long (s)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_typing.json"))
    args = parser.parse_args()
    args.configs = args.configs or "default,baseline"
    if args.quick:
        args.files = args.files or "textwrap.py"
        args.max_keystrokes = args.max_keystrokes or 40
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
