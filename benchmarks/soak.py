"""Soak: the typing replay for a given time, watching the server's memory, files and threads.

    .venv/bin/python -m benchmarks.soak --minutes 120 [--files textwrap.py,zpipe.c]
        [--seed N] [--every 5] [--warmup 0.1] [--window 0.1] [--tolerance 0.05] [--out PATH]

One server with the real model (run it under the model lock on a shared machine:
``flock /tmp/qwen-model.lock ...``) is driven by the typing benchmark's replay
(benchmarks/typing_replay.py: real files retyped key by key, VS Code's request and cancel
pattern) in rounds until the time is over. Every few seconds the server process's resident
memory (and its anonymous part, reported but not judged: the mapped model file's pages
come and go with the kernel's page reclaim), open file descriptors and threads are sampled,
with the bytes of the model states the server keeps for reuse (qwenLsp/status
savedStateBytes: KV states, a hybrid model's checkpoints): caches bounded by kvCacheBytes
and checkpointBytes that fill and empty with the typing, so the memory judged
is resident memory less those states (``rss_less_states_mb``; both are reported). After
the warm-up (the first 10% of the run) each judged one must stay flat: the mean of
the last tenth of the run within ±5% of the mean of the first tenth after the warm-up (a
leak shows as that drift; a single spike does not fail the run, but the post-warm-up range
is reported too). --warmup and --window set those fractions.

Writes the samples and the figures as JSON (--out, default .artifacts/soak.json), the
curves as a PNG next to it and the server's stderr as .server.log; prints a summary.
Exit code 0 when the server survived and every resource stayed flat, 1 otherwise.
tests/e2e/test_soak.py runs it for two and a half minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.lsp_driver import REPO, Session
from benchmarks.typing_metrics import summarize
from benchmarks.typing_replay import replay
from benchmarks.typing_sources import load_sources

METRICS = ("rss_less_states_mb", "fds", "threads")
# Reported and plotted, not judged: resident memory itself, the saved model states in it, and
# the part of it that is no file's pages. The model file is mapped, so its pages count in
# RSS as they are read in and leave it when the kernel reclaims them; a leak of the
# server's own shows in the anonymous part first.
DIAGNOSTICS = ("rss_mb", "states_mb", "anon_mb")


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mb: float
    fds: int
    threads: int
    anon_mb: float = 0.0
    states_mb: float = 0.0  # the saved model states, as the server reports them

    @property
    def rss_less_states_mb(self) -> float:
        """Resident memory less the saved KV states: what a leak would make grow. (The
        states' pages are resident memory of their own: at the default budget, 8 states of
        ~18 MB for the 0.5B's wide window moved RSS 727 -> 855 -> 780 MB in one soak.)"""
        return round(self.rss_mb - self.states_mb, 2)


def flatness(
    samples: Sequence[Sample], warmup: float = 0.1, window: float = 0.1, tolerance: float = 0.05
) -> dict[str, dict[str, Any]]:
    """Per resource (pure): the drift from the first to the last ``window`` (fractions of the
    run) after the first ``warmup`` of it, the post-warm-up range, and whether it is flat."""
    if len(samples) < 2:
        return {}
    start, end = samples[0].seconds, samples[-1].seconds
    span = end - start
    settled = [s for s in samples if s.seconds >= start + warmup * span]
    if len(settled) < 2:
        return {}
    first = [s for s in settled if s.seconds <= settled[0].seconds + window * span] or settled[:1]
    last = [s for s in settled if s.seconds >= end - window * span] or settled[-1:]
    figures: dict[str, dict[str, Any]] = {}
    for metric in METRICS + DIAGNOSTICS:

        def values(part: Sequence[Sample], metric: str = metric) -> list[float]:
            return [float(getattr(s, metric)) for s in part]

        baseline = statistics.fmean(values(first))
        final = statistics.fmean(values(last))
        drift = (final - baseline) / baseline if baseline else 0.0
        settled_values = values(settled)
        figures[metric] = {
            "baseline": round(baseline, 2),
            "final": round(final, 2),
            "drift_pct": round(drift * 100, 2),
            "min": min(settled_values),
            "max": max(settled_values),
            "range_pct": (
                round((max(settled_values) - min(settled_values)) / baseline * 100, 2)
                if baseline
                else 0.0
            ),
            "flat": abs(drift) <= tolerance,
        }
    return figures


class ResourceSampler:
    """Samples one process's RSS, open descriptors and threads in the background, and the
    bytes of its saved KV states (``saved_bytes``: asks the server)."""

    def __init__(
        self,
        pid: int,
        clock: Callable[[], float],
        every: float,
        saved_bytes: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.process = psutil.Process(pid)
        self.clock = clock
        self.every = every
        self.saved_bytes = saved_bytes
        self.samples: list[Sample] = []
        self._states_mb = 0.0
        self._task = asyncio.create_task(self._run())

    async def _states(self) -> float:
        """MB of saved states now; the last figure when the server did not say (busy)."""
        if self.saved_bytes is not None:
            with contextlib.suppress(Exception):
                self._states_mb = round(await self.saved_bytes() / 2**20, 2)
        return self._states_mb

    async def _run(self) -> None:
        while True:
            states_mb = await self._states()
            try:
                with self.process.oneshot():
                    memory = self.process.memory_info()
                    sample = Sample(
                        round(self.clock(), 2),
                        round(memory.rss / 2**20, 2),
                        self.process.num_fds(),
                        self.process.num_threads(),
                        # Linux: "shared" is the resident file-backed (and shmem) pages
                        round((memory.rss - getattr(memory, "shared", 0)) / 2**20, 2),
                        states_mb,
                    )
            except psutil.Error:  # the process is gone
                return
            self.samples.append(sample)
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def plot(samples: Sequence[Sample], warmup_until: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.seconds / 60 for s in samples]
    labels = {
        "rss_less_states_mb": "resident less saved states (MB)",
        "rss_mb": "resident memory (MB)",
        "states_mb": "saved model states (MB)",
        "anon_mb": "of which anonymous (MB)",
        "fds": "open files",
        "threads": "threads",
    }
    fig, axes = plt.subplots(len(labels), 1, sharex=True, figsize=(9, 12))
    for ax, metric in zip(axes, labels, strict=True):
        ax.plot(minutes, [getattr(s, metric) for s in samples], lw=1)
        ax.axvspan(minutes[0], warmup_until / 60, color="0.9", label="warm-up")
        ax.set_ylabel(labels[metric])
        ax.grid(alpha=0.3)
        if metric in ("fds", "threads"):
            ax.set_ylim(bottom=0)
    axes[0].set_title(title)
    axes[0].legend(loc="lower right")
    axes[-1].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _saved_bytes(session: Session) -> Callable[[], Awaitable[int]]:
    async def ask() -> int:
        return int((await session.status(timeout=5.0)).get("savedStateBytes", 0))

    return ask


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    files = [f.strip() for f in args.files.split(",")] if args.files else None
    sources, skipped = load_sources(files, args.seed, None)
    if not sources:
        raise RuntimeError(f"no source files found ({'; '.join(skipped)})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".server.log")
    options = {"model": args.model} if args.model else {}
    session = Session(options, log_path)
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    sampler: ResourceSampler | None = None
    events = []
    rounds = 0
    error = ""
    try:
        await session.start()
        assert session.pid is not None
        sampler = ResourceSampler(session.pid, clock, args.every, _saved_bytes(session))
        await session.wait_ready()
        print(f"model ready after {clock():.0f} s; soaking for {args.minutes} min", flush=True)
        stop_at = time.monotonic() + args.minutes * 60
        for index, source in enumerate(itertools.cycle(sources)):
            if time.monotonic() >= stop_at:
                break
            file_events, _ = await replay(session, source, clock, args.request_timeout, stop_at)
            events.extend(file_events)
            rounds = index // len(sources) + 1
            last = sampler.samples[-1] if sampler.samples else None
            print(
                f"{clock() / 60:6.1f} min  {source.name}: {len(file_events)} keys"
                + (
                    f"; rss {last.rss_mb:.0f} MB ({last.states_mb:.0f} MB saved states), "
                    f"{last.fds} fds, {last.threads} threads"
                    if last
                    else ""
                ),
                flush=True,
            )
        await session.status()  # still answering
    except Exception as exc:  # reported in the result: the soak failed
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if sampler is not None:
            await sampler.stop()
    alive = session.alive
    exit_code = await session.stop()
    samples = sampler.samples if sampler is not None else []
    # The warm-up counts from the first sample: loading the model is part of it.
    figures = flatness(samples, args.warmup, args.window, args.tolerance)
    span = samples[-1].seconds - samples[0].seconds if samples else 0.0
    warmup_until = samples[0].seconds + args.warmup * span if samples else 0.0
    judged = [figures[m] for m in METRICS if m in figures]
    ok = not error and alive and bool(judged) and all(f["flat"] for f in judged)
    result = {
        "ok": ok,
        "error": error,
        "alive_at_end": alive,
        "server_exit_code": exit_code,
        "minutes": args.minutes,
        "seed": args.seed,
        "files": [s.name for s in sources],
        "rounds": rounds,
        "warmup_until_s": round(warmup_until, 1),
        "window": args.window,
        "tolerance_pct": args.tolerance * 100,
        "typing": summarize(events),
        "flatness": figures,
        "server_log": str(log_path),
        "png": str(out.with_suffix(".png")),
        "samples": [asdict(s) for s in samples],
    }
    out.write_text(json.dumps(result, indent=1))
    if samples:
        plot(samples, warmup_until, out.with_suffix(".png"), f"soak, {args.minutes} min typing")
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{'resource':<18} {'baseline':>10} {'final':>10} {'drift':>8} {'range':>8}  flat",
    ]
    for metric, f in result["flatness"].items():
        lines.append(
            f"{metric:<18} {f['baseline']:>10} {f['final']:>10} {f['drift_pct']:>7}% "
            f"{f['range_pct']:>7}%  "
            + (("yes" if f["flat"] else "NO") if metric in METRICS else "(not judged)")
        )
    typing = result["typing"]
    lines.append(
        f"{typing.get('keystrokes', 0)} keystrokes, {typing.get('shown', 0)} suggestions shown, "
        f"{result['rounds']} rounds of {len(result['files'])} files; "
        f"server alive at the end: {result['alive_at_end']}"
    )
    if result["error"]:
        lines.append(f"error: {result['error']}")
    lines.append(f"{'OK' if result['ok'] else 'FAILED'}: wrote {result['png']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--files", default="", help="comma list of file names (typing_sources)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the run")
    parser.add_argument(
        "--window",
        type=float,
        default=0.1,
        help="fraction of the run averaged at each end of the judged part (after the warm-up)",
    )
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed drift (0.05: 5%%)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "soak.json"))
    args = parser.parse_args(argv)
    try:
        result = asyncio.run(soak(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(report(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
