"""Typing-replay benchmark: real files retyped key by key against the real server over stdio.

    .venv/bin/python -m benchmarks.bench_typing [--configs default,baseline,peer] [--quick]
        [--load idle,busy] [--rounds N] [--duration SECONDS] [--seed N]
        [--files textwrap.py,zpipe.c] [--max-keystrokes N] [--out PATH]
        [--engine URL [--engine-dialect openai|llama-server] [--engine-model NAME]]...

Issue 12's table (qwen-lsp and the peer, idle and busy, 150 keys of textwrap.py and
shlex.py, two rounds):

    flock /tmp/qwen-model.lock .venv/bin/python -m benchmarks.bench_typing \
        --configs default,peer --load idle,busy --files textwrap.py,shlex.py \
        --max-keystrokes 150 --rounds 2

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

Headline figures (per file and pooled, benchmarks/typing_metrics.py): the share of typed
characters a user would have saved by accepting every shown suggestion whose first line
(and, separately, whose whole text) is what they type next, and the share of pauses
served with an acceptable suggestion (first line typed next) within 300 ms.

``peer`` is a configuration too: llama.cpp's llama-server, built once from the llama.cpp
vendored in the llama-cpp-python sdist (benchmarks/peer_llama_server.py), on the same
GGUF, driven by our implementation of llama.vim's client algorithm
(benchmarks/peer_client.py) through the same replay (benchmarks/peer_replay.py). The
report gives every configuration's headline figures as ratios to the peer's.

``--engine URL`` (repeatable) adds a configuration per engine: the same server and replay
with the model in a separate engine (``backend`` = ``--engine-dialect``, default
``openai``; ``engineUrl`` = URL; ``engineModel`` = ``--engine-model``), named
``engine-<dialect>`` (numbered when there are several), so a suggestion's latency through
each engine and in process (``default``) come from one run. The engine is started by
whoever runs the benchmark (benchmarks/engines.py shows how, on loopback); ``--model``
names the served model's GGUF so prompts go as token ids.

``--load idle,busy`` runs every configuration on an idle machine and again with one CPU
hog per core but one (benchmarks/typing_load.py), and reports loaded / idle; the run's
names are then ``config@load``. Issue 12's targets are marked met or not at the end.

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
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import REPO
from benchmarks.typing_load import LOADS, CpuHogs, hog_count
from benchmarks.typing_plan import (
    GAP_MEDIAN_S,
    GAP_RANGE_S,
    PAUSE_PROBABILITY,
    PAUSE_RANGE_S,
    PAUSE_THRESHOLD_S,
)
from benchmarks.typing_replay import run_config
from benchmarks.typing_report import (
    PEER,
    comparisons,
    headline_table,
    issue_table,
    load_ratios,
    peer_ratios,
    plot_cdf,
    table,
    targets,
    targets_text,
)
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
    "block-chat": {"blockPrompt": "chat"},  # the chat prompt even when cold (before 2026-12-04)
    # The cursor line's indentation after the middle marker once code is typed on it
    # (before 2026-12-04): the line's first character re-read the suffix.
    "typed-line-whole": {"disableRules": ["indent-in-prefix-typed"]},
    # A Python line that opens a block shown only once a line of its body is written too.
    "no-opener-alone": {"disableRules": ["opener-alone"]},
    "before-s25": {"blockPrompt": "chat", "disableRules": ["indent-in-prefix-typed"]},  # both
    "no-cache-speculation": {"suggestionCache": False, "speculation": False},
    "threads-1": {"threads": 1},
    "fixed-threads": {"adaptThreads": False},  # all cores whatever the load (before issue 12)
    # issue 12, items 2 and 3: each switch off, and all three (the behaviour before them)
    "no-refresh": {"refreshTypedThrough": False},
    "no-cold-cut": {"coldPromptSeconds": 0},
    "no-block-lines": {"blockShowAfterSeconds": 0},
    "no-fresh": {"refreshTypedThrough": False, "coldPromptSeconds": 0, "blockShowAfterSeconds": 0},
    # tuning the cold cut (issue 12, item 5)
    "cold-min-64": {"coldPromptMinTokens": 64},
    "cold-min-128": {"coldPromptMinTokens": 128},  # the default before 2026-12-04
    "cold-0.7": {"coldPromptSeconds": 0.7},
    # how soon a long block (or a line that opens one) shows its first lines
    "show-1.0": {"blockShowAfterSeconds": 1.0},
    # issue 17: the prompt window that measured better on real holes (prefix 1536: +8 to
    # +13 points of edit similarity on seed 6), at what typing latency
    "no-wide": {"widePrefixTokens": 0},  # the window of prefixTokens only (before 2026-12-06)
    "prefix-1024": {"prefixTokens": 1024},
    "prefix-1536": {"prefixTokens": 1536},
    "wide": {"prefixTokens": 1536, "suffixTokens": 384},
    # the chunk of the file most like the code above the cursor (similarTokens), off
    "no-similar": {"similarTokens": 0},
    # issue 15: "1.5B quality at what latency": the 1.5B alone and with the 0.5B drafting
    "model-1.5b": {"model": "qwen2.5-coder-1.5b-instruct"},
    "draft-1.5b": {
        "model": "qwen2.5-coder-1.5b-instruct",
        "draftModel": "qwen2.5-coder-0.5b-instruct",
    },
}


DIALECTS = ("openai", "llama-server")
ENGINE_PREFIX = "engine-"


def engine_configs(
    urls: list[str], dialects: list[str], models: list[str]
) -> dict[str, dict[str, Any]]:
    """A configuration per ``--engine``: its initializationOptions. ``dialects`` and
    ``models`` are one for every engine, or one per engine (none: openai, the engine's
    only model). Raises ValueError on a count or dialect that does not fit."""
    for kind, values in (("--engine-dialect", dialects), ("--engine-model", models)):
        if len(values) > 1 and len(values) != len(urls):
            raise ValueError(f"{kind}: give one, or one per --engine ({len(urls)})")
    each_dialect = dialects if len(dialects) > 1 else (dialects or ["openai"]) * len(urls)
    each_model = models if len(models) > 1 else (models or [""]) * len(urls)
    found: dict[str, dict[str, Any]] = {}
    for i, (url, dialect, model) in enumerate(zip(urls, each_dialect, each_model, strict=True)):
        if dialect not in DIALECTS:
            raise ValueError(f"--engine-dialect {dialect!r}: one of {', '.join(DIALECTS)}")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--engine {url!r}: an http(s) URL")
        options: dict[str, Any] = {"backend": dialect, "engineUrl": url}
        if model:
            options["engineModel"] = model
        name = ENGINE_PREFIX + dialect
        found[name if each_dialect.count(dialect) == 1 else f"{name}-{i + 1}"] = options
    return found


def _uptime() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return ""


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


async def _run_peer(
    name: str, args: argparse.Namespace, sources: list[Any], out: Path
) -> dict[str, Any]:
    from benchmarks.peer_client import PeerConfig
    from benchmarks.peer_llama_server import PeerServer, ensure_built
    from benchmarks.peer_replay import run_peer
    from qwen_lsp.app import resolve_model
    from qwen_lsp.settings_resolve import resolve_settings

    binary = await asyncio.to_thread(ensure_built)
    options = {"model": args.model} if args.model else None
    model = resolve_model(resolve_settings(os.environ, options).settings).path
    threads = args.peer_threads or _threads()
    server = PeerServer(binary, model, threads, out.with_name(f"{out.stem}.{name}.server.log"))
    config = PeerConfig(n_prefix=args.peer_n_prefix, n_suffix=args.peer_n_suffix)
    return await run_peer(
        name, server, sources, args.duration, args.request_timeout, args.rounds, args.seed, config
    )


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


async def main_async(args: argparse.Namespace) -> int:
    try:
        engines = engine_configs(args.engine, args.engine_dialect, args.engine_model)
    except ValueError as exc:
        print(exc)
        return 2
    configs = {**CONFIGS, **engines}
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    names += [n for n in engines if n not in names]
    unknown = [n for n in names if n not in configs and n != PEER]
    if unknown:
        known = ", ".join([*configs, PEER])
        print(f"unknown configuration(s): {', '.join(unknown)}; known: {known}")
        return 2
    loads = [x.strip() for x in args.load.split(",") if x.strip()]
    if not loads or any(x not in LOADS for x in loads):
        print(f"--load: comma list of {', '.join(LOADS)}")
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
    if PEER in names:
        # Built (or found) before any replay: never a build in the middle of a measurement.
        from benchmarks.peer_llama_server import ensure_built

        print(f"peer: {ensure_built()}", flush=True)
    machine: dict[str, Any] = {"loadavg_before": _uptime()}
    print(f"load average before: {machine['loadavg_before']}")
    suffix = len(loads) > 1 or loads != ["idle"]
    for load in loads:
        for config in names:
            name = f"{config}@{load}" if suffix else config
            hogs = hog_count(load)
            if hogs:
                print(f"\n[{name}] {hogs} CPU hog(s) running", flush=True)
            try:
                with CpuHogs(hogs):
                    if config == PEER:
                        results[name] = await _run_peer(name, args, sources, out)
                    else:
                        results[name] = await run_config(
                            name,
                            {**model, **configs[config]},
                            sources,
                            out,
                            args.duration,
                            args.request_timeout,
                            args.rounds,
                        )
                results[name]["load"] = {"name": load, "hogs": hogs, "loadavg_after": _uptime()}
            except Exception as exc:  # one broken configuration must not lose the others
                failed[name] = f"{type(exc).__name__}: {exc}"
                print(f"[{name}] FAILED: {failed[name]}", flush=True)
    machine["loadavg_after"] = _uptime()
    print()
    print(table(results))
    found, lines = comparisons(results)
    print()
    for line in lines:
        print(line)
    print("\nheadline figures (saved: share of typed characters saved by accepting every right")
    print("suggestion; pauses ok<=300ms: pauses with an acceptable suggestion within 300 ms):")
    print(headline_table(results))
    text = issue_table(results)
    if text:
        print("\nissue 12's table (ranges over the replays: file x round):")
        print(text)
    found["vs_peer"], text = peer_ratios(results)
    if text:
        print("\nqwen-lsp / peer (same load, same replay; above 1.00x is better for qwen-lsp):")
        print(text)
    found["loaded_vs_idle"], text = load_ratios(results)
    if text:
        print("\nloaded / idle (same configuration):")
        print(text)
    main_config = next((n for n in names if n != PEER), "")
    found["targets"] = targets(results, main_config) if main_config else []
    if found["targets"]:
        print()
        print(targets_text(found["targets"], main_config))
    print(f"\nload average before {machine['loadavg_before']}; after {machine['loadavg_after']}")
    document = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": _git_commit(),
            "seed": args.seed,
            "model": args.model or "default",
            "quick": args.quick,
            "duration": args.duration,
            "max_keystrokes": args.max_keystrokes,
            "rounds": args.rounds,
            "loads": loads,
            "loadavg": machine,
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


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="URL",
        help="also replay through this engine (engineUrl: http://HOST:PORT/v1 for openai, "
        "http://HOST:PORT for llama-server); repeatable",
    )
    parser.add_argument(
        "--engine-dialect",
        action="append",
        default=[],
        choices=DIALECTS,
        help="the engine's backend setting (default openai); once, or once per --engine",
    )
    parser.add_argument(
        "--engine-model",
        action="append",
        default=[],
        metavar="NAME",
        help="engineModel: the name the engine serves the model under; once, or per --engine",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--configs", default="", help=f"comma list of: {', '.join([*CONFIGS, PEER])}"
    )
    parser.add_argument("--quick", action="store_true", help="one file, 40 keystrokes")
    parser.add_argument("--files", default="", help="comma list of file names (see SOURCES)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-keystrokes", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1, help="replay the files N times")
    parser.add_argument(
        "--load", default="idle", help="comma list of: idle, busy (one CPU hog per core but one)"
    )
    parser.add_argument(
        "--peer-threads", type=int, default=0, help="llama-server -t (default: usable cores)"
    )
    parser.add_argument("--peer-n-prefix", type=int, default=256, help="llama.vim n_prefix")
    parser.add_argument("--peer-n-suffix", type=int, default=64, help="llama.vim n_suffix")
    parser.add_argument("--duration", type=float, default=None, help="replay for this long (s)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_typing.json"))
    add_engine_arguments(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    # With engines, the in-process model is what they are compared with.
    args.configs = args.configs or ("default" if args.engine else "default,baseline")
    if args.quick:
        args.files = args.files or "textwrap.py"
        args.max_keystrokes = args.max_keystrokes or 40
    return args


def run_until_done(work: Coroutine[Any, Any, int]) -> int:
    """A benchmark's exit code; 130 when interrupted (Ctrl-C)."""
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def main() -> int:
    return run_until_done(main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
