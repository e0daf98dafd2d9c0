"""What never reaches a prompt, a suggestion or the log, and documents too big to serve
(issue 13, items 5 and 2): the real server over stdio with the fake backend, which writes
every prompt it is given to a file the test reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.e2e.conftest import cursor_of, finish, inline, insert_text, items_of, open_doc

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
    tmp_path: Path, root: Path, options: dict[str, Any], folders: list[Path] | None = None
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
        workspace_folders=[_folder(path) for path in folders] if folders else None,
    )
    await client.initialize_session(params)
    return client, prompts, log


def _folder(path: Path) -> types.WorkspaceFolder:
    return types.WorkspaceFolder(uri=path.as_uri(), name=path.name)


def _prompts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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
        insert_text(client, env_uri, 2, 1, f"SECOND_TOKEN={SENTINEL}-edited\n")
        for name in ("credentials.py", "vault_keys.py", "local/settings.py", "helpers.py"):
            insert_text(client, (root / name).as_uri(), 2, 2, "# edited\n")
        # A change to a document that was never opened fails; its text is not logged.
        insert_text(client, (root / "never-opened.env").as_uri(), 2, 0, f"X={SENTINEL}-unopened\n")

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
        insert_text(client, big_uri, 2, 10, f"{HUGE_MARKER} = 2\n")
        started = time.monotonic()
        assert items_of(await inline(client, big_uri, types.Position(line=11, character=0))) == []
        answered = time.monotonic() - started
        assert answered < 30, f"the refusal took {answered:.1f} s"  # generous: shared CPUs
        assert await _actions(client, big_uri, 3) == []
        insert_text(client, big_uri, 3, 20, f"{HUGE_MARKER} = 3\n")
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
    """pygls logs the parameters of a notification it failed to handle; lsp_protocol.py
    keeps them for --log-level debug."""
    import qwen_lsp.server  # noqa: F401  (through lsp_protocol: installs the filter)

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


# -- symlinks and several workspace folders (issue 13) ----------------------------------------

LINKED_APP = """from notes import token_note
from keys.db import db_password
from conf.local import local_password
from helpers import helper_value

value = helper_value()
API_TOKEN = "‸
"""


async def _completes_without_secrets(
    client: LanguageClient, uri: str, prompts: Path, control: str
) -> None:
    """A completion in ``uri`` gets the fake's ordinary answer, no prompt so far held the
    sentinel, and ``control`` (text of an admitted file) reached one."""
    app_text, position = cursor_of(LINKED_APP)
    open_doc(client, uri, "python", app_text)
    suggestions = [item.insert_text for item in items_of(await inline(client, uri, position))]
    seen = _prompts(prompts)
    assert _leaked(seen) == set()
    assert any(control in prompt for prompt in seen), "cross-file context is not working"
    assert suggestions == [SHOWN]


def _leaked(prompts: list[str]) -> set[str]:
    """The tags of the secrets (``SENTINEL-tag``) found in ``prompts``."""
    return {tag for prompt in prompts for tag in re.findall(rf"{SENTINEL}-([\w-]+)", prompt)}


async def test_a_symlink_to_a_private_file_keeps_it_private(tmp_path: Path) -> None:
    root = tmp_path / "project"
    ssh = tmp_path / "home" / ".ssh"
    for folder in (root / "secrets", root / "private", ssh):
        folder.mkdir(parents=True)
    (root / ".gitignore").write_text("private/\n")
    real = {
        ".env": f"API_TOKEN={SENTINEL}-dotenv\n",
        "secrets/db.py": f'def db_password():\n    return "{SENTINEL}-excluded"\n',
        "private/local.py": f'def local_password():\n    return "{SENTINEL}-gitignored"\n',
        "helpers.py": f"def helper_value():\n    return 42  # {CONTROL}\n",
    }
    for name, text in real.items():
        (root / name).write_text(text)
    (ssh / "config").write_text(f"Host prod\n    IdentityFile {SENTINEL}-ssh\n")
    (root / "notes.txt").symlink_to(".env")
    (root / "cfg").symlink_to(ssh, target_is_directory=True)  # cfg -> ~/.ssh
    (root / "keys").symlink_to("secrets", target_is_directory=True)
    (root / "conf").symlink_to("private", target_is_directory=True)
    opened = {  # the names the editor opens them by: through the links
        "notes.txt": real[".env"],
        "cfg/config": (ssh / "config").read_text(),
        "keys/db.py": real["secrets/db.py"],
        "conf/local.py": real["private/local.py"],
        "helpers.py": real["helpers.py"],
    }
    options = {"excludeFiles": ["secrets/"], "excludeGitignored": True, "crossFileTokens": 2048}
    client, prompts, _ = await _server(tmp_path, root, options)
    try:
        for name, text in opened.items():
            uri = (root / name).as_uri()
            open_doc(client, uri, "python" if name.endswith(".py") else "plaintext", text)
            insert_text(client, uri, 2, 1, "# edited\n")  # into the recent-edit ring
        await _completes_without_secrets(client, (root / "app.py").as_uri(), prompts, CONTROL)
        for name in ("keys/db.py", "conf/local.py"):  # the linked files get nothing either
            at = types.Position(line=1, character=0)
            assert items_of(await inline(client, (root / name).as_uri(), at)) == [], name
        assert _leaked(_prompts(prompts)) == set()
    finally:
        await finish(client)


async def test_a_workspace_folder_opened_through_a_symlink_keeps_its_gitignore(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real"
    (real / "private").mkdir(parents=True)
    (real / ".gitignore").write_text("private/\n")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    options = {"excludeGitignored": True, "crossFileTokens": 2048}
    client, prompts, _ = await _server(tmp_path, link, options)  # the folder as the link
    try:
        # documents named by their real paths (an editor that resolved them)
        local = f'def local_password():\n    return "{SENTINEL}-gitignored"\n'
        helpers = f"def helper_value():\n    return 42  # {CONTROL}\n"
        for path, text in ((real / "private" / "local.py", local), (real / "helpers.py", helpers)):
            open_doc(client, path.as_uri(), "python", text)
            insert_text(client, path.as_uri(), 2, 1, "# edited\n")
        await _completes_without_secrets(client, (real / "app.py").as_uri(), prompts, CONTROL)
    finally:
        await finish(client)


NESTED_CONTROL = "NESTED-CONTROL-3e8a"
UNIGNORED = "UNIGNORED-1c4f"  # the text of a file ignored only while its folder is one


async def test_each_workspace_folder_has_its_own_gitignore(tmp_path: Path) -> None:
    one, two, three = (tmp_path / name for name in ("one", "two", "three"))
    nested = one / "nested"  # a workspace folder inside another: its own repository
    for folder in (one, two, three, nested / "gen"):
        folder.mkdir(parents=True)
    (one / ".gitignore").write_text("gen/\n")
    (two / ".gitignore").write_text("secret_two.py\nnotes_two.py\n")
    (three / ".gitignore").write_text("secret_three.py\n")
    (nested / ".gitignore").write_text("secret_nested.py\n")
    files = {
        two / "secret_two.py": f'def two():\n    return "{SENTINEL}-two"\n',
        two / "notes_two.py": f'def notes():\n    return "{UNIGNORED}"\n',
        nested / "secret_nested.py": f'def nested():\n    return "{SENTINEL}-nested"\n',
        # one's "gen/" does not reach into the nested folder, as git does not
        nested / "gen" / "code.py": f"def generated():\n    return 1  # {NESTED_CONTROL}\n",
        one / "helpers.py": f"def helper_value():\n    return 42  # {CONTROL}\n",
    }
    options = {"excludeGitignored": True, "crossFileTokens": 4096}
    client, prompts, _ = await _server(tmp_path, one, options, folders=[one, two, nested])
    try:
        for path, text in files.items():
            open_doc(client, path.as_uri(), "python", text)
            insert_text(client, path.as_uri(), 2, 1, "# edited\n")
        await _completes_without_secrets(client, (two / "app.py").as_uri(), prompts, CONTROL)
        seen = _prompts(prompts)
        assert any(NESTED_CONTROL in prompt for prompt in seen)
        assert not [prompt for prompt in seen if UNIGNORED in prompt]

        # a folder added later brings its .gitignore at once
        client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[_folder(three)], removed=[])
            )
        )
        secret_three = three / "secret_three.py"
        open_doc(client, secret_three.as_uri(), "python", f'X = "{SENTINEL}-three"\n')
        insert_text(client, secret_three.as_uri(), 2, 1, "# edited\n")
        await _completes_without_secrets(client, (three / "app.py").as_uri(), prompts, CONTROL)

        # a folder removed takes its rules along: its files are judged by name alone
        client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[], removed=[_folder(two)])
            )
        )
        insert_text(client, (two / "notes_two.py").as_uri(), 3, 1, "# edited again\n")
        app_text, position = cursor_of(LINKED_APP)
        last = (one / "last.py").as_uri()
        open_doc(client, last, "python", app_text)
        await inline(client, last, position)
        assert any(UNIGNORED in prompt for prompt in _prompts(prompts))
    finally:
        await finish(client)
