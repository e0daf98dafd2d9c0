"""A client that types and cancels 10 requests a second never piles work up on a separate
engine (issue 14): the real server over stdio, backend openai, against a scripted engine
whose answers stream slowly (each would take seconds). Every superseded or cancelled
request closes its stream before the next one is sent: the engine never sees a second
stream from this editor while one is open, and nothing is left running after the burst."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import finish, insert_text, open_doc, server_config, start
from tests.scripted_engine import ScriptedEngine

PY_URI = "file:///tmp/qwen-lsp-test/remote_cancel.py"
KEYSTROKES = 30  # 3 s at 10 a second
BOUND = 60.0  # generous: nothing here needs more than a fraction of it
# After the last cancel, the last stream is closed within milliseconds; an answer that ran
# on would take 16 s.
CLOSED_WITHIN = 8.0


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine(answer="item, " * 400)  # 800 pieces, 20 ms apart: 16 s each
    scripted.piece_delay = 0.02
    yield scripted
    scripted.stop()


async def test_cancelling_ten_requests_a_second_keeps_one_in_flight(
    engine: ScriptedEngine,
) -> None:
    client = await server_config(QWEN_LSP_BACKEND="openai", QWEN_LSP_ENGINE_URL=engine.url).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "neovim", {"maxSeconds": 30})
        text = "values = ["
        open_doc(client, PY_URI, "python", text)
        pending: list[asyncio.Future[object]] = []
        for version in range(2, KEYSTROKES + 2):
            insert_text(client, PY_URI, version, 0, "1", utf16_col=len(text))
            text += "1"
            msg_id = str(uuid.uuid4())
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=PY_URI),
                position=types.Position(line=0, character=len(text)),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            )
            pending.append(
                asyncio.wrap_future(
                    client.protocol.send_request(
                        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
                    )
                )
            )
            await asyncio.sleep(0.05)
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), BOUND)
        # Every stream was closed early (an answer takes 16 s), never two open at once from
        # this editor ...
        assert engine.wait_for(lambda e: e.in_flight == 0, CLOSED_WITHIN), "a stream ran on"
        sent = len(engine.completions())
        assert 1 <= sent <= KEYSTROKES
        assert engine.disconnects == sent
        assert engine.most_overlap == 0
        # ... and nothing more is asked once the typing stopped.
        await asyncio.sleep(0.5)
        assert len(engine.completions()) == sent
        assert not [m for m in client.messages if m.type == types.MessageType.Error]
    finally:
        await finish(client)
