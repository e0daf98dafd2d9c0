"""The JSON-RPC layer under the handlers keeps nothing per message once it is handled."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from qwen_lsp.server import QwenLanguageServer

URI = "file:///tmp/typing.py"


def _keystroke(version: int) -> types.DidChangeTextDocumentNotification:
    at = types.Position(line=0, character=0)
    return types.DidChangeTextDocumentNotification(
        params=types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text="a"
                )
            ],
        )
    )


def test_notifications_leave_no_running_request_behind() -> None:
    # pygls filed every didChange under a made-up id among the running requests and never
    # took it out: a server typed into for hours grew by a future per keystroke.
    async def type_a_while() -> int:
        protocol = QwenLanguageServer().protocol
        protocol._initialize_seen = True  # (what `initialize` sets)
        opened = types.TextDocumentItem(uri=URI, language_id="python", version=1, text="x\n")
        protocol.handle_message(
            types.DidOpenTextDocumentNotification(
                params=types.DidOpenTextDocumentParams(text_document=opened)
            )
        )
        for version in range(2, 502):
            protocol.handle_message(_keystroke(version))
        await asyncio.sleep(0.1)  # any handler still running finishes
        return len(protocol._request_futures)

    assert asyncio.run(type_a_while()) == 0
