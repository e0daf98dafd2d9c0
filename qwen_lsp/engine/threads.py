"""How many CPU threads the model uses right now, chosen from how fast it actually runs.

llama.cpp's CPU threads wait for each other at every step of the model's graph, spinning.
When another program keeps one core busy, the thread that shares that core is descheduled
for whole time slices and every other thread spins until it comes back: on two cores with
one busy process, prompt evaluation with two threads ran about 20 times slower than with
one. The right count depends on what else runs, which changes while the server runs. So
each model call is timed, per unit of work (a prompt token, a decoding step), and:

- a call far slower than the fastest rate known is aborted as *stalled* (by the engine, which
  asks ``stall_seconds``) and the count drops by one at once;
- after each call the count drops when the next lower count was measured faster;
- now and then one call *probes* a neighbouring count (one more thread, or one fewer when
  that one's figure is old); the count moves there when the probe is at least 10% faster.
  A failed probe doubles the wait before the next one (up to half a minute), so a machine
  that stays busy pays for a probe rarely, and one that becomes quiet gets its threads back
  within seconds.

Prompt evaluation and decoding get a governor each: llama.cpp takes separate counts for
them, and they suffer differently under load. Pure: the clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Weight of the newest measurement in a count's running rate: high, so a machine that
# becomes busy is noticed after a call or two.
NEWEST_WEIGHT = 0.5
# A call slower than this many times the fastest rate known (and MIN_STALL_SECONDS) is a
# stall: aborted and retried with fewer threads.
STALL_FACTOR = 4.0
MIN_STALL_SECONDS = 0.15
# A probe that runs longer than this many times the current count's rate is over: it cannot
# win, and stopping it early bounds what a probe costs on a busy machine.
PROBE_STALL_FACTOR = 1.5
# A probe must be this much faster to move the count; a lower count must be this much
# faster to be chosen after an ordinary call.
BETTER_BY = 1.1
FIRST_PROBE_SECONDS = 2.0
LONGEST_PROBE_WAIT = 32.0
# A lower count's figure older than this is measured again by a probe.
STALE_SECONDS = 20.0


@dataclass
class _Rate:
    seconds_per_unit: float
    measured_at: float


class ThreadGovernor:
    """The thread count for one kind of model call (prompt chunks, or decoding steps)."""

    def __init__(self, most: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.most = max(1, most)
        self.current = self.most
        self._clock = clock
        self._rates: dict[int, _Rate] = {}
        self._probe_wait = FIRST_PROBE_SECONDS
        self._next_probe = clock() + FIRST_PROBE_SECONDS
        self._probing: int | None = None

    @property
    def probing(self) -> bool:
        return self._probing is not None

    def next_count(self) -> int:
        """The count for the next call: the current one, or a neighbour it probes."""
        if self._probing is None and self.most > 1 and self._clock() >= self._next_probe:
            self._probing = self._probe_candidate()
        return self._probing if self._probing is not None else self.current

    def probe_from(self, count: int) -> int:
        """At load, after a call at ``count`` threads was measured: that is the current
        count, and the next call probes the most threads (returned)."""
        self.current = count
        self._probing = self.most if self.most != count else None
        return self.most

    def stall_seconds(self, count: int, units: int) -> float | None:
        """How long a call of ``units`` at ``count`` threads may run before it is aborted
        as stalled; None: never (nothing faster is known, or no fewer threads to go to)."""
        if self._probing == count:
            reference = self._rates.get(self.current)
            if reference is None:
                return None
            return max(MIN_STALL_SECONDS, PROBE_STALL_FACTOR * reference.seconds_per_unit * units)
        if count <= 1 or not self._rates:
            return None
        fastest = min(rate.seconds_per_unit for rate in self._rates.values())
        return max(MIN_STALL_SECONDS, STALL_FACTOR * fastest * units)

    def record(self, count: int, units: int, seconds: float, stalled: bool = False) -> None:
        """A call's measurement (a stalled one ran at least ``seconds``)."""
        now = self._clock()
        per_unit = seconds / max(1, units)
        old = self._rates.get(count)
        # A probe is a fresh look at a count last seen long ago: it replaces that figure.
        if old is not None and not stalled and self._probing != count:
            per_unit = NEWEST_WEIGHT * per_unit + (1 - NEWEST_WEIGHT) * old.seconds_per_unit
        self._rates[count] = _Rate(per_unit, now)
        if self._probing == count:
            self._end_probe(count, now)
        elif count == self.current:
            self._maybe_drop(stalled)

    def rate(self, count: int) -> float | None:
        """Seconds per unit last known at ``count`` threads."""
        known = self._rates.get(count)
        return None if known is None else known.seconds_per_unit

    def _probe_candidate(self) -> int | None:
        up = self.current + 1 if self.current < self.most else None
        down = self.current - 1 if self.current > 1 else None
        if down is not None:
            lower = self._rates.get(down)
            if lower is None or self._clock() - lower.measured_at > STALE_SECONDS:
                return down if up is None or self._age(up) <= self._age(down) else up
        return up

    def _age(self, count: int) -> float:
        known = self._rates.get(count)
        return float("inf") if known is None else self._clock() - known.measured_at

    def _end_probe(self, count: int, now: float) -> None:
        self._probing = None
        mine, theirs = self._rates.get(self.current), self._rates[count]
        if mine is None or theirs.seconds_per_unit * BETTER_BY <= mine.seconds_per_unit:
            self.current = count
            self._probe_wait = FIRST_PROBE_SECONDS
        else:
            self._probe_wait = min(LONGEST_PROBE_WAIT, self._probe_wait * 2)
        self._next_probe = now + self._probe_wait

    def _maybe_drop(self, stalled: bool) -> None:
        if self.current <= 1:
            return
        lower = self._rates.get(self.current - 1)
        mine = self._rates[self.current]
        if stalled or (
            lower is not None and lower.seconds_per_unit * BETTER_BY <= mine.seconds_per_unit
        ):
            self.current -= 1
            self._next_probe = self._clock() + self._probe_wait


# Calls that evaluate fewer prompt tokens than this (a keystroke's few new tokens, the end
# of a prompt) cost about a decoding step each, whatever their count: they say nothing about
# how fast a long prompt is read.
MIN_RATE_UNITS = 16


class PromptSpeed:
    """Prompt tokens read per second in calls long enough to tell (whatever thread count
    ran them), smoothed with the same weight as the governors': what a cold prompt of
    hundreds of tokens will cost now, on this machine, under its current load."""

    def __init__(self) -> None:
        self.tokens_per_second = 0.0  # 0: nothing measured yet

    def record(self, units: int, seconds: float) -> None:
        if units < MIN_RATE_UNITS or seconds <= 0:
            return
        measured = units / seconds
        if self.tokens_per_second <= 0:
            self.tokens_per_second = measured
        else:
            self.tokens_per_second = (
                NEWEST_WEIGHT * measured + (1 - NEWEST_WEIGHT) * self.tokens_per_second
            )
