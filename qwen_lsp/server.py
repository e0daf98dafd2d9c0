"""The pygls language server: capabilities and thin handlers.

Handlers only translate between lsprotocol types and the domain (documents, completion);
everything else lives in the pure modules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Callable, Coroutine, Generator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from qwen_lsp import __version__, protocol, stdio, transport, uris
from qwen_lsp.actions.edits import ActionResult
from qwen_lsp.actions.prompt import Diagnostic
from qwen_lsp.actions.service import ActionRequest, ActionRun, lsp_edits
from qwen_lsp.app import App
from qwen_lsp.completion import Suggestion
from qwen_lsp.documents import DocumentNotOpenError, Snapshot
from qwen_lsp.engine import CancelToken, EngineFault
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_notices import EngineNotices
from qwen_lsp.settings import SECTION, needs_reload
from qwen_lsp.settings_resolve import resolve_settings
from qwen_lsp.text_index import PositionError

log = logging.getLogger(__name__)


class _NoParamsAboveDebug(logging.Filter):
    """pygls logs the parameters of a notification it failed to handle (a didChange's
    text: a secret being typed) at ERROR level; they are kept for --log-level debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            isinstance(record.args, tuple)
            and logging.getLogger().getEffectiveLevel() > logging.DEBUG
        ):
            record.args = tuple(
                arg
                if arg is None or isinstance(arg, (str, int, float))
                else f"<{type(arg).__name__}: logged at --log-level debug only>"
                for arg in record.args
            )
        return True


for _name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "pygls"]:
    logging.getLogger(_name).addFilter(_NoParamsAboveDebug())

ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]

# How long the server waits for the client to answer one of its requests. A client that
# never answers (some never do) must cost a bounded wait, never a feature: each caller
# carries on without the answer. A question for the user gets the time to read it.
CLIENT_REQUEST_SECONDS = {
    types.WINDOW_SHOW_MESSAGE_REQUEST: 300.0,
    types.WORKSPACE_APPLY_EDIT: 60.0,
    types.WINDOW_SHOW_DOCUMENT: 60.0,
}
DEFAULT_CLIENT_REQUEST_SECONDS = 5.0
# The model loads once the client's settings are in (after `initialized` and its
# workspace/configuration answer), on the first request that needs it, or at the latest
# this long after `initialize`: a client that never sends `initialized` still gets it.
INITIALIZED_GRACE_SECONDS = 3.0


class ClientDidNotAnswer(TimeoutError):
    """The client left a request of the server unanswered for too long."""


@dataclass(frozen=True)
class _UnparsableRequest:
    """A request whose parameters did not parse; it still gets an answer."""

    id: int | str
    method: str
    error: JsonRpcException


class QwenProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            # pygls only logs these, which leaves the client waiting for ever.
            if isinstance(data, dict) and "id" in data and "method" in data:
                cause = exc.__cause__
                detail = f"{data['method']}: {cause}" if cause else str(data["method"])
                return _UnparsableRequest(
                    data["id"], data["method"], JsonRpcInvalidParams(f"Invalid params: {detail}")
                )
            raise

    # -- the session's life (the transport starts it; `exit` or the client's death ends it)
    _end_session: Callable[[int], None] | None = None
    _watch_client = False
    _initialize_seen = False

    def start_session(self, end: Callable[[int], None], *, watch_client: bool) -> None:
        """Called by the transport: ``end(code)`` ends the process's session. The client's
        processId is watched only where it is a process on this machine (stdio)."""
        self._end_session = end
        self._watch_client = watch_client

    def end_session(self, code: int) -> None:
        if self._end_session is None:  # not run by qwen_lsp.transport
            sys.exit(code)
        self._end_session(code)

    def is_shut_down(self) -> bool:
        return self._shutdown

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _UnparsableRequest):
            self._send_response(message.id, None, message.error.to_response_error())
            return
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if method is not None and method != types.EXIT:
            # pygls drops these silently; a request must get an answer (LSP: "Server
            # lifecycle"), and a notification before initialize is dropped.
            error: JsonRpcException | None = None
            if self._shutdown:
                error = JsonRpcInvalidRequest(f"{method}: the server has shut down")
            elif not self._initialize_seen and method != types.INITIALIZE:
                error = JsonRpcServerNotInitialized(f"{method}: send initialize first")
            if error is not None:
                if msg_id is not None:
                    self._send_response(msg_id, None, error.to_response_error())
                else:
                    log.warning("dropped %s: %s", method, error)
                return
        super().handle_message(message)

    # pygls keeps a copy of every document in its workspace and applies each change to it
    # with a pass over the whole text in Python (a keystroke on a 9 MB file: 0.5 s; one
    # didChange of 1,000 edits: minutes). qwen-lsp reads documents only from its own
    # DocumentStore, so the copy is not kept: the handlers go straight to ours.
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, Any]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, Any]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, Any]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE, params)

    def _user_handler(self, method: str, params: Any) -> Generator[Any, Any, Any]:
        handler = self.fm.features.get(method)
        if handler is not None:
            yield handler, (params,), None

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Callable[[Any], None] | None = None,
        msg_id: Any = None,
    ) -> Future[Any]:
        """pygls' request, with a time-out: an unanswered request fails with
        ClientDidNotAnswer instead of waiting for ever."""
        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        future = super().send_request(method, params, callback, msg_id)
        seconds = CLIENT_REQUEST_SECONDS.get(method, DEFAULT_CLIENT_REQUEST_SECONDS)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving (a unit test)
            return future

        def expire() -> None:
            self._request_futures.pop(msg_id, None)
            self._result_types.pop(msg_id, None)
            if not future.done():
                log.warning("the client did not answer %s within %.0f s", method, seconds)
                future.set_exception(ClientDidNotAnswer(f"no answer to {method}"))

        timer = loop.call_later(seconds, expire)
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(timer.cancel))
        return future

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        self._initialize_seen = True
        # documents.py speaks UTF-16 (the LSP default); without this pygls would pick
        # UTF-8 for clients that offer it (Neovim does) and every column would be off.
        general = params.capabilities.general
        if general is not None:
            general.position_encodings = [types.PositionEncodingKind.Utf16]
        pid = params.process_id
        if self._watch_client and pid is not None and transport.can_watch(pid):
            _in_background(transport.watch_process(pid, lambda: self._client_died(pid)))
        return (yield from super().lsp_initialize(params))

    def _client_died(self, pid: int) -> None:
        log.warning("the client's process %d has exited; exiting too", pid)
        self.end_session(0 if self._shutdown else 1)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """LSP: exit code 0 after shutdown, 1 without. The transport ends the process
        (pygls' own exit raises SystemExit through the event loop)."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.end_session(0 if self._shutdown else 1)


_background_tasks: set[asyncio.Future[Any]] = set()


def _in_background(job: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine on the loop without awaiting it (kept referenced until done)."""
    task = asyncio.ensure_future(job)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


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

    # -- settings and model -----------------------------------------------------
    async def refresh_settings(self, pushed: Any = None) -> bool:
        """Re-read settings; returns True when the model must be (re)loaded.

        ``pushed`` is what a client sent in didChangeConfiguration; clients that support
        workspace/configuration are asked instead.
        """
        workspace_config = pushed if isinstance(pushed, dict) else None
        if _client_supports(self, "workspace.configuration"):
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
            _in_background(self.load_model())

    async def load_model(self) -> None:
        """Load the model with a progress report; a failure is shown with its fix.

        The load does not wait for the client to accept the progress report: a client
        that never answers gets no progress bar, never a model that does not load.
        """
        settings = self.app.settings
        self.model_load_started = True
        loading = asyncio.ensure_future(self.app.load_model())
        token: str | None = None
        if _client_supports(self, "window.work_done_progress"):
            token = f"qwen-lsp-load-{uuid.uuid4()}"
            try:
                await self.work_done_progress.create_async(token)
                self.work_done_progress.begin(
                    token,
                    types.WorkDoneProgressBegin(
                        title="qwen-lsp", message=f"loading model {settings.model or 'default'}"
                    ),
                )
            except Exception as exc:
                log.warning("progress not available: %s", exc)
                token = None
        error = await loading
        self.engine_notices.reset()
        if token is not None:
            message = "model ready" if error is None else "model failed to load"
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
        if error is not None:
            fix = f" Fix: {error.fix}" if error.fix else ""
            self.tell(types.MessageType.Error, f"qwen-lsp: {error}.{fix}")


def _client_supports(ls: LanguageServer, dotted: str) -> bool:
    node: Any = ls.client_capabilities
    for name in dotted.split("."):
        node = getattr(node, name, None)
        if node is None:
            return False
    return bool(node)


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
    if _client_supports(ls, "text_document.inline_completion"):
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
    range_ = _lsp_range(params.range)
    reported = params.context.diagnostics
    diagnostics = tuple(
        Diagnostic(d.range.start.line, d.message, d.source or "", str(d.code or ""))
        for d in reported
    )
    try:
        offers = ls.app.actions.offers(snapshot, range_, params.context.only, diagnostics)
    except PositionError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    resolve = "edit" in _resolvable_properties(ls)
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
        action.edit = _workspace_edit(ls, run, snapshot)
    return action


@server.command(protocol.RUN_ACTION_COMMAND)
async def on_run_action(ls: QwenLanguageServer, request: dict[str, Any]) -> dict[str, Any]:
    """Run an action and apply its edit with workspace/applyEdit (clients without resolve)."""
    run, snapshot = await _run_action(ls, request, None)
    if not run.result.ok:
        return protocol.to_wire(protocol.RunActionResult(False, run.result.message))
    try:
        answer = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=_workspace_edit(ls, run, snapshot), label="qwen-lsp"
            )
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
    progress = await _ActionProgress.start(ls, title or request.action, cancel)
    try:
        run = await ls.app.actions.run(
            request,
            snapshot,
            is_current=lambda: (
                ls.app.documents.get(request.uri) is document
                and document.version == snapshot.version
            ),
            can_create_files="create" in _resource_operations(ls),
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


class _ActionProgress:
    """Server-initiated work-done progress with a cancel button wired to a CancelToken."""

    def __init__(self, ls: QwenLanguageServer, token: str | None) -> None:
        self._ls = ls
        self._token = token

    @classmethod
    async def start(
        cls, ls: QwenLanguageServer, title: str, cancel: CancelToken
    ) -> _ActionProgress:
        if not _client_supports(ls, "window.work_done_progress"):
            return cls(ls, None)
        token = f"qwen-lsp-action-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
        except Exception as exc:
            log.warning("progress not available: %s", exc)
            return cls(ls, None)
        stop = ls.work_done_progress.tokens.get(token)
        if stop is not None:  # pygls cancels this future on window/workDoneProgress/cancel
            stop.add_done_callback(
                lambda f: cancel.cancel("cancelled by the user") if f.cancelled() else None
            )
        ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0)
        )
        return cls(ls, token)

    def report(self, message: str, percentage: int | None) -> None:
        if self._token is not None:
            self._ls.work_done_progress.report(
                self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self) -> None:
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd())
            self._ls.work_done_progress.tokens.pop(self._token, None)
            self._token = None


def _workspace_edit(
    ls: QwenLanguageServer, run: ActionRun, snapshot: Snapshot
) -> types.WorkspaceEdit:
    """The result's changes; versioned document changes (and file creation) where the
    client supports them, so an edit for an older version is refused by the client too.

    A file is created with ``ignoreIfExists``: if it appeared meanwhile (or the server
    could not see it), the client keeps it rather than emptying it, and the text goes in
    at its start."""
    document_changes: list[Any] = []
    changes: dict[str, list[types.TextEdit]] = {}
    versioned = _client_supports(ls, "workspace.workspace_edit.document_changes") or bool(
        _resource_operations(ls)
    )
    for change in run.result.changes:
        edits = [
            types.TextEdit(range=_range_of(start, end), new_text=text)
            for start, end, text in lsp_edits(change, snapshot)
        ]
        if not versioned:
            changes[change.uri] = edits
            continue
        if change.create:
            document_changes.append(
                types.CreateFile(
                    uri=change.uri,
                    options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True),
                )
            )
        document_changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=change.uri, version=change.version
                ),
                edits=list(edits),
            )
        )
    if versioned:
        return types.WorkspaceEdit(document_changes=document_changes)
    return types.WorkspaceEdit(changes=changes)


def _lsp_range(range_: types.Range) -> tuple[tuple[int, int], tuple[int, int]]:
    return (range_.start.line, range_.start.character), (range_.end.line, range_.end.character)


def _range_of(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(
        start=types.Position(line=start[0], character=start[1]),
        end=types.Position(line=end[0], character=end[1]),
    )


def _resolvable_properties(ls: LanguageServer) -> list[str]:
    code_action = getattr(ls.client_capabilities.text_document, "code_action", None)
    support = getattr(code_action, "resolve_support", None)
    return list(getattr(support, "properties", None) or [])


def _resource_operations(ls: LanguageServer) -> list[str]:
    workspace_edit = getattr(ls.client_capabilities.workspace, "workspace_edit", None)
    operations = getattr(workspace_edit, "resource_operations", None) or []
    return [str(getattr(op, "value", op)) for op in operations]
