"""LSP over raw bytes, for tests that need what pytest-lsp hides: a client that never
answers, a killed client, a TCP socket, a connection that sends garbage.

A `RawPeer` frames what it sends and collects what it receives on a thread, so a test can
wait for a message with a deadline instead of blocking on a server that went silent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Message = dict[str, Any]


def frame(message: Message | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawPeer:
    def __init__(self, send: Callable[[bytes], None], receive: Callable[[], bytes]) -> None:
        self._send = send
        self._receive = receive
        self.received: list[Message] = []
        self.closed = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def over_process(cls, process: subprocess.Popen[bytes]) -> RawPeer:
        assert process.stdin is not None and process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        def send(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        return cls(send, lambda: stdout.read1(65536))

    @classmethod
    def over_socket(cls, connection: socket.socket) -> RawPeer:
        return cls(connection.sendall, lambda: connection.recv(65536))

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self._receive():
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    header, _, rest = buffer.partition(b"\r\n\r\n")
                    fields = dict(
                        line.split(b": ", 1) for line in header.split(b"\r\n") if b": " in line
                    )
                    length = int(fields[b"Content-Length"])
                    if len(rest) < length:
                        break
                    with self._changed:
                        self.received.append(json.loads(rest[:length]))
                        self._changed.notify_all()
                    buffer = rest[length:]
        except OSError:
            pass
        finally:
            with self._changed:
                self.closed = True
                self._changed.notify_all()

    def send(self, message: Message | bytes) -> None:
        self._send(frame(message))

    def request(self, msg_id: int, method: str, params: Any = None) -> None:
        message: Message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def notify(self, method: str, params: Any = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def wait_for(self, wanted: Callable[[Message], bool], timeout: float, what: str) -> Message:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((m for m in self.received if wanted(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"no {what} within {timeout} s (closed: {self.closed})")
                self._changed.wait(left)

    def response(self, msg_id: int, timeout: float) -> Message:
        return self.wait_for(
            lambda m: m.get("id") == msg_id and "method" not in m, timeout, f"answer to {msg_id}"
        )

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.closed and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return self.closed


def initialize_params(
    capabilities: Message | None = None, options: Any = None, process_id: int | None = None
) -> Message:
    params: Message = {
        "processId": process_id,
        "rootUri": Path.cwd().as_uri(),
        "capabilities": capabilities or {},
    }
    if options is not None:
        params["initializationOptions"] = options
    return params


def did_open(uri: str, text: str, language: str = "python") -> Message:
    return {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}


def inline_params(uri: str, line: int, character: int) -> Message:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 2},
    }


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qwen_lsp", "--log-level", "info", *args]


def fake_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "QWEN_LSP_BACKEND": "fake", **extra}


def start_stdio_server(log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """The server on pipes; its log goes to a file (a full stderr pipe would block it)."""
    return subprocess.Popen(
        server_command(*args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        env=fake_env(**env),
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill a test's server if it still runs (the test has already asserted what it needed)."""
    if process.poll() is None:
        process.kill()
    process.wait(30)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def running(pid: int) -> bool:
    """Whether a process still runs: a zombie (exited, not reaped yet) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_gone(pid: int, timeout: float) -> float | None:
    """Seconds until the process stopped running, None when it still runs at the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not running(pid):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
