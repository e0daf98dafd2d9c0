"""Run one fuzz sequence against the server and check what a robust server must do.

`Harness` keeps one server (the fake backend, so the right suggestion is known) across
sequences and starts a fresh one when it died. After each sequence (benchmarks/fuzz_steps.py):

- the server is alive and wrote only well-formed JSON-RPC frames;
- every request with a valid id got exactly one answer with that id, no answer came for an
  id never sent, and no answer is an internal error (a client's mistake is its own error);
- a body that is not JSON got a parse error (-32700), and JSON that is not a request
  object an invalid-request error (-32600), both with id null;
- the server logged no traceback and nothing at ERROR for any of it;
- after the settings are reset, a fresh document still gets the fake model's suggestion.

A failed check raises `FuzzFailure` with the symptom; the steps are the reproducer.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz_client import RawServer, encode, frame, id_key
from benchmarks.fuzz_steps import (
    METHOD_CODE_ACTION,
    METHOD_INLINE,
    METHOD_STATUS,
    Ask,
    Cancel,
    Change,
    Close,
    Config,
    Mutated,
    Open,
    Raw,
    Status,
    Step,
    Unknown,
)

CHECK_TEXT = 'label = "😀漢字 ok" + '
CHECK_ANSWER = "fake_completion()"
# Generous: the machine is small and shared; a healthy server answers in milliseconds.
ANSWER_TIMEOUT_S = 15.0
ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) |^Traceback ", re.MULTILINE)
PARSE_ERROR, INVALID_REQUEST, INTERNAL_ERROR = -32700, -32600, -32603


class FuzzFailure(AssertionError):
    """A check failed; ``symptom`` is its one-line kind (for grouping), ``detail`` the rest."""

    def __init__(self, symptom: str, detail: str = "") -> None:
        super().__init__(f"{symptom}\n{detail}" if detail else symptom)
        self.symptom = symptom
        self.detail = detail


@dataclass
class _Sent:
    """What one sequence sent and may expect back."""

    ids: list[Any] = field(default_factory=list)  # valid request ids, in order
    methods: dict[str, str] = field(default_factory=dict)
    parse_errors: int = 0  # bodies that are not JSON, each owed a -32700
    invalid_requests: int = 0  # JSON that is not a request object, each owed a -32600
    optional: set[str] = field(default_factory=set)  # ids that may or may not be answered


def uri_of(sequence: int, doc: int) -> str:
    return f"file:///fuzz/s{sequence}/doc{doc}.py"


def _leaves(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every value in a JSON tree, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        found.append((node, key))
        if isinstance(value, dict | list):
            _leaves(value, found)
    return found


class Harness:
    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = {"QWEN_LSP_BACKEND": "fake", **(env or {})}
        self.server: RawServer | None = None
        self.sequences = 0  # sequences survived
        self.messages = 0  # messages (frames) sent in them
        self.starts = 0
        self._next_id = 0

    # -- the server --------------------------------------------------------------------
    def ensure_server(self) -> RawServer:
        if self.server is not None and self.server.alive:
            return self.server
        if self.server is not None:
            self.server.stop()
        self.starts += 1
        server = RawServer(self.log_dir / f"fuzz-server-{self.starts}.log", self.env)
        server.request(
            "init", "initialize", {"processId": None, "rootUri": None, "capabilities": {}}
        )
        if server.wait_for("init", 60) is None:
            server.stop()
            raise RuntimeError(f"the server did not initialize; see {server.log_path}")
        server.notify("initialized", {})
        server.take_responses()
        server.take_notifications()
        self.server = server
        return server

    def restart(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        self.restart()

    def new_id(self, as_string: bool = False) -> int | str:
        self._next_id += 1
        return f"r{self._next_id}" if as_string else self._next_id

    # -- one sequence ------------------------------------------------------------------
    def run(self, steps: Sequence[Step]) -> None:
        """Send ``steps``, then check; raises FuzzFailure."""
        server = self.ensure_server()
        sequence = self.sequences + self.starts * 1_000_000
        log_start = server.log_size()
        sent = _Sent()
        messages_before = server.messages_sent
        for step in steps:
            self._send(server, sequence, step, sent)
        self._reset(server, sequence)
        self._check_check(server, sequence)
        self._check_answers(server, sent)
        self._check_log(server, log_start)
        if not server.alive:
            raise FuzzFailure("the server died", f"exit code {server.process.returncode}")
        self.messages += server.messages_sent - messages_before
        self.sequences += 1

    def _send(self, server: RawServer, sequence: int, step: Step, sent: _Sent) -> None:
        message = self._message(sequence, step, sent)
        if isinstance(step, Raw):
            server.messages_sent += 1
            server.write(raw_bytes(step, self._raw_request(sent)))
            return
        if message is None:
            return
        if isinstance(step, Mutated):
            containers = _leaves(message, [])
            if containers:
                container, key = containers[step.index % len(containers)]
                container[key] = step.value
            if "id" in message and sent.ids:
                method = sent.methods.pop(id_key(sent.ids.pop()))
                if _valid_request(message) and id_key(message["id"]) not in sent.methods:
                    # maybe another id now (a client reusing an id gets two answers)
                    sent.ids.append(message["id"])
                    sent.methods[id_key(message["id"])] = method
                else:  # the mutation broke the envelope (id, jsonrpc or method) or reused
                    # an id: an answer, an invalid-request error or none are all fine.
                    sent.optional.add(id_key(message["id"]))
                    sent.ids = [i for i in sent.ids if id_key(i) != id_key(message["id"])]
        server.send(message)

    def _message(self, sequence: int, step: Step, sent: _Sent) -> dict[str, Any] | None:
        def request(method: str, params: Any, string_id: bool = False) -> dict[str, Any]:
            msg_id = self.new_id(string_id)
            sent.ids.append(msg_id)
            sent.methods[id_key(msg_id)] = method
            return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}

        def notification(method: str, params: Any) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "method": method, "params": params}

        if isinstance(step, Mutated):
            return self._message(sequence, step.base, sent)
        if isinstance(step, Open):
            item = {
                "uri": uri_of(sequence, step.doc),
                "languageId": step.language,
                "version": step.version,
                "text": step.text * step.repeat,
            }
            return notification("textDocument/didOpen", {"textDocument": item})
        if isinstance(step, Change):
            changes = []
            for range_, text in step.edits:
                if range_ is None:
                    changes.append({"text": text})
                else:
                    sl, sc, el, ec = range_
                    changes.append({"range": _range(sl, sc, el, ec), "text": text})
            identifier = {"uri": uri_of(sequence, step.doc), "version": step.version}
            return notification(
                "textDocument/didChange", {"textDocument": identifier, "contentChanges": changes}
            )
        if isinstance(step, Close):
            return notification(
                "textDocument/didClose", {"textDocument": {"uri": uri_of(sequence, step.doc)}}
            )
        if isinstance(step, Ask):
            params: dict[str, Any] = {"textDocument": {"uri": uri_of(sequence, step.doc)}}
            at = {"line": step.line, "character": step.character}
            if step.method == METHOD_CODE_ACTION:
                params["range"] = {"start": at, "end": at}
                params["context"] = {"diagnostics": []}
            else:
                params["position"] = at
                if step.method == METHOD_INLINE:
                    params["context"] = {"triggerKind": 2}
            return request(step.method, params, step.string_id)
        if isinstance(step, Status):
            return request(METHOD_STATUS, {}, step.string_id)
        if isinstance(step, Cancel):
            target: Any = sent.ids[-1 - step.back] if step.back < len(sent.ids) else 10**9
            if step.as_string:
                target = str(target)
            return notification("$/cancelRequest", {"id": target})
        if isinstance(step, Config):
            return notification("workspace/didChangeConfiguration", {"settings": step.settings})
        if isinstance(step, Unknown):
            if step.request:
                return request(step.method, step.params)
            return notification(step.method, step.params)
        if isinstance(step, Raw):
            if step.kind == "bad_json":
                sent.parse_errors += 1
            elif step.kind in ("not_object", "bad_id"):
                sent.invalid_requests += 1
            return None
        raise AssertionError(f"unknown step {step!r}")

    def _raw_request(self, sent: _Sent) -> Callable[[], dict[str, Any]]:
        def status_request() -> dict[str, Any]:
            msg_id = self.new_id()
            sent.ids.append(msg_id)
            sent.methods[id_key(msg_id)] = METHOD_STATUS
            return {"jsonrpc": "2.0", "id": msg_id, "method": METHOD_STATUS, "params": {}}

        return status_request

    # -- the checks --------------------------------------------------------------------
    def _reset(self, server: RawServer, sequence: int) -> None:
        """Back to the settings of the start, and the sequence's documents closed."""
        server.notify("workspace/didChangeConfiguration", {"settings": {}})
        for doc in range(8):
            server.notify("textDocument/didClose", {"textDocument": {"uri": uri_of(sequence, doc)}})

    def _check_check(self, server: RawServer, sequence: int) -> None:
        """A fresh document gets the fake model's suggestion."""
        uri = f"file:///fuzz/s{sequence}/check.py"
        server.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": CHECK_TEXT,
                }
            },
        )
        msg_id = self.new_id()
        position = {"line": 0, "character": len(CHECK_TEXT.encode("utf-16-le")) // 2}
        server.request(
            msg_id,
            METHOD_INLINE,
            {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}},
        )
        reply = server.wait_for(msg_id, ANSWER_TIMEOUT_S)
        server.forget(msg_id)
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        if not server.alive:
            raise FuzzFailure("the server died", f"exit code {server.process.returncode}")
        if reply is None:
            raise FuzzFailure(
                "no answer to a good completion afterwards", f"within {ANSWER_TIMEOUT_S:.0f} s"
            )
        items = (reply.get("result") or {}).get("items") if "result" in reply else None
        text = items[0].get("insertText") if items else None
        if text != CHECK_ANSWER:
            raise FuzzFailure(
                "a good completion afterwards got the wrong answer", repr(reply)[:500]
            )

    def _check_answers(self, server: RawServer, sent: _Sent) -> None:
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        for msg_id in sent.ids:
            server.wait_for(msg_id, max(deadline - time.monotonic(), 0.1))
        problems = server.take_problems()
        if problems:
            raise FuzzFailure("malformed output from the server", "\n".join(problems[:5]))
        responses = server.take_responses()
        for msg_id in sent.ids:
            got = responses.pop(id_key(msg_id), [])
            method = sent.methods.get(id_key(msg_id), "?")
            if not got:
                raise FuzzFailure(f"no answer to a {method} request", f"id {msg_id!r}")
            if len(got) > 1:
                raise FuzzFailure(f"{len(got)} answers to one {method} request", repr(got)[:500])
            error = got[0].get("error")
            if error and error.get("code") == INTERNAL_ERROR:
                raise FuzzFailure(f"internal error for a {method} request", json.dumps(error)[:800])
        nulls = responses.pop(id_key(None), [])
        codes = [r.get("error", {}).get("code") for r in nulls]
        if codes.count(PARSE_ERROR) < sent.parse_errors:
            raise FuzzFailure(
                "a body that is not JSON got no parse error",
                f"{sent.parse_errors} sent, replies with id null: {codes}",
            )
        if codes.count(INVALID_REQUEST) < sent.invalid_requests:
            raise FuzzFailure(
                "a message that is not a request object got no invalid-request error",
                f"{sent.invalid_requests} sent, replies with id null: {codes}",
            )
        # A frame that lied about its length may or may not be read as the request in it.
        for key in [id_key("never"), *sent.optional]:
            responses.pop(key, None)
        if responses:
            raise FuzzFailure("answers to ids never sent", repr(responses)[:500])

    def _check_log(self, server: RawServer, log_start: int) -> None:
        log = server.log_since(log_start)
        found = ERROR_LINE.search(log)
        if found:
            start = max(log.rfind("\n", 0, found.start()), 0)
            raise FuzzFailure(
                "a client's mistake logged as an error or traceback",
                log[start : start + 1500],
            )


def _valid_request(message: dict[str, Any]) -> bool:
    return (
        message.get("jsonrpc") == "2.0"
        and isinstance(message.get("method"), str)
        and isinstance(message.get("id"), int | str)
        and not isinstance(message.get("id"), bool)
    )


def _range(sl: int, sc: int, el: int, ec: int) -> dict[str, Any]:
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def raw_bytes(step: Raw, good: Callable[[], dict[str, Any]]) -> bytes:
    """The bytes of a broken frame. ``good`` makes a valid request (counted as sent, so it
    must be answered) for the kinds that carry one."""
    status = {"jsonrpc": "2.0", "id": "never", "method": METHOD_STATUS, "params": {}}
    body = encode(status)
    if step.kind == "bad_json":
        return frame(body[: len(body) // 2] + b"\xff,}")
    if step.kind == "not_object":
        return frame(b'[{"jsonrpc": "2.0", "method": "$/x"}]' if step.number % 2 else b"1")
    if step.kind == "no_jsonrpc":  # still answered: an invalid-request error with its id
        request = good()
        del request["jsonrpc"]
        return frame(encode(request))
    if step.kind == "bad_id":
        return frame(b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "qwenLsp/status"}')
    if step.kind == "extra_headers":
        body = encode(good())
        return (
            b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8"
            b"\r\n\r\n%s" % (len(body), body)
        )
    if step.kind == "short_length":
        return b"Content-Length: %d\r\n\r\n%s" % (max(len(body) - step.number, 0), body)
    if step.kind == "long_length":
        return b"Content-Length: %d\r\n\r\n%s" % (len(body) + step.number, body)
    if step.kind in ("garbage", "bad_header"):
        return step.payload
    raise AssertionError(f"unknown raw kind {step.kind}")
