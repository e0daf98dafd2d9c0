"""Bookkeeping of the completion use case's background work and of cold prompts.

- :class:`Slot`: at most one background task of a kind (the refresh of a typed-through
  suggestion, the warming of a cold prompt); a newer one cancels the running one.
- :class:`PromptRate`: how fast the model has been reading prompts lately, so that a cold
  prompt can be cut to what about a second of evaluation reads.
- :class:`WarmPrompts`: which prompts the KV cache probably holds. The engine keeps the live
  state and a pool of saved ones; a request that shares little with all of them pays for its
  whole window (seconds on a CPU), which is what a file just opened costs.
- :class:`PromptWindows`: the window a prompt gets, whole or cut, from the two above.
- :func:`first_lines`: the complete lines of a block being written, to show them before the
  block is done.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

from qwen_lsp import postprocess
from qwen_lsp.context import FimWindow, fim_window
from qwen_lsp.engine import Generation
from qwen_lsp.settings import Settings

# Before the first measurement: about what the 0.5B model reads on two CPU cores.
DEFAULT_PROMPT_RATE = 100.0
# Fewer evaluated tokens than this time the overhead of a call more than the model.
MIN_MEASURED_TOKENS = 32
# A cut prompt keeps at least this many tokens of window, however slow the machine: below
# it the answers stop being worth showing.
MIN_COLD_TOKENS = 128
# Prompts the KV cache is taken to hold: the engine's live state and its pool of saved ones
# (engine/llama_backend.py keeps 8), the most recently used first to go.
WARM_PROMPTS = 8


class Slot:
    """One background task at a time; starting another cancels it (the newest wins)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._key: Hashable = None

    def busy_with(self, key: Hashable) -> bool:
        return self._task is not None and not self._task.done() and self._key == key

    def start(self, key: Hashable, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.cancel()
        self._key = key
        self._task = asyncio.ensure_future(work())

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


class PromptRate:
    """Prompt tokens evaluated per second (not served by the KV cache), smoothed over the
    recent generations. Used on the model worker's thread only."""

    def __init__(self, initial: float = DEFAULT_PROMPT_RATE) -> None:
        self.tokens_per_second = initial

    def record(self, generation: Generation) -> None:
        evaluated = generation.prompt_tokens - generation.reused_tokens
        finished = generation.generated_tokens > 0 or generation.stop_reason in (
            "stop_token",
            "done",
        )
        if not finished or evaluated < MIN_MEASURED_TOKENS or generation.prompt_seconds <= 0:
            return  # a prompt stopped halfway says nothing reliable about the rate
        measured = evaluated / generation.prompt_seconds
        self.tokens_per_second = (self.tokens_per_second + measured) / 2

    def tokens_in(self, seconds: float) -> int:
        return int(self.tokens_per_second * seconds)


class WarmPrompts:
    """The prompts the KV cache probably holds, by a key that says where a prompt's
    beginning lies (document, prompt style, first line of the window...). A guess: a wrong
    one costs a cut window (quality) or a full one (time), never a wrong answer."""

    def __init__(self, capacity: int = WARM_PROMPTS) -> None:
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._capacity = capacity

    def is_warm(self, key: Hashable) -> bool:
        return key in self._keys

    def mark(self, key: Hashable) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)

    def clear(self) -> None:
        self._keys.clear()


def cold_budgets(total: int, prefix_tokens: int, suffix_tokens: int) -> tuple[int, int]:
    """The prefix and suffix budgets of a cut window of ``total`` tokens, shared as the
    settings share the full one (never more than the full one)."""
    whole = prefix_tokens + suffix_tokens
    if whole <= total:
        return prefix_tokens, suffix_tokens
    suffix = suffix_tokens * total // max(1, whole)
    return total - suffix, suffix


def first_lines(partial: str, site: postprocess.CompletionSite) -> str:
    """What to show of a block still being written: its complete lines, post-processed as
    a block would be ("" when none is complete or they make nothing worth showing)."""
    end = max(partial.rfind("\n"), partial.rfind("\r"))
    if end < 0:
        return ""
    return postprocess.postprocess(partial[: end + 1], site)


@dataclass(frozen=True)
class WindowChoice:
    window: FimWindow
    key: Hashable  # where the prompt's beginning lies (see WarmPrompts)
    cut: bool  # smaller than the settings' budgets ask for: the prompt was cold


class PromptWindows:
    """The FIM window of a prompt: the whole one when the KV cache probably holds its
    beginning, else one cut to ``coldPromptSeconds`` of evaluation at the measured rate.
    Used on the model worker's thread only."""

    def __init__(self) -> None:
        self.rate = PromptRate()
        self.warm = WarmPrompts()
        # The cut chosen for a cold prompt stays until it is warm: every keystroke on the
        # line then shares the same beginning (a rate that moved would move the window).
        self._cuts: OrderedDict[Hashable, int] = OrderedDict()

    def choose(
        self,
        uri: str,
        text: str,
        at: int,
        count_tokens: Callable[[str], int],
        settings: Settings,
        chat: bool,
        may_cut: bool,
        overhead: int = 0,
    ) -> WindowChoice:
        """``overhead``: the prompt's tokens besides the window (a chat template's), which
        a cut must leave room for."""
        full = fim_window(
            text,
            at,
            count_tokens,
            settings.prefixTokens,
            settings.suffixTokens,
            disabled_rules=settings.disableRules,
        )
        # A FIM prompt starts with the window's first line (snapped to 16 lines); the chat
        # prompt with the code after the cursor.
        key = (uri, "chat", hash(full.suffix)) if chat else (uri, "fim", full.prefix_start_line)
        if not may_cut or settings.coldPromptSeconds <= 0 or self.warm.is_warm(key):
            return WindowChoice(full, key, cut=False)
        total = self._cuts.get(key)
        if total is None:
            seconds = settings.coldPromptSeconds
            total = max(MIN_COLD_TOKENS, self.rate.tokens_in(seconds) - overhead)
            self._cuts[key] = total
            while len(self._cuts) > WARM_PROMPTS:
                self._cuts.popitem(last=False)
        prefix_tokens, suffix_tokens = cold_budgets(
            total, settings.prefixTokens, settings.suffixTokens
        )
        window = fim_window(
            text,
            at,
            count_tokens,
            prefix_tokens,
            suffix_tokens,
            disabled_rules=settings.disableRules,
        )
        return WindowChoice(window, key, cut=window != full)

    def done(self, choice: WindowChoice, generation: Generation) -> None:
        """After a generation from ``choice``: the rate measured, the prompt warm if it was
        whole and read to its end."""
        self.rate.record(generation)
        finished = generation.generated_tokens > 0 or generation.stop_reason in (
            "stop_token",
            "done",
        )
        if finished and not choice.cut:
            self.warm.mark(choice.key)
            self._cuts.pop(choice.key, None)

    def clear(self) -> None:
        """Another model: its KV cache holds nothing yet."""
        self.warm.clear()
        self._cuts.clear()
