"""Shared set-up for the protocol tests: the real server over stdio, driven by pytest-lsp."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from qwen_lsp import protocol, uris
from qwen_lsp.modelstore import ModelError, StoreConfig, resolve, verify
from qwen_lsp.settings_resolve import resolve_settings

CLIENTS = ["neovim", "visual-studio-code", "emacs"]
REPO = Path(__file__).resolve().parents[2]


def default_model_ready() -> bool:
    """Whether the default model is pulled and intact (tests that run it skip otherwise)."""
    store = StoreConfig.from_settings(resolve_settings(os.environ).settings)
    try:
        verify(resolve(None, store), store)
        return True
    except ModelError:
        return False


needs_default_model = pytest.mark.skipif(
    not default_model_ready(), reason="default model not pulled: run scripts/setup.sh"
)


# The raw model's answers to the CI floors' tasks (benchmarks/raw_cache.py): the baseline
# is the model alone, greedy, so the floors read it from here and check one answer on this
# machine (about 100 s less each; a machine that answers otherwise generates them all).
# After a change of the raw prompt code, the model or llama-cpp-python, regenerate it (remove
# it first: the file keeps the answers it had):
#   python -m benchmarks.eval_infill --sample 20 --seed 1 --raw-early-stop --variants raw \
#       --raw-cache tests/fixtures/raw_answers.json --jobs 0
#   python -m benchmarks.eval_infill_real --languages python --per-shape 2 --seed 1 \
#       --raw-early-stop --variants raw --raw-cache tests/fixtures/raw_answers.json --jobs 0
RAW_ANSWERS = REPO / "tests" / "fixtures" / "raw_answers.json"


def raw_answers_copy(folder: Path) -> Path:
    """A copy of RAW_ANSWERS for one run to read and write (the repository's stays as is)."""
    copy = folder / RAW_ANSWERS.name
    copy.write_bytes(RAW_ANSWERS.read_bytes())
    return copy


def raw_answers_on_file(evaluation: dict[str, Any]) -> int:
    """How many of a run's tasks the raw answers file had an answer for (all but the one
    checked when it is up to date), whether or not this machine answers the same."""
    from benchmarks.raw_cache import CACHED

    return sum(CACHED in task["generations"]["raw"]["extra"] for task in evaluation["tasks"])


def run_evaluation(module: str, out: Path, *args: str) -> dict[str, Any]:
    """Run an evaluation (``python -m benchmarks.eval_*`` from the repository root) quietly
    and return its JSON result; skips when the default model is not pulled."""
    if not default_model_ready():
        pytest.skip("default model not pulled: run scripts/setup.sh")
    command = [sys.executable, "-m", module, *args, "--quiet", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)  # the table, shown with pytest -s or on failure
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="session")
def tiny_hybrid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight qwen35 (hybrid) model, built once per session with the
    tokenizer of the default model (skips when that is not pulled). Cheap to run: tests
    that use it need no ``model`` mark."""
    from tests.fixtures.tiny_hybrid import build

    store = StoreConfig.from_settings(resolve_settings(os.environ).settings)
    try:
        source = resolve(None, store)
        verify(source, store)
    except ModelError:
        pytest.skip("default model not pulled (its tokenizer is copied): run scripts/setup.sh")
    return build(tmp_path_factory.mktemp("tiny-hybrid") / "tiny-qwen35.gguf", source.path)


# The marks of a test that runs the default model: `-m "not model"` leaves it out.
RUNS_MODEL = [pytest.mark.model, needs_default_model]


def server_config(**env: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "qwen_lsp", "--log-level", "info"],
        server_env={**os.environ, **env},
    )


async def start(
    client: LanguageClient,
    capabilities: str,
    options: dict[str, Any] | None = None,
    root: Path | None = None,
) -> types.InitializeResult:
    """Initialize a session; the workspace folder is ``root`` (default: the current one)."""
    params = types.InitializeParams(
        capabilities=client_capabilities(capabilities),
        initialization_options=options,
        root_uri=uris.from_path(root or Path.cwd()),
    )
    return await client.initialize_session(params)


async def finish(client: LanguageClient) -> None:
    """End a test's own server whatever happened: shutdown and exit while it answers, else
    kill it. pygls's ``stop()`` alone waits for the server to exit, for ever when a failed
    assertion skipped the shutdown."""
    server = getattr(client, "_server", None)
    if server is not None and server.returncode is None:
        try:
            await asyncio.wait_for(client.shutdown_session(), 30)
            await asyncio.wait_for(server.wait(), 10)
        except Exception:  # no answer, or no exit after it
            server.kill()
    await client.stop()


def open_doc(client: LanguageClient, uri: str, language: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=version, text=text
            )
        )
    )


def insert_text(
    client: LanguageClient, uri: str, version: int, line: int, text: str, utf16_col: int = 0
) -> None:
    """A didChange (to ``version``) inserting ``text`` at (``line``, ``utf16_col``)."""
    at = types.Position(line=line, character=utf16_col)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text=text
                )
            ],
        )
    )


async def model_ready(client: LanguageClient, timeout: float = 300) -> None:
    """Wait until qwenLsp/status says the model is loaded, one request at a time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
        if getattr(status, "state", None) == "ready":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the model did not load")


async def progress_kinds_once_ended(client: LanguageClient, seconds: float = 5.0) -> list[str]:
    """The kinds of every progress report the client got, once one has ended (or after
    ``seconds``): the server may answer a request between turning the model's state
    ready and sending the load report's end, so that end can come after a "ready"."""

    def reports() -> list[object]:
        return [r for rs in client.progress_reports.values() for r in rs]

    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if any(isinstance(r, types.WorkDoneProgressEnd) for r in reports()):
            break
        await asyncio.sleep(0.05)
    return [type(r).__name__ for r in reports()]


def cursor_of(text: str, marker: str = "‸") -> tuple[str, types.Position]:
    """Remove the marker and return the text with the marker's LSP (UTF-16) position."""
    index = text.index(marker)
    before = text[:index]
    line = before.count("\n")
    column_text = before[before.rfind("\n") + 1 :]
    utf16_col = len(column_text.encode("utf-16-le")) // 2
    return text.replace(marker, "", 1), types.Position(line=line, character=utf16_col)


async def inline(
    client: LanguageClient, uri: str, position: types.Position, timeout: float = 120
) -> types.InlineCompletionList | list[types.InlineCompletionItem] | None:
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )
    return await asyncio.wait_for(client.text_document_inline_completion_async(params), timeout)


def items_of(
    result: types.InlineCompletionList | list[types.InlineCompletionItem] | None,
) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)
