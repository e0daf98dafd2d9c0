"""Cutting the live sequence back to a shorter prefix, on every kind of model, and the
state checkpoints that make it possible on hybrid ones.

An attention model's KV cache is one entry per token: dropping the entries past a point
(``llama_memory_seq_rm``) leaves exactly the state of the shorter prefix. A recurrent
layer (Mamba, Gated DeltaNet in Qwen3.5 / Qwen3.6 / Qwen3-Coder-Next) keeps one state that
every token has changed: it cannot be cut back, and ``seq_rm`` says so by returning False
(having changed nothing). Going on as if it had worked is not slow but wrong: the next
tokens would be read after the whole old sequence.

So on a hybrid model we keep checkpoints: copies of the recurrent part of the state only
(``LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY``: a fixed size per sequence, about 17 KB for the
test model and 160 MB for Qwen3.6-27B), taken at points of the prompt that stay the same
while the user types (after each special token: the end of the cross-file header, of the
prefix window, ``<|fim_middle|>``; every ``CHECKPOINT_EVERY`` tokens of a long stretch;
and just before the end of the last prompt). To cut the sequence back to ``n`` tokens we restore the
longest checkpoint at or below ``n`` whose tokens the live sequence still starts with (the
attention entries of those tokens are still in the cache, and they depend on the tokens
only), remove the attention entries after it, and evaluate the rest. llama-server does the
same with ``--ctx-checkpoints``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qwen_lsp.engine.kv_pool import common_prefix
from qwen_lsp.engine.state_buffer import state_buffer

log = logging.getLogger(__name__)

# A checkpoint within a long stretch of text (a prefix window of thousands of tokens):
# pressing Enter changes the prefix near its end, and then at most this many tokens of it
# are evaluated again.
CHECKPOINT_EVERY = 256
# Checkpoints at the end of a prompt serve only the next keystroke or two; they must not
# push the ones at stable points (the header's end) out of the store.
KEPT_TAILS = 2
KEPT_CHECKPOINTS = 16
# llama.h: LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY, only the recurrent (and sliding-window) part.
PARTIAL_ONLY = 1


@dataclass(frozen=True)
class Checkpoint:
    tokens: tuple[int, ...]  # the sequence the state is the state after
    state: Any  # a ctypes byte array from llama_state_seq_get_data_ext
    tail: bool  # taken at the end of a prompt rather than at a stable point

    @property
    def size(self) -> int:
        return len(self.state)


class CheckpointStore:
    """Checkpoints within a byte budget, the least recently used dropped first. Pure
    bookkeeping: the states are opaque."""

    def __init__(self, budget_bytes: int, max_count: int = KEPT_CHECKPOINTS) -> None:
        self.budget_bytes = budget_bytes
        self._max_count = max_count
        self._entries: list[Checkpoint] = []  # least recently used first
        self._bytes = 0  # kept up to date: the status reads it from another thread

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def has(self, tokens: Sequence[int]) -> bool:
        key = tuple(tokens)
        return any(entry.tokens == key for entry in self._entries)

    def put(self, tokens: Sequence[int], state: Any, tail: bool = False) -> bool:
        """Keep a checkpoint (replacing one of the same tokens); False when it is bigger
        than the whole budget."""
        entry = Checkpoint(tuple(tokens), state, tail)
        if not 0 < entry.size <= self.budget_bytes:
            return False
        self._entries = [e for e in self._entries if e.tokens != entry.tokens]
        self._entries.append(entry)
        tails = [e for e in self._entries if e.tail]
        for old in tails[: max(0, len(tails) - KEPT_TAILS)]:
            self._entries.remove(old)
        total = sum(entry.size for entry in self._entries)
        while len(self._entries) > self._max_count or total > self.budget_bytes:
            total -= self._entries.pop(0).size
        self._bytes = total
        return True

    def best(self, live: Sequence[int], limit: int) -> Checkpoint | None:
        """The longest checkpoint of at most ``limit`` tokens that ``live`` starts with
        (marked as just used), or None."""
        found: Checkpoint | None = None
        for entry in self._entries:
            n = len(entry.tokens)
            if n <= limit and (found is None or n > len(found.tokens)):
                if common_prefix(entry.tokens, live) == n:
                    found = entry
        if found is not None:
            self._entries.remove(found)
            self._entries.append(found)
        return found

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def checkpoint_marks(special_ends: Sequence[int], length: int) -> list[int]:
    """Where to take checkpoints in a prompt of ``length`` tokens: after each special token
    (``special_ends``: token counts), every CHECKPOINT_EVERY tokens between them, and one
    token before the end (the last prompt token is always evaluated again, for its
    logits: the same prompt again, or one a keystroke extended, starts from there);
    sorted, each at least one token in."""
    marks = {length - 1, *special_ends}
    for start, end in zip([0, *special_ends], [*special_ends, length], strict=True):
        marks.update(range(start + CHECKPOINT_EVERY, end, CHECKPOINT_EVERY))
    return sorted(m for m in marks if 0 < m < length)


class SequenceMemory:
    """The live sequence 0 of a llama-cpp-python ``Llama``: cut back safely, checkpointed on
    hybrid and recurrent models. Keeps the invariant the decode loop relies on: the model's
    memory holds exactly ``llm.input_ids[: llm.n_tokens]``."""

    def __init__(self, llm: Any, budget_bytes: int) -> None:
        import llama_cpp

        self._llm = llm
        self.hybrid = bool(
            llama_cpp.llama_model_is_hybrid(llm.model)
            or llama_cpp.llama_model_is_recurrent(llm.model)
        )
        self.store = CheckpointStore(budget_bytes)
        self.restores = 0  # checkpoints brought back (figures for tests and benchmarks)
        self.full_clears = 0  # cuts that had to drop the whole sequence

    def _seq_rm(self, start: int) -> bool:
        import llama_cpp

        memory = llama_cpp.llama_get_memory(self._llm.ctx)
        return bool(llama_cpp.llama_memory_seq_rm(memory, 0, start, -1))

    def cut(self, target: int) -> int:
        """Make the live sequence its first ``target`` tokens (or fewer); returns how many
        it holds now. A model that cannot drop the tail is brought back to the longest
        checkpoint within ``target``; without one the sequence starts over (0)."""
        llm = self._llm
        held: int = llm.n_tokens
        if target >= held:
            return held
        if self._seq_rm(target):  # an attention model; or a hybrid one cut at its end
            llm.n_tokens = target
            return target
        live = llm.input_ids[:held].tolist()
        checkpoint = self.store.best(live, target) if self.hybrid else None
        if checkpoint is not None and self._restore(checkpoint):
            self.restores += 1
            return len(checkpoint.tokens)
        if not self.hybrid:
            log.warning("llama.cpp could not drop the KV cache after token %d", target)
        self.full_clears += 1
        self.clear()
        return 0

    def repair(self) -> None:
        """After a model call was stopped in the middle (a cancel, the time cap): llama.cpp
        takes the call's tokens back with a cut, which a recurrent state refuses, and that
        state may be half updated. Go back to a checkpoint within the tokens held, or start
        over. (An attention model's cache is back as it was: nothing to do.)"""
        if not self.hybrid:
            return
        llm = self._llm
        held: int = llm.n_tokens
        checkpoint = self.store.best(llm.input_ids[:held].tolist(), held)
        if checkpoint is not None and self._restore(checkpoint):
            self.restores += 1
            return
        self.full_clears += 1
        self.clear()

    def clear(self) -> None:
        """Drop the whole live sequence (always possible)."""
        self._seq_rm(0)
        self._llm.n_tokens = 0

    def _restore(self, checkpoint: Checkpoint) -> bool:
        import llama_cpp

        llm = self._llm
        n = len(checkpoint.tokens)
        state = checkpoint.state
        restored = llama_cpp.llama_state_seq_set_data_ext(
            llm.ctx, state, len(state), 0, PARTIAL_ONLY
        )
        # The recurrent part now stands after token n: the attention entries after it
        # can go (a cut at the recurrent state's end is one llama.cpp allows).
        if restored != len(state) or not self._seq_rm(n):
            log.warning("could not restore a state checkpoint; evaluating the prompt again")
            return False
        llm.n_tokens = n
        return True

    def _save(self) -> Any:
        import llama_cpp

        ctx = self._llm.ctx
        size = llama_cpp.llama_state_seq_get_size_ext(ctx, 0, PARTIAL_ONLY)
        buffer = state_buffer(size)
        written = llama_cpp.llama_state_seq_get_data_ext(ctx, buffer, size, 0, PARTIAL_ONLY)
        return buffer if written == size else None

    def checkpoint(self, tail: bool = False) -> None:
        """On a hybrid model: keep the state after the live sequence, unless kept already."""
        llm = self._llm
        if not self.hybrid or llm.n_tokens == 0 or self.store.budget_bytes == 0:
            return
        tokens = llm.input_ids[: llm.n_tokens].tolist()
        if self.store.has(tokens):
            return
        state = self._save()
        if state is not None:
            self.store.put(tokens, state, tail)

    def before_draft(self) -> Checkpoint | None:
        """On a hybrid model, before a batch of drafted tokens: the state to come back to
        if some are rejected (the recurrent state will have read them all)."""
        if not self.hybrid:
            return None
        llm = self._llm
        state = self._save()
        if state is None:
            return None
        return Checkpoint(tuple(llm.input_ids[: llm.n_tokens].tolist()), state, tail=True)

    def undo_rejected(self, keep: int, before: Checkpoint | None) -> list[int]:
        """After a batch was verified: keep its first ``keep`` positions. Returns the
        tokens the caller must evaluate again (after ``before`` was restored on a hybrid
        model: the recurrent state cannot forget the rejected guesses), or []."""
        llm = self._llm
        held = llm.n_tokens
        if keep >= held:
            return []
        if self._seq_rm(keep):
            llm.n_tokens = keep
            return []
        accepted = llm.input_ids[len(before.tokens) : keep].tolist() if before else []
        if before is not None and self._restore(before):
            return accepted
        self.clear()
        return []
