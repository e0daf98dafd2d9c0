"""A scripted inference engine for the remote-backend tests: an HTTP server in the test
process (127.0.0.1, port 0) that speaks enough of the OpenAI ``/v1/completions`` stream and
llama-server's ``/completion`` stream, and fails on demand.

``mode`` says what the next requests get:

- ``ok``: the answer streamed in pieces (``answer``, or the one of ``answers`` whose key
  the prompt contains), ``piece_delay`` seconds apart;
- ``401``, ``404``, ``500``: that status with an error body in the engine's words;
- ``stall``: the headers and one piece, then silence until the client goes away;
- ``malformed``: the headers and a line that is not server-sent events;
- ``cut``: one piece, then the connection closes without the end of the answer;
- ``reject-ids``: 422 for a prompt given as token ids, else as ``ok``.

``models`` (when set) is what ``/v1/models`` lists; a completion naming another is a 404.

Every request is recorded (path, headers, JSON body); ``in_flight`` and ``most_in_flight``
count requests being answered; ``disconnects`` the streams the client closed early;
``most_overlap`` the most streams the client still held open when it sent a new request.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    "401": (401, {"error": {"message": "Incorrect API key provided", "type": "auth"}}),
    "404": (404, {"error": {"message": "The model `nope` does not exist.", "code": 404}}),
    "500": (500, "CUDA error: out of memory (scripted)"),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, event: dict[str, Any] | str) -> None:
        text = event if isinstance(event, str) else json.dumps(event)
        self._chunk(f"data: {text}\n\n".encode())

    def do_GET(self) -> None:
        engine = self.server.engine
        with engine.lock:
            engine.requests.append((self.path, dict(self.headers), {}))
            mode = engine.mode
        if mode == "401":
            self._json(*ERRORS[mode])
        elif self.path.endswith("/models") and engine.models and engine.listed:
            self._json(200, {"object": "list", "data": [{"id": m} for m in engine.models]})
        elif self.path == "/slots" and engine.slot_listing:
            with engine.lock:
                listing = engine.slot_states()
            self._json(200, listing)
        elif self.path == "/props" and engine.slots:
            self._json(200, {"total_slots": engine.slots})
        else:
            self._json(404, {"error": {"message": "File Not Found", "code": 404}})

    def do_POST(self) -> None:
        engine = self.server.engine
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        with engine.lock:
            engine.requests.append((self.path, dict(self.headers), body))
            mode = engine.mode
        if self.path.endswith("tokenize"):
            if engine.tokenize_path and self.path != engine.tokenize_path:
                self._json(404, {"detail": "Not Found"})
                return
            text = body.get("content") or body.get("prompt") or body.get("input") or ""
            self._json(200, {"tokens": [ord(c) for c in text[::4]]})
            return
        if mode in ERRORS:
            self._json(*ERRORS[mode])
            return
        if engine.models and body.get("model", engine.models[0]) not in engine.models:
            message = f"The model `{body['model']}` does not exist."
            self._json(404, {"object": "error", "message": message, "code": 404})
            return
        if mode == "reject-ids" and isinstance(body.get("prompt"), list):
            # As llama-cpp-python's server does: a validation error, as a 500.
            message = "1 validation error: ('body', 'prompt', 'str') Input should be a valid string"
            self._json(500, {"error": {"message": message, "type": "internal_server_error"}})
            return
        with engine.lock:
            engine.in_flight += 1
            engine.most_in_flight = max(engine.most_in_flight, engine.in_flight)
            # Streams the client still held open when it sent this request (a stream it
            # closed counts as closed even before its handler notices).
            still_open = sum(1 for other in engine.streams if not _peer_closed(other))
            engine.most_overlap = max(engine.most_overlap, still_open)
            engine.streams.add(self.connection)
        try:
            prompt = body.get("prompt")
            answer = next(
                (
                    a
                    for key, a in engine.answers.items()
                    if isinstance(prompt, str) and key in prompt
                ),
                engine.answer,
            )
            native = self.path.endswith("/completion")
            figures = engine.read_in_slot(body) if native and engine.slot_listing else None
            self._stream(engine, mode, native, answer, figures)
        except (BrokenPipeError, ConnectionResetError):
            with engine.lock:
                engine.disconnects += 1
        finally:
            with engine.lock:
                engine.in_flight -= 1
                engine.streams.discard(self.connection)

    def _stream(
        self,
        engine: ScriptedEngine,
        mode: str,
        native: bool,
        answer: str,
        figures: tuple[int, int] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

        def piece(text: str, last: bool = False) -> dict[str, Any]:
            if native:
                return {"content": text, "stop": last, "stop_type": "eos" if last else ""}
            finish = "stop" if last else None
            return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}

        if mode == "malformed":
            self._chunk(b"this is not an event stream\n\n")
            self._chunk(b"")
            return
        pieces = [answer[i : i + 3] for i in range(0, len(answer), 3)]
        if mode in ("stall", "cut"):
            self._event(piece(pieces[0]))
            if mode == "cut":
                self.wfile.flush()
                self.close_connection = True
                return  # no last chunk: the answer is incomplete
            # Silent until the client goes away or the test ends; probing the socket is
            # how a closed client is noticed.
            while not engine.closing.wait(0.05):
                if _client_gone(self):
                    raise ConnectionResetError
            return  # the engine went away: no end of the answer
        for text in pieces:
            if engine.closing.is_set():
                return  # the engine went away mid-answer
            if engine.piece_delay:
                if _client_gone(self, engine.piece_delay):
                    raise ConnectionResetError
            self._event(piece(text))
        if native:
            self._event(
                {
                    "content": "",
                    "stop": True,
                    "stop_type": "eos",
                    # as llama-server: prompt_n leaves the cached tokens out
                    "timings": {
                        "prompt_n": 2 if figures is None else figures[0],
                        "cache_n": 5 if figures is None else figures[1],
                        "predicted_n": len(pieces),
                    },
                }
            )
        else:
            self._event(piece("", last=True))
            usage = {"prompt_tokens": 11, "completion_tokens": len(pieces)}
            usage["prompt_tokens_details"] = {"cached_tokens": 8}  # type: ignore[assignment]
            if engine.usage:
                self._event({"choices": [], "usage": usage})
            self._event("[DONE]")
        self._chunk(b"")


def _client_gone(handler: BaseHTTPRequestHandler, wait: float = 0.0) -> bool:
    """Whether the client closed its end, waiting up to ``wait`` seconds for it."""
    readable, _, _ = select.select([handler.connection], [], [], wait)
    return bool(readable) and _peer_closed(handler.connection)


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the peer has closed ``sock`` (a read of zero bytes, without blocking)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    engine: ScriptedEngine


class ScriptedEngine:
    def __init__(self, answer: str = "scripted_answer()\n", port: int = 0) -> None:
        self.answer = answer
        self.answers: dict[str, str] = {}  # a text prompt containing the key gets its answer
        self.mode = "ok"
        self.piece_delay = 0.0
        self.usage = True  # the OpenAI usage chunk at the end of a stream
        self.slots = 0  # llama-server's slots (/props); 0 = no /props
        # llama-server's /slots, and each slot's cache: the prompt it read last, the id of
        # its last task (None: never used); prompts sent to a slot are served from it.
        self.slot_listing = False
        self.slot_prompts: dict[int, Any] = {}
        self.slot_tasks: dict[int, int] = {}
        self.tasks = 0
        self.models: list[str] = []  # served (/v1/models; others are 404); [] = no listing
        self.listed = True  # False: no /v1/models, though ``models`` are still checked
        self.tokenize_path = ""  # "" = every tokenize path answers; else only this one
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.disconnects = 0
        self.streams: set[socket.socket] = set()
        self.most_overlap = 0
        self.closing = threading.Event()
        self._port = port
        self._server: _Server | None = None
        self.start()

    def start(self) -> None:
        self.closing.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.engine = self
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Close the listening socket and end the streams (an engine that went away)."""
        server, self._server = self._server, None
        self.closing.set()
        if server is not None:
            server.shutdown()
            server.server_close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def slot_states(self) -> list[dict[str, Any]]:
        """/slots as llama-server lists them (under ``lock``)."""
        states: list[dict[str, Any]] = []
        for slot in range(self.slots):
            state: dict[str, Any] = {"id": slot, "n_ctx": 4096, "is_processing": False}
            if slot in self.slot_tasks:
                state["id_task"] = self.slot_tasks[slot]
            states.append(state)
        return states

    def read_in_slot(self, body: dict[str, Any]) -> tuple[int, int]:
        """A /completion read in its slot (id_slot, or the least recently used): the
        tokens evaluated and those served from the slot's cache."""
        prompt = body.get("prompt") or []
        with self.lock:
            slot = body.get("id_slot", -1)
            if not isinstance(slot, int) or slot < 0:
                slot = min(range(self.slots), key=lambda s: self.slot_tasks.get(s, -1))
            slot %= self.slots
            held = self.slot_prompts.get(slot, [])
            cached = 0
            while cached < min(len(held), len(prompt)) and held[cached] == prompt[cached]:
                cached += 1
            self.slot_prompts[slot] = prompt
            self.slot_tasks[slot] = self.tasks
            self.tasks += 1
        return len(prompt) - cached, cached

    def completions(self) -> list[dict[str, Any]]:
        """The bodies of the completion requests so far (tokenize requests left out)."""
        with self.lock:
            return [body for path, _, body in self.requests if "completion" in path]

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.01)
        return False
