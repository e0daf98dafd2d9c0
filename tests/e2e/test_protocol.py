"""The server over stdio with pytest-lsp and the fake backend: the protocol, fast.

Runs with the recorded capabilities of Neovim, VS Code and Emacs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from qwen_lsp import protocol
from tests.e2e.conftest import (
    CLIENTS,
    cursor_of,
    finish,
    inline,
    items_of,
    open_doc,
    progress_kinds_once_ended,
    server_config,
    start,
)

PY_URI = "file:///tmp/qwen-lsp-test/example.py"


@pytest_lsp.fixture(config=server_config(QWEN_LSP_BACKEND="fake"), params=CLIENTS)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    await start(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=server_config(QWEN_LSP_BACKEND="fake", QWEN_LSP_FAKE_SECONDS_PER_TOKEN="0.2")
)
async def slow_client(lsp_client: LanguageClient) -> Any:
    await start(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


@pytest.mark.parametrize("capabilities", CLIENTS)
async def test_initialize_advertises_capabilities(capabilities: str) -> None:
    client = await server_config(QWEN_LSP_BACKEND="fake").start()
    assert isinstance(client, LanguageClient)
    try:
        caps = (await start(client, capabilities)).capabilities
        assert caps.inline_completion_provider
        assert caps.completion_provider is not None
        sync = caps.text_document_sync
        assert isinstance(sync, types.TextDocumentSyncOptions)
        assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close
        # Neovim offers UTF-8 first; positions stay UTF-16 (documents.py converts).
        assert caps.position_encoding in (None, types.PositionEncodingKind.Utf16)
    finally:
        await finish(client)


async def test_inline_completion_at_utf16_position(client: LanguageClient) -> None:
    text, position = cursor_of('label = "😀漢字 ok" + ‸\n')
    open_doc(client, PY_URI, "python", text)
    items = items_of(await inline(client, PY_URI, position))
    assert len(items) == 1
    assert items[0].insert_text == "fake_completion()"
    assert items[0].range is not None
    assert items[0].range.start == position == items[0].range.end
    assert position.character == len('label = "😀漢字 ok" + '.encode("utf-16-le")) // 2


async def test_incremental_edits_then_complete(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", "x = 1\r\n")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=PY_URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=0),
                        end=types.Position(line=1, character=0),
                    ),
                    text="y = 😀 + ",
                )
            ],
        )
    )
    items = items_of(await inline(client, PY_URI, types.Position(line=1, character=9)))
    assert [i.insert_text for i in items] == ["fake_completion()"]


async def test_position_out_of_range_is_an_error(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", "x = 1\n")
    with pytest.raises(JsonRpcException) as error:
        await inline(client, PY_URI, types.Position(line=40, character=0))
    assert "line" in str(error.value)
    # ...and the server keeps serving.
    assert items_of(await inline(client, PY_URI, types.Position(line=1, character=0)))


async def test_unknown_document_is_an_error(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException, match="not open"):
        await inline(client, "file:///nowhere.py", types.Position(line=0, character=0))


async def test_binary_document_gets_nothing(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", "x = 1\x00\x01\x02 = ")
    assert items_of(await inline(client, PY_URI, types.Position(line=0, character=12))) == []


async def test_completion_fallback_item(client: LanguageClient) -> None:
    text, position = cursor_of("value = compu‸\n")
    open_doc(client, PY_URI, "python", text)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=PY_URI), position=position
        )
    )
    assert isinstance(result, types.CompletionList)
    [item] = result.items
    assert item.text_edit is not None and isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text == "compu" + "fake_completion()"
    assert item.text_edit.range.start == types.Position(line=0, character=8)
    assert item.text_edit.range.end == position


async def test_newer_edit_makes_running_request_return_nothing(slow_client: LanguageClient) -> None:
    open_doc(slow_client, PY_URI, "python", "x = ")
    request = asyncio.ensure_future(
        inline(slow_client, PY_URI, types.Position(line=0, character=4))
    )
    await asyncio.sleep(0.5)
    slow_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=PY_URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 2")],
        )
    )
    assert items_of(await request) == []


async def test_cancel_request_returns_cancelled_error(slow_client: LanguageClient) -> None:
    open_doc(slow_client, PY_URI, "python", "x = ")
    msg_id = str(uuid.uuid4())
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=PY_URI),
        position=types.Position(line=0, character=4),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )
    future = asyncio.wrap_future(
        slow_client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
    )
    await asyncio.sleep(0.5)
    slow_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(future, 5)
    assert error.value.code == -32800  # RequestCancelled


async def test_newest_request_wins(slow_client: LanguageClient) -> None:
    text = "a = \nb = "
    open_doc(slow_client, PY_URI, "python", text)
    first = asyncio.ensure_future(inline(slow_client, PY_URI, types.Position(line=0, character=4)))
    await asyncio.sleep(0.3)
    second = asyncio.ensure_future(inline(slow_client, PY_URI, types.Position(line=1, character=4)))
    assert items_of(await first) == []  # superseded: shows nothing, no error
    assert [i.insert_text for i in items_of(await second)] == ["fake_completion()"]


# -- a model that cannot load ---------------------------------------------------------


@pytest.fixture
def not_a_model(tmp_path: Path) -> Path:
    path = tmp_path / "notes.gguf"
    path.write_text("these are not weights\n")
    return path


@pytest.mark.parametrize("kind", ["not-gguf", "missing-registry-model"])
async def test_broken_model_shows_fix_and_server_keeps_serving(
    kind: str, not_a_model: Path, tmp_path: Path
) -> None:
    env = (
        {"QWEN_LSP_MODEL": str(not_a_model)}
        if kind == "not-gguf"
        else {"QWEN_LSP_CACHE_DIR": str(tmp_path / "empty-cache")}
    )
    client = await server_config(**env).start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "neovim")
        await asyncio.wait_for(client.wait_for_notification(types.WINDOW_SHOW_MESSAGE), 30)
        [message] = [m for m in client.messages if m.type == types.MessageType.Error]
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        assert status.state == "error" and status.error.message in message.message
        if kind == "not-gguf":
            assert "not a GGUF" in message.message
            assert status.error.pullModel is None  # a file of the user's: no download fixes it
        else:
            assert "qwen-lsp models pull qwen2.5-coder-0.5b-instruct" in message.message
            # Editors offer the download from this field, not from the text.
            assert status.error.pullModel == "qwen2.5-coder-0.5b-instruct"
        open_doc(client, PY_URI, "python", "x = ")
        assert items_of(await inline(client, PY_URI, types.Position(line=0, character=4))) == []
        assert items_of(await inline(client, PY_URI, types.Position(line=0, character=4))) == []
    finally:
        await finish(client)


async def test_model_load_reports_progress() -> None:
    client = await server_config(QWEN_LSP_BACKEND="fake").start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "visual-studio-code")
        kinds = await progress_kinds_once_ended(client)
        assert kinds == ["WorkDoneProgressBegin", "WorkDoneProgressEnd"]
    finally:
        await finish(client)


def _frame(message: dict[str, Any] | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _responses(stdout: bytes) -> dict[Any, dict[str, Any]]:
    """The responses on the server's stdout, by id."""
    found: dict[Any, dict[str, Any]] = {}
    rest = stdout
    while rest:
        header, _, rest = rest.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        message, rest = json.loads(rest[:length]), rest[length:]
        if "id" in message and "method" not in message:
            found[message["id"]] = message
    return found


def test_bad_messages_get_answers_and_the_server_keeps_serving() -> None:
    """Raw bytes on stdin, as a buggy client would send them."""
    position = {"line": 0, "character": 4}
    document = {"uri": PY_URI}
    messages = [
        b"{this is not json",
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {**document, "languageId": "python", "version": 1, "text": "x = "}
            },
        },
        # Parameters that do not parse: pygls alone would never answer this one.
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/inlineCompletion",
            "params": {"textDocument": {"uri": 5}, "position": "here"},
        },
        {"jsonrpc": "2.0", "id": 3, "method": "no/suchMethod", "params": {}},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "textDocument/inlineCompletion",
            "params": {
                "textDocument": document,
                "position": position,
                "context": {"triggerKind": 2},
            },
        },
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "qwen_lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "QWEN_LSP_BACKEND": "fake"},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"".join(_frame(m) for m in messages))
    process.stdin.flush()
    # Shutdown only after request 4 is answered: shutdown cancels requests still running.
    received = b""
    while b'"id": 4' not in received and b'"id":4' not in received:
        chunk = process.stdout.read1(65536)
        assert chunk, "the server closed its output"
        received += chunk
    shutdown = [
        {"jsonrpc": "2.0", "id": 5, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    rest, _ = process.communicate(b"".join(_frame(m) for m in shutdown), timeout=60)
    answers = _responses(received + rest)
    assert "capabilities" in answers[1]["result"]
    assert answers[2]["error"]["code"] == -32602  # InvalidParams
    assert "inlineCompletion" in answers[2]["error"]["message"]
    assert answers[3]["error"]["code"] == -32601  # MethodNotFound
    assert answers[4]["result"]["items"][0]["insertText"] == "fake_completion()"
    assert answers[5]["result"] is None


async def test_language_without_grammar_still_completes(client: LanguageClient) -> None:
    uri = "file:///tmp/qwen-lsp-test/script.lua"
    open_doc(client, uri, "lua", "local x = ")
    items = items_of(await inline(client, uri, types.Position(line=0, character=10)))
    assert [i.insert_text for i in items] == ["fake_completion()"]


async def test_bad_setting_is_reported_and_default_kept() -> None:
    client = await server_config(QWEN_LSP_BACKEND="fake").start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "emacs", {"qwenLsp": {"prefixTokens": "lots", "modle": "x"}})
        open_doc(client, PY_URI, "python", "x = ")
        assert items_of(await inline(client, PY_URI, types.Position(line=0, character=4)))
        warnings = [m.message for m in client.messages if m.type == types.MessageType.Warning]
        assert any("prefixTokens" in w and "keeping 384" in w for w in warnings), warnings
        assert any("modle" in w for w in warnings), warnings
    finally:
        await finish(client)


async def test_huge_document_still_completes(client: LanguageClient) -> None:
    """3 MB: above the parse limit, so no tree, but the window keeps the prompt small."""
    text = "".join(f"value_{i} = compute({i})\n" for i in range(120_000)) + "total = "
    assert len(text) > 3_000_000
    open_doc(client, PY_URI, "python", text)
    position = types.Position(line=120_000, character=8)
    items = items_of(await inline(client, PY_URI, position))
    assert [i.insert_text for i in items] == ["fake_completion()"]


async def test_initialization_options_apply_before_the_workspace_configuration_answer() -> None:
    """A request sent right after `initialized`, while the client has not answered
    workspace/configuration yet, already follows the initializationOptions."""
    client = await server_config(QWEN_LSP_BACKEND="fake").start()
    assert isinstance(client, LanguageClient)

    answered = asyncio.Event()

    async def slow_configuration(params: types.ConfigurationParams) -> list[Any]:
        await answered.wait()
        return [None]

    # pytest-lsp answers at once; this client takes its time, as a busy editor may.
    client.protocol.fm.features[types.WORKSPACE_CONFIGURATION] = slow_configuration

    try:
        await start(client, "neovim", {"disabledLanguages": ["python"]})
        text, position = cursor_of("total = ‸")
        open_doc(client, PY_URI, "python", text)
        assert items_of(await inline(client, PY_URI, position, timeout=10)) == []
    finally:
        answered.set()
        await asyncio.sleep(0.1)
        await client.shutdown_session()
        await client.stop()


async def _model_loaded(client: LanguageClient) -> None:
    for _ in range(200):
        reports = [r for rs in client.progress_reports.values() for r in rs]
        if any(isinstance(r, types.WorkDoneProgressEnd) for r in reports):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the model did not load")


PRICING = "def net_price(gross_cents, vat_rate):\n    return gross_cents / (1 + vat_rate)\n"
RULES = "".join(f"def rule_{i}(order):\n    return order.total > {i}\n\n\n" for i in range(30))
SHOP = (
    "from pricing import net_price\n\n\ndef label(order):\n"
    "    return net_price(order, 0.2)\n\n\nx = "
)


async def test_cross_file_context_reaches_the_prompt(tmp_path: Path) -> None:
    """The fake answers by what the prompt contains: another open file's definition, an
    edit in a third file (didChange feeds the ring), and nothing with crossFileTokens 0."""
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "contains": {
                    "<|file_sep|>pricing.py\ndef net_price(": "saw_definition()\n",
                    "<|file_sep|>pricing.py\ndef net_price( && def rule_17(": "saw_edit()\n",
                }
            }
        )
    )
    env = {"QWEN_LSP_BACKEND": "fake", "QWEN_LSP_FAKE_ANSWERS": str(answers)}
    seen: dict[int, list[Any]] = {}
    for budget in (0, 512):
        client = await server_config(**env).start()
        assert isinstance(client, LanguageClient)
        try:
            options = {"crossFileTokens": budget, "suggestionCache": False}
            await start(client, "visual-studio-code", options)
            await _model_loaded(client)  # the settings are read before the model loads
            base = "file:///tmp/qwen-lsp-test/shop"
            open_doc(client, f"{base}/pricing.py", "python", PRICING)
            open_doc(client, f"{base}/rules.py", "python", RULES)
            open_doc(client, f"{base}/shop.py", "python", SHOP)
            end = types.Position(line=SHOP.count("\n"), character=4)
            answers_seen = [items_of(await inline(client, f"{base}/shop.py", end))[0].insert_text]
            at = types.Position(line=68, character=0)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=f"{base}/rules.py", version=2
                    ),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(start=at, end=at), text="# reviewed\n"
                        )
                    ],
                )
            )
            answers_seen.append(
                items_of(await inline(client, f"{base}/shop.py", end))[0].insert_text
            )
            seen[budget] = answers_seen
        finally:  # shut down before asserting: a client stopped without it waits for ever
            await client.shutdown_session()
            await client.stop()
    assert seen == {
        0: ["fake_completion()", "fake_completion()"],
        512: ["saw_definition()", "saw_edit()"],
    }
