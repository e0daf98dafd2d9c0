"""What the inline-completion use case keeps about its work: running totals, and the
foreground generations in flight (one per document version and cursor), with what each
has written so far so that a user typing the same text can follow it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from qwen_lsp import postprocess, protocol
from qwen_lsp.cache import CachedSuggestion
from qwen_lsp.engine import Generation


@dataclass(frozen=True)
class Key:
    uri: str
    version: int
    offset: int


@dataclass
class CompletionStats:
    """Running totals, reported by the server's qwenLsp/status request."""

    requests: int = 0
    cache_hits: int = 0
    followed: int = 0  # answered by a running generation the user typed along with
    generations: int = 0
    speculations: int = 0
    refreshes: int = 0  # typed-through suggestions asked again in the background ...
    refreshes_changed: int = 0  # ... and the ones the model now answers differently
    cancelled_generations: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0
    generated_tokens_cancelled: int = 0
    last: Generation | None = None

    def totals(self) -> protocol.CompletionTotals:
        return protocol.CompletionTotals(
            requests=self.requests,
            cacheHits=self.cache_hits,
            followed=self.followed,
            generations=self.generations,
            speculations=self.speculations,
            refreshes=self.refreshes,
            refreshesChanged=self.refreshes_changed,
            cancelledGenerations=self.cancelled_generations,
            promptTokens=self.prompt_tokens,
            reusedTokens=self.reused_tokens,
            generatedTokens=self.generated_tokens,
            generatedTokensCancelled=self.generated_tokens_cancelled,
        )

    def record(self, generation: Generation) -> None:
        self.generations += 1
        self.prompt_tokens += generation.prompt_tokens
        self.reused_tokens += generation.reused_tokens
        self.generated_tokens += generation.generated_tokens
        if generation.stop_reason == "cancelled":
            self.cancelled_generations += 1
            self.generated_tokens_cancelled += generation.generated_tokens
        self.last = generation


class Writing:
    """Where a foreground generation writes and what it has written so far, so that a
    user who types the same text can wait for its answer instead of restarting it.

    ``written`` is set on the worker thread after every token; the event loop and the
    worker only read it, and a str assignment is atomic.
    """

    def __init__(self, uri: str, prefix: str, suffix: str) -> None:
        self.uri = uri
        self.prefix = prefix
        self.suffix = suffix
        self.written = ""
        self.kind: postprocess.CompletionKind | None = None  # set once the job starts
        self._last: tuple[str | None, str | None] = (None, None)

    def typed_since(self, text: str | None) -> str | None:
        """What the user typed at the cursor since the generation started, when ``text``
        (the document now) is its document with only that inserted and the generation
        wrote it or may still write it; else None."""
        if text is None:
            return None
        if text is not self._last[0]:  # polled after every token: compare each text once
            inserted: str | None = None
            end = len(text) - len(self.suffix)
            if (
                end >= len(self.prefix)
                and text.startswith(self.prefix)
                and text.endswith(self.suffix)
            ):
                inserted = text[len(self.prefix) : end]
            self._last = (text, inserted)
        typed = self._last[1]
        # Checked on every poll: what the model has written grows after each token, and
        # text typed while the prompt was still being read may turn out not to be it.
        written = self.written
        if typed is None or not (written.startswith(typed) or typed.startswith(written)):
            return None
        return typed


@dataclass
class Inflight:
    task: asyncio.Future[CachedSuggestion | None]
    writing: Writing
    latest: Callable[[], str | None] | None  # the document's text now; None: never follow
    # The lines of a block complete so far, when it takes long (blockShowAfterSeconds).
    first: asyncio.Future[CachedSuggestion]
    waiters: int = 0
