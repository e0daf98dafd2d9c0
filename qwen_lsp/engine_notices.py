"""When to tell the user about a separate engine's faults (backend `openai` and
`llama-server`): once when it starts failing, with the engine's own words, and once when
it answers again; not at every keystroke in between."""

from __future__ import annotations

from typing import Literal

from qwen_lsp.engine.fallback import FallbackEvent


class EngineNotices:
    def __init__(self) -> None:
        self._failing = False
        self._last_before: object = None
        self.error = ""  # the engine's words while it fails ("" when it answers)

    @property
    def failing(self) -> bool:
        return self._failing

    def failed(self, error: str, last_generation: object) -> str | None:
        """A request failed with ``error``: the message to show, or None (already shown).
        ``last_generation`` is the engine's last answer so far (whatever object stands for
        it): a newer one later means the engine answers again."""
        if self._failing:
            self.error = error
            return None
        self._failing, self._last_before, self.error = True, last_generation, error
        return (
            f"qwen-lsp: the inference engine failed: {error}. Suggestions come back by "
            "themselves when it answers again."
        )

    def answered(self, last_generation: object) -> str | None:
        """A request ended well: the message to show when the engine failed before and
        has answered since (a suggestion from the cache says nothing about it), else None."""
        if not self._failing or last_generation is self._last_before:
            return None
        self._failing, self._last_before, self.error = False, None, ""
        return "qwen-lsp: the inference engine answers again."

    def reset(self) -> None:
        """Another engine or model was set up: its faults are news again."""
        self._failing, self._last_before, self.error = False, None, ""


def fallback_notice(event: FallbackEvent) -> tuple[Literal["warning", "info"], str] | None:
    """What the user is told when the local model stands in for a separate engine
    (``engineFallback: local``) or the engine takes over again; None for the events a
    progress report covers (loading) or another message tells (a local model that did
    not load: the engine's fault is shown with why, as without a fallback)."""
    if event.kind == "local":
        return (
            "warning",
            f"qwen-lsp: the inference engine is down ({event.detail}). Suggestions and code "
            "actions come from the local model (engineFallback) until it answers again.",
        )
    if event.kind == "remote":
        return "info", "qwen-lsp: the inference engine answers again and serves from now on."
    return None
