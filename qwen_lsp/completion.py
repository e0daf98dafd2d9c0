"""The inline-completion use case: from a document snapshot and a cursor to a suggestion.

Runs the model part of the pipeline (context window, prompt, generation, post-processing)
as one job on the model worker, so the event loop never waits on tokenization or the
model. Around it: a suggestion cache (same context, or typing through a shown suggestion)
and speculation (while idle, the suggestion that follows accepting the shown one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qwen_lsp import postprocess, syntax
from qwen_lsp.admission import Admission, admit_all
from qwen_lsp.background import Heads, PromptWindows, Slot, WindowChoice, first_lines
from qwen_lsp.cache import CachedSuggestion, SuggestionCache
from qwen_lsp.context import FimWindow, chat_continuation_prompt, fim_prompt
from qwen_lsp.crossfile.header import CrossFileContext
from qwen_lsp.documents import Snapshot, TextWindow
from qwen_lsp.engine import (
    Backend,
    CancelToken,
    FimTokens,
    Generation,
    GenerationLimits,
    LinkedCancel,
    PromptPart,
)
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.inflight import CompletionStats, Inflight, Key, Writing
from qwen_lsp.prompt_tools import PromptTools
from qwen_lsp.settings import Settings

log = logging.getLogger(__name__)

LANE = "completion"
# How long a generation whose request was cancelled waits for the keystroke that may
# follow it (an editor sends the cancel and the edit together) before it stops.
FOLLOW_GRACE_S = 0.06
SPECULATION_LANE = "speculation"
# Background lanes of their own, so that neither supersedes the speculation.
REFRESH_LANE = "refresh"
WARM_LANE = "warm"
# Code points around the cursor a request reads at least (the prompt window, the cache
# keys, the post-processing checks all read less), so that a huge document costs a
# request no more than a small one; more when a token budget could use more.
WINDOW_CHARS = 131_072
CHARS_PER_TOKEN_BOUND = 64


def request_window(snapshot: Snapshot, offset: int, settings: Settings) -> TextWindow:
    """The text a completion at ``offset`` reads: whole lines around it (see
    :meth:`Snapshot.window`), generously more than the prompt's token budgets hold."""
    above = max(settings.prefixTokens, settings.widePrefixTokens)
    before = max(WINDOW_CHARS, above * CHARS_PER_TOKEN_BOUND)
    after = max(WINDOW_CHARS, settings.suffixTokens * CHARS_PER_TOKEN_BOUND)
    return snapshot.window(offset, before, after)


@dataclass(frozen=True)
class Suggestion:
    text: str
    line: int  # where the text is inserted (the cursor), LSP units
    utf16_col: int
    kind: str
    word: str = ""  # the identifier characters just before the cursor
    word_start: tuple[int, int] = (0, 0)  # where that word starts, LSP units
    source: str = "model"  # "model" or "cache"


class CompletionService:
    def __init__(
        self,
        worker: ModelWorker,
        settings: Callable[[], Settings],
        markers: Callable[[], FimTokens],
        cross_file: CrossFileContext | None = None,
        admission: Admission = admit_all,
    ) -> None:
        self._worker = worker
        self._admission = admission  # private and too large documents get nothing
        self._cross_file = cross_file
        self._settings = settings
        self._markers = markers
        self._tools = PromptTools()  # the serving model's token counter and chat template
        # One job per (document version, cursor): an inline request and a completion
        # request for the same keystroke share it instead of cancelling each other.
        self._inflight: dict[Key, Inflight] = {}
        self.cache = SuggestionCache()
        self.stats = CompletionStats()
        self._sequence = 0
        self._speculation: asyncio.Task[None] | None = None
        self._speculation_key: tuple[str, str, str] | None = None
        self._refresh = Slot()
        self._warming = Slot()
        self._heads = Heads(worker, self._tools)
        self._windows = PromptWindows(self._tools, self._heads)  # on the model worker only

    def opened(self, snapshot: Snapshot) -> None:
        """A document was opened: before any cursor is known, the head of its language's
        block prompt is read in the background."""
        if self._admission(snapshot.uri, snapshot.text).admitted:
            self._heads.opened(snapshot, self._settings())

    async def complete(
        self,
        snapshot: Snapshot,
        line: int,
        utf16_col: int,
        is_current: Callable[[], bool],
        latest: Callable[[], str | None] | None = None,
    ) -> Suggestion | None:
        """The suggestion at (line, utf16_col), or None when there is nothing to show.

        ``is_current`` says whether the document still has this snapshot's version; a
        generation stops as soon as it turns False (unless the user is typing what it
        writes: ``latest`` gives the document's text now, None once it is closed) and its
        result is never returned. Raises documents.PositionError for a position outside
        the document.
        """
        if not self._admission(snapshot.uri, snapshot.text).admitted:
            return None
        offset = snapshot.offset_at(line, utf16_col)
        self.stats.requests += 1
        settings = self._settings()
        if snapshot.is_binary or snapshot.language_id in settings.disabledLanguages:
            return None
        view = request_window(snapshot, offset, settings)
        at = offset - view.start
        prefix, suffix = view.text[:at], view.text[at:]
        hit = self.cache.lookup(snapshot.uri, prefix, suffix) if settings.suggestionCache else None
        found = hit[0] if hit is not None else None
        source = "cache" if found is not None else "model"
        # Computed for an earlier context (typed through, or followed): maybe stale now.
        earlier = hit is not None and hit[1] > 0
        if found is not None:
            self.stats.cache_hits += 1
        elif settings.followTyping and settings.suggestionCache:
            found = await self._follow(snapshot, offset, view, settings)
            earlier = found is not None
        if found is None:
            found = await self._shared_generation(
                snapshot,
                offset,
                view,
                settings,
                is_current,
                latest if settings.followTyping else None,
            )
        if not is_current() or found is None or not found.text:
            return None
        if settings.speculation and settings.suggestionCache:
            self._speculate(snapshot, offset, view, found, settings)
        if earlier and settings.refreshTypedThrough:
            self._refresh_shown(snapshot, offset, view, found, settings, is_current)
        word_start = at
        while word_start > 0 and _is_word_char(view.text[word_start - 1]):
            word_start -= 1
        return Suggestion(
            found.text,
            line,
            utf16_col,
            found.kind,
            word=view.text[word_start:at],
            word_start=snapshot.position_at(view.start + word_start),
            source=source,
        )

    async def _shared_generation(
        self,
        snapshot: Snapshot,
        offset: int,
        view: TextWindow,
        settings: Settings,
        is_current: Callable[[], bool],
        latest: Callable[[], str | None] | None,
    ) -> CachedSuggestion | None:
        key = Key(snapshot.uri, snapshot.version, offset)
        inflight = self._inflight.get(key)
        if inflight is None:
            at = offset - view.start
            prefix, suffix = view.text[:at], view.text[at:]
            # (following compares whole texts: C-speed, no Python pass over the lines)
            writing = Writing(snapshot.uri, snapshot.text[:offset], snapshot.text[offset:])
            wanted = is_current
            if latest is not None:
                # Typing what the model writes does not make its work stale.
                def wanted() -> bool:
                    return is_current() or writing.typed_since(latest()) is not None

            loop = asyncio.get_running_loop()
            first: asyncio.Future[CachedSuggestion] = loop.create_future()

            def show_first(found: CachedSuggestion) -> None:  # on the worker thread
                def settle() -> None:
                    if not first.done():
                        first.set_result(found)

                loop.call_soon_threadsafe(settle)

            async def run() -> CachedSuggestion | None:
                found = await self._generate(
                    snapshot, offset, view, settings, wanted, writing=writing, early=show_first
                )
                if found is not None and settings.suggestionCache:
                    self.cache.put(snapshot.uri, prefix, suffix, found)
                return found

            task = asyncio.ensure_future(run())
            inflight = self._inflight[key] = Inflight(task, writing, latest, first)
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        inflight.waiters += 1
        try:
            await asyncio.wait((inflight.task, inflight.first), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            inflight.waiters -= 1
            if settings.cancelStale:
                self._release(inflight)
            raise
        if inflight.task.done():
            return inflight.task.result()
        # A long block: its first lines now; the generation goes on (the next keystroke's
        # request preempts it) and puts the whole block in the cache when it is done.
        # Meanwhile the lines shown are typed through from the cache like any suggestion.
        inflight.waiters -= 1
        shown = inflight.first.result()
        if settings.suggestionCache:
            at = offset - view.start
            self.cache.put(snapshot.uri, view.text[:at], view.text[at:], shown)
        return shown

    def _release(self, inflight: Inflight) -> None:
        """A request stopped waiting: stop the work too unless somebody else waits for it
        or may yet follow it.

        An editor cancels the previous keystroke's request before (or just after) it
        sends the keystroke itself; the work goes on only when that edit types what the
        model is writing. Without an edit within FOLLOW_GRACE_S the cancel was meant.
        """

        def decide() -> None:
            if inflight.waiters == 0 and not inflight.task.done():
                typed = inflight.writing.typed_since(latest()) if latest else None
                if not typed:  # no edit, or one the model did not write
                    inflight.task.cancel()

        latest = inflight.latest
        if inflight.waiters > 0:
            return
        if latest is None or inflight.writing.typed_since(latest()) is None:
            inflight.task.cancel()  # no following, or the edit already went elsewhere
        else:
            asyncio.get_running_loop().call_later(FOLLOW_GRACE_S, decide)

    async def _follow(
        self, snapshot: Snapshot, offset: int, view: TextWindow, settings: Settings
    ) -> CachedSuggestion | None:
        """The rest of a running generation's suggestion when the user has typed its
        beginning meanwhile: waiting for it beats starting over, which would evaluate a
        new prompt and write the same tokens again. Only when the same kind of
        suggestion is wanted here: a block generation is not worth waiting for when a
        line would do. None when there is none to follow or its suggestion does not
        start with what was typed."""
        uri, text = snapshot.uri, snapshot.text
        at = offset - view.start
        prefix, suffix = view.text[:at], view.text[at:]
        for inflight in list(self._inflight.values()):
            writing = inflight.writing
            if writing.uri != uri or not writing.typed_since(text) or inflight.task.done():
                continue
            if writing.kind != _wanted_kind(snapshot, view, at, settings):
                continue
            inflight.waiters += 1
            typed = writing.typed_since(text) or ""
            try:
                # Its first lines, when it shows them before it ends (a long block), do
                # for the follower too when they go on past what was typed.
                while not inflight.task.done():
                    await asyncio.wait(
                        (inflight.task, inflight.first), return_when=asyncio.FIRST_COMPLETED
                    )
                    if inflight.task.done() or not inflight.first.done():
                        continue
                    shown = inflight.first.result()
                    if len(shown.text) > len(typed) and shown.text.startswith(typed):
                        inflight.waiters -= 1
                        self.stats.followed += 1
                        rest = CachedSuggestion(shown.text[len(typed) :], shown.kind)
                        if settings.suggestionCache:
                            self.cache.put(uri, prefix, suffix, rest)
                        return rest
                    await asyncio.shield(inflight.task)  # typed past them: the whole answer
                inflight.task.result()
            except asyncio.CancelledError:
                inflight.waiters -= 1
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    if settings.cancelStale:
                        self._release(inflight)
                    raise
                return None  # it was stopped: start over
            inflight.waiters -= 1
            found = self.cache.get(uri, prefix, suffix)
            if found is not None:
                self.stats.followed += 1
            return found
        return None

    def _speculate(
        self,
        snapshot: Snapshot,
        offset: int,
        view: TextWindow,
        shown: CachedSuggestion,
        settings: Settings,
    ) -> None:
        """While idle, compute what follows the shown suggestion, as if it was accepted.

        When the user accepts it or types it through, the next request is a cache hit.
        Any real request preempts this work (it runs as a background job).
        """
        at = offset - view.start
        prefix = view.text[:at] + shown.text
        suffix = view.text[at:]
        if self.cache.get(snapshot.uri, prefix, suffix) is not None:
            return
        key = (snapshot.uri, prefix, suffix)
        if self._speculation is not None and not self._speculation.done():
            if key == self._speculation_key:
                return  # typing through the suggestion: the same work is under way
            self._speculation.cancel()
        self._speculation_key = key

        async def run() -> None:
            # An incremental reparse of the snapshot, not a fresh parse of the whole text
            # (0.37 s on the event loop per shown suggestion at 2 MB).
            where = snapshot.position_at(offset)
            accepted = snapshot.apply_change(shown.text, (where, where))
            after = offset + len(shown.text)
            result = await self._generate(
                accepted,
                after,
                request_window(accepted, after, settings),
                settings,
                lambda: True,
                background=True,
            )
            if result is not None:
                self.stats.speculations += 1
                self.cache.put(snapshot.uri, prefix, suffix, result)

        self._speculation = asyncio.ensure_future(run())

    def _refresh_shown(
        self,
        snapshot: Snapshot,
        offset: int,
        view: TextWindow,
        shown: CachedSuggestion,
        settings: Settings,
        is_current: Callable[[], bool],
    ) -> None:
        """Ask again, in the background, where a suggestion computed for an earlier context
        (typed through, or followed) was shown: the model may now write something else.
        A different answer is cached under this context, which the typed-through lookup
        tries first: shown from the next keystroke on. One that agrees (maybe shorter: a
        line in a block) or is empty would only hide the longer one. Real requests preempt
        this work; a newer refresh replaces it."""
        at = offset - view.start
        prefix, suffix = view.text[:at], view.text[at:]
        key = (snapshot.uri, prefix, suffix)
        if self._refresh.busy_with(key):
            return

        async def run() -> None:
            try:
                result = await self._generate(
                    snapshot, offset, view, settings, is_current, background=True, lane=REFRESH_LANE
                )
            except Exception:  # background work: the next request meets the same error
                log.debug("refresh failed", exc_info=True)
                return
            if result is None:
                return
            self.stats.refreshes += 1
            if result.text and not shown.text.startswith(result.text):
                self.stats.refreshes_changed += 1
                self.cache.put(snapshot.uri, prefix, suffix, result)

        self._refresh.start(key, run)

    def _warm_later(
        self, snapshot: Snapshot, offset: int, view: TextWindow, settings: Settings
    ) -> None:
        """After an answer from a cut window (a cold prompt), read the whole window of a line
        here in the background, for the next keystroke's KV cache (real requests preempt it);
        once it is read, the wide window (widePrefixTokens) the same way."""

        async def run() -> None:
            try:
                await self._generate(
                    snapshot,
                    offset,
                    view,
                    settings,
                    lambda: True,
                    background=True,
                    lane=WARM_LANE,
                    warm_only=True,
                )
            except Exception:  # background work: the next request meets the same error
                log.debug("warm-up failed", exc_info=True)

        self._warming.start((snapshot.uri, offset), run)

    async def _generate(
        self,
        snapshot: Snapshot,
        offset: int,
        view: TextWindow,
        settings: Settings,
        is_current: Callable[[], bool],
        background: bool = False,
        writing: Writing | None = None,
        lane: str = SPECULATION_LANE,
        early: Callable[[CachedSuggestion], None] | None = None,
        warm_only: bool = False,
    ) -> CachedSuggestion | None:
        """Ask the model; None when the work was cancelled or superseded. ``writing`` is
        kept up to date with the suggestion written so far. ``lane``: a background job's.
        ``early`` gets the complete lines of a block that takes longer than
        blockShowAfterSeconds. ``warm_only``: only read the prompt (no answer)."""
        asked = time.monotonic()  # the time cap counts from here: waiting and prompt included
        wanted = (
            "line" if warm_only else _wanted_kind(snapshot, view, offset - view.start, settings)
        )
        if wanted is None:
            return CachedSuggestion("", "none")
        if writing is not None:
            writing.kind = wanted
        markers, uri = self._markers(), snapshot.uri
        # Set by the job: the prompt was cold and its window cut, or a wider window is not
        # read yet; either way there is a window to read in the background afterwards.
        warm_next = False

        def prompt_of(
            backend: Backend, window: FimWindow, text: str, at: int, chat: bool, cut: bool
        ) -> list[PromptPart]:
            if chat:  # (no cross-file header yet: the chat prompt has no place for it)
                language = snapshot.language or snapshot.language_id
                return chat_continuation_prompt(window, self._tools.template(backend), language)
            header: Sequence[PromptPart] = ()  # a cold prompt's cut leaves the other files out
            if self._cross_file is not None and not cut:
                counter, budget = self._tools.counter(backend), settings.crossFileTokens
                header = self._cross_file.header(uri, text, at, budget, counter, markers).parts
            return fim_prompt(window, markers, header, disabled_rules=settings.disableRules)

        def site_of(
            text: str, at: int, kind: postprocess.CompletionKind, unit: str, typed: str = ""
        ) -> postprocess.CompletionSite:
            return postprocess.CompletionSite(
                prefix=text[:at] + typed,
                suffix=text[at:],
                kind=kind,
                indent_unit=unit,
                language=snapshot.language,
                disabled_rules=frozenset(settings.disableRules),
            )

        def ask(
            backend: Backend,
            cancel: CancelToken,
            text: str,
            at: int,
            kind: postprocess.CompletionKind,
            choice: WindowChoice,
            unit: str,
            typed: str = "",
            chat: bool | None = None,
        ) -> tuple[Generation, str]:
            """Generate at ``at`` of ``text`` with ``typed`` inserted there (text the user
            has not typed yet, as far as the prompt window is concerned): the raw
            generation and the text to show. ``unit``: the file's indentation step;
            ``chat``: which prompt (default: the kind's)."""
            window = choice.window
            if typed:
                # The window stays where it was and the extra text goes after the middle
                # marker, as if the model had written it: the prompt only grows at its
                # end, so the KV cache keeps all of it (moving the window would put a new
                # line into the prefix and re-read the whole suffix behind it).
                window = dataclasses.replace(window, line_prefix=window.line_prefix + typed)
            site = site_of(text, at, kind, unit, typed)
            # A line that opens a block continues into its body (postprocess), so every
            # kind may need the block budget; a first line alone gets maxTokensLine.
            limits = GenerationLimits(
                max_tokens=1 if warm_only else max(settings.maxTokensBlock, settings.maxTokensLine),
                max_seconds=settings.maxSeconds,
                cancel=cancel,
                started=asked,
                reuse_kv=settings.kvReuse,
            )
            tokens = 0
            # A line that opens a block goes on into its body too: its first line is
            # worth showing while the body is still being written, as a block's is.
            show_after = settings.blockShowAfterSeconds if early else 0.0
            lines_seen = -1

            def keep_going(partial: str) -> bool:  # called after every generated token
                nonlocal tokens, show_after, lines_seen
                tokens += 1
                if writing is not None:
                    writing.written = typed + partial
                if kind == "line" and tokens >= settings.maxTokensLine and "\n" not in partial:
                    return False
                if show_after and time.monotonic() - asked >= show_after and early:
                    # A long block: its complete lines now (checked once per new line).
                    lines = partial.count("\n") + partial.count("\r")
                    if lines != lines_seen:
                        lines_seen = lines
                        shown = first_lines(partial, site)
                        if shown:
                            show_after = 0.0
                            early(CachedSuggestion(typed + shown, kind))
                return not postprocess.is_line_complete(partial, kind, site)

            if chat is None:
                chat = _chat_prompt(kind, settings, markers)
            prompt = prompt_of(backend, window, text, at, chat, choice.cut)
            generation = backend.generate(prompt, limits, keep_going)
            self.stats.record(generation)
            log.debug("raw model output %r", generation.text)
            if generation.stop_reason == "cancelled" or warm_only:
                return generation, ""
            chances = postprocess.line_chances(
                generation.text, generation.token_ends, generation.token_chances
            )
            return generation, postprocess.postprocess(
                postprocess.written_lines(generation.text, generation.stop_reason), site, chances
            )

        def job(backend: Backend, worker_cancel: CancelToken) -> CachedSuggestion | None:
            # An edit stops the work at once, even while the prompt is being read and
            # before the client sends its next request.
            cancel: CancelToken = worker_cancel
            if settings.cancelStale:
                cancel = LinkedCancel(worker_cancel, is_current=is_current)
            # Only the window around the cursor: the work is bounded by it, not the file.
            at = offset - view.start
            language = snapshot.language or snapshot.language_id

            def pick(chat: bool) -> WindowChoice:
                return self._windows.pick(
                    backend,
                    settings,
                    snapshot.uri,
                    view.text,
                    at,
                    language if chat else None,
                    lambda window: prompt_of(backend, window, view.text, at, chat, False),
                    # Background work is never cut (nobody waits for it).
                    None if background else GenerationLimits(0, 0, cancel=cancel, started=asked),
                    warming=warm_only,
                )

            chat = _chat_prompt(wanted, settings, markers)
            if chat and markers.function_bodies and settings.blockPrompt == "auto":
                # A model that writes a new function's body better through the FIM prompt
                # (the registry says: the 1.5B) is asked that way there.
                chat = not _opens_function_body(snapshot, view, at)
            choice = pick(chat)
            if chat and choice.cut and markers.trained and settings.blockPrompt == "auto":
                # The chat prompt is cold (its window cut to what coldPromptSeconds reads)
                # while the line requests keep the FIM prompt's KV state warm: a block
                # asked through FIM reads the whole window at once, and leaves that state
                # in place for the next keystroke's line instead of a chat prompt's.
                warm = pick(False)
                if not warm.cut:
                    chat, choice = False, warm
            nonlocal warm_next
            warm_next = choice.cut or choice.wider
            # At column 0 of a bare line whose indentation the code around implies, the
            # model is asked as if that indentation were typed; the suggestion brings it.
            unit = postprocess.detect_indent_unit(view.text)
            implied = ""
            if "implied-indent" not in settings.disableRules:
                implied = syntax.implied_indent(view.text, at, snapshot.language, unit)
            generation, text = ask(
                backend, cancel, view.text, at, wanted, choice, unit, implied, chat
            )
            if chat and markers.trained and generation.stop_reason != "cancelled":
                # Asked to continue the file, a stronger model may answer with a stand-in
                # ("# Your code here", then "pass": the 1.5B on a body after its docstring)
                # that shows nothing, or close its code block inside the docstring it began
                # (the 1.5B's `execlp` in os.py: the docstring's first line, then the
                # fence, where the FIM prompt wrote the whole body). The FIM prompt, which
                # also reads the code after the cursor, is asked once more then (within
                # the same time cap); its answer is shown unless it is empty.
                cut_short = not text or (
                    generation.stop_reason not in ("max_tokens", "time_cap")
                    and postprocess.ends_inside_a_docstring(
                        generation.text, site_of(view.text, at, wanted, unit, implied)
                    )
                )
                if cut_short:
                    again, again_text = ask(
                        backend, cancel, view.text, at, wanted, choice, unit, implied, chat=False
                    )
                    if again_text or not text or again.stop_reason == "cancelled":
                        generation, text = again, again_text
            text = implied + text if text.strip() else ""
            where = offset
            next_line = postprocess.next_line_start(view.text, at) if wanted == "line" else None
            ended_line = not generation.text.lstrip(" \t")[:1].strip()  # a line break or EOS
            if next_line and ended_line and not text and generation.stop_reason != "cancelled":
                # The line at the cursor is finished (the model ended it): suggest the next
                # line, as if the user pressed Enter, so a pause after a statement shows
                # something. Its prompt is this one plus the line break: a few tokens.
                where = offset + len(next_line)
                generation, text = ask(
                    backend, cancel, view.text, at, "line", choice, unit, next_line
                )
                text = next_line + text if text.strip() else ""
            log.info(
                "%s %s:%d kind=%s prompt=%d reused=%d generated=%d "
                "prompt_s=%.2f gen_s=%.2f stop=%s shown=%d chars%s",
                lane if background else "completion",
                snapshot.uri.rsplit("/", 1)[-1],
                where,
                wanted,
                generation.prompt_tokens,
                generation.reused_tokens,
                generation.generated_tokens,
                generation.prompt_seconds,
                generation.generate_seconds,
                cancel.why() or generation.stop_reason,
                len(text),
                " (cold: window cut)" if choice.cut else " (wide window)" if choice.wide else "",
            )
            log.debug("shown %r", text)  # document text: never above DEBUG (issue 13)
            if generation.stop_reason == "cancelled":
                return None
            return CachedSuggestion(text, wanted)

        # Without cancelStale every request gets a lane of its own, so none supersedes another.
        self._sequence += 1
        if not background:
            lane = LANE if settings.cancelStale else f"{LANE}-{self._sequence}"
        future, cancel = self._worker.submit(lane, job, background=background)
        try:
            result = await future
            # (A warm-up re-arms itself only when it read its window: the whole one is read,
            # the wide one is next.)
            if warm_next and (result is not None or not warm_only):
                self._warm_later(snapshot, offset, view, settings)
            return result
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if cancel.reason == "superseded" and task is not None and not task.cancelling():
                return None  # newer work won; this one simply shows nothing
            cancel.cancel("request cancelled")
            raise


def _wanted_kind(
    snapshot: Snapshot, view: TextWindow, at: int, settings: Settings
) -> postprocess.CompletionKind | None:
    """What to suggest at ``at`` of the window ``view``: a line, a block, or nothing (None)."""
    byte_start = _tree_byte_start(snapshot, view)
    kind = syntax.completion_kind(
        snapshot.tree, view.text, at, snapshot.language, byte_start=byte_start
    )
    if kind == "none":
        return None
    if kind == "block" and settings.multiline:
        return "block"
    return "line"


def _opens_function_body(snapshot: Snapshot, view: TextWindow, at: int) -> bool:
    """Whether a block at ``at`` of the window ``view`` begins a function's body."""
    byte_start = _tree_byte_start(snapshot, view)
    return syntax.opens_function_body(
        snapshot.tree, view.text, at, snapshot.language, byte_start=byte_start
    )


def _tree_byte_start(snapshot: Snapshot, view: TextWindow) -> int:
    """Where the window ``view`` starts in the bytes of the file's syntax tree (0 without a
    tree, or for a window at the file's start)."""
    return snapshot.byte_offset(view.start) if snapshot.tree is not None and view.start else 0


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _chat_prompt(kind: str, settings: Settings, markers: FimTokens) -> bool:
    """Whether a completion of ``kind`` is asked through the chat prompt (unless blockPrompt
    `auto` finds it cold, see ``job``): blocks when blockPrompt says so, and everything for
    a model not trained on FIM (its completion style is "chat": the FIM tokens would be
    noise to it)."""
    return not markers.trained or (kind == "block" and settings.blockPrompt != "fim")
