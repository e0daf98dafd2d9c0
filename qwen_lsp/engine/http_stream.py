"""A small HTTP/1.1 client for streamed answers that a cancel can stop at once.

Why not urllib or http.client: their reads block until data or their time-out, and a
chunked body cannot be read again after a time-out. Here every wait (connecting, the TLS
handshake aside, reading) is cut into short slices; between slices the caller's
``should_stop`` is asked, so a superseded keystroke closes the connection within one slice
even while the engine is silent. One request per connection (``Connection: close``):
closing the socket is how an engine learns that nobody wants the rest.
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# How long one wait lasts before ``should_stop`` is asked again.
POLL_SECONDS = 0.05
# An error body longer than this is cut (it goes into a message for the user).
MAX_ERROR_BODY = 2000


class HttpFault(Exception):
    """The request failed; ``retryable`` only for connection errors (nothing was sent)."""

    def __init__(self, message: str, *, retryable: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Stopped(Exception):
    """``should_stop`` said so: the connection was closed."""


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0  # the longest silence of the server, headers or body


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # the base path, without a trailing "/"

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class Response:
    """An open response: status, headers, and the body read in pieces."""

    def __init__(
        self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes
    ) -> None:
        self._sock: socket.socket | None = sock
        self.status = status
        self.headers = headers
        self._buffer = rest
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else -1
        self._chunk_left = 0
        self._ended = False

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _fill(self, should_stop: Callable[[], bool], timeouts: Timeouts) -> bool:
        """Read more raw bytes into the buffer; False at the end of the connection."""
        if self._sock is None:
            return False
        data = _recv(self._sock, should_stop, timeouts.read)
        if not data:
            return False
        self._buffer += data
        return True

    def _take_raw(self, should_stop: Callable[[], bool], timeouts: Timeouts) -> bytes:
        """The next piece of the body as sent (chunked framing removed); b"" at its end."""
        if self._ended:
            return b""
        if not self._chunked:
            if self._left == 0:
                self._ended = True
                return b""
            if not self._buffer and not self._fill(should_stop, timeouts):
                self._ended = True
                if self._left > 0:
                    raise HttpFault("the connection closed before the answer was complete")
                return b""
            piece = self._buffer if self._left < 0 else self._buffer[: self._left]
            self._buffer = self._buffer[len(piece) :]
            if self._left > 0:
                self._left -= len(piece)
            return piece
        while self._chunk_left == 0:
            while b"\r\n" not in self._buffer:
                if not self._fill(should_stop, timeouts):
                    raise HttpFault("the connection closed before the answer was complete")
            line, self._buffer = self._buffer.split(b"\r\n", 1)
            if not line.strip():
                continue  # the CRLF after a chunk's data
            try:
                self._chunk_left = int(line.split(b";")[0], 16)
            except ValueError:
                raise HttpFault(f"malformed chunked body: {line[:80]!r}") from None
            if self._chunk_left == 0:
                self._ended = True
                return b""
        if not self._buffer and not self._fill(should_stop, timeouts):
            raise HttpFault("the connection closed before the answer was complete")
        piece = self._buffer[: self._chunk_left]
        self._buffer = self._buffer[len(piece) :]
        self._chunk_left -= len(piece)
        return piece

    def read_all(self, should_stop: Callable[[], bool], timeouts: Timeouts, limit: int) -> bytes:
        body = b""
        while len(body) < limit:
            piece = self._take_raw(should_stop, timeouts)
            if not piece:
                break
            body += piece
        return body[:limit]

    def lines(self, should_stop: Callable[[], bool], timeouts: Timeouts) -> Iterator[str]:
        """The body's lines (without their ending), as they arrive."""
        pending = b""
        while True:
            piece = self._take_raw(should_stop, timeouts)
            if not piece:
                break
            pending += piece
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")


def _recv(sock: socket.socket, should_stop: Callable[[], bool], read_timeout: float) -> bytes:
    """Bytes from ``sock`` as soon as there are some; b"" when the server closed."""
    silent_since = time.monotonic()
    while True:
        if should_stop():
            raise Stopped
        try:
            return sock.recv(65536)
        except TimeoutError:  # one slice without data
            if time.monotonic() - silent_since >= read_timeout:
                raise HttpFault(
                    f"the engine sent nothing for {read_timeout:g} s (engineReadTimeout)"
                ) from None
        except ssl.SSLWantReadError:
            continue
        except OSError as exc:
            raise HttpFault(f"the connection broke: {exc}") from exc


def _connect(
    target: Target, timeouts: Timeouts, should_stop: Callable[[], bool], tls: ssl.SSLContext | None
) -> socket.socket:
    """A connected socket (TLS when the URL says https), waiting in slices."""
    deadline = time.monotonic() + timeouts.connect
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HttpFault(f"cannot resolve {target.host}: {exc}", retryable=True) from exc
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            while code in _IN_PROGRESS:
                if should_stop():
                    sock.close()
                    raise Stopped
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no connection within {timeouts.connect:g} s")
                _, writable, _ = _select_writable(sock)
                if writable:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        raise OSError(code, _strerror(code))
                    break
            else:
                if code:
                    raise OSError(code, _strerror(code))
            sock.settimeout(POLL_SECONDS)
            if tls is not None:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                sock = tls.wrap_socket(sock, server_hostname=target.host)
                sock.settimeout(POLL_SECONDS)
            return sock
        except ssl.SSLError as exc:  # a certificate problem is not fixed by retrying
            sock.close()
            raise HttpFault(f"TLS with {target.origin} failed: {exc}") from exc
        except OSError as exc:
            sock.close()
            last = exc
    raise HttpFault(f"cannot connect to {target.origin}: {last}", retryable=True)


_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EAGAIN}


def _select_writable(sock: socket.socket) -> tuple[list[Any], list[Any], list[Any]]:
    return select.select([], [sock], [], POLL_SECONDS)


def _strerror(code: int) -> str:
    return os.strerror(code)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host  # IPv6 literal
    return f"{host}:{target.port}"


def tls_context(verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def request(
    method: str,
    url: str,
    body: Any | None,
    *,
    headers: dict[str, str] | None = None,
    timeouts: Timeouts = Timeouts(),
    should_stop: Callable[[], bool] = lambda: False,
    verify_tls: bool = True,
) -> Response:
    """Send ``body`` (JSON) and return the response once its headers are in.

    Raises HttpFault (``retryable`` when no connection could be made), Stopped.
    A response whose status is not 2xx is returned too: the caller reads its body.
    """
    target = Target.parse(url)
    path = urlsplit(url).path or "/"
    query = urlsplit(url).query
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [
        f"{method} {path}{'?' + query if query else ''} HTTP/1.1",
        f"Host: {_host_header(target)}",
        "Connection: close",
        "Accept: text/event-stream, application/json",
        "User-Agent: qwen-lsp",
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    tls = tls_context(verify_tls) if target.scheme == "https" else None
    sock = _connect(target, timeouts, should_stop, tls)
    try:
        sock.settimeout(timeouts.connect)  # a request body is small: sent in one go
        sock.sendall(head + payload)
        sock.settimeout(POLL_SECONDS)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = _recv(sock, should_stop, timeouts.read)
            if not data:
                raise HttpFault("the engine closed the connection without an answer")
            buffer += data
            if len(buffer) > 65536:
                raise HttpFault("malformed answer: no end of the headers")
        raw_head, rest = buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpFault(f"malformed answer: {status_line[:80]!r}")
        found: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            found[name.strip().lower()] = value.strip()
        return Response(sock, int(parts[1]), found, rest)
    except BaseException:
        sock.close()
        raise
