"""Bookkeeping of the completion use case's background work and of cold prompts.

- :class:`Slot`: at most one background task of a kind (the refresh of a typed-through
  suggestion, the warming of a cold prompt); a newer one cancels the running one.
- :class:`PromptWindows`: the window a prompt gets, whole or cut. The engine keeps the live
  KV state and a pool of saved ones; a request that shares little with all of them pays for
  its whole window (seconds on a CPU), which is what a file just opened costs. So the engine
  is asked how much of the prompt it holds, and a prompt whose uncached part would take
  longer than ``coldPromptSeconds`` at the engine's measured prompt rate is cut to what
  that time reads.
- :class:`Heads`: the head every block prompt of a language starts with (the chat
  template's system message and request), read into the engine's KV pool when a document of
  that language is opened, as background work any request preempts (and tried again).
- :func:`first_lines`: the complete lines of a block being written, to show them before the
  block is done (a Python line that opens a block: that line, before its body is written).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from qwen_lsp import postprocess
from qwen_lsp.context import FimWindow, fim_window
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import Backend, CancelToken, GenerationLimits, KvReuse, PromptPart
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.postprocess.site import NEWLINE_RE, leading_ws
from qwen_lsp.prompt_tools import PromptTools
from qwen_lsp.settings import Settings

log = logging.getLogger(__name__)

# While the engine knows no rate yet: about what the 0.5B model reads on two CPU cores.
DEFAULT_PROMPT_RATE = 100.0
# The lanes of the heads' warm-ups (one per language), so that they supersede no other
# background work.
HEAD_LANE = "head"
# A warm-up of a head that a request preempted is tried again this much later, this often.
HEAD_RETRY_SECONDS = 0.5
HEAD_ATTEMPTS = 20
# Cold prompts whose cut is remembered (as many as the engine keeps KV states).
KEPT_CUTS = 8


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
    shown = postprocess.postprocess(partial[: end + 1], site)
    if "\n" in shown or "\r" in shown:
        return shown  # lines of the body are complete
    # (A Python opener alone is cut back until it compiles: `while i < n` without its
    # colon, when the cursor line did not compile before either.)
    return _opener_alone(partial, site) or shown


def _opener_alone(partial: str, site: postprocess.CompletionSite) -> str:
    """A Python line that opens a block (``while i < len(chunks):``) while its body is not
    written yet: the line alone, or "".

    Python does not compile an opener without a body, so the post-processing drops it
    (shown alone as a whole answer, it would leave the file broken). Here its body is on
    its way: the line is checked with a stand-in body and shown without it, so the pause
    gets the line the user is typing (the issue-12 replay waited 0.8 s for a nested
    `if` under a `while`). The whole block lands in the cache when it is written.
    """
    if site.language != "python" or "opener-alone" in site.disabled_rules:
        return ""  # (brace languages: the post-processing closes the brace itself)
    first_break = NEWLINE_RE.search(partial)
    if first_break is None or not partial[: first_break.start()].rstrip().endswith(":"):
        return ""
    line, newline = partial[: first_break.start()], first_break.group()
    cursor_line = NEWLINE_RE.split(site.prefix)[-1]
    body = leading_ws(cursor_line + line) + site.indent_unit
    checked = postprocess.postprocess(f"{line}{newline}{body}pass{newline}", site)
    first = NEWLINE_RE.split(checked, maxsplit=1)[0]
    return first if checked != first and first.strip() else ""


@dataclass(frozen=True)
class WindowChoice:
    window: FimWindow
    cut: bool  # smaller than the settings' budgets ask for: the prompt was cold
    wide: bool = False  # the wide window (widePrefixTokens): the engine holds it or reads fast
    # The wide window was not taken because too little of it is read yet: worth reading in
    # the background for the next keystrokes here.
    wider: bool = False


class PromptWindows:
    """The FIM window of a prompt. Three sizes, the largest whose part the engine's KV cache
    does not hold can be read within ``coldPromptSeconds`` at the engine's measured prompt
    rate: the wide window (``widePrefixTokens`` above the cursor), the whole one
    (``prefixTokens``), else one cut to what that time reads. A fast engine (a GPU, an
    inference server) reads the wide window at once; on a CPU core it takes seconds, so it
    is read in the background (``warming``) once the whole window is, and taken from then
    on while the cursor stays in that part of the file. Used on the model worker's thread
    only."""

    def __init__(self, tools: PromptTools, heads: Heads) -> None:
        self._tools = tools
        self._heads = heads
        # The cut chosen for a cold prompt stays while it is cold: every keystroke on the
        # line then shares the same beginning (a rate that moved would move the window),
        # by a key that says where that beginning lies.
        self._cuts: OrderedDict[Hashable, int] = OrderedDict()
        # The similar chunk each document's last window showed (similar_code): kept while
        # nearly as good as the best, since a change is the window read again.
        self._similar: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def pick(
        self,
        backend: Backend,
        settings: Settings,
        uri: str,
        text: str,
        at: int,
        chat_language: str | None,
        prompt_of: Callable[[FimWindow], Sequence[PromptPart]],
        limits: GenerationLimits | None,
        warming: bool = False,
    ) -> WindowChoice:
        """The window of a request at ``at`` of ``text``, asking ``backend`` what its KV
        cache holds of a window's prompt (``prompt_of``). ``chat_language``: a block
        through the chat prompt of that language (None: FIM). ``limits``: a request's (its
        cancel and its time cap), None for background work, whose window is never cut.
        ``warming``: the background read of a window for the next keystrokes."""
        if self._tools.replaced(backend):
            self.clear()
        overhead = 0  # the chat prompt's own tokens that are not cached
        if chat_language is not None:
            head = self._tools.chat_head(backend, chat_language)
            overhead = self._tools.chat_overhead(backend, chat_language)
            overhead -= backend.kv_reuse(head).cached_tokens
            if limits is not None and settings.coldPromptSeconds > 0:
                # It is read anyway, and held for the language's next first blocks (cheap
                # when it is already).
                held = dataclasses.replace(limits, max_seconds=settings.maxSeconds)
                self._heads.hold(backend, chat_language, held)

        def reuse(window: FimWindow) -> KvReuse:
            return backend.kv_reuse(prompt_of(window))

        return self.choose(
            uri,
            text,
            at,
            self._tools.counter(backend),
            settings,
            chat_language is not None,
            reuse=reuse,
            rate=backend.prompt_rate,
            overhead=max(0, overhead),
            may_cut=limits is not None,
            warming=warming,
            warm_wide=backend.keeps_states,
        )

    def choose(
        self,
        uri: str,
        text: str,
        at: int,
        count_tokens: Callable[[str], int],
        settings: Settings,
        chat: bool,
        reuse: Callable[[FimWindow], KvReuse] | None,
        rate: float,
        overhead: int = 0,
        may_cut: bool = True,
        warming: bool = False,
        warm_wide: bool = True,
    ) -> WindowChoice:
        """``reuse``: what the engine's KV cache holds of the prompt of a window (None: not
        known, the whole window). ``rate``: prompt tokens per second (0: not known yet).
        ``overhead``: the prompt's tokens besides the window that are not cached (a chat
        template's), which a cut must leave room for. ``may_cut``: False for background
        work (nobody waits for it). ``warming``: the background read for the next
        keystrokes, of the whole window first and of the wide one once the whole is read.
        ``warm_wide``: the engine keeps saved KV states besides the live one (else reading
        the wide window behind the keystrokes would throw out the state they use, and it
        is taken only when the engine reads it fast enough)."""

        keep = self._similar.get(uri, ())

        def window_of(prefix_tokens: int, suffix_tokens: int, similar_tokens: int) -> FimWindow:
            return fim_window(
                text,
                at,
                count_tokens,
                prefix_tokens,
                suffix_tokens,
                similar_tokens=similar_tokens,
                similar_keep=keep,
                disabled_rules=settings.disableRules,
            )

        full = window_of(settings.prefixTokens, settings.suffixTokens, settings.similarTokens)
        if may_cut:  # the user's request: background work elsewhere must not move the chunk
            self._similar[uri] = full.similar_head
            self._similar.move_to_end(uri)
            while len(self._similar) > KEPT_CUTS:
                self._similar.popitem(last=False)
        seconds = settings.coldPromptSeconds
        if reuse is None or seconds <= 0:
            return WindowChoice(full, cut=False)
        rate = rate if rate > 0 else DEFAULT_PROMPT_RATE
        affordable = rate * seconds  # tokens a cold read may take
        wide: FimWindow | None = None
        if settings.widePrefixTokens > settings.prefixTokens:
            wide = window_of(
                settings.widePrefixTokens, settings.suffixTokens, settings.similarTokens
            )
            if wide == full:  # the wide budget holds no more of this file
                wide = None
            elif reuse(wide).uncached <= affordable:
                return WindowChoice(wide, cut=False, wide=True)
            elif not warm_wide:
                wide = None
        wider = wide is not None
        whole_read = reuse(full).uncached <= affordable
        if warming and whole_read and wide is not None:
            return WindowChoice(wide, cut=False, wide=True)
        if whole_read or not may_cut:
            return WindowChoice(full, cut=False, wider=wider)
        # A FIM prompt starts with the window's first line (snapped to 16 lines); the chat
        # prompt with the code after the cursor.
        key = (uri, "chat", hash(full.suffix)) if chat else (uri, "fim", full.prefix_start_line)
        total = self._cuts.get(key)
        if total is None:
            total = max(settings.coldPromptMinTokens, int(rate * seconds) - overhead)
            self._cuts[key] = total
            while len(self._cuts) > KEPT_CUTS:
                self._cuts.popitem(last=False)
        self._cuts.move_to_end(key)
        prefix_tokens, suffix_tokens = cold_budgets(
            total, settings.prefixTokens, settings.suffixTokens
        )
        # (a cut window is the code nearest the cursor alone: no similar chunk from afar)
        window = window_of(prefix_tokens, suffix_tokens, 0)
        return WindowChoice(window, cut=window != full, wider=wider)

    def clear(self) -> None:
        """Another model: the cuts were chosen for its speed."""
        self._cuts.clear()
        self._similar.clear()


class Heads:
    """Reads the head all block prompts of a language start with into the engine's KV pool
    (held there, see Backend.hold), so that the first block asked in a file just opened
    pays only for its code. Background work: any request preempts it, and it is tried
    again a little later, until it is done."""

    def __init__(self, worker: ModelWorker, tools: PromptTools) -> None:
        self._worker = worker
        self._tools = tools
        self._slots: dict[str, Slot] = {}

    def opened(self, snapshot: Snapshot, settings: Settings) -> None:
        """A document was opened: its language's head warmed, when its blocks are asked
        through the chat prompt (part of the cold-file handling: coldPromptSeconds)."""
        if (
            settings.coldPromptSeconds > 0
            and settings.multiline
            and settings.blockPrompt != "fim"
            and not snapshot.is_binary
            and snapshot.language_id not in settings.disabledLanguages
        ):
            self.warm(snapshot.language or snapshot.language_id, settings.maxSeconds)

    def warm(self, language: str, max_seconds: float) -> None:
        slot = self._slots.setdefault(language, Slot())
        if slot.busy_with(language):
            return

        def job(backend: Backend, cancel: CancelToken) -> bool:
            limits = GenerationLimits(0, max_seconds, cancel=cancel, background=True)
            return self.hold(backend, language, limits)

        async def run() -> None:
            for _ in range(HEAD_ATTEMPTS):
                future, _ = self._worker.submit(f"{HEAD_LANE}-{language}", job, background=True)
                try:
                    if await future:
                        return
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
                except Exception:  # background work: the requests meet the same error
                    log.debug("warming the %s head failed", language, exc_info=True)
                    return
                await asyncio.sleep(HEAD_RETRY_SECONDS)

        slot.start(language, run)

    def hold(self, backend: Backend, language: str, limits: GenerationLimits) -> bool:
        """On the model worker: the head held (at once when it is already)."""
        return backend.hold(self._tools.chat_head(backend, language), limits)
