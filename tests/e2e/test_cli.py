"""The command line as a user runs it: models, headless completion, doctor, TCP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import needs_default_model

ROOT = Path(__file__).resolve().parents[2]


def qwen_lsp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwen_lsp", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        # No time cap: on a busy machine it would make the greedy output depend on load.
        env={**os.environ, "QWEN_LSP_MAX_SECONDS": "120", **env},
    )


def test_models_list_shows_the_default() -> None:
    result = qwen_lsp("models", "list")
    assert result.returncode == 0
    assert "qwen2.5-coder-0.5b-instruct *" in result.stdout
    assert "qwen2.5-coder-1.5b-instruct" in result.stdout


def test_models_list_json_is_one_document_for_editors(tmp_path: Path) -> None:
    result = qwen_lsp("models", "list", "--json", QWEN_LSP_CACHE_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    keys = {"name", "file", "size", "sha256", "description", "source", "architecture"}
    keys |= {"completionStyle", "gpuMemoryGb"}
    keys |= {"isDefault", "present", "verified", "path"}
    assert all(set(model) == keys for model in models)
    assert [m["name"] for m in models if m["isDefault"]] == ["qwen2.5-coder-0.5b-instruct"]
    small = models[0]
    assert small["name"] == "qwen2.5-coder-0.5b-instruct"
    assert small["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert small["size"] == 491400064 and small["architecture"] == "qwen2"
    # An empty cache: nothing present, nothing known about its integrity.
    assert all(not m["present"] and m["verified"] is None for m in models)
    assert small["path"] == str(tmp_path / "qwen2.5-coder-0.5b-instruct.gguf")
    assert any(m["sha256"] is None for m in models)  # hub models: trusted on first use


@pytest.mark.model
@needs_default_model
def test_complete_prints_a_suggestion() -> None:
    result = qwen_lsp("complete", "examples/demo.py:5:5")
    assert result.returncode == 0, result.stderr
    assert "return" in result.stdout
    assert "def fibonacci" not in result.stdout  # the code before the cursor is not repeated
    # Inserted at line 5, column 5 (after the indentation), the file compiles.
    lines = (ROOT / "examples/demo.py").read_text().splitlines(keepends=True)
    lines[4] = lines[4][:4] + result.stdout.rstrip("\n") + lines[4][4:]
    compile("".join(lines), "demo", "exec")


@pytest.mark.parametrize(
    "location, message",
    [
        ("examples/demo.py", "expected FILE:LINE"),
        ("examples/demo.py:99:1", "line 99 is outside"),
        ("examples/missing.py:1:1", "cannot read"),
    ],
)
def test_complete_rejects_bad_locations(location: str, message: str) -> None:
    result = qwen_lsp("complete", location, QWEN_LSP_BACKEND="fake")
    assert result.returncode != 0
    assert message in result.stderr


def test_complete_with_a_broken_model_says_how_to_fix_it(tmp_path: Path) -> None:
    fake_model = tmp_path / "broken.gguf"
    fake_model.write_bytes(b"GGUF" + b"\x00" * 10)
    result = qwen_lsp("complete", "examples/demo.py:5:5", QWEN_LSP_MODEL=str(fake_model))
    assert result.returncode == 1
    assert "fix:" in result.stderr


@pytest.mark.model
@needs_default_model
def test_doctor_reports_versions_model_and_speed() -> None:
    result = qwen_lsp("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for field in ("llama-cpp-python", "cpu features used", "model file", "generation speed"):
        assert field in result.stdout
    assert "verified" in result.stdout


def test_server_over_tcp() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "qwen_lsp", "--tcp", f"127.0.0.1:{port}"],
        env={**os.environ, "QWEN_LSP_BACKEND": "fake"},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "server did not listen"
                time.sleep(0.1)
        with connection:
            body = json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
            ).encode()
            connection.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            received = b""
            while b"inlineCompletionProvider" not in received:
                chunk = connection.recv(65536)
                assert chunk, "connection closed"
                received += chunk
    finally:
        server.terminate()
        server.wait(10)
