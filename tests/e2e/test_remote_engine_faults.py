"""Faults of a separate engine (backend openai) are messages, not hangs (issue 14): the
real server over stdio against a scripted engine in this process. For each fault: one
error message with the engine's own words, the server keeps answering, and suggestions come
back by themselves once the engine does, with a message saying so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol
from tests.e2e.action_client import action_named, choose, list_actions, prepare
from tests.e2e.conftest import finish, inline, insert_text, items_of, open_doc, server_config, start
from tests.scripted_engine import ScriptedEngine

PY_URI = "file:///tmp/qwen-lsp-test/remote_faults.py"
# Generous bounds: a loaded machine is many times slower than these need.
BOUND = 60.0

FAULTS = {
    "refused": "cannot connect to http://127.0.0.1",
    "401": "Incorrect API key provided",
    "404": "The model `nope` does not exist.",
    "500": "CUDA error: out of memory (scripted)",
    "stall": "the engine sent nothing for 0.5 s (engineReadTimeout)",
    "malformed": "malformed stream from the engine",
    "restart": "before the answer was complete",
}


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine()
    yield scripted
    scripted.stop()


def errors_of(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Error]


async def wait_until(check: object, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def suggestion(client: LanguageClient, line: int, character: int) -> list[str]:
    position = types.Position(line=line, character=character)
    return [i.insert_text for i in items_of(await inline(client, PY_URI, position, BOUND))]  # type: ignore[misc]


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_is_one_message_the_server_lives_and_recovers(
    engine: ScriptedEngine, fault: str
) -> None:
    port = engine.port
    if fault == "refused":
        engine.stop()
    elif fault == "restart":
        engine.piece_delay = 0.3  # the engine goes away in the middle of this answer
        engine.answer = "scripted_answer(1, 2, 3, 4, 5, 6)\n"
    else:
        engine.mode = fault
    client = await server_config(QWEN_LSP_BACKEND="openai", QWEN_LSP_ENGINE_URL=engine.url).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "neovim", {"engineReadTimeout": 0.5, "maxSeconds": 30})
        open_doc(client, PY_URI, "python", "total = ")
        if fault == "restart":
            asked = asyncio.ensure_future(suggestion(client, 0, 8))
            await wait_until(lambda: engine.in_flight == 1, "the answer to start")
            engine.stop()
            assert await asyncio.wait_for(asked, BOUND) == []
        else:
            assert await suggestion(client, 0, 8) == []
        await wait_until(lambda: errors_of(client), "an error message")
        assert FAULTS[fault] in errors_of(client)[0]
        # Still answering, and a keystroke during the outage is not another message.
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "ready" and FAULTS[fault] in status.error.message
        insert_text(client, PY_URI, 2, 0, "sub", utf16_col=8)
        assert await suggestion(client, 0, 11) == []
        assert len(errors_of(client)) == 1
        # The engine comes back: the next keystrokes get suggestions again, by themselves.
        if fault in ("refused", "restart"):
            engine = ScriptedEngine(port=port)
        engine.mode, engine.piece_delay, engine.answer = "ok", 0.0, "total_of(items)\n"
        version, line = 3, 0
        got: list[str] = []
        deadline = time.monotonic() + BOUND
        while not got:  # a new line each try: a new context, not a cached "no suggestion"
            assert time.monotonic() < deadline, "no suggestion after the engine came back"
            line += 1
            insert_text(
                client, PY_URI, version, line - 1, "\nvalue = ", utf16_col=11 if line == 1 else 8
            )
            version += 1
            got = await suggestion(client, line, 8)
            await asyncio.sleep(0.1)
        assert got == ["total_of(items)"]
        infos = [m.message for m in client.messages if m.type == types.MessageType.Info]
        assert "qwen-lsp: the inference engine answers again." in infos
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.error is None
        assert len(errors_of(client)) == 1
    finally:
        await finish(client)
        engine.stop()


async def test_a_code_action_on_a_failing_engine_says_why(
    engine: ScriptedEngine, tmp_path: Path
) -> None:
    engine.mode = "500"
    client = await server_config(QWEN_LSP_BACKEND="openai", QWEN_LSP_ENGINE_URL=engine.url).start()
    assert isinstance(client, LanguageClient)
    log = prepare(client)
    try:
        await start(client, "visual-studio-code", root=tmp_path)
        path = tmp_path / "shapes.py"
        text = "def area(width, height):\n    return width * height\n"
        path.write_text(text)
        open_doc(client, path.as_uri(), "python", text)
        found, _ = await list_actions(client, path.as_uri(), (1, 4))
        assert await choose(client, action_named(found, "docstring"), log) is None
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any(FAULTS["500"] in w and "nothing was changed" in w for w in warnings), warnings
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "ready"
    finally:
        await finish(client)
