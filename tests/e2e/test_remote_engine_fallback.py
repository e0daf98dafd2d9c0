"""engineFallback (issue 14): the real server over stdio, backend openai against a scripted
engine that goes down and comes back, the canned model standing in for the local one
(``engineFallback: fake``, the test-only choice). While the engine is down suggestions come
from the local model, after one warning and a progress report of its load; once the engine
answers again it serves again, by itself, with one message saying so."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol
from tests.e2e.action_client import (
    action_named,
    apply_workspace_edit,
    choose,
    list_actions,
    prepare,
)
from tests.e2e.conftest import finish, inline, insert_text, items_of, open_doc, server_config, start
from tests.scripted_engine import ScriptedEngine

PY_URI = "file:///tmp/qwen-lsp-test/remote_fallback.py"
BOUND = 60.0
LOCAL = "fake_completion()"  # the canned model's answer
REMOTE = "total_of(items)"


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine(answer=REMOTE + "\n")
    yield scripted
    scripted.stop()


def messages(client: LanguageClient, kind: types.MessageType) -> list[str]:
    return [m.message for m in client.messages if m.type == kind]


def local_loads(client: LanguageClient) -> list[types.WorkDoneProgressBegin]:
    """The progress reports of the local model's load."""
    return [
        report
        for reports in client.progress_reports.values()
        for report in reports
        if isinstance(report, types.WorkDoneProgressBegin)
        and "loading the local model" in str(report.message)
    ]


class Typist:
    """A new line each keystroke: a new context each time, never a cached answer."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.version = 1
        self.line = 0

    async def next_suggestion(self) -> list[str]:
        self.version += 1
        self.line += 1
        col = len("total = ") if self.line == 1 else len("value = ")
        insert_text(self.client, PY_URI, self.version, self.line - 1, "\nvalue = ", utf16_col=col)
        position = types.Position(line=self.line, character=len("value = "))
        found = items_of(await inline(self.client, PY_URI, position, BOUND))
        return [str(item.insert_text) for item in found]

    async def until(self, wanted: str, what: str) -> int:
        """Keystrokes until the suggestion is ``wanted``."""
        deadline = time.monotonic() + BOUND
        for count in range(1, 10_000):
            if await self.next_suggestion() == [wanted]:
                return count
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)
        raise AssertionError(what)


async def test_the_local_model_serves_while_the_engine_is_down(engine: ScriptedEngine) -> None:
    port = engine.port
    client = await server_config(
        QWEN_LSP_BACKEND="openai",
        QWEN_LSP_ENGINE_URL=engine.url,
        QWEN_LSP_ENGINE_FALLBACK="fake",
    ).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "visual-studio-code", {"maxSeconds": 30})
        open_doc(client, PY_URI, "python", "total = ")
        typist = Typist(client)
        assert await typist.until(REMOTE, "the engine's answer") == 1
        assert not local_loads(client)  # the local model is not loaded while it works
        engine.stop()
        await typist.until(LOCAL, "the local model's answer")
        for _ in range(5):  # typing on: the local model answers, nothing more is said
            assert await typist.next_suggestion() == [LOCAL]
        warnings = messages(client, types.MessageType.Warning)
        assert len(warnings) == 1, warnings
        # Refused, reset, or a stream cut short when the engine went away with a connection
        # open (which one depends on where the request was): the engine's own error is in
        # the one warning.
        assert "the inference engine is down (" in warnings[0]
        assert any(
            cause in warnings[0]
            for cause in (
                "cannot connect to http://127.0.0.1",
                "reset",
                "the connection closed before the answer was complete",
            )
        ), warnings[0]
        assert "local model" in warnings[0]
        assert messages(client, types.MessageType.Error) == []
        assert len(local_loads(client)) == 1
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "ready"
        # The engine comes back on its address: it serves again by itself.
        engine = ScriptedEngine(answer=REMOTE + "\n", port=port)
        await typist.until(REMOTE, "the engine's answer again")
        infos = messages(client, types.MessageType.Info)
        assert any("answers again and serves" in m for m in infos), infos
        assert len(messages(client, types.MessageType.Warning)) == 1
        assert messages(client, types.MessageType.Error) == []
    finally:
        await finish(client)
        engine.stop()


async def test_a_code_action_is_served_by_the_local_model_while_the_engine_is_down(
    engine: ScriptedEngine, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    docstring = 'The area of a rectangle."""\n```\n'  # continues the prompt's '"""'
    answers.write_text(json.dumps({"contains": {"Task: say what && def area": docstring}}))
    engine.stop()  # down from the start: the first request loads the local model
    client = await server_config(
        QWEN_LSP_BACKEND="openai",
        QWEN_LSP_ENGINE_URL=engine.url,
        QWEN_LSP_ENGINE_FALLBACK="fake",
        QWEN_LSP_FAKE_ANSWERS=str(answers),
    ).start()
    assert isinstance(client, LanguageClient)
    log = prepare(client)
    try:
        await start(client, "visual-studio-code", root=tmp_path)
        path = tmp_path / "shapes.py"
        text = "def area(width, height):\n    return width * height\n"
        path.write_text(text)
        open_doc(client, path.as_uri(), "python", text)
        found, _ = await list_actions(client, path.as_uri(), (1, 4))
        edit = await choose(client, action_named(found, "docstring"), log, BOUND)
        assert edit is not None
        edited = apply_workspace_edit(edit, {path.as_uri(): text})[path.as_uri()]
        assert '"""The area of a rectangle."""' in edited
        warnings = messages(client, types.MessageType.Warning)
        assert len(warnings) == 1 and "local model" in warnings[0], warnings
        assert messages(client, types.MessageType.Error) == []
    finally:
        await finish(client)
