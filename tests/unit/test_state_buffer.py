"""Saved model states live in mappings of their own, given back to the system when dropped."""

from __future__ import annotations

import ctypes
import gc
import random
from collections.abc import Callable

from qwen_lsp.engine.state_buffer import first_bytes, state_buffer


def _anon_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


def test_a_state_buffer_holds_what_is_written_and_shortens_to_a_copy() -> None:
    buffer = state_buffer(4096)
    assert len(buffer) == 4096 and bytes(buffer[:4]) == b"\0\0\0\0"
    ctypes.memset(buffer, 7, 4096)
    assert first_bytes(buffer, 4096) is buffer
    short = first_bytes(buffer, 100)
    assert len(short) == 100 and bytes(short) == b"\7" * 100


def test_states_of_varying_size_leave_no_memory_behind(
    make: Callable[[int], ctypes.Array[ctypes.c_uint8]] = state_buffer,
) -> None:
    # The KV pool's life: states of 0.5B-model sizes (12 KB a token, 200-2400 tokens), the
    # eight most recent kept. Through malloc, freed ones left heap holes that resident memory
    # kept: about twice the states held (measured while choosing this design).
    gc.collect()
    before = _anon_kb()
    sizes = random.Random(1)
    kept: list[ctypes.Array[ctypes.c_uint8]] = []
    for _ in range(300):
        size = sizes.randint(200, 2400) * 12 * 1024
        buffer = make(size)
        ctypes.memset(buffer, 1, size)
        kept = [*kept[-7:], buffer]
    held_kb = sum(len(b) for b in kept) >> 10
    overhead_kb = _anon_kb() - before - held_kb
    assert overhead_kb < 16 << 10, (overhead_kb, held_kb)
    del kept, buffer
    gc.collect()
    assert _anon_kb() - before < 16 << 10
