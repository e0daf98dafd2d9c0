"""Many editors on one engine (issue 14, item 4): N typists at once, for N in a list.

    .venv/bin/python -m benchmarks.bench_engine_load [--engine llama-server|llama-cpp-server|
        vllm|in-process] [--typists 1,2,4,8] [--files textwrap.py] [--max-keystrokes N]
        [--rounds N] [--threads T] [--seed N] [--model NAME] [--out PATH]
    .venv/bin/python -m benchmarks.bench_engine_load --engine-url http://GPU-BOX:8000/v1 \\
        [--engine-dialect openai|llama-server] [--engine-model NAME] [--typists 1,2,4,8,16]

For each N the engine is started afresh (``llama-server`` with ``--parallel N``, one slot
per editor, built by benchmarks/peer_llama_server.py; ``python -m llama_cpp.server``,
which answers one request at a time; or vLLM's CPU backend, which batches whatever comes,
set up by benchmarks/vllm_engine.py), then N typists run at once: N separate qwen-lsp
servers, each replaying typing as the typing benchmark does (benchmarks/typing_replay.py:
its keystrokes, gaps, cancels and figures), each with its own seed so they type different
spans. ``in-process`` starts no engine: each of the N servers loads its own model, as N
developers on one machine would. ``--engine-url`` points at an engine someone else runs
(a team's GPU server): nothing is started, and N is however many typists it should bear.

Per N (benchmarks/engine_load.py, pure): p50/p95 keystroke-to-suggestion over every
typist's shown suggestions, the share of pauses served within 300 ms, the engine's prompt
tokens processed per keystroke (llama-server and vLLM: their own counters at ``/metrics``,
the prompts of cancelled requests included, vLLM's cache hits left out; other engines:
prompt minus cached tokens of the answers, as they report them, "-" when they report
none), requests cancelled, errors.
Prints a table, writes JSON (--out, default .artifacts/bench_engine_load.json) and a PNG
next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from benchmarks.bench_typing import DIALECTS, engine_configs, run_until_done
from benchmarks.engine_load import (
    ENGINE_COUNTERS,
    VLLM_COUNTERS,
    level_summary,
    metric_sum,
    plot_levels,
    table,
)
from benchmarks.lsp_driver import REPO
from benchmarks.typing_replay import run_config
from benchmarks.typing_sources import load_sources

ENGINES = ("llama-server", "llama-cpp-server", "vllm", "in-process")
# How long llama-server may take to finish a cancelled prompt before its counters are read.
SETTLE_SECONDS = 30.0


def parse_typists(text: str) -> list[int]:
    """``1,2,4,8`` -> [1, 2, 4, 8]; each at least 1."""
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"a comma list of typist counts >= 1, got {text!r}")
    return counts


class _Started(AbstractContextManager["_Started"]):
    """An engine this benchmark started, stopped (by its process) when the level ends."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __exit__(self, *exc: object) -> None:
        self.engine.stop()


def start_engine(kind: str, typists: int, threads: int, log: Path) -> tuple[Any, dict[str, Any]]:
    """The engine for one level, as a context manager, and the typists' options."""
    from benchmarks import engines

    if kind == "in-process":
        return nullcontext(), {}
    if kind == "llama-server":
        from benchmarks.peer_llama_server import ensure_built

        engine = engines.start_llama_server(
            ensure_built(), log, slots=typists, threads=threads, metrics=True
        )
        return _Started(engine), {"backend": "llama-server", "engineUrl": engine.url}
    if kind == "vllm":
        engine = engines.start_vllm(log, threads=threads)
        options = {"backend": "openai", "engineUrl": engine.url, "engineModel": engines.ALIAS}
        return _Started(engine), options
    engine = engines.start_llama_cpp_server(log, threads=threads)
    options = {"backend": "openai", "engineUrl": engine.url, "engineModel": engines.ALIAS}
    return _Started(engine), options


async def run_level(
    args: argparse.Namespace, typists: int, options: dict[str, Any], out: Path
) -> list[dict[str, Any]]:
    """N typists at once; a typist that failed is its error."""
    runs = []
    for i in range(typists):
        sources, _ = load_sources(args.files, args.seed + i, args.max_keystrokes)
        name = f"n{typists}-t{i + 1}"
        runs.append(
            run_config(name, options, sources, out, None, args.request_timeout, args.rounds)
        )
    done = await asyncio.gather(*runs, return_exceptions=True)
    return [
        r if isinstance(r, dict) else {"failed": f"{type(r).__name__}: {r}", "events": []}
        for r in done
    ]


def engine_counters(url: str, kind: str = "llama-server") -> dict[str, float | None]:
    """The engine's counters (llama-server's ``ENGINE_COUNTERS``, vLLM's ``VLLM_COUNTERS``)
    once it is idle (a cancelled prompt may still run); None each when it keeps none (no
    ``--metrics``, another engine)."""
    from benchmarks.engines import is_idle, origin, vllm_is_idle

    counters = VLLM_COUNTERS if kind == "vllm" else ENGINE_COUNTERS
    idle = vllm_is_idle if kind == "vllm" else is_idle
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and not idle(url):
            time.sleep(0.2)
        with urllib.request.urlopen(origin(url) + "/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return dict.fromkeys(counters)
    return {key: metric_sum(text, name) for key, name in counters.items()}


def _difference(
    after: dict[str, float | None], before: dict[str, float | None]
) -> dict[str, float | None]:
    return {
        key: None if value is None or before.get(key) is None else value - (before[key] or 0)
        for key, value in after.items()
    }


def _without_samples(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "rss_samples"}


async def main_async(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sources, skipped = load_sources(args.files, args.seed, args.max_keystrokes)
    if not sources:
        print(f"no source files found ({'; '.join(skipped)})")
        return 2
    given: dict[str, Any] = {}
    if args.engine_url:
        models = [args.engine_model] if args.engine_model else []
        try:
            found = engine_configs([args.engine_url], [args.engine_dialect], models)
        except ValueError as exc:
            print(exc)
            return 2
        given = next(iter(found.values()))
    engine_name = f"engine at {args.engine_url}" if args.engine_url else args.engine
    levels: list[dict[str, Any]] = []
    typist_runs: dict[str, list[dict[str, Any]]] = {}
    for n in args.typists:
        log = out.with_name(f"{out.stem}.engine.n{n}.log")
        print(f"\n== {n} typist(s), {engine_name}", flush=True)
        if given:
            started: Any = nullcontext()
            options = given
        else:
            started, options = await asyncio.to_thread(
                start_engine, args.engine, n, args.threads, log
            )
        options = {**({"model": args.model} if args.model else {}), **options}
        with started:
            # The engines whose counters this benchmark reads (ones it started, or any
            # llama-server).
            kind = "vllm" if not given and args.engine == "vllm" else "llama-server"
            native = kind == "vllm" or options.get("backend") == "llama-server"
            url = options.get("engineUrl", "")
            before = await asyncio.to_thread(engine_counters, url, kind) if native else {}
            results = await run_level(args, n, options, out)
            after = await asyncio.to_thread(engine_counters, url, kind) if native else {}
        levels.append(level_summary(n, results, _difference(after, before) if native else None))
        typist_runs[str(n)] = [_without_samples(r) for r in results]
    print()
    print(table(levels))
    document = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "engine": engine_name,
            "typists": args.typists,
            "threads": args.threads,
            "files": args.files,
            "max_keystrokes": args.max_keystrokes,
            "rounds": args.rounds,
            "seed": args.seed,
            "model": args.model or "default",
            "cpus": os.cpu_count(),
            "loadavg": os.getloadavg(),
        },
        "levels": levels,
        "typists": typist_runs,
    }
    out.write_text(json.dumps(document, indent=1))
    png = out.with_suffix(".png")
    plot_levels(levels, png, f"{engine_name}: N typists at once")
    print(f"\nwrote {out} and {png}")
    return 1 if any(level["failed_typists"] for level in levels) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--engine", choices=ENGINES, default="llama-server")
    parser.add_argument("--engine-url", default="", help="an engine already running (no start)")
    parser.add_argument("--engine-dialect", choices=DIALECTS, default="openai")
    parser.add_argument("--engine-model", default="", help="engineModel, with --engine-url")
    parser.add_argument("--typists", type=parse_typists, default=[1, 2, 4, 8])
    parser.add_argument("--files", default="textwrap.py", help="comma list of file names")
    parser.add_argument("--max-keystrokes", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="the engine's threads"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--model", default="", help="the served model's name or GGUF here")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_engine_load.json"))
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.files = [f.strip() for f in args.files.split(",") if f.strip()] or None
    return args


def main() -> int:
    return run_until_done(main_async(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
