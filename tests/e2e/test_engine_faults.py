"""Faults around the model, with the fake backend (issue 13): a reload that names a
missing or broken file keeps the loaded model serving and says what to do."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol
from tests.e2e.conftest import finish, inline, items_of, open_doc, server_config, start

PY_URI = "file:///tmp/qwen-lsp-test/faults.py"


def serve_configuration(client: LanguageClient, config: dict[str, Any]) -> None:
    """Answer workspace/configuration with ``config`` as it is when asked (pytest-lsp's
    client answers nothing useful by itself)."""

    async def configuration(params: types.ConfigurationParams) -> list[Any]:
        return [dict(config)]

    client.protocol.fm.features[types.WORKSPACE_CONFIGURATION] = configuration


async def reload_with(client: LanguageClient, config: dict[str, Any], **changes: Any) -> str:
    """Change the settings (a reload), and return the error message the user is shown."""
    config.update(changes)
    seen = len(client.messages)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(600):
        errors = [m for m in client.messages[seen:] if m.type == types.MessageType.Error]
        if errors:
            return errors[0].message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no error shown: {[m.message for m in client.messages]}")


@pytest.mark.parametrize("fault", ["missing", "not-gguf", "truncated-registry-model"])
async def test_a_reload_of_a_missing_or_broken_model_keeps_serving(
    fault: str, tmp_path: Path
) -> None:
    client = await server_config(QWEN_LSP_BACKEND="fake").start()
    assert isinstance(client, LanguageClient)
    config: dict[str, Any] = {}
    serve_configuration(client, config)
    try:
        await start(client, "neovim")
        open_doc(client, PY_URI, "python", "total = ")
        position = types.Position(line=0, character=8)
        assert [i.insert_text for i in items_of(await inline(client, PY_URI, position))] == [
            "fake_completion()"
        ]
        if fault == "missing":
            changes = {"backend": "llama", "model": str(tmp_path / "gone.gguf")}
        elif fault == "not-gguf":
            (tmp_path / "notes.gguf").write_text("these are not weights\n")
            changes = {"backend": "llama", "model": str(tmp_path / "notes.gguf")}
        else:  # the default registry model in a cache where its file is cut short
            cache = tmp_path / "cache"
            cache.mkdir()
            (cache / "qwen2.5-coder-0.5b-instruct.gguf").write_bytes(b"GGUF" + b"\0" * 100)
            changes = {"backend": "llama", "cacheDir": str(cache)}
        message = await reload_with(client, config, **changes)
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "ready"
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=PY_URI, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text="count = ")],
            )
        )
        position = types.Position(line=0, character=8)
        assert [i.insert_text for i in items_of(await inline(client, PY_URI, position))] == [
            "fake_completion()"
        ]
        # What is wrong, how to fix it, and that the server goes on.
        assert "Fix:" in message and "still serving" in message, message
        if fault == "truncated-registry-model":
            assert "qwen-lsp models pull" in message
    finally:
        await finish(client)
