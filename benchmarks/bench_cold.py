"""The first suggestion in freshly opened files, many of them, configurations side by side.

    .venv/bin/python -m benchmarks.bench_cold [--configs default,cold-0.6] [--seeds 3]

The typing benchmark measures one first suggestion per file and round, amid the replay; this
asks only first suggestions, so that a configuration gets enough of them for a median in a
few minutes. Per configuration and seed one server; per file (the typing benchmark's files
and spans, see benchmarks/typing_sources.py) the file is opened without its span, asked once
at the span's start and waited for, then closed; a pause lets background work run as a
user's reading would. Printed per configuration: the median and the spread of the time to
the first suggestion, how many were empty, and how many the user would have accepted (the
span starts with the suggestion's first line; benchmarks/typing_metrics.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import Session
from benchmarks.typing_metrics import is_accepted
from benchmarks.typing_plan import cursor_at
from benchmarks.typing_replay import ask_once
from benchmarks.typing_sources import load_sources

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "cold-0.5": {"coldPromptSeconds": 0.5},
    "cold-0.7": {"coldPromptSeconds": 0.7},
    "cold-1.5": {"coldPromptSeconds": 1.5},
    "cold-min-64": {"coldPromptMinTokens": 64},
    "cold-min-192": {"coldPromptMinTokens": 192},
    "cold-0.7-min-64": {"coldPromptSeconds": 0.7, "coldPromptMinTokens": 64},
    "no-cold-cut": {"coldPromptSeconds": 0},
}
FILES = "textwrap.py,copy.py,shlex.py,difflib.py"
PAUSE_S = 1.0


async def run_config(
    name: str, files: list[str], seeds: int, out: Path, timeout: float
) -> dict[str, Any]:
    """A server per seed: a file opened again (another span of it) would find its prompt
    in the KV cache."""
    asks: list[dict[str, Any]] = []
    for seed in range(seeds):
        session = Session(CONFIGS[name], out.with_name(f"{out.stem}.{name}.{seed}.server.log"))
        try:
            await session.start()
            await session.wait_ready()
            sources, _ = load_sources(files, seed, 1)
            for source in sources:
                uri = source.uri
                session.open(uri, source.language_id, source.initial_text)
                line, col = cursor_at(source.text, source.start)
                seconds, text, error = await ask_once(session, uri, line, col, timeout)
                session.close(uri)
                accepted = bool(text) and is_accepted(text, source.span)
                asks.append(
                    {"file": source.name, "seed": seed, "seconds": seconds, "text": text}
                    | {"error": error, "accepted": accepted, "span": source.span[:80]}
                )
                shown = f"{seconds:.2f} s" if seconds is not None else error
                print(f"[{name}] {source.name} seed {seed}: {shown} {text[:40]!r}", flush=True)
                await asyncio.sleep(PAUSE_S)
        finally:
            await session.stop()
    return {"options": CONFIGS[name], "asks": asks}


def summary(name: str, result: dict[str, Any]) -> str:
    asks = result["asks"]
    times = sorted(a["seconds"] if a["seconds"] is not None else float("inf") for a in asks)
    empty = sum(not a["text"] for a in asks)
    accepted = sum(a["accepted"] for a in asks)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
    return (
        f"{name:12} asks {len(asks):3}  median {statistics.median(times):5.2f} s  "
        f"quartiles {quartiles[0]:5.2f}-{quartiles[2]:5.2f} s  empty {empty:2}  "
        f"would-accept {accepted:2}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="default", help=f"comma list of: {', '.join(CONFIGS)}")
    parser.add_argument("--files", default=FILES)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path(".artifacts/bench_cold.json"))
    args = parser.parse_args()
    names = args.configs.split(",")
    results = {}
    for name in names:
        results[name] = await run_config(
            name, args.files.split(","), args.seeds, args.out, args.timeout
        )
    print()
    for name in names:
        print(summary(name, results[name]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    asyncio.run(main())
