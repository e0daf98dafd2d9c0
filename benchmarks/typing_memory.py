"""The server's resident memory during the typing replay: sampled, then summarized.

`RssSampler` reads the server process's RSS every half second in the background (psutil,
from the `bench` extra); `memory_summary` (pure) turns the samples into the peak and the
drift between the first and the last minute (a quarter of a short run), which is how a
leak would show in a long replay (benchmarks/bench_typing.py --duration).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import psutil


def memory_summary(samples: Sequence[tuple[float, int]], window_s: float = 60.0) -> dict[str, Any]:
    """RSS figures from (seconds, bytes) samples (pure): peak, start/end, and the drift
    between the mean of the first and the last ``window_s`` (a quarter of a short run)."""
    if not samples:
        return {"samples": 0}
    mb = [(t, rss / 2**20) for t, rss in samples]
    span = mb[-1][0] - mb[0][0]
    window = window_s if span >= 2 * window_s else max(span / 4, 0.0)
    first = [v for t, v in mb if t <= mb[0][0] + window]
    last = [v for t, v in mb if t >= mb[-1][0] - window]
    first_mean, last_mean = statistics.fmean(first), statistics.fmean(last)
    return {
        "samples": len(mb),
        "seconds": round(span, 1),
        "peak_mb": round(max(v for _, v in mb), 1),
        "start_mb": round(mb[0][1], 1),
        "end_mb": round(mb[-1][1], 1),
        "window_s": round(window, 1),
        "first_window_mean_mb": round(first_mean, 1),
        "last_window_mean_mb": round(last_mean, 1),
        "drift_pct": round((last_mean - first_mean) / first_mean * 100, 2),
    }


class RssSampler:
    """Samples the server's resident memory every ``every`` seconds in the background."""

    def __init__(self, pid: int, clock: Callable[[], float], every: float = 0.5) -> None:
        self.process = psutil.Process(pid)
        self.clock = clock
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                self.samples.append((self.clock(), self.process.memory_info().rss))
            except psutil.Error:
                return
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
