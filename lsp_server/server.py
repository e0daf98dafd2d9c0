"""The pygls language server: capabilities and thin handlers.

Handlers only translate between lsprotocol types and the domain (documents, completion);
everything else lives in the pure modules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from lsp_server import __version__
from lsp_server.completion import CompletionService, Suggestion
from lsp_server.context import FimMarkers
from lsp_server.documents import DocumentStore, PositionError
from lsp_server.engine.factory import fim_markers, make_loader, resolve_model
from lsp_server.engine.worker import ModelUnavailable, ModelWorker
from lsp_server.settings import SECTION, Settings, resolve_settings

log = logging.getLogger(__name__)

STATUS_METHOD = "qwenLsp/status"


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

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _UnparsableRequest):
            self._send_response(message.id, None, message.error.to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        # documents.py speaks UTF-16 (the LSP default); without this pygls would pick
        # UTF-8 for clients that offer it (Neovim does) and every column would be off.
        general = params.capabilities.general
        if general is not None:
            general.position_encodings = [types.PositionEncodingKind.Utf16]
        return (yield from super().lsp_initialize(params))


class QwenLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("qwen-lsp", __version__, protocol_cls=QwenProtocol)
        self.documents = DocumentStore()
        self.worker = ModelWorker()
        self.settings = Settings()
        self.markers = FimMarkers()
        self.initialization_options: Any = None
        self.completions = CompletionService(
            self.worker, lambda: self.settings, lambda: self.markers
        )

    def report_server_error(self, error: Exception, source: Any) -> None:
        # A message we could not even parse has no id to answer; log it, keep serving.
        log.error("protocol error (%s): %s", getattr(source, "__name__", source), error)

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
        old, self.settings = self.settings, resolved.settings
        model_keys = ("model", "backend", "contextSize", "threads", "gpuLayers")
        return any(getattr(old, k) != getattr(self.settings, k) for k in model_keys)

    async def load_model(self) -> None:
        settings = self.settings
        try:
            self.markers = fim_markers(resolve_model(settings))
        except ModelUnavailable:
            pass  # the loader reports it with the fix
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
        error = await self.worker.load_async(make_loader(settings))
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


@server.feature(types.INITIALIZED)
async def on_initialized(ls: QwenLanguageServer, params: types.InitializedParams) -> None:
    await ls.refresh_settings()
    await ls.load_model()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def on_configuration(
    ls: QwenLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    if await ls.refresh_settings(params.settings):
        await ls.load_model()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def on_open(ls: QwenLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    ls.documents.open(doc.uri, doc.language_id, doc.version, doc.text)


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
    ls.documents.change(params.text_document.uri, params.text_document.version, changes)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def on_close(ls: QwenLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.close(params.text_document.uri)


async def _suggest(ls: QwenLanguageServer, uri: str, position: types.Position) -> Suggestion | None:
    document = ls.documents.get(uri)
    if document is None:
        raise JsonRpcInvalidParams(f"document {uri} is not open (send didOpen first)")
    snapshot = document.snapshot()
    try:
        return await ls.completions.complete(
            snapshot,
            position.line,
            position.character,
            is_current=lambda: (
                ls.documents.get(uri) is document and document.version == snapshot.version
            ),
        )
    except PositionError as exc:
        raise JsonRpcInvalidParams(str(exc)) from exc
    except ModelUnavailable:
        return None  # already reported with its fix when the model failed to load


@server.feature(STATUS_METHOD)
def on_status(ls: QwenLanguageServer, params: Any) -> dict[str, Any]:
    """Model state and completion figures, for scripts, benchmarks and editor status bars."""
    stats = ls.completions.stats
    error = ls.worker.error
    return {
        "state": ls.worker.state,
        "model": ls.settings.model or "default",
        "error": None if error is None else {"message": str(error), "fix": error.fix},
        "completions": {k: v for k, v in vars(stats).items() if k != "last"},
        "lastGeneration": None if stats.last is None else vars(stats.last),
    }


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
