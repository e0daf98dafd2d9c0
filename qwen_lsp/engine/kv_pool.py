"""A small pool of saved KV-cache states, picked by the prompt they share most with.

llama.cpp keeps one live KV state: the tokens of the last prompt and what was generated.
A prompt that diverges from it early (another document, a code action, a speculative
suggestion on the next line) would throw away hundreds of evaluated tokens, seconds of
work on one core. So before the live state is overwritten it is saved here, and a prompt
that shares a longer prefix with a saved state than with the live one restores that
state first. States are matched by tokens, not by names: whatever produced a prompt, the
state that spares the most evaluation wins (llama-server picks its slots the same way).

Pure bookkeeping: the states themselves are opaque (bytes from llama_state_seq_get_data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

State = TypeVar("State")


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass(frozen=True)
class Saved(Generic[State]):
    tokens: tuple[int, ...]
    state: State


class KvPool(Generic[State]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: list[Saved[State]] = []  # least recently used first

    def __len__(self) -> int:
        return len(self._entries)

    def best(self, tokens: Sequence[int]) -> tuple[int, int]:
        """(index, shared prefix length) of the saved state closest to ``tokens``;
        (-1, 0) when the pool is empty."""
        found, shared = -1, 0
        for i, entry in enumerate(self._entries):
            n = common_prefix(entry.tokens, tokens)
            if n > shared or (n == shared and found >= 0):  # ties: the most recent
                found, shared = i, n
        return found, shared

    def take(self, index: int) -> Saved[State]:
        """Remove and return a saved state (it becomes the live one)."""
        return self._entries.pop(index)

    def put(self, tokens: Sequence[int], state: State) -> None:
        """Save a state; states it extends are dropped (it serves every prompt they
        would), and the least recently used goes when the pool is full."""
        key = tuple(tokens)
        self._entries = [e for e in self._entries if common_prefix(e.tokens, key) < len(e.tokens)]
        self._entries.append(Saved(key, state))
        while len(self._entries) > self._capacity:
            self._entries.pop(0)
