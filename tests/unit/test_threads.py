"""The thread governor: fewer threads when the model stalls or a lower count runs faster,
probes back up with a growing wait, and the abort switch llama.cpp reads between nodes."""

from __future__ import annotations

import ctypes
import time

import pytest

from qwen_lsp.engine import CancelToken
from qwen_lsp.engine.abort import AbortSwitch
from qwen_lsp.engine.threads import (
    FIRST_PROBE_SECONDS,
    LONGEST_PROBE_WAIT,
    MIN_STALL_SECONDS,
    PROBE_STALL_FACTOR,
    STALE_SECONDS,
    STALL_FACTOR,
    ThreadGovernor,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def calibrated(one: float = 0.010, two: float = 0.008) -> tuple[ThreadGovernor, Clock]:
    """Two threads, measured at 1 and then at 2 (seconds per token)."""
    clock = Clock()
    governor = ThreadGovernor(2, clock)
    governor.record(1, 32, one * 32)
    governor.record(2, 32, two * 32)
    return governor, clock


def test_all_threads_and_no_stall_limit_before_anything_is_measured() -> None:
    governor = ThreadGovernor(4, Clock())
    assert governor.next_count() == 4
    assert governor.stall_seconds(4, 32) is None


def test_all_threads_stay_only_while_they_are_faster() -> None:
    assert calibrated(one=0.010, two=0.008)[0].current == 2
    assert calibrated(one=0.010, two=0.200)[0].current == 1


def test_a_stall_drops_a_thread_at_once() -> None:
    governor, _ = calibrated()
    limit = governor.stall_seconds(2, 32)
    assert limit == pytest.approx(max(MIN_STALL_SECONDS, STALL_FACTOR * 0.008 * 32))
    governor.record(2, 32, limit or 0, stalled=True)
    assert governor.current == 1
    assert governor.stall_seconds(1, 32) is None  # no fewer threads to go to: never aborted


def test_a_slow_call_drops_to_a_lower_count_measured_faster() -> None:
    governor, _ = calibrated(one=0.010, two=0.008)
    governor.record(2, 32, 0.008 * 32)
    assert governor.current == 2
    governor.record(2, 32, 0.050 * 32)  # the machine got busy: the mean is now 0.029
    assert governor.current == 1


def test_a_probe_moves_up_when_the_machine_is_quiet_again() -> None:
    governor, clock = calibrated()
    governor.record(2, 32, 1.0, stalled=True)
    assert governor.current == 1
    assert governor.next_count() == 1  # too soon for a probe
    clock.now += FIRST_PROBE_SECONDS
    assert governor.next_count() == 2 and governor.probing
    # A probe that cannot win is stopped early: 1.5x what one thread takes.
    assert governor.stall_seconds(2, 32) == pytest.approx(
        max(MIN_STALL_SECONDS, PROBE_STALL_FACTOR * 0.010 * 32)
    )
    governor.record(2, 32, 0.006 * 32)  # quiet again: the probe's figure replaces the stall
    assert not governor.probing and governor.current == 2


def test_a_probe_no_faster_leaves_the_count() -> None:
    governor, clock = calibrated(one=0.010, two=0.008)
    governor.record(2, 32, 1.0, stalled=True)
    clock.now += FIRST_PROBE_SECONDS
    assert governor.next_count() == 2
    governor.record(2, 32, 0.0095 * 32)  # faster, but by less than 10%
    assert not governor.probing and governor.current == 1


def test_failed_probes_wait_longer_each_time_up_to_a_limit() -> None:
    governor, clock = calibrated()
    governor.record(2, 32, 1.0, stalled=True)
    waits = []
    for _ in range(8):
        start = clock.now
        while governor.next_count() != 2:
            clock.now += 0.5
        waits.append(clock.now - start)
        governor.record(2, 32, 1.0, stalled=True)  # still busy
        assert governor.current == 1
    assert waits[:4] == [FIRST_PROBE_SECONDS * 2**i for i in range(4)]
    assert max(waits) == LONGEST_PROBE_WAIT


def test_a_stale_lower_count_is_probed_again() -> None:
    governor, clock = calibrated(one=0.010, two=0.008)
    clock.now += STALE_SECONDS + 1
    assert governor.next_count() == 1
    governor.record(1, 32, 0.004 * 32)  # one thread is now faster (hyper-threads busy)
    assert governor.current == 1


def test_one_thread_never_probes() -> None:
    clock = Clock()
    governor = ThreadGovernor(1, clock)
    governor.record(1, 32, 0.3)
    clock.now += 1000
    assert governor.next_count() == 1 and not governor.probing


def test_the_abort_switch_is_the_callback_llama_cpp_reads() -> None:
    switch = AbortSwitch()
    if switch.callback_address is None:
        pytest.skip("no C library strlen on this platform")
    callback = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)(switch.callback_address)
    try:
        cancel = CancelToken()
        switch.arm(cancel, deadline=None, stall_after=None)
        time.sleep(0.05)
        assert callback(switch.data) is False
        cancel.cancel()
        assert _until(lambda: callback(switch.data))
        assert switch.disarm() == "cancelled"
        assert callback(switch.data) is False  # disarmed: the next call runs

        switch.arm(CancelToken(), deadline=time.monotonic() + 0.05, stall_after=None)
        assert _until(lambda: callback(switch.data))
        assert switch.disarm() == "time_cap"

        switch.arm(CancelToken(), deadline=None, stall_after=0.05)
        assert _until(lambda: callback(switch.data))
        assert switch.disarm() == "stalled"

        switch.arm(CancelToken(), deadline=None, stall_after=None)
        assert switch.disarm() == ""
    finally:
        switch.close()


def _until(condition: object, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def test_a_closed_switch_ends_its_watchdog_thread() -> None:
    switch = AbortSwitch()
    if switch.callback_address is None:
        pytest.skip("no C library strlen on this platform")
    switch.arm(CancelToken(), deadline=None, stall_after=None)
    switch.disarm()
    watchdog = switch._thread
    assert watchdog is not None and watchdog.is_alive()
    switch.close()
    switch.close()
    assert not watchdog.is_alive()


def test_a_probe_at_load_starts_a_busy_machine_at_the_count_that_runs() -> None:
    clock = Clock()
    governor = ThreadGovernor(2, clock)
    governor.record(1, 32, 0.32)  # the calibration at one thread
    assert governor.probe_from(1) == 2 and governor.current == 1 and governor.probing
    assert governor.next_count() == 2
    # The probe at two threads stalls (a busy machine): stopped at 1.5x one thread's time ...
    assert governor.stall_seconds(2, 32) == pytest.approx(1.5 * 0.32)
    governor.record(2, 32, 0.48, stalled=True)
    assert governor.current == 1 and not governor.probing  # ... and the requests start at one
    # On a quiet machine the probe wins and the requests start at two.
    governor = ThreadGovernor(2, clock)
    governor.record(1, 32, 0.32)
    governor.probe_from(1)
    governor.record(2, 32, 0.2)
    assert governor.current == 2
