"""The code-action use case: list actions at once, run the chosen one on the model worker.

Listing never touches the model (tree-sitter finds the target; the catalogue is data).
Running one builds the chat prompt, generates on the worker (with prompt-lookup decoding
for rewrites), and turns the answer into validated minimal edits (answer.py). It stops
at once when the user cancels, when a newer action replaces it, or when the document
changes, and then returns a message instead of an edit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qwen_lsp import protocol, uris
from qwen_lsp.actions import catalogue, simplify_hints
from qwen_lsp.actions.answer import answer_complete, result_for_answer
from qwen_lsp.actions.catalogue import Offer
from qwen_lsp.actions.edits import ActionResult, FileChange
from qwen_lsp.actions.files import FileRefused, OpenFile, TargetFile, target_file
from qwen_lsp.actions.linefix import avoided_tokens, closing_tokens, retry_start
from qwen_lsp.actions.prompt import (
    ActionInput,
    Diagnostic,
    FileNameError,
    PromptPlan,
    build_prompt,
    new_file_uri,
)
from qwen_lsp.actions.target import find_target
from qwen_lsp.admission import Admission, admit_all, display_name
from qwen_lsp.chat import ChatTemplate
from qwen_lsp.documents import DocumentStore, Snapshot
from qwen_lsp.engine import Backend, CancelToken, Generation, GenerationLimits, LinkedCancel
from qwen_lsp.engine.worker import ModelUnavailable, ModelWorker
from qwen_lsp.settings import Settings
from qwen_lsp.text_index import LspPosition, PositionError

log = logging.getLogger(__name__)

LANE = "action"
# Progress is reported at most this often (seconds).
PROGRESS_INTERVAL = 0.5

# Positions as LSP sends them: ((line, utf16_col), (line, utf16_col)).
LspRange = tuple[LspPosition, LspPosition]
LspEdit = tuple[LspPosition, LspPosition, str]
Progress = Callable[[str, int | None], None]


@dataclass(frozen=True)
class ActionRequest:
    """What a listed action must remember to run later (CodeAction.data / command args)."""

    action: str
    uri: str
    version: int
    range: LspRange
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_json(self) -> dict[str, Any]:
        (sl, sc), (el, ec) = self.range
        return {
            "action": self.action,
            "uri": self.uri,
            "version": self.version,
            "range": [[sl, sc], [el, ec]],
            "diagnostics": [
                {
                    "line": d.line,
                    "message": d.message,
                    "source": d.source,
                    "code": d.code,
                    "column": d.column,
                }
                for d in self.diagnostics
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> ActionRequest:
        """Parse what ``to_json`` produced (a client sends it back); ValueError if bad."""
        try:
            (sl, sc), (el, ec) = data["range"]
            diagnostics = diagnostics_from(data.get("diagnostics") or [])
            return cls(
                str(data["action"]),
                str(data["uri"]),
                int(data["version"]),
                ((int(sl), int(sc)), (int(el), int(ec))),
                diagnostics,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a qwen-lsp action request: {exc!r}") from exc


@dataclass
class ActionRun:
    """The result of running an action, with the figures benchmarks report."""

    result: ActionResult
    generation: Generation | None = None
    seconds: float = 0.0
    prompt_tokens: int = 0


@dataclass
class ActionStats:
    runs: int = 0
    applied: int = 0
    refused: int = 0
    cancelled: int = 0
    last: protocol.LastAction | None = None

    def totals(self) -> protocol.ActionTotals:
        return protocol.ActionTotals(
            self.runs, self.applied, self.refused, self.cancelled, self.last
        )


def _message(text: str) -> ActionRun:
    return ActionRun(ActionResult(message=f"qwen-lsp: {text}"))


def open_file_in(documents: DocumentStore) -> Callable[[str], OpenFile | None]:
    """Finds an open document by URI, however the client spelled the same path."""

    def find(uri: str) -> OpenFile | None:
        document = documents.get(uri)
        if document is not None:
            return OpenFile(document.uri, document.text, document.version)
        for snapshot in documents.snapshots():
            if uris.same_file(snapshot.uri, uri):
                return OpenFile(snapshot.uri, snapshot.text, snapshot.version)
        return None

    return find


class ActionService:
    def __init__(
        self,
        worker: ModelWorker,
        settings: Callable[[], Settings],
        open_file: Callable[[str], OpenFile | None] = lambda uri: None,
        admission: Admission = admit_all,
        workspace_folders: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        self._worker = worker
        self._settings = settings
        self._open_file = open_file  # an open document other than the target, by URI
        self._admission = admission  # private and too large documents get no action
        self._workspace_folders = workspace_folders  # local paths: where files may be written
        self._templates: dict[int, ChatTemplate] = {}
        self.stats = ActionStats()

    # -- listing: instant, no model ------------------------------------------------------
    def offers(
        self,
        snapshot: Snapshot,
        range_: LspRange,
        only: Sequence[str] | None,
        diagnostics: Sequence[Diagnostic],
    ) -> list[Offer]:
        """The actions available for a range (empty: the function/class around it).

        Raises documents.PositionError for a range outside the document.
        """
        if not self._admission(snapshot.uri, snapshot.text).admitted:
            return []
        start = snapshot.offset_at(*range_[0])
        end = snapshot.clamped_offset(*range_[1])
        target = find_target(snapshot, start, end, line_fallback=True)
        return catalogue.offers(
            snapshot, target, self._settings().customActions, only, bool(diagnostics)
        )

    def _refusal(self, uri: str, text: str | None) -> ActionRun | None:
        """The message when document ``uri`` may not take part (private or too large)."""
        verdict = self._admission(uri, text)
        if verdict.admitted:
            return None
        return ActionRun(ActionResult(message=verdict.explain(display_name(uri))))

    # -- running: the model, on the worker -----------------------------------------------
    async def run(
        self,
        request: ActionRequest,
        snapshot: Snapshot,
        is_current: Callable[[], bool],
        *,
        can_create_files: bool = True,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> ActionRun:
        """Run one action on ``snapshot`` (the document as it is now).

        ``is_current`` says whether the document still has this snapshot's version;
        ``cancel`` is the user's stop button. The result carries edits only when the
        answer passed every check and nothing changed or was cancelled meanwhile.
        """
        started = time.monotonic()
        settings = self._settings()
        self.stats.runs += 1
        spec = catalogue.find_spec(request.action, settings.customActions)
        if spec is None:
            return _message(f"unknown action {request.action!r}")
        refused = self._refusal(snapshot.uri, snapshot.text)
        if refused is not None:
            return refused
        if snapshot.version != request.version:
            return _message(
                "the document changed since the actions were listed; nothing was changed"
            )
        try:
            start = snapshot.offset_at(*request.range[0])
            end = snapshot.clamped_offset(*request.range[1])
        except PositionError as exc:
            return _message(str(exc))
        target = find_target(snapshot, start, end, widen_line=spec.widen_line, line_fallback=True)
        if target is None:
            return _message("there is no code to act on here")
        new_file: TargetFile | None = None
        if can_create_files:
            found = self._new_file(spec, snapshot)
            if isinstance(found, ActionRun):
                return found
            new_file = found
        action = ActionInput(
            spec,
            snapshot,
            target,
            request.diagnostics,
            can_create_files=can_create_files,
            new_file_uri=new_file.uri if new_file else "",
            new_file_text=new_file.text if new_file else None,
            new_file_version=new_file.version if new_file else None,
        )
        if (
            spec.id == "simplify"
            and action.placement == "replace"
            and simplify_hints.first_hint(snapshot, target) is None
        ):
            # The 0.5B model asked to simplify code without being told what to change
            # copied it back or changed its layout (12 of 16 functions), or changed what
            # it does: said at once, without the model.
            what = f"`{target.names[0]}`" if len(target.names) == 1 else "the selection"
            return self._refused_at_once(
                request, started, f"nothing to simplify found in {what}; nothing was changed"
            )
        user_cancel = cancel or CancelToken()
        loop = asyncio.get_running_loop()

        def report(message: str, percentage: int | None) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress, message, percentage)

        def job(backend: Backend, worker_cancel: CancelToken) -> ActionRun:
            linked = LinkedCancel(worker_cancel, user_cancel, is_current=is_current)
            return self._job(backend, linked, action, is_current, report)

        future, worker_cancel = self._worker.submit(LANE, job)
        try:
            run = await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if worker_cancel.reason == "superseded" and task is not None and not task.cancelling():
                self.stats.cancelled += 1
                return _message("a newer code action replaced this one; nothing was changed")
            worker_cancel.cancel("request cancelled")
            self.stats.cancelled += 1
            raise
        except ModelUnavailable:
            raise
        except Exception as exc:  # a bug or an engine failure: say so, keep serving
            log.exception("action %s failed", request.action)
            self.stats.refused += 1
            return _message(f"the action failed ({exc}); nothing was changed")
        if run.result.ok and not is_current():
            run = _message("the document changed while the action ran; nothing was changed")
        if user_cancel.cancelled and run.result.ok:
            run = _message("cancelled; nothing was changed")
        run.seconds = time.monotonic() - started
        if run.result.ok:
            self.stats.applied += 1
        elif "cancelled" in run.result.message or "replaced" in run.result.message:
            self.stats.cancelled += 1
        else:
            self.stats.refused += 1
        self.stats.last = protocol.LastAction(
            action=request.action,
            seconds=round(run.seconds, 3),
            applied=run.result.ok,
            message=run.result.message,
            generation=None if run.generation is None else run.generation.figures(),
        )
        return run

    def _refused_at_once(self, request: ActionRequest, started: float, text: str) -> ActionRun:
        run = _message(text)
        run.seconds = time.monotonic() - started
        self.stats.refused += 1
        self.stats.last = protocol.LastAction(
            action=request.action,
            seconds=round(run.seconds, 3),
            applied=False,
            message=run.result.message,
            generation=None,
        )
        return run

    def _new_file(
        self, spec: catalogue.ActionSpec, snapshot: Snapshot
    ) -> TargetFile | ActionRun | None:
        """The other file the action writes (None: it writes in the document), checked:
        inside the workspace, admitted, read if it exists; else the message saying why not."""
        try:
            uri = new_file_uri(spec, snapshot)
        except FileNameError as exc:
            return _message(f"{spec.title}: {exc}")
        if not uri:
            return None
        # The file's current text goes into the prompt: a private file is not even read.
        refused = self._refusal(uri, None)
        if refused is not None:
            return refused
        try:
            found = target_file(uri, snapshot.uri, self._workspace_folders(), self._open_file)
        except FileRefused as exc:
            return _message(f"{spec.title}: {exc}")
        return self._refusal(found.uri, found.text) or found

    def _job(
        self,
        backend: Backend,
        cancel: LinkedCancel,
        action: ActionInput,
        is_current: Callable[[], bool],
        report: Progress,
    ) -> ActionRun:
        settings = self._settings()
        template = self._templates.get(id(backend))
        if template is None:
            source = getattr(backend, "chat_template", None)
            template = ChatTemplate.from_template(source if isinstance(source, str) else None)
            self._templates = {id(backend): template}

        def count(text: str) -> int:
            return len(backend.tokenize(text))

        plan = build_prompt(action, template, count, settings.actionContextTokens)
        room = settings.contextSize - plan.prompt_tokens - 8
        if room < min(plan.max_tokens, 64):
            return _message(
                f"the code is too long for the model's context ({plan.prompt_tokens} prompt "
                f"tokens of {settings.contextSize}); select less"
            )
        limits = GenerationLimits(
            max_tokens=min(plan.max_tokens, room),
            max_seconds=settings.actionMaxSeconds,
            cancel=cancel,
            prompt_lookup=settings.promptLookup if plan.rewrite else 0,
            # Keystrokes typed while the action runs still get their completions.
            yield_point=lambda before: self._worker.run_waiting(before) > 0,
            # A fix cannot write an undefined name back (linefix.avoided_tokens).
            logit_bias=avoided_tokens(action, backend.tokenize) if plan.reply == "lines" else {},
        )
        report(f"reading the code ({plan.prompt_tokens} tokens)", 0)
        last_report = time.monotonic()

        def keep_going(text: str) -> bool:
            nonlocal last_report
            if not is_current():
                cancel.cancel("document changed")
                return False
            if cancel.cancelled:
                return False
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL:
                last_report = now
                lines = text.count("\n")
                report(
                    f"writing: {lines} lines", min(99, 100 * len(text) // (4 * limits.max_tokens))
                )
            return not answer_complete(text, current)

        current = plan
        generation = backend.generate(plan.parts, limits, keep_going)
        log.info(
            "action %s %s: prompt=%d reused=%d generated=%d drafted=%d accepted=%d "
            "prompt_s=%.2f gen_s=%.2f stop=%s",
            action.spec.id,
            action.snapshot.uri.rsplit("/", 1)[-1],
            generation.prompt_tokens,
            generation.reused_tokens,
            generation.generated_tokens,
            generation.drafted_tokens,
            generation.accepted_tokens,
            generation.prompt_seconds,
            generation.generate_seconds,
            generation.stop_reason,
        )
        log.debug("action answer %r", generation.text)
        if cancel.cancelled or generation.stop_reason == "cancelled":
            return _cancelled(cancel, is_current, generation)
        result = _checked_result(action, generation, plan)
        start = ""
        if not result.ok and plan.reply == "lines":
            start = retry_start(action)
        elif not result.ok and plan.reply == "span":
            start = simplify_hints.retry_start(action.snapshot, action.target)
        if start and not cancel.cancelled and is_current():
            # A fix that failed (mostly: the line copied back with its problem) is asked
            # again with its answer started for the model (linefix.retry_start): cheap, the
            # prompt is in the KV cache and the answer is one line. So is a simplification
            # (the 0.5B model copied `elif` back when told it becomes `if`).
            current = build_prompt(action, template, count, settings.actionContextTokens, start)
            # A bracket the line left open: the answer is led to close it.
            led = closing_tokens(action, backend.tokenize)
            retry_limits = replace(limits, logit_bias={**limits.logit_bias, **led})
            again = backend.generate(current.parts, retry_limits, keep_going)
            if cancel.cancelled or again.stop_reason == "cancelled":
                return _cancelled(cancel, is_current, again)
            log.info(
                "action %s retried: generated=%d stop=%s",
                action.spec.id,
                again.generated_tokens,
                again.stop_reason,
            )
            # Kept as one answer, the start included: as if the model had written it all.
            second = replace(
                again,
                text=start + again.text,
                generated_tokens=generation.generated_tokens + again.generated_tokens,
                prompt_seconds=generation.prompt_seconds + again.prompt_seconds,
                generate_seconds=generation.generate_seconds + again.generate_seconds,
            )
            retried = _checked_result(action, second, plan)
            if retried.ok:
                log.debug("action answer %r", second.text)  # the answer taken, whole
                result, generation = retried, second
        cut = generation.stop_reason in ("max_tokens", "time_cap")
        if not result.ok and cut:
            limit = "token" if generation.stop_reason == "max_tokens" else "time"
            result = ActionResult(
                message=result.message.rstrip(".") + f" (the answer hit its {limit} limit)."
            )
        return ActionRun(result, generation, prompt_tokens=plan.prompt_tokens)


def _cancelled(
    cancel: LinkedCancel, is_current: Callable[[], bool], generation: Generation
) -> ActionRun:
    why = cancel.why()
    if why == "document changed" or not is_current():
        text = "the document changed while the action ran; nothing was changed"
    elif why == "superseded":
        text = "a newer code action replaced this one; nothing was changed"
    else:
        text = "cancelled; nothing was changed"
    return ActionRun(ActionResult(message=f"qwen-lsp: {text}"), generation)


def _checked_result(action: ActionInput, generation: Generation, plan: PromptPlan) -> ActionResult:
    result = result_for_answer(action, generation.text, plan)
    cut = generation.stop_reason in ("max_tokens", "time_cap")
    if (
        result.ok
        and cut
        and plan.reply in ("code", "lines", "span")
        and action.placement == "replace"
    ):
        # A rewrite cut off by its limit lacks its end: taking it would drop code.
        return ActionResult(
            message="qwen-lsp: the model's answer was cut off; nothing was changed."
        )
    return result


def lsp_edits(change: FileChange, snapshot: Snapshot | None = None) -> list[LspEdit]:
    """A change's edits in LSP positions of its base text (``snapshot`` when it is that)."""
    base = snapshot
    if base is None or base.text != change.base_text:  # another file: its own conversions
        base = Snapshot(change.uri, "", None, 0, change.base_text)
    return [
        (base.position_at(edit.start), base.position_at(edit.end), edit.text)
        for edit in change.edits
    ]


def diagnostics_from(items: Sequence[Mapping[str, Any]]) -> tuple[Diagnostic, ...]:
    """Diagnostics as plain dicts (line, message, source, code) → domain objects."""
    return tuple(
        Diagnostic(
            int(d["line"]),
            str(d["message"]),
            str(d.get("source") or ""),
            str(d.get("code") or ""),
            int(d.get("column") or 0),
        )
        for d in items
    )
