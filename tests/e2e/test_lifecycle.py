"""The session's life over stdio, with clients that misbehave (issue 13, item 3 and the
killed-client fault): a client that never answers the server's requests or never sends
`initialized` still gets suggestions; requests after `shutdown` get an error; `exit` sets the
exit code the LSP specification asks for; a client that dies takes the server with it.

Raw bytes on pipes (tests/e2e/raw_lsp.py): pytest-lsp answers every server request at once,
which is exactly what these clients do not do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.raw_lsp import (
    RawPeer,
    did_open,
    fake_env,
    initialize_params,
    inline_params,
    kill_quietly,
    running,
    server_command,
    start_stdio_server,
    stop,
    wait_gone,
)

URI = "file:///tmp/qwen-lsp-test/lifecycle.py"
# Every capability that makes the server ask the client something.
ASKING_CLIENT = {
    "window": {"workDoneProgress": True, "showMessage": {}},
    "workspace": {"configuration": True, "applyEdit": True},
}
# Generous: the server answers in well under a second; a loaded machine is slow to start.
ANSWER_SECONDS = 60


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


def _complete(peer: RawPeer, msg_id: int) -> list[str]:
    peer.notify("textDocument/didOpen", did_open(URI, "x = "))
    peer.request(msg_id, "textDocument/inlineCompletion", inline_params(URI, 0, 4))
    answer = peer.response(msg_id, ANSWER_SECONDS)
    return [item["insertText"] for item in answer["result"]["items"]]


def test_client_that_never_answers_the_server_still_gets_suggestions(log: Path) -> None:
    """Progress creation and workspace/configuration go unanswered: the model loads anyway."""
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params(ASKING_CLIENT))
        peer.response(1, ANSWER_SECONDS)
        peer.notify("initialized", {})
        asked = peer.wait_for(lambda m: "method" in m and "id" in m, ANSWER_SECONDS, "a request")
        assert asked["method"] in ("window/workDoneProgress/create", "workspace/configuration")
        assert _complete(peer, 2) == ["fake_completion()"]
    finally:
        stop(server)


def test_client_that_never_sends_initialized_still_gets_suggestions(log: Path) -> None:
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params(ASKING_CLIENT))
        peer.response(1, ANSWER_SECONDS)
        assert _complete(peer, 2) == ["fake_completion()"]
    finally:
        stop(server)


def test_settings_from_initialization_options_hold_without_initialized(log: Path) -> None:
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        options = {"qwenLsp": {"disabledLanguages": ["python"]}}
        peer.request(1, "initialize", initialize_params({}, options))
        peer.response(1, ANSWER_SECONDS)
        assert _complete(peer, 2) == []
    finally:
        stop(server)


def test_requests_after_shutdown_get_an_error_and_exit_code_is_zero(log: Path) -> None:
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params())
        peer.response(1, ANSWER_SECONDS)
        peer.notify("initialized", {})
        peer.request(2, "shutdown")
        assert peer.response(2, ANSWER_SECONDS)["result"] is None
        peer.request(3, "textDocument/inlineCompletion", inline_params(URI, 0, 0))
        peer.request(4, "qwenLsp/status", {})
        for msg_id in (3, 4):
            error = peer.response(msg_id, ANSWER_SECONDS)["error"]
            assert error["code"] == -32600  # InvalidRequest, as the LSP specification asks
            assert "shut down" in error["message"]
        peer.notify("exit")
        assert server.wait(ANSWER_SECONDS) == 0
    finally:
        stop(server)


def test_exit_without_shutdown_exits_with_one(log: Path) -> None:
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params())
        peer.response(1, ANSWER_SECONDS)
        peer.notify("exit")
        assert server.wait(ANSWER_SECONDS) == 1
    finally:
        stop(server)


def test_exit_ends_the_process_while_the_client_keeps_its_pipes_open(log: Path) -> None:
    """A generation is still running and stdin stays open: `exit` alone ends the process."""
    server = start_stdio_server(log, QWEN_LSP_FAKE_SECONDS_PER_TOKEN="2")
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params())
        peer.response(1, ANSWER_SECONDS)
        peer.notify("initialized", {})
        peer.notify("textDocument/didOpen", did_open(URI, "x = "))
        peer.request(2, "textDocument/inlineCompletion", inline_params(URI, 0, 4))
        peer.request(3, "shutdown")
        peer.response(3, ANSWER_SECONDS)
        peer.notify("exit")
        assert server.wait(ANSWER_SECONDS) == 0
    finally:
        stop(server)


def test_requests_before_initialize_get_server_not_initialized(log: Path) -> None:
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "qwenLsp/status", {})
        assert peer.response(1, ANSWER_SECONDS)["error"]["code"] == -32002
        peer.request(2, "initialize", initialize_params())
        assert "capabilities" in peer.response(2, ANSWER_SECONDS)["result"]
    finally:
        stop(server)


# -- a client that dies ---------------------------------------------------------------

# A client in its own process: starts the server on pipes, asks for a completion the slow
# fake backend takes a minute to write, prints the server's pid, then waits to be killed.
WRAPPER = textwrap.dedent(
    """
    import json, subprocess, sys, time
    server = subprocess.Popen(json.loads(sys.argv[1]), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=open(sys.argv[2], "wb"))
    def send(message):
        body = json.dumps(message).encode()
        server.stdin.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
        server.stdin.flush()
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"processId": None, "capabilities": {}}})
    send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
          {"uri": "file:///tmp/w.py", "languageId": "python", "version": 1, "text": "x = "}}})
    send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
          "textDocument": {"uri": "file:///tmp/w.py"}, "position": {"line": 0, "character": 4},
          "context": {"triggerKind": 2}}})
    received = b""
    while b"capabilities" not in received:  # initialized: the completion runs next
        received += server.stdout.read1(65536)
    print(server.pid, flush=True)
    time.sleep(3600)
    """
)


def test_killed_client_takes_the_server_with_it(log: Path, tmp_path: Path) -> None:
    """The editor is killed mid-completion: its pipes close, the server exits promptly."""
    wrapper = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, json.dumps(server_command()), str(log)],
        stdout=subprocess.PIPE,
        env=fake_env(QWEN_LSP_FAKE_SECONDS_PER_TOKEN="3"),
    )
    server_pid = 0
    try:
        assert wrapper.stdout is not None
        server_pid = int(wrapper.stdout.readline())
        time.sleep(2)  # the generation runs (the fake writes one character per 3 s)
        kill_quietly(wrapper.pid)
        wrapper.wait(30)
        seconds = wait_gone(server_pid, ANSWER_SECONDS)
        assert seconds is not None, "the server outlived its client"
    finally:
        kill_quietly(wrapper.pid)
        wrapper.wait(30)
        if server_pid:
            kill_quietly(server_pid)


def test_server_exits_when_the_client_process_named_in_initialize_dies(log: Path) -> None:
    """The LSP `processId`: the pipes stay open (held by a grandchild, say), the pid dies."""
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    server = start_stdio_server(log, QWEN_LSP_FAKE_SECONDS_PER_TOKEN="3")
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params({}, process_id=editor.pid))
        peer.response(1, ANSWER_SECONDS)
        peer.notify("initialized", {})
        peer.notify("textDocument/didOpen", did_open(URI, "x = "))
        peer.request(2, "textDocument/inlineCompletion", inline_params(URI, 0, 4))
        editor.kill()
        editor.wait(30)
        assert server.wait(ANSWER_SECONDS) == 1
    finally:
        editor.kill()
        editor.wait(30)
        stop(server)


def test_process_id_that_does_not_exist_at_start_is_not_watched(log: Path) -> None:
    """An editor in another pid namespace (a container) names a pid we cannot see."""
    missing = 2**22 + 12345  # above Linux's default pid_max
    assert not running(missing)
    server = start_stdio_server(log)
    try:
        peer = RawPeer.over_process(server)
        peer.request(1, "initialize", initialize_params({}, process_id=missing))
        peer.response(1, ANSWER_SECONDS)
        peer.notify("initialized", {})
        assert _complete(peer, 2) == ["fake_completion()"]
        assert server.poll() is None
    finally:
        stop(server)
