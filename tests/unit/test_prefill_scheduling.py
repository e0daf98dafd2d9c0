"""How a long prompt evaluation shares the one model with waiting work (issue 13, item 7).

The llama backend's scheduling (chunks, putting the KV state aside, the pool) runs here on a
stand-in for llama.cpp that records every token it evaluates: a code action's prompt of
thousands of tokens must let a queued completion run between its chunks, and go on where
it stopped afterwards, without evaluating anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qwen_lsp.engine import GenerationLimits
from qwen_lsp.engine.abort import AbortSwitch
from qwen_lsp.engine.checkpoints import CheckpointStore, SequenceMemory
from qwen_lsp.engine.kv_pool import KvPool, common_prefix
from qwen_lsp.engine.llama_backend import (
    BACKGROUND_PREFILL_CHUNK,
    KEPT_STATES,
    MIN_TOKENS_SAVED_BY_RESTORE,
    PREFILL_CHUNK,
    LlamaBackend,
)
from qwen_lsp.engine.threads import PromptSpeed, ThreadGovernor


class FakeLlama:
    """The parts of llama_cpp.Llama the prefill uses; its "KV cache" is a token list."""

    def __init__(self, n_ctx: int = 8192) -> None:
        self.input_ids = np.zeros(n_ctx, dtype=np.intc)
        self.n_tokens = 0
        self.cells: list[int] = []
        self.evaluated: list[int] = []
        self.calls: list[int] = []  # tokens per call

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(text)  # one token a byte

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return bytes(tokens)

    def eval(self, tokens: Sequence[int]) -> None:
        self.calls.append(len(tokens))
        self.cells = self.cells[: self.n_tokens] + list(tokens)
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.evaluated.extend(tokens)


class AttentionMemory(SequenceMemory):
    """SequenceMemory over the stand-in: an attention model's, every cut works."""

    def __init__(self, llm: FakeLlama) -> None:  # no llama.cpp to ask what the model is
        self._llm = llm
        self.hybrid = False
        self.store = CheckpointStore(0)
        self.restores = self.full_clears = 0

    def _seq_rm(self, start: int) -> bool:
        self._llm.cells = self._llm.cells[:start]
        return True


class ScriptedBackend(LlamaBackend):
    def __init__(self) -> None:  # no model: only the scheduling is under test
        self._llm: Any = FakeLlama()
        self.memory = AttentionMemory(self._llm)
        self._pool = KvPool(1 << 30, len, KEPT_STATES)
        self.copies = 0
        # One fixed thread: no thread calls reach llama.cpp.
        self._prefill_threads = self._decode_threads = ThreadGovernor(1)
        self._adapt = False
        self._threads_set = (1, 1)
        self._abort = AbortSwitch()
        self._speed = PromptSpeed()
        self._tokenized = ((), [], [])

    def _save_kv(self) -> Any:
        self.copies += 1
        return tuple(self._llm.cells[: self._llm.n_tokens])

    def _load_kv(self, tokens: list[int], state: Any) -> None:
        self.copies += 1
        llm = self._llm
        llm.cells = list(state)
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)


ACTION = list(range(1000, 1000 + 40 * PREFILL_CHUNK))  # a long prompt: 40 chunks
COMPLETION = list(range(1, 400))


def interrupting(
    backend: ScriptedBackend, at_calls: set[int], ran: list[int]
) -> Callable[[Callable[[], None]], bool]:
    """A yield point that runs a completion's prefill at the given calls (as the worker
    runs a queued job: ``before`` first)."""
    calls = 0

    def yield_point(before: Callable[[], None]) -> bool:
        nonlocal calls
        calls += 1
        if calls not in at_calls:
            return False
        before()
        ran.append(len(backend._llm.evaluated))
        prompt = COMPLETION + [calls]  # each keystroke adds a token
        _, stopped = backend._prefill(prompt, GenerationLimits(max_tokens=8, max_seconds=9))
        assert stopped is None and backend._llm.cells == prompt
        return True

    return yield_point


def test_a_long_prefill_lets_waiting_work_run_between_its_chunks() -> None:
    backend = ScriptedBackend()
    ran: list[int] = []
    limits = GenerationLimits(
        max_tokens=8, max_seconds=9, yield_point=interrupting(backend, {3, 20}, ran)
    )
    reused, stopped = backend._prefill(ACTION, limits)
    assert stopped is None and reused == 0
    # The completions ran within the prompt, each after a chunk or two, not after it all.
    assert len(ran) == 2 and ran[0] <= 3 * PREFILL_CHUNK
    # The action went on where it stopped: its KV cache holds its prompt, and no token of
    # it was evaluated twice.
    llm = backend._llm
    assert llm.cells == ACTION and llm.input_ids[: llm.n_tokens].tolist() == ACTION
    action_evaluated = [t for t in llm.evaluated if t >= 1000]
    assert action_evaluated == ACTION
    # The second completion started from the first one's state (kept in the pool while
    # the action went on): it evaluated only its new last token.
    completion_evaluated = [t for t in llm.evaluated if t < 1000]
    assert len(completion_evaluated) == len(COMPLETION) + 1 + 1


def test_a_prefill_with_nothing_waiting_copies_no_state() -> None:
    backend = ScriptedBackend()
    limits = GenerationLimits(max_tokens=8, max_seconds=9, yield_point=lambda before: False)
    assert backend._prefill(ACTION, limits) == (0, None)
    assert backend.copies == 0 and backend._llm.evaluated == ACTION


def test_a_cancel_during_the_interruption_stops_the_prefill() -> None:
    backend = ScriptedBackend()
    limits = GenerationLimits(max_tokens=8, max_seconds=9)

    def cancel_meanwhile(before: Callable[[], None]) -> bool:
        before()
        limits.cancel.cancel("superseded")
        return True

    limits.yield_point = cancel_meanwhile
    _, stopped = backend._prefill(ACTION, limits)
    assert stopped == "cancelled"
    assert len(backend._llm.evaluated) < PREFILL_CHUNK + 1


def _read(backend: ScriptedBackend, text: str) -> int:
    """Evaluate a plain-text prompt as generate() would; the tokens it reused."""
    tokens, _ = backend._evaluated([text])
    reused, stopped = backend._prefill(tokens, GenerationLimits(max_tokens=8, max_seconds=9))
    assert stopped is None
    return reused


def test_the_engine_says_how_much_of_a_prompt_its_live_or_saved_states_hold() -> None:
    backend = ScriptedBackend()
    first = "def first(x):\n" + "    x += 1\n" * 20
    assert backend.kv_reuse([first]).cached_tokens == 0
    _read(backend, first)
    more = first + "    return x\n"
    shared = common_prefix(backend._evaluated([first])[0], backend._evaluated([more])[0])
    assert backend.kv_reuse([more]).cached_tokens == shared > 200  # the live state
    # Another prompt takes the live state; the first one's goes to the pool.
    assert _read(backend, "class Other:\n" + "    y = 2\n" * 20) == 0
    assert backend.kv_reuse([more]).cached_tokens == shared  # a saved state
    assert _read(backend, more) == shared  # what the prefill then really reused
    # A saved state sharing too little more than the live one is not worth its copy.
    near = more[: MIN_TOKENS_SAVED_BY_RESTORE // 2]
    assert backend.kv_reuse([near + "z" * 100]).cached_tokens == len(near)


def test_a_held_head_serves_the_prompts_that_start_with_it() -> None:
    backend = ScriptedBackend()
    head = "You are a helpful assistant. Continue: "  # shorter than an ordinary state
    limits = GenerationLimits(max_tokens=0, max_seconds=9, background=True)
    assert backend.hold([head], limits)
    for i in range(2 * KEPT_STATES):  # other files' states come and go
        _read(backend, f"file {i}\n" + "x = 1\n" * 20)
    assert len(head) < MIN_TOKENS_SAVED_BY_RESTORE
    assert backend.kv_reuse([head + "def f():"]).cached_tokens == len(head)
    evaluated = len(backend._llm.evaluated)
    assert backend.hold([head], limits)  # held already: nothing read again
    assert len(backend._llm.evaluated) == evaluated


def test_background_prompts_are_read_in_smaller_chunks() -> None:
    backend = ScriptedBackend()
    limits = GenerationLimits(max_tokens=8, max_seconds=9, background=True)
    assert backend._prefill(ACTION, limits) == (0, None)
    assert set(backend._llm.calls) == {BACKGROUND_PREFILL_CHUNK}
    assert BACKGROUND_PREFILL_CHUNK < PREFILL_CHUNK


def test_a_held_head_serves_a_prompt_though_another_saved_state_shares_as_much() -> None:
    backend = ScriptedBackend()
    head = "You are a helpful assistant. Continue: "
    assert backend.hold([head], GenerationLimits(max_tokens=0, max_seconds=9))
    _read(backend, head + "first file " * 20)  # its state starts with the head too ...
    _read(backend, "other\n" * 80)  # ... and goes to the pool
    assert backend.kv_reuse([head + "second file"]).cached_tokens == len(head)


def test_a_decoding_batch_is_allowed_its_size_and_is_not_taken_for_a_step() -> None:
    # Prompt lookup and a draft model decode a step and its guesses in one batch: judged as
    # one step, a batch of 7 on a quiet machine looked like a stall (aborted, a thread
    # dropped), and its time was taken for a step's.
    backend = ScriptedBackend()
    backend._adapt = True
    backend._threads_set = (2, 2)  # (no thread calls reach llama.cpp)
    governor = backend._decode_threads = ThreadGovernor(2)
    governor.record(2, 1, 0.1)  # a step at two threads: 100 ms
    step_limit = governor.stall_seconds(2, 1)
    allowed: list[float | None] = []
    arm = backend._abort.arm

    def spy(cancel: Any, deadline: Any, stall_after: float | None) -> None:
        allowed.append(stall_after)
        arm(cancel, deadline, stall_after)

    backend._abort.arm = spy  # type: ignore[method-assign]
    limits = GenerationLimits(max_tokens=8, max_seconds=60.0)
    assert backend._timed(lambda: None, 7, True, 2, limits) is None
    assert allowed == [governor.stall_seconds(2, 7)]
    assert governor.stall_seconds(2, 1) == step_limit  # the batch's time is no step's
    assert backend._timed(lambda: None, 1, True, 2, limits) is None
    assert governor.stall_seconds(2, 1) != step_limit  # a step's time is
