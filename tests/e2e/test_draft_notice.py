"""A refused draft model (issue 15) is told to the user, not only logged: one warning
(window/showMessage) with the reason, and the server serves without it. The real server
over stdio with the canned model, whose load checks draftModel like the in-process one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol
from tests.e2e.conftest import finish, inline, items_of, open_doc, server_config, start

URI = "file:///tmp/qwen-lsp-test/draft_notice.py"
BOUND = 60.0


async def test_a_missing_draft_model_is_one_warning_and_the_server_serves(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "draft.gguf"
    client = await server_config(QWEN_LSP_BACKEND="fake", QWEN_LSP_DRAFT_MODEL=str(missing)).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "neovim", {"cacheDir": str(tmp_path)})
        open_doc(client, URI, "python", "total = ")
        found = items_of(await inline(client, URI, types.Position(line=0, character=8), BOUND))
        assert [item.insert_text for item in found] == ["fake_completion()"]

        def warnings() -> list[str]:
            return [m.message for m in client.messages if m.type == types.MessageType.Warning]

        deadline = time.monotonic() + BOUND
        while not warnings():
            assert time.monotonic() < deadline, "no warning about the draft model"
            await asyncio.sleep(0.05)
        assert len(warnings()) == 1, warnings()
        assert warnings()[0].startswith("qwen-lsp: draft model not used: ")
        assert "draft.gguf" in warnings()[0] and "decoding without one" in warnings()[0]
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "ready" and status.error is None
    finally:
        await finish(client)
