"""The LSP base protocol's frames, read robustly: a broken frame costs only itself.

A message is ``Content-Length: N\\r\\n`` (and maybe other headers) ``\\r\\n\\r\\n`` and N
bytes of JSON. A reader that trusts every header loses the stream for good after one
mistake: a bad header glues the next header to the previous body, a Content-Length that is
too long swallows the messages after it. `Deframer` resynchronises on the next
``Content-Length:`` header instead:

- bytes that do not form a valid header block are dropped up to the next
  ``Content-Length:`` (reported as `Garbage`);
- a body in which a ``Content-Length: <digits>\\r\\n`` header starts is cut there (reported
  as `Broken`, to be answered with a parse error): such raw bytes cannot occur in JSON,
  whose strings escape CR and LF, so they can only be the next message;
- a body that is too short is not JSON (a parse error), and the rest of it is garbage.

`envelope_problem` says why parsed JSON is not a JSON-RPC 2.0 message. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A header as the next message starts it: where to resynchronise.
_HEADER = re.compile(rb"content-length:[ \t]*\d+[ \t]*\r\n", re.IGNORECASE)
_HEADER_NAME = re.compile(rb"content-length:", re.IGNORECASE)
# The end of a body that may be the first bytes of the next header: wait for more.
_HEADER_PREFIX = re.compile(
    rb"c(o(n(t(e(n(t(-(l(e(n(g(t(h(:[ \t]*\d*[ \t]*\r?)?)?)?)?)?)?)?)?)?)?)?)?)?)?\Z",
    re.IGNORECASE,
)
_FIELD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t]*[\x20-\x7e]*")
_MAX_HEADERS = 8192  # a header block longer than this is garbage


@dataclass(frozen=True)
class Body:
    """A complete frame's body (not yet parsed)."""

    data: bytes


@dataclass(frozen=True)
class Broken:
    """A frame whose body was cut short by the next message's header."""

    data: bytes
    reason: str


@dataclass(frozen=True)
class Garbage:
    """Bytes outside any frame, dropped."""

    data: bytes
    reason: str


Frame = Body | Broken | Garbage


class Deframer:
    """Bytes in, frames out; keeps what is not complete yet."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._length: int | None = None  # the body length, once the headers are read
        self._scanned = 0  # body bytes already searched for a header

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            if self._length is None:
                found = self._headers()
                if found is False:
                    return frames
                if found is not True:
                    frames.append(found)
                continue
            frame = self._body()
            if frame is None:
                return frames
            frames.append(frame)

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buffer)

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    def _headers(self) -> Frame | bool:
        """A dropped stretch, True when a header block was read, False: wait for more."""
        buffer = self._buffer
        if not buffer:
            return False
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) <= _MAX_HEADERS:
                return False
            return self._skip("a header block without its end")
        lines = bytes(buffer[:end]).split(b"\r\n")
        length: int | None = None
        valid = True
        for line in lines:
            if not _FIELD.fullmatch(line):
                valid = False
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                text = value.strip()
                if not text.isdigit() or length is not None:
                    valid = False
                    break
                length = int(text)
        if not valid or length is None:
            return self._skip("not a valid header block")
        del buffer[: end + 4]
        self._length = length
        self._scanned = 0
        return True

    def _skip(self, reason: str) -> Frame:
        """Drop up to the next Content-Length after the start (all, if there is none)."""
        found = _HEADER_NAME.search(self._buffer, 1)
        if found is None:
            # keep a tail that may be the start of a header still arriving
            tail = _HEADER_PREFIX.search(self._buffer, max(len(self._buffer) - 40, 0))
            cut = tail.start() if tail is not None and tail.start() > 0 else len(self._buffer)
            return Garbage(self._take(cut), reason)
        return Garbage(self._take(found.start()), reason)

    def _body(self) -> Frame | None:
        length = self._length
        assert length is not None
        buffer = self._buffer
        # A header starting inside the body region: the body was cut short there.
        start = max(self._scanned - 32, 0)
        found = _HEADER.search(buffer, start, min(len(buffer), length + 32))
        if found is not None and found.start() < length:
            self._length = None
            return Broken(self._take(found.start()), "cut short by the next message")
        if len(buffer) < length:
            self._scanned = len(buffer)
            return None
        if len(buffer) < length + 40:
            # the buffer may end in the first bytes of a header starting inside the body
            tail = _HEADER_PREFIX.search(buffer, max(length - 40, 0))
            if tail is not None and tail.start() < length:
                return None  # wait to know
        self._length = None
        return Body(self._take(length))


def envelope_problem(message: Any) -> tuple[str, Any] | None:
    """Why a parsed message is not a JSON-RPC 2.0 request, notification or response, and the
    id to answer with (None: id null; ``...``: send no answer); None when it is fine."""
    if not isinstance(message, dict):
        return "not a JSON object", None
    has_id = "id" in message
    msg_id = message.get("id")
    valid_id = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
    if has_id and not valid_id:
        return f"the id {msg_id!r:.40} is not a number or a string", None
    if message.get("jsonrpc") != "2.0":
        return "not JSON-RPC 2.0", msg_id if has_id and "method" in message else ...
    if "method" in message:
        if not isinstance(message["method"], str):
            return "the method is not a string", msg_id if has_id else ...
        return None
    if not has_id:
        return "neither a request, a notification nor a response", None
    return None
