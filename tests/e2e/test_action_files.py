"""Actions that write another file never lose data (issue 13, item 6), over stdio against
the real server with a scripted fake model.

The edits are applied to the disk the way Neovim 0.11 applies them
(``vim.lsp.util.apply_workspace_edit``): ``CreateFile`` empties an existing file unless
``ignoreIfExists`` is set, a URI is turned into a path by dropping ``file://`` and a
fragment and decoding ``%XX``, and a versioned edit for an older version is skipped.
tests/editors/test_neovim_files.py does the same with the real Neovim.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol, uris
from tests.e2e.action_client import action_named, choose, list_actions, plain, prepare
from tests.e2e.conftest import finish, open_doc, server_config, start

GEOMETRY = """import math


def circle_area(radius):
    return math.pi * radius ** 2
"""

OLD_TESTS = (
    "from geometry import circle_area\n\n\ndef test_zero():\n    assert circle_area(0) == 0\n"
)
# A test file someone saved in Latin-1: "café" is one byte 0xE9.
LATIN1_TESTS = b"# caf\xe9\n" + OLD_TESTS.encode()

ANSWERS = {
    # The answer continues the prompt's "def test_".
    "Task: write unit tests && def circle_area": (
        "unit_circle():\n    assert circle_area(1) == math.pi\n```\n"
    ),
    "Write notes about circle_area": "Some notes.",
}
_SCRIPT = json.dumps({"contains": ANSWERS})
ANSWERS_FILE = (
    Path(tempfile.gettempdir())
    / f"qwen-lsp-fake-answers-{hashlib.sha256(_SCRIPT.encode()).hexdigest()[:16]}.json"
)
ANSWERS_FILE.write_text(_SCRIPT)
ENV = {"QWEN_LSP_BACKEND": "fake", "QWEN_LSP_FAKE_ANSWERS": str(ANSWERS_FILE)}

# A folder name with every character a URI must encode.
ODD = "a #1 ?x 100% ü"


def _notes_action(title: str, file_name: str) -> dict[str, str]:
    return {
        "title": title,
        "prompt": "Write notes about {name}",
        "kind": "source.notes",
        "target": "newFile",
        "answer": "text",
        "fileName": file_name,
    }


# -- the client side: Neovim's way of applying a workspace edit to the disk ---------------


def neovim_path(uri: str) -> str:
    """vim.uri_to_fname: the text after file:// up to a ``#``, %XX decoded (a ``?`` stays)."""
    rest = uri.removeprefix("file://").split("#", 1)[0]
    return re.sub(
        rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), rest.encode()
    ).decode("utf-8", "surrogateescape")


def apply_like_neovim(edit: types.WorkspaceEdit, open_versions: dict[str, int]) -> None:
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            options = change.options or types.CreateFileOptions()
            path = Path(neovim_path(change.uri))
            if not options.ignore_if_exists or options.overwrite:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")  # io.open(fname, 'w')
        elif isinstance(change, types.TextDocumentEdit):
            uri, version = change.text_document.uri, change.text_document.version
            if version is not None and uri in open_versions and open_versions[uri] > version:
                continue  # "Buffer newer than edits"
            path = Path(neovim_path(uri))
            text = path.read_bytes().decode("utf-8", "surrogateescape") if path.exists() else ""
            lines = text.split("\n")
            for text_edit in sorted(
                change.edits, key=lambda e: (e.range.start.line, e.range.start.character)
            )[::-1]:
                start, end = text_edit.range.start, text_edit.range.end
                while len(lines) <= end.line:
                    lines.append("")
                head = lines[start.line][: start.character]
                tail = lines[end.line][end.character :]
                lines[start.line : end.line + 1] = (head + text_edit.new_text + tail).split("\n")
            path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
        else:
            raise AssertionError(f"unexpected change {change}")
    for uri, edits in (edit.changes or {}).items():
        raise AssertionError(f"unversioned edits for {uri}: {edits}")


# -- helpers ----------------------------------------------------------------------------------


async def _session(
    root: Path, capabilities: str = "neovim", options: dict[str, Any] | None = None
) -> LanguageClient:
    client = await server_config(**ENV).start()
    assert isinstance(client, LanguageClient)
    client.edit_log = prepare(client)  # type: ignore[attr-defined]
    await start(client, capabilities, options, root=root)
    for _ in range(400):
        status = plain(await client.protocol.send_request_async(protocol.STATUS_METHOD, {}))
        if status["state"] == "ready":
            return client
        await asyncio.sleep(0.05)
    raise AssertionError("the model did not load")


async def _run(client: LanguageClient, uri: str, action: str) -> types.WorkspaceEdit | None:
    found, _ = await list_actions(client, uri, (3, 4))
    return await choose(client, action_named(found, action), client.edit_log)  # type: ignore[attr-defined]


def _warnings(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Warning]


def _project(tmp_path: Path, folder: str = "project") -> tuple[Path, str]:
    project = tmp_path / folder
    project.mkdir(parents=True)
    (project / "geometry.py").write_text(GEOMETRY)
    return project, uris.from_path(project / "geometry.py")


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("capabilities", ["neovim", "visual-studio-code"])
async def test_existing_non_utf8_test_file_is_never_emptied(
    tmp_path: Path, capabilities: str
) -> None:
    project, uri = _project(tmp_path)
    tests = project / "test_geometry.py"
    tests.write_bytes(LATIN1_TESTS)
    client = await _session(project, capabilities)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        edit = await _run(client, uri, "tests")
        if edit is not None:
            apply_like_neovim(edit, {uri: 1})
        assert tests.read_bytes() == LATIN1_TESTS
        assert edit is None
        assert any("test_geometry.py exists but is not UTF-8" in w for w in _warnings(client))
    finally:
        await finish(client)


async def test_test_file_in_a_folder_with_uri_characters_is_extended(tmp_path: Path) -> None:
    """`#`, `?`, `%`, a space and `ü` in the folder: the existing test file is found, read
    and extended; the edit names exactly that file."""
    project, uri = _project(tmp_path, ODD)
    tests = project / "test_geometry.py"
    tests.write_text(OLD_TESTS)
    client = await _session(tmp_path)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        edit = await _run(client, uri, "tests")
        assert edit is not None, _warnings(client)
        changes = edit.document_changes or []
        assert not any(isinstance(c, types.CreateFile) for c in changes)
        [change] = changes
        assert isinstance(change, types.TextDocumentEdit)
        assert uris.to_path(change.text_document.uri) == str(tests)
        assert change.text_document.version is None  # not open: nothing to compare with
        apply_like_neovim(edit, {uri: 1})
        text = tests.read_text()
        assert text.startswith(OLD_TESTS) and "def test_unit_circle():" in text
    finally:
        await finish(client)


async def test_new_test_file_in_such_a_folder_is_created_there(tmp_path: Path) -> None:
    project, uri = _project(tmp_path, ODD)
    client = await _session(tmp_path)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        edit = await _run(client, uri, "tests")
        assert edit is not None, _warnings(client)
        create = (edit.document_changes or [])[0]
        assert isinstance(create, types.CreateFile)
        assert create.options is not None and create.options.ignore_if_exists
        assert uris.to_path(create.uri) == str(project / "test_geometry.py")
        apply_like_neovim(edit, {uri: 1})
        assert "def test_unit_circle():" in (project / "test_geometry.py").read_text()
        assert sorted(p.name for p in project.iterdir()) == ["geometry.py", "test_geometry.py"]
    finally:
        await finish(client)


async def test_open_test_file_gets_a_versioned_edit(tmp_path: Path) -> None:
    """The test file is open (the client spells its URI with lower-case hex): the edit is
    for that document, at its version, computed on its text in the editor."""
    project, uri = _project(tmp_path, ODD)
    (project / "test_geometry.py").write_text("# what is on disk is not what is open\n")
    spelled = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), uris.from_path(project))
    tests_uri = spelled + "/test_geometry.py"
    assert tests_uri != uris.from_path(project / "test_geometry.py")
    client = await _session(tmp_path)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        open_doc(client, tests_uri, "python", OLD_TESTS, version=7)
        edit = await _run(client, uri, "tests")
        assert edit is not None, _warnings(client)
        [change] = edit.document_changes or []
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.uri == tests_uri and change.text_document.version == 7
        [text_edit] = change.edits
        assert text_edit.range.start.line == OLD_TESTS.count("\n") - 1  # after the open text
    finally:
        await finish(client)


async def test_custom_file_names_outside_the_workspace_or_broken_are_refused(
    tmp_path: Path,
) -> None:
    project, uri = _project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "link").symlink_to(outside, target_is_directory=True)
    escape = "../" * 12 + str(tmp_path.relative_to("/") / "outside" / "escaped.md")
    options = {
        "customActions": [
            _notes_action("Escape", escape),
            _notes_action("Absolute", str(outside / "absolute.md")),
            _notes_action("Through a link", "link/linked.md"),
            _notes_action("Unknown placeholder", "{stem}.{x}.md"),
            _notes_action("Lone brace", "{stem.md"),
            _notes_action("Inside after dots", "sub/../{stem}.notes.md"),
        ]
    }
    client = await _session(project, "neovim", options)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        for index in range(5):
            assert await _run(client, uri, f"custom:{index}") is None
        assert list(outside.iterdir()) == []
        warnings = _warnings(client)
        assert len(warnings) == 5, warnings
        for name in ("escaped.md", "absolute.md", "linked.md"):
            assert any(f"/{name} is outside the workspace folder" in w for w in warnings)
        assert any("'{stem}.{x}.md' uses {x}; it may use {stem} and {ext}" in w for w in warnings)
        assert any("'{stem.md' has an unmatched brace" in w for w in warnings)
        # `..` that stays inside is fine.
        edit = await _run(client, uri, "custom:5")
        assert edit is not None
        create = (edit.document_changes or [])[0]
        assert isinstance(create, types.CreateFile)
        assert create.uri == uris.from_path(project / "geometry.notes.md")
    finally:
        await finish(client)


async def test_a_file_name_that_is_a_symlink_to_a_private_file_is_refused(
    tmp_path: Path,
) -> None:
    project, uri = _project(tmp_path)
    secret = "API_TOKEN=do-not-touch\n"
    (project / ".env").write_text(secret)
    (project / "geometry.notes.md").symlink_to(".env")
    options = {"customActions": [_notes_action("Notes", "{stem}.notes.md")]}
    client = await _session(project, "neovim", options)
    try:
        open_doc(client, uri, "python", GEOMETRY)
        assert await _run(client, uri, "custom:0") is None
        warnings = _warnings(client)
        assert any("geometry.notes.md matches the built-in deny list" in w for w in warnings), (
            warnings
        )
        assert (project / ".env").read_text() == secret
    finally:
        await finish(client)


def test_cli_refuses_a_non_utf8_test_file(tmp_path: Path) -> None:
    project, _ = _project(tmp_path, ODD)
    tests = project / "test_geometry.py"
    tests.write_bytes(LATIN1_TESTS)
    command = [sys.executable, "-m", "qwen_lsp", "action", "tests", f"{project / 'geometry.py'}:5"]
    done = subprocess.run(
        command, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "test_geometry.py exists but is not UTF-8" in done.stderr
    assert tests.read_bytes() == LATIN1_TESTS
    tests.write_text(OLD_TESTS)  # readable: the diff extends it, under its real name
    done = subprocess.run(
        command, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"{ODD}/test_geometry.py" in done.stdout and "/dev/null" not in done.stdout
    assert "+def test_unit_circle():" in done.stdout
