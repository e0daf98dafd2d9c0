"""The model port: what the completion and action use cases need from a language model.

One implementation per engine (llama-cpp-python in `llama_backend`, a separate engine
over HTTP in `remote`), a deterministic fake for tests (`fake`). Only `llama_backend` and
`remote_tokenizer` (a GGUF's vocabulary alone) import llama_cpp.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from qwen_lsp.protocol import GenerationFigures


@dataclass(frozen=True)
class Special:
    """A special token (e.g. ``<|fim_prefix|>``) inside a prompt.

    Kept apart from plain text so that text the user typed which happens to look like a
    special token is tokenized as text and can never steer the prompt.
    """

    text: str


PromptPart = str | Special


@dataclass(frozen=True)
class FimTokens:
    """A model's fill-in-the-middle special tokens (the registry says which a model has).

    ``repo_name`` and ``file_sep`` frame Qwen2.5-Coder's repository-level layout (the
    cross-file header); "" means the model has no such layout.
    """

    prefix: str = "<|fim_prefix|>"
    suffix: str = "<|fim_suffix|>"
    middle: str = "<|fim_middle|>"
    pad: str = "<|fim_pad|>"
    repo_name: str = "<|repo_name|>"
    file_sep: str = "<|file_sep|>"
    # False: the model has these tokens but was not trained to fill in the middle with them
    # (Qwen3.5 / Qwen3.6): completions then go through its chat prompt instead.
    trained: bool = True
    # True: a block that begins a function's body is asked through these tokens too, not
    # through the chat prompt other blocks use (the registry's function_body_prompt: the
    # 1.5B writes whole functions better this way, the 0.5B worse).
    function_bodies: bool = False


StopReason = Literal["stop_token", "max_tokens", "time_cap", "done", "cancelled"]


@dataclass
class Generation:
    """What one generation produced, with the figures the benchmarks report."""

    text: str
    stop_reason: StopReason
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens served from the KV cache
    generated_tokens: int = 0
    prompt_seconds: float = 0.0
    generate_seconds: float = 0.0
    drafted_tokens: int = 0  # prompt lookup or the draft model: tokens guessed ...
    accepted_tokens: int = 0  # ... and the ones the model agreed with
    threads: int = 0  # CPU threads of the last model call (they adapt to the machine's load)
    # Per generated token: where it ends in ``text`` and the probability the model gave it
    # (engines that report none leave both empty).
    token_ends: list[int] = field(default_factory=list)
    token_chances: list[float] = field(default_factory=list)

    def figures(self) -> GenerationFigures:
        """The figures as the status request reports them."""
        return GenerationFigures(
            text=self.text,
            stopReason=self.stop_reason,
            promptTokens=self.prompt_tokens,
            reusedTokens=self.reused_tokens,
            generatedTokens=self.generated_tokens,
            promptSeconds=self.prompt_seconds,
            generateSeconds=self.generate_seconds,
            draftedTokens=self.drafted_tokens,
            acceptedTokens=self.accepted_tokens,
            threads=self.threads,
            tokenEnds=list(self.token_ends),
            tokenChances=[round(chance, 4) for chance in self.token_chances],
        )


class CancelToken:
    """A stop flag shared between the event loop and the worker thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def why(self) -> str:
        """Why the work was stopped ("" while it goes on)."""
        return self.reason


class LinkedCancel(CancelToken):
    """Cancelled when any of the given tokens is (the worker's, the user's) or when the
    document changes: the engine polls it between prompt chunks and after every token,
    so an edit stops even a long prompt evaluation at once, without waiting for the
    client's next request."""

    def __init__(self, *tokens: CancelToken, is_current: Callable[[], bool]) -> None:
        super().__init__()
        self._tokens = tokens
        self._is_current = is_current

    @property
    def cancelled(self) -> bool:
        if not super().cancelled and not self._is_current():
            self.cancel("document changed")
        return super().cancelled or any(t.cancelled for t in self._tokens)

    def why(self) -> str:
        if self.reason:
            return self.reason
        return next((t.reason for t in self._tokens if t.cancelled), "")


class EngineFault(Exception):
    """A separate inference engine failed a request: unreachable, an HTTP error, a stream
    that stalled or broke. The message carries the engine's own error text (it is shown to
    the user); ``retryable`` when no connection could be made (the engine may come back),
    ``status`` the HTTP status when there was one."""

    def __init__(self, message: str, *, retryable: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


# Called with the text generated so far; returns False to stop generating now.
KeepGoing = Callable[[str], bool]


@dataclass
class GenerationLimits:
    max_tokens: int
    # The time cap covers the whole request from ``started``: prompt evaluation included, so
    # a slow prompt on a busy machine never brings a suggestion long after it was asked for.
    max_seconds: float
    cancel: CancelToken = field(default_factory=CancelToken)
    started: float = field(default_factory=time.monotonic)
    reuse_kv: bool = True  # False: evaluate the whole prompt again (a benchmark baseline)
    # Prompt-lookup speculative decoding: draft up to this many tokens by copying from the
    # prompt and verify them in one batch (0 = plain decoding). Pays when the answer
    # repeats the prompt (rewrites of code); greedy output is the same either way.
    prompt_lookup: int = 0
    # Called between prompt chunks and decoding steps of a long generation (a code
    # action): runs model work that arrived meanwhile (a keystroke's completion) and
    # returns True when it did. It calls its argument just before that work starts, when
    # the backend puts its KV state aside; the backend brings it back after and goes on
    # where it was. None: never interrupted.
    yield_point: Callable[[Callable[[], None]], bool] | None = None

    # Background work (a warm-up, a speculation): a foreground request preempts it, and a
    # preempted model call loses what it had read of its chunk, so the engine reads such a
    # prompt in smaller chunks.
    background: bool = False
    # Added to the logits of these token ids before each greedy pick (-100: never, as
    # OpenAI's API reads it): a fix's second attempt must not write the undefined name
    # back. An engine that cannot apply it (ids of another vocabulary) ignores it.
    logit_bias: Mapping[int, float] = field(default_factory=dict)

    @property
    def deadline(self) -> float:
        return self.started + self.max_seconds


@dataclass(frozen=True)
class KvReuse:
    """How much of a prompt the engine's KV cache (the live state or a saved one) holds."""

    prompt_tokens: int  # the prompt's tokens, as generate() would evaluate them
    cached_tokens: int  # the leading ones it would not evaluate again

    @property
    def uncached(self) -> int:
        return self.prompt_tokens - self.cached_tokens


class Backend(Protocol):
    """One loaded model. Used from a single worker thread only."""

    @property
    def description(self) -> str: ...

    def tokenize(self, text: str) -> list[int]:
        """Tokens of plain text (no BOS, special-looking text stays text)."""
        ...

    @property
    def prompt_rate(self) -> float:
        """Prompt tokens evaluated per second lately, as measured by the engine (from its
        load-time calibration on); 0 when it knows none yet."""
        ...

    @property
    def keeps_states(self) -> bool:
        """Whether the engine keeps saved KV states besides the live one (a pool), so that a
        prompt read in the background does not throw out the state the keystrokes use."""
        ...

    @property
    def saved_state_bytes(self) -> int:
        """Bytes of the KV states kept besides the live one (within kvCacheBytes) and of a
        hybrid model's state checkpoints (within checkpointBytes); 0 for an engine that
        keeps none here. Read from other threads: a figure, never a walk."""
        ...

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        """How many leading tokens of ``prompt`` generate() would take from the KV cache
        instead of evaluating them (cheap: a tokenization and a prefix comparison)."""
        ...

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        """Evaluate ``prompt``, the head many prompts start with (a chat template's system
        message and request), and keep its KV state aside for them, so the first of them
        pays only for the rest. False when it was stopped (cancel, time cap)."""
        ...

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        """Greedy-decode a continuation of ``prompt``.

        Stops at the model's stop tokens, at ``limits``, when ``limits.cancel`` is set
        (checked between prompt chunks and after every token) or when ``keep_going``
        returns False.
        """
        ...

    def close(self) -> None: ...
