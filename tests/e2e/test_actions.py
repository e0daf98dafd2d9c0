"""Code actions over stdio with pytest-lsp and a scripted fake model.

VS Code and Neovim resolve actions (codeAction/resolve); Emacs (eglot) gets commands that
apply their edit with workspace/applyEdit. Both paths run the same use case.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from qwen_lsp import protocol, syntax
from tests.e2e.action_client import (
    EditLog,
    action_named,
    apply_workspace_edit,
    choose,
    list_actions,
    plain,
    prepare,
)
from tests.e2e.conftest import CLIENTS, open_doc, server_config, start

FOLDER = Path(tempfile.gettempdir()) / f"qwen-lsp-actions-{uuid.uuid4().hex[:8]}"
PY_URI = (FOLDER / "geometry.py").as_uri()
TEST_URI = (FOLDER / "test_geometry.py").as_uri()

PY = """import math


def circle_area(radius):
    return math.pi * radius ** 2


def no_code_here(x):
    return x


def broken_target(x):
    return x + 1


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)
"""

JS_URI = (FOLDER / "util.js").as_uri()
JS = """const fs = require('fs');

function readLines(path) {
  return fs.readFileSync(path, 'utf8').split('\\n');
}
"""

TS_URI = (FOLDER / "util.ts").as_uri()
TS = """export function add(a, b) {
  return a + b;
}
"""

ANSWERS = {
    # The answer continues the prompt's '"""': the docstring alone.
    "Task: say what && def circle_area": 'Area of a circle with the given radius."""\n```\n',
    # The answer continues the prompt's "def circle_area(radius: ": the signature alone.
    "Task: add type annotations && def circle_area": "float) -> float:\n```\n",
    "Task: explain && def circle_area": (
        "This function computes the **area** of a circle.\n\nIt multiplies pi by the square "
        "of the radius.\n"
    ),
    # The answer continues the prompt's "def test_".
    "Task: write unit tests && def circle_area": (
        "unit_circle():\n    assert circle_area(1) == math.pi\n\n\n"
        "from my_module import circle_area\nimport math\n```\n"
    ),
    # Fix without a diagnostic rewrites the whole function: the rewrite these tests run
    # (Simplify asks the model only when it found what to simplify, simplify_hints.py).
    "code. && def no_code_here": "```\n\nI can't fix this further.\n",
    "code. && def broken_target": "def broken_target(x:\n    return (x + 1\n```\n",
    "Task: simplify these lines && def clamp": "return min(max(x, 0), 1)\n```\n",
    "Task: fix the bugs && undefined name 'radius_'": (
        "def circle_area(radius):\n    return math.pi * radius ** 2\n```\n"
    ),
    "Task: explain && function readLines": "Reads a file and splits it into lines.",
    "Task: add type annotations && function add": "number, b: number): number {\n```\n",
    "Translate the comments && def push": (
        "def push(self, item):\n    # ajoute un élément\n    self.items.append(item)\n```\n"
    ),
    "Write notes about circle_area": "Some **notes**.",
    # Slow answers (one character per token): time to cancel or edit meanwhile.
    "code. && def circle_area": "def circle_area(radius):\n" + "    # thinking\n" * 40,
}
_SCRIPT = json.dumps({"contains": ANSWERS})
# Named by content: every run of this module uses (and leaves) the same one file.
ANSWERS_FILE = (
    Path(tempfile.gettempdir())
    / f"qwen-lsp-fake-answers-{hashlib.sha256(_SCRIPT.encode()).hexdigest()[:16]}.json"
)
ANSWERS_FILE.write_text(_SCRIPT)

CUSTOM = {
    "customActions": [
        {
            "title": "Translate comments to French",
            "prompt": "Translate the comments of this {language} code to French:\n{code}",
            "kind": "refactor.rewrite.translate",
            "target": "replace",
        },
        {
            "title": "Write notes",
            "prompt": "Write notes about {name}",
            "kind": "source.notes",
            "target": "newFile",
            "answer": "text",
            "fileName": "{stem}.notes.md",
        },
    ]
}


@pytest_lsp.fixture(
    config=server_config(QWEN_LSP_BACKEND="fake", QWEN_LSP_FAKE_ANSWERS=str(ANSWERS_FILE)),
    params=CLIENTS,
)
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    lsp_client.edit_log = prepare(lsp_client)  # type: ignore[attr-defined]
    lsp_client.client_name = request.param  # type: ignore[attr-defined]
    # The workspace is the folder the files are in: actions write new files only there.
    await start(lsp_client, request.param, CUSTOM, root=FOLDER)
    await model_ready(lsp_client)  # settings (customActions) are read before the model loads
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=server_config(
        QWEN_LSP_BACKEND="fake",
        QWEN_LSP_FAKE_ANSWERS=str(ANSWERS_FILE),
        QWEN_LSP_FAKE_SECONDS_PER_TOKEN="0.02",
    ),
    params=["visual-studio-code", "emacs"],
)
async def slow_client(lsp_client: LanguageClient, request: pytest.FixtureRequest) -> Any:
    lsp_client.edit_log = prepare(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


def log_of(client: LanguageClient) -> EditLog:
    log: EditLog = client.edit_log  # type: ignore[attr-defined]
    return log


def errors(language: str, text: str) -> int:
    tree = syntax.get_parser(language).parse(text.encode())
    return syntax.count_errors(tree.root_node)


def warnings_of(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Warning]


async def status(client: LanguageClient) -> dict[str, Any]:
    result: dict[str, Any] = plain(
        await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
    )
    return result


async def model_ready(client: LanguageClient) -> None:
    for _ in range(200):
        if (await status(client))["state"] == "ready":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the model did not load")


# -- listing ----------------------------------------------------------------------------------


async def test_listing_is_instant_and_runs_no_model(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, seconds = await list_actions(client, PY_URI, (4, 10))  # inside circle_area
    ids = {
        (a.data or (a.command.arguments[0] if a.command and a.command.arguments else {}))["action"]
        for a in found
    }
    assert {"fix", "explain", "docstring", "annotate", "tests"} <= ids
    assert "simplify" not in ids  # nothing for it to find in circle_area
    assert "custom:0" in ids
    assert seconds < 1.0
    kinds = {a.title: a.kind for a in found}
    assert kinds["Qwen: Fix"] == "quickfix"
    assert kinds["Qwen: Add docstring"] == "refactor.rewrite.docstring"
    assert kinds["Qwen: Generate unit tests"] == "source.generateTests"
    assert all(a.edit is None for a in found)  # nothing computed yet
    resolvable = client.client_name != "emacs"  # type: ignore[attr-defined]
    assert all((a.data is not None) == resolvable for a in found)
    assert all((a.command is not None) == (not resolvable) for a in found)
    actions = (await status(client))["actions"]
    assert actions["runs"] == 0


async def test_only_filter_and_languages(client: LanguageClient) -> None:
    open_doc(client, JS_URI, "javascript", JS)
    found, _ = await list_actions(client, JS_URI, (3, 4))
    titles = {a.title for a in found}
    assert "Qwen: Add type annotations" not in titles  # not for JavaScript
    only, _ = await list_actions(client, JS_URI, (3, 4), only=["quickfix"])
    assert [a.kind for a in only] == ["quickfix"]


async def test_blank_line_between_definitions_offers_nothing(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (6, 0))
    assert found == []


# -- running ----------------------------------------------------------------------------------


async def test_docstring_edit_is_minimal_versioned_and_parses(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY, version=7)
    found, _ = await list_actions(client, PY_URI, (4, 10))
    edit = await choose(client, action_named(found, "docstring"), log_of(client))
    assert edit is not None
    if edit.document_changes:
        [change] = edit.document_changes
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.version == 7
        edits = change.edits
    else:
        assert edit.changes is not None
        edits = edit.changes[PY_URI]
    # A diff against the function: one inserted line, not a replaced file.
    assert len(edits) == 1 and edits[0].range.start == edits[0].range.end
    new = apply_workspace_edit(edit, {PY_URI: PY}, {PY_URI: 7})[PY_URI]
    assert '    """Area of a circle with the given radius."""\n' in new
    assert errors("python", new) == 0
    assert new.replace('    """Area of a circle with the given radius."""\n', "") == PY


async def test_annotations_python_and_typescript(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (3, 0), (5, 0))  # a selection of lines
    edit = await choose(client, action_named(found, "annotate"), log_of(client))
    assert edit is not None
    new = apply_workspace_edit(edit, {PY_URI: PY})[PY_URI]
    assert "def circle_area(radius: float) -> float:" in new
    open_doc(client, TS_URI, "typescript", TS)
    found, _ = await list_actions(client, TS_URI, (1, 2))
    edit = await choose(client, action_named(found, "annotate"), log_of(client))
    assert edit is not None
    new = apply_workspace_edit(edit, {TS_URI: TS})[TS_URI]
    assert "add(a: number, b: number): number {" in new
    assert errors("typescript", new) == 0


async def test_explain_becomes_a_comment_block_above(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (4, 4))
    edit = await choose(client, action_named(found, "explain"), log_of(client))
    assert edit is not None
    new = apply_workspace_edit(edit, {PY_URI: PY})[PY_URI]
    assert (
        "# This function computes the area of a circle.\n#\n"
        "# It multiplies pi by the square of the radius.\ndef circle_area" in new
    )
    open_doc(client, JS_URI, "javascript", JS)
    found, _ = await list_actions(client, JS_URI, (3, 4))
    edit = await choose(client, action_named(found, "explain"), log_of(client))
    assert edit is not None
    new = apply_workspace_edit(edit, {JS_URI: JS})[JS_URI]
    assert "// Reads a file and splits it into lines.\nfunction readLines" in new


async def test_fix_uses_the_clients_diagnostics(client: LanguageClient) -> None:
    buggy = PY.replace("radius ** 2", "radius_ ** 2")
    open_doc(client, PY_URI, "python", buggy)
    diagnostic = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=4, character=21), end=types.Position(line=4, character=28)
        ),
        message="undefined name 'radius_'",
        source="pyflakes",
    )
    found, _ = await list_actions(client, PY_URI, (4, 21), (4, 28), diagnostics=[diagnostic])
    fix = action_named(found, "fix")
    assert fix.title == "Qwen: Fix the reported problems"
    assert list(fix.diagnostics or []) == [diagnostic]
    edit = await choose(client, fix, log_of(client))
    assert edit is not None
    assert apply_workspace_edit(edit, {PY_URI: buggy})[PY_URI] == PY


async def test_tests_go_to_a_new_file_or_below(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (4, 4))
    edit = await choose(client, action_named(found, "tests"), log_of(client))
    assert edit is not None
    files = apply_workspace_edit(edit, {PY_URI: PY})
    if client.client_name == "emacs":  # type: ignore[attr-defined]
        # eglot cannot create files: the tests go to the end of the module.
        assert TEST_URI not in files
        new = files[PY_URI]
        assert new.startswith(PY) and "def test_unit_circle():" in new
        assert "from my_module" not in new and "import circle_area" not in new
    else:
        create = edit.document_changes[0]  # type: ignore[index]
        assert isinstance(create, types.CreateFile) and create.uri == TEST_URI
        # An editor empties a file that exists after all unless told to leave it alone.
        assert create.options is not None and create.options.ignore_if_exists
        assert not create.options.overwrite
        tests = files[TEST_URI]
        # The guessed module name is replaced by the real one.
        assert "from geometry import circle_area" in tests
        assert "def test_unit_circle():" in tests and errors("python", tests) == 0
        assert files[PY_URI] == PY


async def test_custom_action_from_settings(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (20, 8))  # in Stack.push
    action = action_named(found, "custom:0")
    assert action.title == "Translate comments to French"
    assert action.kind == "refactor.rewrite.translate"
    edit = await choose(client, action, log_of(client))
    assert edit is not None
    new = apply_workspace_edit(edit, {PY_URI: PY})[PY_URI]
    assert "        # ajoute un élément\n        self.items.append(item)\n" in new


# -- bad answers: a message, never an edit ------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [(8, "contains no code"), (12, "would add a syntax error to geometry.py at line 12")],
)
async def test_bad_answer_gives_a_message_not_an_edit(
    client: LanguageClient, line: int, expected: str
) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (line, 4))
    edit = await choose(client, action_named(found, "fix"), log_of(client))
    assert edit is None
    assert any(expected in w for w in warnings_of(client)), warnings_of(client)


CLAMP_URI = (FOLDER / "clamp.py").as_uri()
CLAMP = "def clamp(x):\n    y = min(max(x, 0), 1)\n    return y\n"


async def test_simplify_writes_the_change_found_and_is_not_listed_without_one(
    client: LanguageClient,
) -> None:
    open_doc(client, CLAMP_URI, "python", CLAMP)
    found, _ = await list_actions(client, CLAMP_URI, (1, 4))
    edit = await choose(client, action_named(found, "simplify"), log_of(client))
    assert edit is not None, warnings_of(client)
    new = apply_workspace_edit(edit, {CLAMP_URI: CLAMP})[CLAMP_URI]
    assert new == "def clamp(x):\n    return min(max(x, 0), 1)\n"
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (8, 4))
    # Nothing to simplify found: not listed (asked anyway, e.g. with qwenLsp/runAction, it
    # says so at once: tests/unit/test_actions_service.py).
    ids = {(a.data or a.command.arguments[0])["action"] for a in found}  # type: ignore[union-attr]
    assert "simplify" not in ids and {"fix", "explain"} <= ids


# -- stale documents and cancellation --------------------------------------------------------


def _edit_document(client: LanguageClient, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=PY_URI, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_document_edited_during_the_action_gets_no_edit(slow_client: LanguageClient) -> None:
    open_doc(slow_client, PY_URI, "python", PY)
    found, _ = await list_actions(slow_client, PY_URI, (4, 4))
    running = asyncio.ensure_future(
        choose(slow_client, action_named(found, "fix"), log_of(slow_client))
    )
    await asyncio.sleep(1.0)
    _edit_document(slow_client, 2, PY + "\n# edited\n")
    began = time.monotonic()
    assert await running is None
    assert time.monotonic() - began < 5  # stopped, not finished
    assert any("document changed" in w for w in warnings_of(slow_client))


async def test_resolving_after_an_edit_is_refused(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (4, 4))
    _edit_document(client, 2, "# new first line\n" + PY)
    assert await choose(client, action_named(found, "docstring"), log_of(client)) is None
    assert any("changed since the actions were listed" in w for w in warnings_of(client))


async def test_progress_cancel_button_stops_and_applies_nothing(
    slow_client: LanguageClient,
) -> None:
    open_doc(slow_client, PY_URI, "python", PY)
    found, _ = await list_actions(slow_client, PY_URI, (4, 4))
    running = asyncio.ensure_future(
        choose(slow_client, action_named(found, "fix"), log_of(slow_client))
    )
    token = None
    for _ in range(100):
        await asyncio.sleep(0.05)
        token = next(
            (
                t
                for t, reports in slow_client.progress_reports.items()
                if str(t).startswith("qwen-lsp-action-") and reports
            ),
            None,
        )
        if token is not None:
            break
    assert token is not None
    begin = slow_client.progress_reports[token][0]
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable
    await asyncio.sleep(0.5)
    slow_client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    began = time.monotonic()
    assert await running is None
    assert time.monotonic() - began < 2
    assert log_of(slow_client).edits == []
    assert any("cancelled" in w for w in warnings_of(slow_client))
    assert isinstance(slow_client.progress_reports[token][-1], types.WorkDoneProgressEnd)


async def test_cancel_request_of_resolve(slow_client: LanguageClient) -> None:
    open_doc(slow_client, PY_URI, "python", PY)
    found, _ = await list_actions(slow_client, PY_URI, (4, 4))
    action = action_named(found, "fix")
    if action.data is None:
        pytest.skip("this client runs actions as commands")
    msg_id = str(uuid.uuid4())
    future = asyncio.wrap_future(
        slow_client.protocol.send_request(types.CODE_ACTION_RESOLVE, action, msg_id=msg_id)
    )
    await asyncio.sleep(0.5)
    slow_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(future, 5)
    assert error.value.code == -32800  # RequestCancelled
    # The worker is free again: a following action runs at once.
    found, _ = await list_actions(slow_client, PY_URI, (4, 4))
    edit = await choose(slow_client, action_named(found, "explain"), log_of(slow_client), 60)
    assert edit is not None


async def test_client_refusing_the_edit_is_reported(client: LanguageClient) -> None:
    if client.client_name != "emacs":  # type: ignore[attr-defined]
        pytest.skip("only command-based clients get workspace/applyEdit")
    log_of(client).applied = False
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (4, 4))
    await choose(client, action_named(found, "docstring"), log_of(client))
    assert any("did not apply" in w for w in warnings_of(client))


async def test_custom_action_writing_a_new_text_file(client: LanguageClient) -> None:
    open_doc(client, PY_URI, "python", PY)
    found, _ = await list_actions(client, PY_URI, (4, 4))
    edit = await choose(client, action_named(found, "custom:1"), log_of(client))
    assert edit is not None
    files = apply_workspace_edit(edit, {PY_URI: PY})
    notes = PY_URI.replace("geometry.py", "geometry.notes.md")
    if client.client_name == "emacs":  # type: ignore[attr-defined]
        assert files[PY_URI] == PY.rstrip("\n") + "\n\n\n# Some notes.\n"
    else:
        assert files[notes] == "Some notes.\n" and files[PY_URI] == PY


# -- headless -----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_LSP_BACKEND": "fake", "QWEN_LSP_FAKE_ANSWERS": str(ANSWERS_FILE)}
    return subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "action", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_action_prints_a_unified_diff(tmp_path: Path) -> None:
    path = tmp_path / "geometry.py"
    path.write_text(PY)
    done = _cli("docstring", f"{path}:5")  # a line inside circle_area: the function
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("--- a/") and "\n+++ b/" in done.stdout
    added = [
        line for line in done.stdout.splitlines() if line.startswith("+") and "+++" not in line
    ]
    assert added == ['+    """Area of a circle with the given radius."""']
    done = _cli("annotate", f"{path}:4-5")  # a range of lines
    assert "+def circle_area(radius: float) -> float:" in done.stdout
    assert path.read_text() == PY  # only printed, never written


def test_cli_action_without_edit_says_why(tmp_path: Path) -> None:
    path = tmp_path / "geometry.py"
    path.write_text(PY)
    done = _cli("fix", f"{path}:9")
    assert done.returncode == 1 and done.stdout == ""
    assert "contains no code" in done.stderr
    assert _cli("nonsense", f"{path}:9").returncode == 1
    assert "outside" in _cli("fix", f"{path}:90").stderr
