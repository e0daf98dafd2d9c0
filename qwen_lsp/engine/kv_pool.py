"""A small pool of saved KV-cache states, picked by the prompt they share most with.

llama.cpp keeps one live KV state: the tokens of the last prompt and what was generated.
A prompt that diverges from it early (another document, a code action, a speculative
suggestion on the next line) would throw away hundreds of evaluated tokens, seconds of
work on one core. So before the live state is overwritten it is saved here, and a prompt
that shares a longer prefix with a saved state than with the live one restores that
state first. States are matched by tokens, not by names: whatever produced a prompt, the
state that spares the most evaluation wins (llama-server picks its slots the same way).

The pool is bounded by bytes (the kvCacheBytes setting), not only by count: one state of
a 7B model with a 32k context is about 1.9 GB, so eight of them would eat the machine.

A few states are *pinned*: the heads many prompts start with (a chat template's system
message and request, one per language). They are small, and they must survive the stream of
other states a user's typing leaves behind, or every language's first block would pay for
its head again.

Pure bookkeeping: the states themselves are opaque (bytes from llama_state_seq_get_data);
``size_of`` says how many bytes one holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    size: int = 0  # bytes
    pinned: bool = False  # a head: never replaced by the states that extend it


class KvPool(Generic[State]):
    def __init__(
        self, budget_bytes: int, size_of: Callable[[State], int], max_states: int = 8
    ) -> None:
        self.budget_bytes = budget_bytes
        self._size_of = size_of
        # Matching a prompt compares it with every state: keep the count small as well.
        self._max_states = max_states
        self._max_pinned = max(1, max_states // 2)
        self._entries: list[Saved[State]] = []  # least recently used first
        # Kept up to date by every change, so that another thread (the status request)
        # reads a whole figure without walking a list the worker is changing.
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes held by the saved states."""
        return self._bytes

    def fits(self, size: int) -> bool:
        """Whether a state of ``size`` bytes could be kept at all."""
        return 0 < size <= self.budget_bytes

    def best(self, tokens: Sequence[int], pinned: bool = False) -> tuple[int, int]:
        """(index, shared prefix length) of the saved state (only the pinned ones when
        ``pinned``) closest to ``tokens``; (-1, 0) when there is none."""
        found, shared = -1, 0
        for i, entry in enumerate(self._entries):
            if pinned and not entry.pinned:
                continue
            n = common_prefix(entry.tokens, tokens)
            if n > shared or (n == shared and found >= 0):  # ties: the most recent
                found, shared = i, n
        return found, shared

    def holds(self, tokens: Sequence[int]) -> bool:
        """Whether a pinned state holds exactly ``tokens``."""
        key = tuple(tokens)
        return any(e.pinned and e.tokens == key for e in self._entries)

    def take(self, index: int) -> Saved[State]:
        """Remove and return a saved state (it becomes the live one); a pinned one stays."""
        if self._entries[index].pinned:
            return self._entries[index]
        taken = self._entries.pop(index)
        self._bytes -= taken.size
        return taken

    def put(self, tokens: Sequence[int], state: State, pinned: bool = False) -> bool:
        """Save a state; unpinned states it extends are dropped (it serves every prompt
        they would), and the least recently used go while the pool holds too many states
        or bytes, unpinned ones first. A state bigger than the whole budget is not kept
        (False); one a pinned state already holds is not kept twice."""
        size = self._size_of(state)
        if not self.fits(size):
            return False
        key = tuple(tokens)
        if self.holds(key):
            return True
        self._entries = [
            e
            for e in self._entries
            if (e.pinned and not pinned) or common_prefix(e.tokens, key) < len(e.tokens)
        ]
        self._entries.append(Saved(key, state, size, pinned))
        pins = [e for e in self._entries if e.pinned]
        if len(pins) > self._max_pinned:  # the oldest head goes
            self._entries.remove(pins[0])
        total = sum(entry.size for entry in self._entries)
        while len(self._entries) > self._max_states or total > self.budget_bytes:
            unpinned = [i for i, e in enumerate(self._entries) if not e.pinned]
            total -= self._entries.pop(unpinned[0] if unpinned else 0).size
        self._bytes = total
        return True

    def clear(self) -> None:
        """Drop every state (the model is closing: give their memory back)."""
        self._entries.clear()
        self._bytes = 0
