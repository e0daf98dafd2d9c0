"""Messages from the client, one frame at a time: a client's mistakes answered, not logged
as the server's errors (the transport, stdio or TCP, reads the frames with framing.py).

It replaces what pygls's reader did, which loses the stream for good after one malformed header,
sends no answer to a body that is not JSON or to JSON that is not a request object, and
logs each of them, and every request a handler refuses with an invalid-params error, as an
error with a traceback. Here (framing.py does the bytes):

- a body that is not JSON gets a parse error (-32700, id null), JSON that is not a
  JSON-RPC message an invalid-request error (-32600, with its id when it has a usable one);
- those, bytes outside any frame and notifications whose parameters do not parse are
  logged as warnings; pygls's own logs of a client's mistakes become one-line warnings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)

from qwen_lsp.framing import Body, Broken, Frame, Garbage, envelope_problem

log = logging.getLogger(__name__)

# Errors that say the client sent something wrong: warnings, not the server's errors.
CLIENT_ERRORS = (
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)


class ClientMistakes(logging.Filter):
    """Turns pygls's error records about a client's mistakes into one-line warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CLIENT_ERRORS):
            record.msg = f"{record.getMessage()}: {exc}"
        elif isinstance(record.msg, str) and record.msg.startswith("Unable to deserialize"):
            # its argument is a traceback ending in the reason
            args = record.args if isinstance(record.args, tuple) else ()
            lines = str(args[0] if args else "").strip().splitlines()
            record.msg = f"unable to read a message: {lines[-1] if lines else ''}"
        else:
            return True
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_log_filter() -> None:
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ClientMistakes())


class Endpoint(Protocol):
    """What of pygls's protocol the handler uses."""

    _request_futures: dict[Any, Any]

    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def handle_message(self, message: Any) -> None: ...

    def _send_data(self, data: Any) -> None: ...


async def handle_frame(protocol: Endpoint, frame: Frame) -> None:
    """One frame from the Deframer: a body handled, a broken one answered, garbage logged."""
    if isinstance(frame, Body):
        await handle_body(protocol, frame.data)
    elif isinstance(frame, Broken):
        log.warning("a message %s: %.200r", frame.reason, frame.data)
        _answer_error(protocol, None, JsonRpcParseError(f"Parse error: {frame.reason}"))
    elif isinstance(frame, Garbage):
        log.warning("dropped %d bytes (%s): %.80r", len(frame.data), frame.reason, frame.data)


async def handle_body(protocol: Endpoint, data: bytes) -> None:
    """Parse one frame's body and hand it to the protocol, or answer the client's mistake."""
    try:
        raw = json.loads(data)
    except ValueError as exc:  # also bad UTF-8
        log.warning("a message that is not JSON (%s): %.200r", exc, data)
        _answer_error(protocol, None, JsonRpcParseError(f"Parse error: {exc}"))
        return
    problem = envelope_problem(raw)
    if problem is not None:
        reason, msg_id = problem
        log.warning("an invalid message (%s): %.200r", reason, data)
        if msg_id is not ...:
            _answer_error(protocol, msg_id, JsonRpcInvalidRequest(f"Invalid request: {reason}"))
        return
    try:
        message = protocol.structure_message(raw)
    except JsonRpcException as exc:  # a notification whose params do not parse
        log.warning("ignoring %s: %s", raw.get("method", "a message"), exc.__cause__ or exc)
        return
    if raw.get("method") == "exit":
        await _drain(protocol)
    try:
        protocol.handle_message(message)
    except Exception:  # the server's own bug: log it, keep serving
        log.exception("failed to handle %s", raw.get("method", "a response"))


async def _drain(protocol: Endpoint, timeout: float = 5.0) -> None:
    """Let the requests still running finish (a shutdown sent together with its exit must
    be answered before the process ends)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while any(not f.done() for f in list(protocol._request_futures.values())):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)


def _answer_error(protocol: Endpoint, msg_id: Any, error: JsonRpcException) -> None:
    # A plain dict: pygls's response type would leave out an id that is null.
    answer = error.to_response_error()
    protocol._send_data(
        {
            "jsonrpc": "2.0",
            "id": msg_id,
            "error": {"code": answer.code, "message": answer.message},
        }
    )
