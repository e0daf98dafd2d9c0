"""A raw LSP client for the fuzzer: the real server over stdio with our own framing.

Unlike benchmarks/lsp_driver.py (pygls on the client side), this one writes whatever bytes
it is given, so it can send broken headers and bodies, and it checks everything the server
writes back: every frame must be a well-formed JSON-RPC message (a header with the right
Content-Length, a JSON object, "jsonrpc": "2.0", a response with exactly one of result and
error). Server-to-client requests (workspace/configuration, progress) are answered with a
null result, as an editor would. Used by benchmarks/fuzz_server.py and tests/e2e/test_fuzz.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from benchmarks.lsp_driver import REPO


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def encode(message: Any) -> bytes:
    """A message as a JSON body; lone surrogates go out as \\udXXX escapes (valid JSON)."""
    return json.dumps(message).encode("ascii")


def id_key(msg_id: Any) -> str:
    """Ids compared by their JSON form: 1 and "1" are different ids."""
    return json.dumps(msg_id)


def shape_problem(message: Any) -> str | None:
    """Why ``message`` is not a well-formed JSON-RPC 2.0 message, or None."""
    if not isinstance(message, dict):
        return f"not a JSON object: {message!r:.200}"
    if message.get("jsonrpc") != "2.0":
        return f"no jsonrpc 2.0: {message!r:.200}"
    if "method" in message:
        if not isinstance(message["method"], str):
            return f"method is not a string: {message!r:.200}"
        return None
    if "id" not in message:
        return f"neither request, notification nor response: {message!r:.200}"
    if ("result" in message) == ("error" in message):
        return f"a response needs exactly one of result and error: {message!r:.200}"
    error = message.get("error")
    if error is not None and not (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and isinstance(error.get("message"), str)
    ):
        return f"malformed error object: {message!r:.200}"
    return None


class RawServer:
    """One qwen-lsp process; ``write`` sends raw bytes, replies are collected by id."""

    def __init__(self, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stderr: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qwen_lsp", "--log-level", "info"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.problems: list[str] = []  # malformed output from the server
        self.messages_sent = 0
        self._reader = threading.Thread(target=self._read, name="fuzz-reader", daemon=True)
        self._reader.start()

    # -- writing -------------------------------------------------------------------
    def write(self, data: bytes) -> bool:
        """Send raw bytes; False when the server's stdin is closed."""
        assert self.process.stdin is not None
        with self._write_lock:
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return False
        return True

    def send(self, message: Any) -> bool:
        self.messages_sent += 1
        return self.write(frame(encode(message)))

    def request(self, msg_id: Any, method: str, params: Any) -> bool:
        return self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def notify(self, method: str, params: Any) -> bool:
        return self.send({"jsonrpc": "2.0", "method": method, "params": params})

    # -- reading -------------------------------------------------------------------
    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            length: int | None = None
            while True:
                line = stdout.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                self._problem("a frame without Content-Length")
                continue
            body = stdout.read(length)
            try:
                message = json.loads(body)
            except ValueError:
                self._problem(f"a body that is not JSON: {body[:200]!r}")
                continue
            problem = shape_problem(message)
            if problem:
                self._problem(problem)
                continue
            if "method" in message and "id" in message:  # the server asks us something
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            with self._lock:
                if "method" in message:
                    self.notifications.append(message)
                else:
                    self.responses.setdefault(id_key(message["id"]), []).append(message)
                self._lock.notify_all()

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)
            self._lock.notify_all()

    def wait_for(self, msg_id: Any, timeout: float) -> dict[str, Any] | None:
        """The (first) response to ``msg_id``, waiting up to ``timeout`` seconds."""
        key = id_key(msg_id)
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self.responses.get(key):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive:
                    return None
                self._lock.wait(min(remaining, 0.5))
            return self.responses[key][0]

    def forget(self, msg_id: Any) -> None:
        with self._lock:
            self.responses.pop(id_key(msg_id), None)

    def take_responses(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            taken, self.responses = self.responses, {}
            return taken

    def take_problems(self) -> list[str]:
        with self._lock:
            taken, self.problems = self.problems, []
            return taken

    def take_notifications(self) -> list[dict[str, Any]]:
        with self._lock:
            taken, self.notifications = self.notifications, []
            return taken

    # -- life ----------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_size(self) -> int:
        self._stderr.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> int | None:
        """shutdown and exit while it answers, else kill; the exit code."""
        if self.alive:
            self.request("fuzz-shutdown", "shutdown", None)
            self.wait_for("fuzz-shutdown", timeout)
            self.notify("exit", None)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self._reader.join(timeout)
        self._stderr.close()
        return self.process.returncode
