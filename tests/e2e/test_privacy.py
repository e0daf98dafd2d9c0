"""What never reaches a prompt, a suggestion or the log, and documents too big to serve
(issue 13, items 5 and 2): the real server over stdio with the fake backend, which writes
every prompt it is given to a file the test reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.conftest import cursor_of, finish, inline, items_of, open_doc

SENTINEL = "SENTINEL-7f3a9c"
SHOWN = "shown_text_7c1e"  # what the fake suggests in app.py: must not be logged at INFO
CONTROL = "CONTROL-5b2d"  # text of an ordinary open file: it must reach the prompt

APP = """import os
from credentials import load_api_token
from helpers import helper_value
from vault_keys import vault_secret
from local.settings import local_secret

token = load_api_token() or vault_secret() or local_secret()
value = helper_value()
API_TOKEN = "‸
"""


async def _server(
    tmp_path: Path, root: Path, options: dict[str, Any]
) -> tuple[LanguageClient, Path, Path]:
    prompts = tmp_path / "prompts.jsonl"
    log = tmp_path / "server.log"
    answers = tmp_path / "answers.json"
    # A prompt holding the secret makes the suggestion hold it too, as a real model would.
    answers.write_text(json.dumps({"contains": {SENTINEL: f"{SENTINEL}", "API_TOKEN": SHOWN}}))
    config = ClientServerConfig(
        server_command=[
            sys.executable,
            *("-m", "qwen_lsp", "--log-level", "info", "--log-file", str(log)),
        ],
        server_env={
            **os.environ,
            "QWEN_LSP_BACKEND": "fake",
            "QWEN_LSP_FAKE_ANSWERS": str(answers),
            "QWEN_LSP_FAKE_PROMPT_LOG": str(prompts),
        },
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options=options,
        root_uri=root.as_uri(),
    )
    await client.initialize_session(params)
    return client, prompts, log


def _prompts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _insert(client: LanguageClient, uri: str, version: int, line: int, text: str) -> None:
    at = types.Position(line=line, character=0)
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


async def _actions(client: LanguageClient, uri: str, line: int) -> list[Any]:
    at = types.Position(line=line, character=0)
    result = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=at, end=at),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        60,
    )
    return list(result or [])


async def test_secrets_reach_no_prompt_no_suggestion_and_no_log(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "local").mkdir(parents=True)
    (root / ".gitignore").write_text("# local overrides\nlocal/\n!keep.py\n")
    files = {
        ".env": ("dotenv", f"API_TOKEN={SENTINEL}\n"),
        "credentials.py": (
            "python",
            f'def load_api_token():\n    return "{SENTINEL}-definition"\n',
        ),
        "vault_keys.py": ("python", f'def vault_secret():\n    return "{SENTINEL}-custom"\n'),
        "local/settings.py": (
            "python",
            f'def local_secret():\n    return "{SENTINEL}-gitignored"\n',
        ),
        "helpers.py": ("python", f"def helper_value():\n    return 42  # {CONTROL}\n"),
    }
    options = {
        "excludeFiles": ["vault_*.py"],
        "excludeGitignored": True,
        "crossFileTokens": 2048,
    }
    client, prompts, log = await _server(tmp_path, root, options)
    try:
        for name, (language, text) in files.items():
            open_doc(client, (root / name).as_uri(), language, text)
        env_uri = (root / ".env").as_uri()
        # Edits put chunks into the recent-edit ring (before this fix, .env's too).
        _insert(client, env_uri, 2, 1, f"SECOND_TOKEN={SENTINEL}-edited\n")
        for name in ("credentials.py", "vault_keys.py", "local/settings.py", "helpers.py"):
            _insert(client, (root / name).as_uri(), 2, 2, "# edited\n")
        # A change to a document that was never opened fails; its text is not logged.
        _insert(client, (root / "never-opened.env").as_uri(), 2, 0, f"X={SENTINEL}-unopened\n")

        app_text, position = cursor_of(APP)
        app_uri = (root / "app.py").as_uri()
        open_doc(client, app_uri, "python", app_text)
        suggestions = items_of(await inline(client, app_uri, position))
        assert [item.insert_text for item in suggestions] == [SHOWN]

        # The excluded files themselves: no suggestion, no action.
        env_end = types.Position(line=2, character=0)
        assert items_of(await inline(client, env_uri, env_end)) == []
        cred_uri = (root / "credentials.py").as_uri()
        assert items_of(await inline(client, cred_uri, types.Position(line=3, character=0))) == []
        for name in (".env", "credentials.py", "vault_keys.py", "local/settings.py"):
            assert await _actions(client, (root / name).as_uri(), 0) == [], name
        assert await _actions(client, (root / "helpers.py").as_uri(), 0)  # others still get some

        seen = _prompts(prompts)
        assert seen, "the fake backend recorded no prompt"
        assert any(CONTROL in prompt for prompt in seen), "cross-file context is not working"
        assert not [prompt for prompt in seen if SENTINEL in prompt]
    finally:
        await finish(client)
    logged = log.read_text(encoding="utf-8")
    assert "completion app.py" in logged  # the log was written at INFO
    assert SENTINEL not in logged
    assert SHOWN not in logged


HUGE_MARKER = "HUGE_MARKER_9d4e"


async def test_a_huge_document_is_refused_once_and_shared_with_nobody(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    client, prompts, _ = await _server(tmp_path, root, {"crossFileTokens": 2048})
    big_uri = (root / "big.py").as_uri()
    line = f"def {HUGE_MARKER}_fn(value):\n    return value + 1  # {HUGE_MARKER}\n"
    big_text = line * (20_000_000 // len(line) + 1)
    assert len(big_text) > 20_000_000
    try:
        open_doc(client, big_uri, "python", big_text)
        _insert(client, big_uri, 2, 10, f"{HUGE_MARKER} = 2\n")
        started = time.monotonic()
        assert items_of(await inline(client, big_uri, types.Position(line=11, character=0))) == []
        answered = time.monotonic() - started
        assert answered < 30, f"the refusal took {answered:.1f} s"  # generous: shared CPUs
        assert await _actions(client, big_uri, 3) == []
        _insert(client, big_uri, 3, 20, f"{HUGE_MARKER} = 3\n")
        assert items_of(await inline(client, big_uri, types.Position(line=21, character=0))) == []

        # The server keeps serving other files, without the big one's text.
        app_text, position = cursor_of(f"value = {HUGE_MARKER}_fn(1)\nAPI_TOKEN = ‸\n")
        app_uri = (root / "app.py").as_uri()
        open_doc(client, app_uri, "python", app_text)
        assert [i.insert_text for i in items_of(await inline(client, app_uri, position))] == [SHOWN]
        seen = _prompts(prompts)
        assert seen and not [p for p in seen if f"{HUGE_MARKER} =" in p or "return value" in p]

        refusals = [m for m in client.messages if "maxDocumentBytes" in m.message]
        assert len(refusals) == 1, client.messages
        assert "big.py" in refusals[0].message
    finally:
        await finish(client)


def test_pygls_logs_no_document_text_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    """pygls logs the parameters of a notification it failed to handle; server.py keeps
    them for --log-level debug."""
    import qwen_lsp.server  # noqa: F401  (installs the filter)

    params = types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(
            uri="file:///w/.env", language_id="dotenv", version=1, text=f"TOKEN={SENTINEL}"
        )
    )
    pygls_log = logging.getLogger("pygls.protocol.json_rpc")
    with caplog.at_level(logging.INFO):
        pygls_log.error("Failed to handle notification %r: %s", "textDocument/didOpen", params)
    assert "textDocument/didOpen" in caplog.text and SENTINEL not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        pygls_log.error("Failed to handle notification %r: %s", "textDocument/didOpen", params)
    assert SENTINEL in caplog.text
