"""Machine load for the typing benchmark: plain CPU hogs the benchmark starts and stops.

A user's machine is rarely idle (a build, a test run, a browser, the editor itself). The
``busy`` load runs one busy-loop process per core but one (at least one), so the model
shares the CPU the way it does there; ``idle`` runs none. The hogs are this benchmark's
own child processes, stopped by their ids when the configuration is done.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import TracebackType

LOADS = ("idle", "busy")


def hog_count(load: str, cpus: int | None = None) -> int:
    """Busy processes for ``load``: none when idle, one per core but one (>= 1) when busy."""
    if load == "idle":
        return 0
    if load == "busy":
        return max(1, (cpus if cpus is not None else os.cpu_count() or 1) - 1)
    raise ValueError(f"unknown load {load!r}; known: {', '.join(LOADS)}")


class CpuHogs:
    """``with CpuHogs(n):`` runs ``n`` busy-loop processes for the duration of the block."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuHogs:
        for _ in range(self.count):
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", "while True: pass"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        self.processes.clear()
