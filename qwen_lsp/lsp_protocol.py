"""The JSON-RPC side of the server, hardened: every request gets an answer (parameters
that do not parse, before `initialize`, after `shutdown`), a request of the server to the
client gets a time-out, the client's death ends the session, pygls keeps no second copy
of the documents, and a notification's parameters (text being typed) are not logged
above debug level.
"""

from __future__ import annotations

import asyncio
import functools
import logging
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
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from qwen_lsp import transport

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

# How long the server waits for the client to answer one of its requests. A client that
# never answers (some never do) must cost a bounded wait, never a feature: each caller
# carries on without the answer. A question for the user gets the time to read it.
CLIENT_REQUEST_SECONDS = {
    types.WINDOW_SHOW_MESSAGE_REQUEST: 300.0,
    types.WORKSPACE_APPLY_EDIT: 60.0,
    types.WINDOW_SHOW_DOCUMENT: 60.0,
}
DEFAULT_CLIENT_REQUEST_SECONDS = 5.0


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

    def _handle_notification(self, method_name: str, params: Any) -> None:
        """pygls files the handler of a notification under a made-up id in its table of
        running requests and, for generator and coroutine handlers (didOpen, didChange,
        didClose, initialized, ...), never takes it out: every keystroke kept a future
        (1,000 didChange notifications, 1,000 futures, for the server's life). Taken out
        here once done; only notifications add these, requests keep pygls' own care."""
        running = self._request_futures
        before = set(running)
        super()._handle_notification(method_name, params)
        for made_up in set(running) - before:
            future = running[made_up]
            if future.done():
                del running[made_up]
            else:  # later, on the loop: pygls walks the table (shutdown cancels them all)
                take_out = functools.partial(running.pop, made_up, None)
                later = functools.partial(_call_soon, asyncio.get_running_loop(), take_out)
                future.add_done_callback(later)

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
            in_background(transport.watch_process(pid, lambda: self._client_died(pid)))
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


def in_background(job: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine on the loop without awaiting it (kept referenced until done)."""
    task = asyncio.ensure_future(job)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


def _call_soon(loop: asyncio.AbstractEventLoop, action: Callable[[], Any], _done: Any) -> None:
    """A future's done-callback that runs ``action`` on ``loop`` afterwards, not inside
    whatever completed (or cancelled) the future."""
    loop.call_soon_threadsafe(action)
