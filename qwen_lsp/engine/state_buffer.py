"""Memory for saved model states (a KV cache, a hybrid model's recurrent-state checkpoint),
each mapped from the operating system on its own.

Why not malloc: a state is megabytes to gigabytes and its size follows the prompt. glibc
raises its mmap threshold after the first large block is freed, so later states come from
the heap, whose holes it keeps: in a churn of states of 0.5B-model sizes (8 kept, the
least recent dropped) resident memory ran at about twice the states held and drifted with
them, while with one mapping per state it stayed within 10 MB of them. A mapping goes back
to the system the moment its state is dropped.
"""

from __future__ import annotations

import ctypes
import mmap


def state_buffer(size: int) -> ctypes.Array[ctypes.c_uint8]:
    """A zeroed byte array of ``size`` for llama.cpp to write a state into; its memory is
    unmapped when the array is dropped (the array keeps the mapping alive)."""
    if not hasattr(mmap, "MAP_ANONYMOUS"):  # Windows: its allocator, as before
        return (ctypes.c_uint8 * size)()
    mapping = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return (ctypes.c_uint8 * size).from_buffer(mapping)


def first_bytes(buffer: ctypes.Array[ctypes.c_uint8], size: int) -> ctypes.Array[ctypes.c_uint8]:
    """``buffer`` cut to its first ``size`` bytes (a state that came out shorter than asked)."""
    if size == len(buffer):
        return buffer
    shorter = state_buffer(size)
    ctypes.memmove(shorter, buffer, size)
    return shorter
