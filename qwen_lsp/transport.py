"""How LSP bytes reach the server: stdio or TCP, one session per process.

pygls' own loops are not used: its TCP server binds whatever it is given, hands the writer
to every new connection, stops the server when any connection closes (a port probe is
enough) and reads an HTTP request as a message; its stdio loop joins a blocked reader
thread at the end, so `exit` with stdin still open never ends the process. Here:

- Messages are framed by one reader (`read_message`) for both transports; a session ends
  on end of input, on `exit` (the protocol calls `Session.end`), or when the client's
  process dies (`watch_process`), and the caller then ends the process.
- TCP listens on loopback unless remote use is allowed, and a remote listener needs a
  token. A connection is a session only once its first message is an `initialize` request
  (with the token in its initializationOptions when one is set); before that it may only
  cost a few bytes and seconds, and anything else closes it. One session at a time: a
  connection while one is served is closed without touching it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from qwen_lsp import stdio
from qwen_lsp.framing import Deframer

log = logging.getLogger(__name__)

TOKEN_ENV = "QWEN_LSP_TOKEN"
# Where a client puts the token: a key of initializationOptions (also accepted inside the
# "qwenLsp" section, for clients that send only their settings there).
TOKEN_OPTION = "qwenLspToken"
MIN_TOKEN_LENGTH = 16

HEADER_PREFIXES = (b"content-length:", b"content-type:")
MAX_HEADER_LINE = 1024
MAX_HEADER_LINES = 16
# A document can be big (huge files are refused later, with a message), but a length no
# text reaches is dropped unread rather than buffered.
MAX_MESSAGE_BYTES = 512 * 1024 * 1024
# Before a connection has shown it speaks LSP (and has the token): little, briefly.
MAX_FIRST_MESSAGE_BYTES = 4 * 1024 * 1024
FIRST_MESSAGE_SECONDS = 10.0
MAX_WAITING_CONNECTIONS = 8
WRONG_TOKEN_DELAY_SECONDS = 1.0
CLEANUP_SECONDS = 5.0
_READ_SIZE = 1 << 16


class Endpoint(Protocol):
    """What a transport needs of the LSP protocol object (lsp_protocol.QwenProtocol)."""

    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def handle_message(self, message: Any) -> None: ...

    def set_writer(self, writer: Any, include_headers: bool = True) -> None: ...

    def start_session(self, end: Callable[[int], None], *, watch_client: bool) -> None: ...


class FramingError(Exception):
    """The bytes are not LSP framing."""


class TransportError(Exception):
    """A listener that must not start (an open port without a token, ...); for the user."""


# -- one session -------------------------------------------------------------------------


class Session:
    """Ends once: on `exit`, end of input, or the client's death; ``code`` is the exit code."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.code = 1

    def end(self, code: int) -> None:
        if not self.done.is_set():
            self.code = code
            self.done.set()


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """A header line; an over-long one is consumed and returned cut; None at end of input."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None
    except asyncio.LimitOverrunError as exc:
        cut = await reader.readexactly(exc.consumed)
        while True:  # drop the rest of the line
            try:
                await reader.readuntil(b"\n")
                return cut
            except asyncio.LimitOverrunError as more:
                await reader.readexactly(more.consumed)


async def read_message(reader: asyncio.StreamReader, *, strict: bool = False) -> bytes | None:
    """The next message's body; None at end of input.

    Lenient by default, like other LSP servers: header lines it does not know are skipped
    and a body whose length is missing is ignored. ``strict`` (a connection not trusted
    yet) raises FramingError on anything that does not look like an LSP header.
    """
    length: int | None = None
    lines = 0
    while True:
        line = await _read_line(reader)
        if line is None:
            return None
        if not line.endswith(b"\n"):
            if strict:
                raise FramingError("input ended inside a header")
            return None
        header = line.strip()
        if not header:
            if length is not None:
                break
            if strict:
                raise FramingError("a header without Content-Length")
            continue
        lines += 1
        if strict and (
            len(line) > MAX_HEADER_LINE
            or lines > MAX_HEADER_LINES
            or not header.lower().startswith(HEADER_PREFIXES)
        ):
            raise FramingError(f"not an LSP header: {header[:40]!r}")
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                if strict:
                    raise FramingError(f"bad Content-Length {value[:20]!r}") from None
                continue
    limit = MAX_FIRST_MESSAGE_BYTES if strict else MAX_MESSAGE_BYTES
    if length < 0 or length > limit:
        if strict:
            raise FramingError(f"a message of {length} bytes")
        log.error("dropped a message of %d bytes (more than %d)", length, limit)
        await _skip(reader, length)
        return b""
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


async def _skip(reader: asyncio.StreamReader, length: int) -> None:
    while length > 0:
        chunk = await reader.read(min(length, 1 << 20))
        if not chunk:
            return
        length -= len(chunk)


def dispatch(endpoint: Endpoint, body: bytes, on_error: Callable[[Exception], None]) -> None:
    """Hand one message to the protocol; a body that is not JSON is reported, not fatal."""
    if not body:
        return
    try:
        message = json.loads(body, object_hook=endpoint.structure_message)
        endpoint.handle_message(message)
    except Exception as exc:
        log.exception("could not handle a message")
        on_error(exc)


async def _pump(
    reader: asyncio.StreamReader, endpoint: Endpoint, on_error: Callable[[Exception], None]
) -> None:
    """Frames from a trusted connection until end of input. The Deframer resynchronises on
    the next header after a malformed one (pygls's reader lost the stream for good), and
    stdio.handle_frame answers a client's mistakes instead of logging them as errors."""
    deframer = Deframer()
    while chunk := await reader.read(_READ_SIZE):
        for frame in deframer.feed(chunk):
            try:
                await stdio.handle_frame(endpoint, frame)  # type: ignore[arg-type]
            except Exception as exc:
                log.exception("could not handle a message")
                on_error(exc)
            await asyncio.sleep(0)  # let handlers run between messages


async def _run_session(
    session: Session,
    pump: Awaitable[object],
    cleanup: Callable[[], Awaitable[None]],
    shut_down: Callable[[], bool],
) -> int:
    """Serve until the session ends, then free the server's resources within a bound."""
    pumping = asyncio.ensure_future(pump)
    ended = asyncio.ensure_future(session.done.wait())
    await asyncio.wait({pumping, ended}, return_when=asyncio.FIRST_COMPLETED)
    if not session.done.is_set():  # end of input: the client is gone
        log.info("the client closed the connection")
        session.end(0 if shut_down() else 1)
    pumping.cancel()
    try:
        await asyncio.wait_for(cleanup(), CLEANUP_SECONDS)
    except Exception as exc:  # the process ends anyway
        log.warning("cleanup did not finish: %r", exc)
    return session.code


# -- stdio ---------------------------------------------------------------------------------


class _PipeWriter:
    """stdout for the protocol; a closed pipe ends the session instead of raising."""

    def __init__(self, stream: BinaryIO, lost: Callable[[], None]) -> None:
        self._stream = stream
        self._lost = lost

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            self._lost()

    def close(self) -> None:
        try:
            self._stream.close()
        except (OSError, ValueError):
            pass


def _feed(stream: BinaryIO, reader: asyncio.StreamReader, loop: asyncio.AbstractEventLoop) -> None:
    """Read a blocking stream on a daemon thread (it may stay blocked at exit; it is not
    joined), feeding the event loop's reader."""

    def post(callback: Callable[..., Any], *args: Any) -> None:
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop has closed
            pass

    def pump() -> None:
        read = getattr(stream, "read1", stream.read)
        try:
            while chunk := read(65536):
                post(reader.feed_data, chunk)
        except (OSError, ValueError):
            pass
        post(reader.feed_eof)

    threading.Thread(target=pump, name="qwen-lsp-stdin", daemon=True).start()


def serve_stdio(
    endpoint: Endpoint,
    stdin: BinaryIO,
    stdout: BinaryIO,
    cleanup: Callable[[], Awaitable[None]],
    shut_down: Callable[[], bool],
    on_error: Callable[[Exception], None],
) -> int:
    """Serve one session on stdin/stdout; the exit code."""

    async def main() -> int:
        session = Session()
        reader = asyncio.StreamReader(limit=MAX_HEADER_LINE * 4)
        _feed(stdin, reader, asyncio.get_running_loop())
        endpoint.set_writer(_PipeWriter(stdout, lambda: session.end(1)))
        endpoint.start_session(session.end, watch_client=True)
        return await _run_session(session, _pump(reader, endpoint, on_error), cleanup, shut_down)

    return asyncio.run(main())


# -- TCP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpOptions:
    host: str
    port: int
    allow_remote: bool = False
    token: str | None = None


def is_loopback(host: str) -> bool:
    """Whether every address the host name stands for is a loopback address."""
    name = host.strip("[]")
    if not name:
        return False  # all interfaces
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def read_token(token_file: str | None, env: dict[str, str] | os._Environ[str]) -> str | None:
    """The token from ``--token-file`` or else the environment; TransportError if unusable."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TransportError(f"cannot read the token file {token_file}: {exc}") from exc
        source = token_file
    else:
        token = env.get(TOKEN_ENV, "").strip()
        source = TOKEN_ENV
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise TransportError(
            f"the token in {source} must be at least {MIN_TOKEN_LENGTH} characters without "
            "spaces; make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


def check_tcp(options: TcpOptions) -> None:
    """Refuse a listener others could reach unless asked for, and never without a token."""
    if is_loopback(options.host):
        return
    where = options.host or "all interfaces"
    if not options.allow_remote:
        raise TransportError(
            f"--tcp {where}:{options.port} would accept connections from other machines; "
            "listen on 127.0.0.1, or pass --allow-remote (with a token) if you mean it"
        )
    if options.token is None:
        raise TransportError(
            f"--allow-remote needs a token: put one in a file and pass --token-file FILE, or "
            f"set {TOKEN_ENV}; clients send it as initializationOptions.{TOKEN_OPTION}"
        )


class _SocketWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


def _error_reply(msg_id: Any, message: str) -> bytes:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32600, "message": message}}
    ).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def admit(body: bytes, token: str | None) -> tuple[bytes | None, Any, str]:
    """Check a connection's first message: (the body to hand on, with the token removed;
    the request id; why not, when the body is None)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None, None, "the first message is not JSON"
    if not isinstance(message, dict):
        return None, None, "the first message is not a JSON object"
    msg_id = message.get("id")
    if message.get("method") != "initialize" or msg_id is None:
        return None, msg_id, "the first message must be an initialize request"
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given: Any = None
    if isinstance(options, dict):
        given = options.pop(TOKEN_OPTION, None)
        section = options.get("qwenLsp")
        if isinstance(section, dict) and TOKEN_OPTION in section:
            given = section.pop(TOKEN_OPTION) if given is None else given
            section.pop(TOKEN_OPTION, None)
    if token is not None and not (
        isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())
    ):
        return None, msg_id, f"qwen-lsp: a valid initializationOptions.{TOKEN_OPTION} is needed"
    return json.dumps(message).encode(), msg_id, ""


def serve_tcp(
    endpoint: Endpoint,
    options: TcpOptions,
    cleanup: Callable[[], Awaitable[None]],
    shut_down: Callable[[], bool],
    on_error: Callable[[Exception], None],
    on_listening: Callable[[str], None] = lambda _: None,
) -> int:
    """Listen until one admitted session ends; the exit code. Call `check_tcp` first."""

    async def main() -> int:
        session = Session()
        state = {"busy": False, "waiting": 0}

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            if state["busy"] or state["waiting"] >= MAX_WAITING_CONNECTIONS:
                log.info("closed a connection from %s: a client is already served", peer)
                writer.close()
                return
            state["waiting"] += 1
            try:
                body = await asyncio.wait_for(
                    read_message(reader, strict=True), FIRST_MESSAGE_SECONDS
                )
            except (FramingError, TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                log.info("closed a connection from %s: %s", peer, exc or type(exc).__name__)
                writer.close()
                return
            finally:
                state["waiting"] -= 1
            if body is None:  # a probe: connected and closed
                writer.close()
                return
            admitted, msg_id, problem = admit(body, options.token)
            if admitted is not None and state["busy"]:
                admitted, problem = None, "qwen-lsp: another client is connected"
            if admitted is None:
                log.warning("refused a connection from %s: %s", peer, problem)
                if problem.startswith("qwen-lsp: a valid"):
                    await asyncio.sleep(WRONG_TOKEN_DELAY_SECONDS)  # slows guessing
                if msg_id is not None and not writer.is_closing():
                    writer.write(_error_reply(msg_id, problem))
                writer.close()
                return
            state["busy"] = True
            log.info("serving the client at %s", peer)
            endpoint.set_writer(_SocketWriter(writer))
            endpoint.start_session(session.end, watch_client=False)
            dispatch(endpoint, admitted, on_error)
            try:
                await _pump(reader, endpoint, on_error)
            except OSError:
                pass
            session.end(0 if shut_down() else 1)

        server = await asyncio.start_server(
            connected, options.host or None, options.port, limit=MAX_HEADER_LINE * 4
        )
        on_listening(", ".join(str(s.getsockname()) for s in server.sockets))
        try:
            return await _run_session(session, session.done.wait(), cleanup, shut_down)
        finally:
            server.close()

    return asyncio.run(main())


# -- the client's process ------------------------------------------------------------------


def process_running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def can_watch(pid: int) -> bool:
    # On Windows os.kill(pid, 0) would send CTRL_C_EVENT; and a pid not visible now (the
    # editor in another pid namespace, a container) cannot be watched at all.
    return sys.platform != "win32" and pid > 0 and process_running(pid)


async def watch_process(pid: int, gone: Callable[[], None], interval: float = 1.0) -> None:
    """Call ``gone`` once the process has exited (the LSP asks a server to exit then)."""
    while process_running(pid):
        await asyncio.sleep(interval)
    gone()
