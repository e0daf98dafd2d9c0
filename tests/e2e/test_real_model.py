"""The server over stdio with the real default model: end-to-end truth.

Greedy decoding is deterministic, but the assertions are properties (non-empty, parses,
no repeat of the code after the cursor), not exact strings.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from qwen_lsp import protocol, syntax
from qwen_lsp.settings import Settings
from tests.e2e.conftest import (
    CLIENTS,
    RUNS_MODEL,
    cursor_of,
    finish,
    inline,
    items_of,
    open_doc,
    progress_kinds_once_ended,
    server_config,
    start,
)

pytestmark = RUNS_MODEL

SNIPPETS = {
    "python": (
        "example.py",
        'import math\n\n\ndef circle_area(radius: float) -> float:\n    """Area of a circle'
        ' with the given radius."""\n    ‸\n\n\ndef main() -> None:\n'
        "    print(circle_area(2.0))\n",
        "radius",
    ),
    "javascript": (
        "example.js",
        "function sumOfSquares(values) {\n  let total = 0;\n  for (const v of values) {\n"
        "    ‸\n  }\n  return total;\n}\n\nconsole.log(sumOfSquares([1, 2, 3]));\n",
        "total",
    ),
    "go": (
        "example.go",
        'package main\n\nimport "fmt"\n\n// maxInt returns the larger of a and b.\n'
        "func maxInt(a, b int) int {\n\t‸\n}\n\nfunc main() {\n\tfmt.Println(maxInt(1, 2))\n}\n",
        "return",
    ),
}


# No time cap: on a shared, busy machine a cap would make greedy output depend on load.
# Whole windows and whole blocks, whatever the machine's load (a cold prompt is otherwise
# cut by the measured rate, a slow block shown by its first lines).
DETERMINISTIC = {"maxSeconds": 120, "coldPromptSeconds": 0, "blockShowAfterSeconds": 0}


@pytest_lsp.fixture(config=server_config(), params=CLIENTS)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    await start(lsp_client, request.param, DETERMINISTIC)
    yield
    await lsp_client.shutdown_session()


def _errors(language: str, text: str) -> int:
    parser = syntax.get_parser(language)
    return syntax.count_errors(parser.parse(text.encode()).root_node)


@pytest.mark.parametrize("language", sorted(SNIPPETS))
async def test_sensible_completion(client: LanguageClient, language: str) -> None:
    name, marked, expected_word = SNIPPETS[language]
    text, position = cursor_of(marked)
    uri = f"file:///tmp/qwen-lsp-e2e/{name}"
    open_doc(client, uri, language, text)
    [item] = items_of(await inline(client, uri, position))
    suggestion = item.insert_text
    assert isinstance(suggestion, str) and suggestion.strip()
    assert expected_word in suggestion

    lines = text.splitlines(keepends=True)
    offset = sum(len(line) for line in lines[: position.line]) + position.character
    prefix, suffix = text[:offset], text[offset:]
    completed = prefix + suggestion + suffix
    # The hole is an empty body; filled in, the file parses cleanly.
    assert _errors(language, completed) == 0, completed
    # The code after the cursor is not repeated: not at the end of the suggestion, and not
    # inside it unless it is a lone closing bracket (an inner block may close the same way).
    next_line = next(line.strip() for line in suffix.splitlines() if line.strip())
    shown = [line.strip() for line in suggestion.splitlines() if line.strip()]
    assert shown[-1] != next_line
    if next_line.strip("{}()[];"):
        assert next_line not in shown


# Counting on: the model goes on for hundreds of tokens (it closed a list of primes after
# 76 tokens, under 2 s on a quiet machine, before the tests below could stop it).
LONG = "NUMBERS = [" + ", ".join(str(n) for n in range(1, 41)) + ", ‸"
LONG_OPTIONS = {"maxTokensLine": 400, "maxSeconds": 60}


@pytest_lsp.fixture(config=server_config())
async def long_client(lsp_client: LanguageClient) -> Any:
    await start(lsp_client, "visual-studio-code", LONG_OPTIONS)
    yield
    await lsp_client.shutdown_session()


def _plain(value: Any) -> Any:
    """pygls hands untyped results back as named tuples; make them plain data."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def _status(client: LanguageClient) -> dict[str, Any]:
    status: dict[str, Any] = _plain(
        await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
    )
    return status


def type_at(client: LanguageClient, uri: str, position: types.Position, text: str) -> None:
    """Insert ``text`` at ``position`` as the document's version 2 (a keystroke)."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=position, end=position), text=text
                )
            ],
        )
    )


async def _warm(client: LanguageClient, uri: str) -> None:
    """Load the model (the first request waits for it) so timings below are about work."""
    open_doc(client, uri, "python", "x = ")
    await inline(client, uri, types.Position(line=0, character=4))


async def test_cancel_request_stops_generation(long_client: LanguageClient) -> None:
    uri = "file:///tmp/qwen-lsp-e2e/numbers.py"
    await _warm(long_client, "file:///tmp/qwen-lsp-e2e/warm.py")
    text, position = cursor_of(LONG)
    open_doc(long_client, uri, "python", text)
    msg_id = str(uuid.uuid4())
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )
    method = types.TEXT_DOCUMENT_INLINE_COMPLETION
    future = asyncio.wrap_future(long_client.protocol.send_request(method, params, msg_id=msg_id))
    await asyncio.sleep(2.0)  # prompt processed (on a quiet machine), generating numbers
    long_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    cancelled_at = time.monotonic()
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(future, 30)
    assert error.value.code == -32800  # RequestCancelled
    assert time.monotonic() - cancelled_at < 2
    # The generation itself stopped (it would run for ~20 s): the worker is free again.
    for _ in range(40):
        last = (await _status(long_client))["lastGeneration"]
        if last and last["promptTokens"] > 20:
            break
        await asyncio.sleep(0.1)
    assert last["stopReason"] == "cancelled"
    assert last["generatedTokens"] < LONG_OPTIONS["maxTokensLine"]


async def test_edit_during_generation_returns_nothing_stale(long_client: LanguageClient) -> None:
    uri = "file:///tmp/qwen-lsp-e2e/numbers2.py"
    await _warm(long_client, "file:///tmp/qwen-lsp-e2e/warm2.py")
    text, position = cursor_of(LONG)
    open_doc(long_client, uri, "python", text)
    request = asyncio.ensure_future(inline(long_client, uri, position))
    await asyncio.sleep(2.0)
    # An edit away from the cursor: stale at once, whether the prompt is still being read
    # (a busy machine) or the model writes. (Text typed at the cursor is judged against
    # what the model writes: tests/unit/test_inflight.py.)
    type_at(long_client, uri, types.Position(line=0, character=0), "# edited\n")
    changed_at = time.monotonic()
    assert items_of(await asyncio.wait_for(request, 30)) == []
    assert time.monotonic() - changed_at < 2
    last = (await _status(long_client))["lastGeneration"]
    assert last["stopReason"] == "cancelled"


@pytest_lsp.fixture(config=server_config())
async def fresh_client(lsp_client: LanguageClient) -> Any:
    await start(lsp_client, "neovim", {**DETERMINISTIC, "speculation": False})
    yield
    await lsp_client.shutdown_session()


async def test_typing_what_the_model_writes_is_answered_by_the_same_generation(
    fresh_client: LanguageClient,
) -> None:
    """The user types the start of what the model is writing: the next keystroke's request
    waits for that generation instead of starting another, and shows the rest of it."""
    uri = "file:///tmp/qwen-lsp-e2e/primes3.py"
    await _warm(fresh_client, "file:///tmp/qwen-lsp-e2e/warm3.py")
    before = (await _status(fresh_client))["completions"]
    text, position = cursor_of("PRIMES = [2, 3, 5, 7, 11, 13, ‸")
    open_doc(fresh_client, uri, "python", text)
    first = asyncio.ensure_future(inline(fresh_client, uri, position))
    await asyncio.sleep(0.3)  # the model needs ~1.5 s for its 48 tokens here
    type_at(fresh_client, uri, position, "17")
    typed = types.Position(line=position.line, character=position.character + 2)
    second = items_of(await inline(fresh_client, uri, typed))
    assert items_of(await first) == []  # its document changed: nothing stale is shown
    assert second and second[0].insert_text.startswith(", 19")
    after = (await _status(fresh_client))["completions"]
    assert after["followed"] - before["followed"] == 1  # answered by the first generation


async def test_switching_documents_keeps_each_warm(fresh_client: LanguageClient) -> None:
    """A, then B, then A again: A's prompt comes back from its kept KV state."""
    body = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(12))
    texts = {name: f"# module {name}\n" + body + "result = helper_3(" for name in "ab"}
    uris = {name: f"file:///tmp/qwen-lsp-e2e/switch_{name}.py" for name in "ab"}
    end = types.Position(line=body.count("\n") + 1, character=len("result = helper_3("))
    for name in "ab":
        open_doc(fresh_client, uris[name], "python", texts[name])
        await inline(fresh_client, uris[name], end)
    # Back in A, one character typed (not what was suggested, so the model runs): only the
    # end of A's prompt is new.
    type_at(fresh_client, uris["a"], end, "x")
    await inline(
        fresh_client, uris["a"], types.Position(line=end.line, character=end.character + 1)
    )
    status = await _status(fresh_client)
    assert status["completions"]["cacheHits"] == 0  # all three went to the model
    last = status["lastGeneration"]
    assert last["promptTokens"] > 150
    assert last["reusedTokens"] >= last["promptTokens"] - 10


async def test_messages_during_model_load_are_not_lost() -> None:
    """llama-cpp-python silences descriptor 1 while loading; the protocol must not care."""
    client = await server_config().start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "visual-studio-code")
        states = []
        # Asked again and again while the model loads, however long that takes on a busy
        # machine; every question must be answered.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = await asyncio.wait_for(_status(client), 10)
            states.append(status["state"])
            if status["state"] == "ready":
                break
            await asyncio.sleep(0.05)
        assert states[-1] == "ready", states
        assert "loading" in states  # the questions were asked while it loaded
        kinds = await progress_kinds_once_ended(client)
        assert kinds == ["WorkDoneProgressBegin", "WorkDoneProgressEnd"]
    finally:
        await finish(client)


@pytest_lsp.fixture(config=server_config())
async def cold_client(lsp_client: LanguageClient) -> Any:
    """Cold prompts handled as by default (cut, then read in the background)."""
    await start(lsp_client, "neovim", {"maxSeconds": 120, "speculation": False})
    yield
    await lsp_client.shutdown_session()


async def test_the_wide_window_is_read_behind_the_answers_and_then_taken(
    cold_client: LanguageClient,
) -> None:
    """In a long file the first answer may come from a cut window; the whole window and
    then the wide one (widePrefixTokens) are read in the background, and the next keystroke
    there takes the wide window from the KV cache."""
    body = "".join(f"def helper_{i}(value):\n    return value * {i}\n\n\n" for i in range(200))
    uri = "file:///tmp/qwen-lsp-e2e/wide.py"
    open_doc(cold_client, uri, "python", body + "result = helper_3(")
    end = types.Position(line=body.count("\n"), character=len("result = helper_3("))
    first = [str(item.insert_text) for item in items_of(await inline(cold_client, uri, end))]
    # The keystroke below must go to the model, not type through the first suggestion.
    typed = "2" if any(text.startswith("1") for text in first) else "1"
    settings = Settings()
    narrow = settings.prefixTokens + settings.suffixTokens + settings.crossFileTokens
    for _ in range(600):  # the warm-ups: seconds on a CPU, more on a busy one
        last = (await _status(cold_client))["lastGeneration"]
        # The wide window is in the KV cache: read by this generation, or by an earlier one
        # this one found there (1406 of 1407 tokens reused: waiting for a generation that
        # reads it would wait out the loop, 2 minutes).
        if last["promptTokens"] > narrow:
            break
        await asyncio.sleep(0.2)
    type_at(cold_client, uri, end, typed)
    await inline(cold_client, uri, types.Position(line=end.line, character=end.character + 1))
    status = await _status(cold_client)
    assert status["completions"]["cacheHits"] == 0
    last = status["lastGeneration"]
    assert last["promptTokens"] > narrow + 500  # the wide window ...
    assert last["reusedTokens"] >= last["promptTokens"] - 10  # ... from the KV cache
