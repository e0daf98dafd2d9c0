"""The pygls language server: capabilities and thin handlers.

Handlers only translate between lsprotocol types and the domain (documents, completion);
everything else lives in the pure modules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcInvalidParams,
)
from pygls.lsp.server import LanguageServer

from qwen_lsp import __version__, protocol, stdio, uris
from qwen_lsp.actions.edits import ActionResult
from qwen_lsp.actions.prompt import Diagnostic
from qwen_lsp.actions.service import ActionRequest, ActionRun
from qwen_lsp.app import App
from qwen_lsp.completion import Suggestion
from qwen_lsp.documents import DocumentNotOpenError, Snapshot
from qwen_lsp.engine import CancelToken, EngineFault
from qwen_lsp.engine.fallback import FallbackEvent
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_notices import EngineNotices, fallback_notice
from qwen_lsp.lsp_client import (
    ActionProgress,
    client_supports,
    lsp_range,
    resolvable_properties,
    resource_operations,
    workspace_edit,
)
from qwen_lsp.lsp_protocol import ClientDidNotAnswer, QwenProtocol, in_background
from qwen_lsp.settings import SECTION, needs_reload
from qwen_lsp.settings_resolve import resolve_settings
from qwen_lsp.text_index import PositionError

log = logging.getLogger(__name__)


ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]

# The model loads once the client's settings are in (after `initialized` and its
# workspace/configuration answer), on the first request that needs it, or at the latest
# this long after `initialize`: a client that never sends `initialized` still gets it.
INITIALIZED_GRACE_SECONDS = 3.0


class QwenLanguageServer(LanguageServer):
    protocol: QwenProtocol

    def __init__(self) -> None:
        super().__init__("qwen-lsp", __version__, protocol_cls=QwenProtocol)
        self.app = App(
            workspace_root=self._workspace_root, workspace_folders=self._workspace_folders
        )
        self.initialization_options: Any = None
        self.model_load_started = False
        self.engine_notices = EngineNotices()  # a separate engine's faults, told once
        self.app.on_warning = lambda message: self.tell(
            types.MessageType.Warning, f"qwen-lsp: {message}"
        )
        self.app.on_engine_event = self.engine_event
        self._fallback_progress: asyncio.Future[str | None] | None = None

    def _workspace_root(self) -> str:
        try:
            return uris.to_path(self.workspace.root_uri or "") or ""
        except RuntimeError:  # before initialize there is no workspace
            return ""

    def _workspace_folders(self) -> list[str]:
        """Every workspace folder as a local path, the root first."""
        try:
            folders = [folder.uri for folder in self.workspace.folders.values()]
        except RuntimeError:
            return []
        paths = [self._workspace_root(), *(uris.to_path(uri) or "" for uri in folders)]
        return list(dict.fromkeys(path for path in paths if path))

    def report_server_error(self, error: Exception, source: Any) -> None:
        # A message we could not even parse has no id to answer; log it, keep serving.
        # A client's mistake (already answered with its error) is not the server's error.
        level = logging.WARNING if isinstance(error, stdio.CLIENT_ERRORS) else logging.ERROR
        log.log(level, "protocol error (%s): %s", getattr(source, "__name__", source), error)

    def tell(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def engine_event(self, event: FallbackEvent) -> None:
        """The local model standing in for a separate engine (engineFallback): its load
        with a progress report, one message when it serves and one when the engine is back."""
        if event.kind == "loading":
            self._fallback_progress = asyncio.ensure_future(
                self.begin_progress("the inference engine is down: loading the local model")
            )
        elif self._fallback_progress is not None:
            progress, self._fallback_progress = self._fallback_progress, None
            done = "local model ready" if event.kind == "local" else "local model failed to load"
            progress.add_done_callback(
                lambda f: None if f.cancelled() else self.end_progress(f.result(), done)
            )
        notice = fallback_notice(event)
        if notice is not None:
            level, message = notice
            log.log(logging.WARNING if level == "warning" else logging.INFO, "%s", message)
            kind = types.MessageType.Warning if level == "warning" else types.MessageType.Info
            self.tell(kind, message)

    async def begin_progress(self, message: str) -> str | None:
        """A work-done progress report begun with ``message``; its token, or None when the
        client has none (or does not accept it: the work goes on without)."""
        if not client_supports(self, "window.work_done_progress"):
            return None
        token = f"qwen-lsp-load-{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
            self.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title="qwen-lsp", message=message)
            )
        except Exception as exc:
            log.warning("progress not available: %s", exc)
            return None
        return token

    def end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # -- settings and model -----------------------------------------------------
    async def refresh_settings(self, pushed: Any = None) -> bool:
        """Re-read settings; returns True when the model must be (re)loaded.

        ``pushed`` is what a client sent in didChangeConfiguration; clients that support
        workspace/configuration are asked instead.
        """
        workspace_config = pushed if isinstance(pushed, dict) else None
        if client_supports(self, "workspace.configuration"):
            try:
                items = [types.ConfigurationItem(section=SECTION)]
                answer = await asyncio.wait_for(
                    self.workspace_configuration_async(types.ConfigurationParams(items=items)),
                    timeout=5,
                )
                workspace_config = answer[0] if answer else None
            except Exception as exc:  # a client may answer with an error or not at all
                log.warning("workspace/configuration failed: %s", exc)
        resolved = resolve_settings(os.environ, self.initialization_options, workspace_config)
        for problem in resolved.problems:
            self.tell(types.MessageType.Warning, problem)
        old, self.app.settings = self.app.settings, resolved.settings
        return needs_reload(old, self.app.settings)

    def ensure_model(self) -> None:
        """Start the first model load if nothing has (idempotent): requests wait for it."""
        if not self.model_load_started and not self.protocol.is_shut_down():
            self.model_load_started = True
            in_background(self.load_model())

    async def load_model(self) -> None:
        """Load the model with a progress report; a failure is shown with its fix.

        The load does not wait for the client to accept the progress report: a client
        that never answers gets no progress bar, never a model that does not load.
        """
        settings = self.app.settings
        self.model_load_started = True
        loading = asyncio.ensure_future(self.app.load_model())
        token = await self.begin_progress(f"loading model {settings.model or 'default'}")
        error = await loading
        self.engine_notices.reset()
        self.end_progress(token, "model ready" if error is None else "model failed to load")
        if error is not None:
            fix = f" Fix: {error.fix}" if error.fix else ""
            self.tell(types.MessageType.Error, f"qwen-lsp: {error}.{fix}")


server = QwenLanguageServer()


@server.feature(types.INITIALIZE)
def on_initialize(ls: QwenLanguageServer, params: types.InitializeParams) -> None:
    ls.initialization_options = params.initialization_options
    # In force at once: a request may come before workspace/configuration is answered
    # (refresh_settings reports any problem in them then).
    ls.app.settings = resolve_settings(os.environ, params.initialization_options).settings
    asyncio.get_running_loop().call_later(INITIALIZED_GRACE_SECONDS, ls.ensure_model)


@server.feature(types.INITIALIZED)
async def on_initialized(ls: QwenLanguageServer, params: types.InitializedParams) -> None:
    reload = await ls.refresh_settings()
    if reload or not ls.model_load_started:  # loaded early with other settings: again
        await ls.load_model()


@server.feature(types.SHUTDOWN)
async def on_shutdown(ls: QwenLanguageServer, params: None) -> None:
    # Free the model before the interpreter exits: a generation still running on the
    # worker thread during interpreter shutdown can crash it.
    await ls.app.close()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def on_configuration(
    ls: QwenLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    if await ls.refresh_settings(params.settings):
        await ls.load_model()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def on_open(ls: QwenLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    # lsprotocol lets a null through where a string belongs
    language_id = doc.language_id if isinstance(doc.language_id, str) else ""
    document = ls.app.documents.open(doc.uri, language_id, doc.version, doc.text)
    _tell_refusal(ls, doc.uri, doc.text)
    ls.app.completions.opened(document.snapshot())  # warms what it can without a cursor


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def on_change(ls: QwenLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    changes = [
        (
            change.text,
            (
                (change.range.start.line, change.range.start.character),
                (change.range.end.line, change.range.end.character),
            ),
        )
        if isinstance(change, types.TextDocumentContentChangePartial)
        else (change.text, None)
        for change in params.content_changes
    ]
    try:
        document = ls.app.documents.change(
            params.text_document.uri, params.text_document.version, changes
        )
    except DocumentNotOpenError as exc:  # the client's mistake: there is nothing to change
        log.warning("%s", exc)
        return
    _tell_refusal(ls, document.uri, document.text)
    for new_text, range_ in changes:
        if range_ is not None:  # a whole-text replacement says nothing about where
            first = range_[0][0]
            ls.app.cross_file.record_edit(document.snapshot(), first, first + new_text.count("\n"))


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def on_close(ls: QwenLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.app.documents.close(params.text_document.uri)
    ls.app.cross_file.forget(params.text_document.uri)
    ls.app.admission.forget(params.text_document.uri)


def _tell_refusal(ls: QwenLanguageServer, uri: str, text: str) -> None:
    """Once per open document, why it gets nothing (private, too large: admission.py)."""
    notice = ls.app.admission.notice(uri, text)
    if notice is None:
        return
    how, message = notice
    log.info("%s", message)
    if how == "show":
        ls.tell(types.MessageType.Warning, message)
    else:
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=message))


async def _suggest(ls: QwenLanguageServer, uri: str, position: types.Position) -> Suggestion | None:
    ls.ensure_model()
    document = ls.app.documents.get(uri)
    if document is None:
        raise JsonRpcInvalidParams(f"document {uri} is not open (send didOpen first)")
    snapshot = document.snapshot()
    try:
        suggestion = await ls.app.completions.complete(
            snapshot,
            position.line,
            position.character,
            is_current=lambda: (
                ls.app.documents.get(uri) is document and document.version == snapshot.version
            ),
            latest=lambda: (
                document.snapshot().text if ls.app.documents.get(uri) is document else None
            ),
        )
    except PositionError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    except ModelUnavailable:
        return None  # already reported with its fix when the model failed to load
    except EngineFault as exc:  # a separate engine: told once, the next keystroke tries again
        notice = ls.engine_notices.failed(str(exc), ls.app.completions.stats.last)
        if notice is not None:
            log.warning("%s", notice)
            ls.tell(types.MessageType.Error, notice)
        return None
    back = ls.engine_notices.answered(ls.app.completions.stats.last)
    if back is not None:
        log.info("%s", back)
        ls.tell(types.MessageType.Info, back)
    return suggestion


def _engine_problem(ls: QwenLanguageServer) -> protocol.ModelProblem | None:
    """A separate engine that fails, for status bars (the model state stays "ready": the
    next request may find it back)."""
    if not ls.engine_notices.failing:
        return None
    return protocol.ModelProblem(
        ls.engine_notices.error,
        f"check the engine at {ls.app.settings.engineUrl} (engineUrl, engineModel, the API "
        "key); suggestions come back by themselves when it answers",
    )


@server.feature(protocol.STATUS_METHOD)
def on_status(ls: QwenLanguageServer, params: Any) -> dict[str, Any]:
    """Model state and completion figures, for scripts, benchmarks and editor status bars."""
    last = ls.app.completions.stats.last
    error = ls.app.worker.error
    status = protocol.Status(
        state=ls.app.worker.state,
        model=ls.app.settings.model or "default",
        error=_engine_problem(ls)
        if error is None
        else protocol.ModelProblem(str(error), error.fix, error.pull_model),
        completions=ls.app.completions.stats.totals(),
        lastGeneration=None if last is None else last.figures(),
        actions=ls.app.actions.stats.totals(),
        savedStateBytes=ls.app.worker.saved_state_bytes,
    )
    return protocol.to_wire(status)


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def on_inline_completion(
    ls: QwenLanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    suggestion = await _suggest(ls, params.text_document.uri, params.position)
    if suggestion is None:
        return types.InlineCompletionList(items=[])
    at = types.Position(line=suggestion.line, character=suggestion.utf16_col)
    item = types.InlineCompletionItem(
        insert_text=suggestion.text, range=types.Range(start=at, end=at)
    )
    return types.InlineCompletionList(items=[item])


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
async def on_completion(
    ls: QwenLanguageServer, params: types.CompletionParams
) -> types.CompletionList:
    """The suggestion as one completion item, for clients without inline completion."""
    empty = types.CompletionList(is_incomplete=True, items=[])
    if client_supports(ls, "text_document.inline_completion"):
        return empty  # the client shows it as ghost text; a second copy would be noise
    suggestion = await _suggest(ls, params.text_document.uri, params.position)
    if suggestion is None:
        return empty
    # The edit starts at the word being typed so that the client's filter, which
    # compares the item with that word, keeps the item.
    word_line, word_col = suggestion.word_start
    start = types.Position(line=word_line, character=word_col)
    end = types.Position(line=suggestion.line, character=suggestion.utf16_col)
    new_text = suggestion.word + suggestion.text
    item = types.CompletionItem(
        label=new_text.strip().splitlines()[0][:80],
        kind=types.CompletionItemKind.Text,
        detail="qwen-lsp",
        documentation=suggestion.text,
        filter_text=new_text,
        text_edit=types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text),
        insert_text_format=types.InsertTextFormat.PlainText,
        sort_text="0",
        preselect=True,
    )
    return types.CompletionList(is_incomplete=True, items=[item])


# -- code actions -------------------------------------------------------------------------


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=ACTION_KINDS, resolve_provider=True),
)
def on_code_action(
    ls: QwenLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    """List the actions at once; the model runs only for the one the user picks."""
    document = ls.app.documents.get(params.text_document.uri)
    if document is None:
        return None
    snapshot = document.snapshot()
    range_ = lsp_range(params.range)
    reported = params.context.diagnostics
    diagnostics = tuple(
        Diagnostic(
            d.range.start.line,
            d.message,
            d.source or "",
            str(d.code or ""),
            d.range.start.character,
        )
        for d in reported
    )
    try:
        offers = ls.app.actions.offers(snapshot, range_, params.context.only, diagnostics)
    except PositionError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    resolve = "edit" in resolvable_properties(ls)
    found = []
    for offer in offers:
        request = ActionRequest(offer.spec.id, snapshot.uri, snapshot.version, range_, diagnostics)
        action = types.CodeAction(
            title=offer.title,
            kind=offer.spec.kind,
            diagnostics=list(reported) if offer.spec.id == "fix" and reported else None,
        )
        if resolve:
            action.data = request.to_json()
        else:  # the client cannot resolve: a command computes and applies the edit
            action.command = types.Command(
                title=offer.title,
                command=protocol.RUN_ACTION_COMMAND,
                arguments=[request.to_json()],
            )
        found.append(action)
    return found


@server.feature(types.CODE_ACTION_RESOLVE)
async def on_code_action_resolve(
    ls: QwenLanguageServer, action: types.CodeAction
) -> types.CodeAction:
    """Run the chosen action; its edit comes back in the resolved CodeAction."""
    run, snapshot = await _run_action(ls, action.data, action.title)
    if run.result.ok:
        action.edit = workspace_edit(ls, run, snapshot)
    return action


@server.command(protocol.RUN_ACTION_COMMAND)
async def on_run_action(ls: QwenLanguageServer, request: dict[str, Any]) -> dict[str, Any]:
    """Run an action and apply its edit with workspace/applyEdit (clients without resolve)."""
    run, snapshot = await _run_action(ls, request, None)
    if not run.result.ok:
        return protocol.to_wire(protocol.RunActionResult(False, run.result.message))
    try:
        answer = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=workspace_edit(ls, run, snapshot), label="qwen-lsp")
        )
    except ClientDidNotAnswer:
        answer = types.ApplyWorkspaceEditResult(applied=False, failure_reason="no answer")
    if not answer.applied:
        reason = answer.failure_reason or "no reason given"
        message = f"qwen-lsp: the editor did not apply the edit ({reason})"
        ls.tell(types.MessageType.Warning, message)
        return protocol.to_wire(protocol.RunActionResult(False, message))
    return protocol.to_wire(protocol.RunActionResult(True, ""))


async def _run_action(
    ls: QwenLanguageServer, data: Any, title: str | None
) -> tuple[ActionRun, Snapshot]:
    """Run the action a CodeAction's data or a command's argument describes, with a
    cancellable progress report; a refusal is shown to the user."""
    try:
        request = ActionRequest.from_json(data)
    except ValueError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    ls.ensure_model()
    document = ls.app.documents.get(request.uri)
    if document is None:
        raise JsonRpcInvalidParams(f"document {request.uri} is not open (send didOpen first)")
    snapshot = document.snapshot()
    cancel = CancelToken()
    progress = await ActionProgress.start(ls, title or request.action, cancel)
    try:
        run = await ls.app.actions.run(
            request,
            snapshot,
            is_current=lambda: (
                ls.app.documents.get(request.uri) is document
                and document.version == snapshot.version
            ),
            can_create_files="create" in resource_operations(ls),
            cancel=cancel,
            progress=progress.report,
        )
    except ModelUnavailable as exc:
        run = ActionRun(ActionResult(message=f"qwen-lsp: no model is loaded ({exc})"))
    finally:
        progress.end()
    if run.result.message:
        ls.tell(types.MessageType.Warning, run.result.message)
    return run, snapshot
