"""Draft-model speculation: a small model of the same vocabulary guesses the big model's
next tokens, and the big one checks the whole guess in one batch.

Checking k guessed tokens costs the big model about what one step costs when it is bound
by reading its weights (a GPU, or a big model on a CPU), so each accepted guess is a step
saved; a rejected one costs the small model's k steps and a wider batch. Greedy output is
the big model's own either way: the decode loop keeps a guessed token only where the big
model, reading the same prefix, picks it too.

The draft model reads the same tokens as the big one (prompt and accepted answer) in its
own context, and keeps its KV cache in step with them: after a check it drops the
rejected guesses (through ``SequenceMemory``, so a hybrid draft model such as Qwen3.5-0.8B
comes back to the state before its guesses), and the next prompt reuses the prefix it
shares with the last one, as the big model does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qwen_lsp.engine import GenerationLimits
from qwen_lsp.engine.checkpoints import CHECKPOINT_EVERY, Checkpoint, SequenceMemory
from qwen_lsp.engine.kv_pool import common_prefix

log = logging.getLogger(__name__)

# Prompt tokens the draft model reads per call: the cancel and the time cap are checked
# between calls (the draft model has no abort callback of its own).
DRAFT_PREFILL_CHUNK = 64
# A prompt read by the draft model gets a checkpoint at its end (on a hybrid draft model)
# when it was at least this long: the next keystroke comes back near there.
MIN_CHECKPOINTED_READ = 16
# The text a vocabulary check tokenizes: code, with the spaces and brackets whose merges
# differ most between tokenizers.
VOCABULARY_PROBE = "def area(width, height):\n    return width * height  # m²\n\n\tx = [1, 2]\n"
VOCABULARY_SAMPLES = 16


def vocabulary_mismatch(main: Any, draft: Any) -> str | None:
    """Why ``draft`` (a llama_cpp.Llama) cannot guess tokens for ``main``, or None when
    both have the same vocabulary: the same size, the same text for tokens spread over it,
    and the same tokens for a probe text."""
    n_main, n_draft = main.n_vocab(), draft.n_vocab()
    if n_main != n_draft:
        return f"its vocabulary has {n_draft} tokens, the model's has {n_main}"
    step = max(1, n_main // VOCABULARY_SAMPLES)
    for token in [*range(0, n_main, step), n_main - 1]:
        if main.detokenize([token]) != draft.detokenize([token]):
            return (
                f"token {token} is {draft.detokenize([token])!r}, not {main.detokenize([token])!r}"
            )
    probe = VOCABULARY_PROBE.encode()
    if main.tokenize(probe, add_bos=False) != draft.tokenize(probe, add_bos=False):
        return "it splits text into different tokens"
    return None


def open_draft(
    main: Any,
    path: Path,
    max_draft: int,
    *,
    n_ctx: int,
    n_threads: int,
    n_batch: int,
    n_gpu_layers: int,
    checkpoint_bytes: int,
) -> tuple[DraftModel | None, str]:
    """The draft model at ``path`` for the big model ``main`` (a llama_cpp.Llama), loaded
    with the big model's options, or (None, why not) when it cannot load or its vocabulary
    differs: the server then decodes without one (logged as a warning)."""
    try:
        draft = DraftModel.load(
            path,
            max_draft,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_batch=n_batch,
            n_gpu_layers=n_gpu_layers,
            checkpoint_bytes=checkpoint_bytes,
        )
    except Exception as exc:  # llama.cpp reports a bad file and a failed allocation alike
        refusal = f"draft model {path.name} not used: llama.cpp could not load it ({exc})"
        log.warning("%s; decoding without a draft model", refusal)
        return None, refusal
    mismatch = vocabulary_mismatch(main, draft.llm)
    if mismatch is not None:
        draft.close()
        refusal = (
            f"draft model {path.name} not used: its vocabulary differs from the model's "
            f"({mismatch}); choose a draftModel of the same family"
        )
        log.warning("%s; decoding without a draft model", refusal)
        return None, refusal
    log.info("draft model %s guesses up to %d tokens per step", path.name, max_draft)
    return draft, ""


class DraftModel:
    """A small model that proposes the next tokens; told how many the big model kept."""

    def __init__(self, llm: Any, max_draft: int, checkpoint_bytes: int) -> None:
        self._llm = llm
        self.max_draft = max_draft
        self.memory = SequenceMemory(llm, checkpoint_bytes)
        self._before: Checkpoint | None = None  # the state before the last guess (hybrid)
        self._guess_start = 0  # tokens held before the last guess's first token
        self.drafted = 0
        self.accepted = 0
        self.read_tokens = 0  # tokens evaluated (figures: the prompt is read once)
        self._threads = 0  # the count last set (0: the one it was loaded with)

    @classmethod
    def load(
        cls,
        path: Path,
        max_draft: int,
        *,
        n_ctx: int,
        n_threads: int,
        n_batch: int,
        n_gpu_layers: int,
        checkpoint_bytes: int,
    ) -> DraftModel:
        """The draft model at ``path``, with the big model's llama.cpp options."""
        import llama_cpp

        llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=n_batch,
            n_gpu_layers=n_gpu_layers,
            verbose=False,
        )
        return cls(llm, max_draft, checkpoint_bytes)

    @property
    def llm(self) -> Any:
        return self._llm

    def propose(
        self, history: Sequence[int], room: int, limits: GenerationLimits, threads: int
    ) -> list[int]:
        """Up to ``max_draft`` (and ``room``) tokens the draft model expects after
        ``history`` (the big model's prompt and answer so far), greedily; [] when stopped
        (a cancel, the time cap) or out of context. ``threads``: the big model's count
        now (llama.cpp's threads spin-wait for each other: on a busy CPU more threads than
        the big model found to run make every call many times slower)."""
        llm = self._llm
        if threads != self._threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
            self._threads = threads
        count = min(self.max_draft, room, llm.n_ctx() - len(history))
        if count <= 0 or not history or not self._hold(history[:-1], limits):
            return []
        self._eval([history[-1]])
        self._guess_start = llm.n_tokens
        self._before = self.memory.before_draft()  # None on an attention model
        guesses = [self._next()]
        while len(guesses) < count and not _stopped(limits):
            self._eval([guesses[-1]])
            guesses.append(self._next())
        return guesses

    def feedback(self, drafted: int, accepted: int) -> None:
        """The big model kept the first ``accepted`` of the ``drafted`` guessed tokens: the
        draft model's sequence drops the others."""
        self.drafted += drafted
        self.accepted += accepted
        again = self.memory.undo_rejected(self._guess_start + accepted, self._before)
        if again:  # a hybrid draft model went back to before its guesses
            self._eval(again)
        self._before = None

    def _hold(self, tokens: Sequence[int], limits: GenerationLimits) -> bool:
        """Make the draft model's sequence exactly ``tokens``, reading only what it does not
        hold yet; False when stopped on the way."""
        llm = self._llm
        held = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        start = self.memory.cut(held)  # fewer on a hybrid draft model: its last checkpoint
        read = len(tokens) - start
        while start < len(tokens):
            if _stopped(limits):
                return False
            end = min(start + DRAFT_PREFILL_CHUNK, len(tokens))
            boundary = (start // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
            end = min(end, boundary)
            self._eval(list(tokens[start:end]))
            start = llm.n_tokens
            if start % CHECKPOINT_EVERY == 0:
                self.memory.checkpoint()
        if read >= MIN_CHECKPOINTED_READ:
            self.memory.checkpoint(tail=True)
        return True

    def _eval(self, tokens: list[int]) -> None:
        llm = self._llm
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=False)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)
        self.read_tokens += len(tokens)

    def _next(self) -> int:
        import numpy as np

        llm = self._llm
        row = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        return int(np.argmax(row))

    def close(self) -> None:
        self.memory.store.clear()
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


def _stopped(limits: GenerationLimits) -> bool:
    return limits.cancel.cancelled or time.monotonic() >= limits.deadline
