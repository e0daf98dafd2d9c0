"""`--tcp` over real sockets (issue 13, item 4): loopback unless `--allow-remote`, a token
for remote use, probes and strangers closed without disturbing the client being served.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.raw_lsp import (
    RawPeer,
    did_open,
    fake_env,
    frame,
    initialize_params,
    inline_params,
    server_command,
    stop,
)

URI = "file:///tmp/qwen-lsp-test/tcp.py"
TOKEN = "tcp-test-token-0123456789abcdef"
SECONDS = 60  # generous: the machine is shared; the server answers in well under a second


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        server_command(*args), stderr=log.open("wb"), stdin=subprocess.DEVNULL, env=fake_env(**env)
    )


def _connect(port: int, server: subprocess.Popen[bytes]) -> socket.socket:
    deadline = time.monotonic() + SECONDS
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=SECONDS)
        except ConnectionRefusedError:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.1)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


@pytest.fixture
def loopback(log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    server = _start(log, "--tcp", f"127.0.0.1:{port}")
    try:
        _connect(port, server).close()  # itself a probe: the server must survive it
        yield server, port
    finally:
        stop(server)


def _session(port: int, server: subprocess.Popen[bytes], options: object = None) -> RawPeer:
    peer = RawPeer.over_socket(_connect(port, server))
    peer.request(1, "initialize", initialize_params({}, options))
    return peer


def _completes(peer: RawPeer, msg_id: int) -> bool:
    peer.notify("textDocument/didOpen", did_open(URI, "x = "))
    peer.request(msg_id, "textDocument/inlineCompletion", inline_params(URI, 0, 4))
    items = peer.response(msg_id, SECONDS)["result"]["items"]
    return [item["insertText"] for item in items] == ["fake_completion()"]


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]"])
def test_non_loopback_address_needs_allow_remote(log: Path, host: str) -> None:
    server = _start(log, "--tcp", f"{host}:{_free_port()}")
    try:
        assert server.wait(SECONDS) == 2
        assert "--allow-remote" in log.read_text()
    finally:
        stop(server)


def test_allow_remote_needs_a_token(log: Path) -> None:
    server = _start(log, "--tcp", f"0.0.0.0:{_free_port()}", "--allow-remote")
    try:
        assert server.wait(SECONDS) == 2
        assert "token" in log.read_text()
    finally:
        stop(server)


def test_a_short_token_is_refused(log: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret\n")
    args = ("--tcp", f"0.0.0.0:{_free_port()}", "--allow-remote", "--token-file", str(token_file))
    server = _start(log, *args)
    try:
        assert server.wait(SECONDS) == 2
        assert "at least 16 characters" in log.read_text()
    finally:
        stop(server)


def test_probes_and_strangers_do_not_stop_the_server(
    loopback: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = loopback
    for stranger in (
        b"",  # connect and close
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        # An HTTP POST whose body is a valid initialize: still not LSP framing.
        b"POST / HTTP/1.1\r\n" + frame({"jsonrpc": "2.0", "id": 1, "method": "initialize"}),
        frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),  # not initialize
    ):
        with _connect(port, server) as connection:
            connection.sendall(stranger)
            connection.shutdown(socket.SHUT_WR)
            assert connection.recv(65536) == b"", "a stranger got an answer"
    peer = _session(port, server)
    assert "capabilities" in peer.response(1, SECONDS)["result"]
    peer.notify("initialized", {})
    assert _completes(peer, 2)


def test_a_second_connection_is_closed_and_the_first_keeps_serving(
    loopback: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = loopback
    first = _session(port, server)
    first.response(1, SECONDS)
    first.notify("initialized", {})
    second = _session(port, server)
    assert second.wait_closed(SECONDS)
    assert second.received == []
    assert _completes(first, 2)
    assert server.poll() is None


def test_the_session_ends_the_server_with_the_lsp_exit_code(
    loopback: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = loopback
    peer = _session(port, server)
    peer.response(1, SECONDS)
    peer.request(2, "shutdown")
    peer.response(2, SECONDS)
    peer.notify("exit")
    assert server.wait(SECONDS) == 0


def test_a_client_that_disconnects_without_shutdown_ends_the_server_with_one(
    loopback: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = loopback
    connection = _connect(port, server)
    peer = RawPeer.over_socket(connection)
    peer.request(1, "initialize", initialize_params())
    peer.response(1, SECONDS)
    # shutdown, not just close: the peer's reader thread is blocked in recv on this socket,
    # and a close alone does not end the connection while a call still holds it.
    connection.shutdown(socket.SHUT_RDWR)
    connection.close()
    assert server.wait(SECONDS) == 1


@pytest.mark.parametrize("source", ["file", "environment"])
def test_remote_listener_admits_only_the_token(log: Path, tmp_path: Path, source: str) -> None:
    port = _free_port()
    args = ["--tcp", f"0.0.0.0:{port}", "--allow-remote"]
    env = {}
    if source == "file":
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        args += ["--token-file", str(token_file)]
    else:
        env["QWEN_LSP_TOKEN"] = TOKEN
    server = _start(log, *args, **env)
    try:
        for wrong in (None, {"qwenLspToken": "not-the-token-at-all"}, {"qwenLspToken": 7}):
            stranger = _session(port, server, wrong)
            refusal = stranger.response(1, SECONDS)
            assert "qwenLspToken" in refusal["error"]["message"]
            assert stranger.wait_closed(SECONDS)
        # The token may sit beside the settings or inside their section.
        options = {"qwenLsp": {"qwenLspToken": TOKEN, "disabledLanguages": ["lua"]}}
        peer = _session(port, server, options)
        assert "capabilities" in peer.response(1, SECONDS)["result"]
        peer.notify("initialized", {})
        assert _completes(peer, 2)
        messages = [m.get("params", {}).get("message", "") for m in peer.received]
        assert not any("qwenLspToken" in m for m in messages), messages  # not a setting
        assert TOKEN not in log.read_text()
    finally:
        stop(server)
