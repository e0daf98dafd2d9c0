"""Client-side helpers for code-action tests: listing, resolving or executing, applying.

pytest-lsp's client has no workspace/applyEdit handler, and lsprotocol on the client side
structures every CodeAction that carries a ``command`` as a Command: both are fixed here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import protocol

RUN_ACTION = protocol.RUN_ACTION_COMMAND


@dataclass
class EditLog:
    """What the server asked the client to apply (workspace/applyEdit)."""

    edits: list[types.WorkspaceEdit] = field(default_factory=list)
    applied: bool = True  # what the client answers


def prepare(client: LanguageClient, log: EditLog | None = None) -> EditLog:
    """Register the applyEdit handler and the CodeAction structure hook on ``client``."""
    log = log or EditLog()

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        log.edits.append(params.edit)
        return types.ApplyWorkspaceEditResult(applied=log.applied)

    converter = client.protocol._converter

    def code_action_or_command(obj: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(
        types.Command | types.CodeAction,  # type: ignore[arg-type]
        code_action_or_command,
    )
    return log


async def list_actions(
    client: LanguageClient,
    uri: str,
    start: tuple[int, int],
    end: tuple[int, int] | None = None,
    diagnostics: list[types.Diagnostic] | None = None,
    only: list[str] | None = None,
) -> tuple[list[types.CodeAction], float]:
    """The server's code actions for a range, and how long listing took (seconds)."""
    end = end or start
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(
            start=types.Position(line=start[0], character=start[1]),
            end=types.Position(line=end[0], character=end[1]),
        ),
        context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
    )
    began = time.monotonic()
    result = await asyncio.wait_for(client.text_document_code_action_async(params), 30)
    seconds = time.monotonic() - began
    found = [a for a in result or [] if isinstance(a, types.CodeAction)]
    return found, seconds


def action_named(found: list[types.CodeAction], action_id: str) -> types.CodeAction:
    for action in found:
        data = action.data
        if data is None and action.command is not None and action.command.arguments:
            data = action.command.arguments[0]
        if isinstance(data, dict) and data.get("action") == action_id:
            return action
    raise AssertionError(f"no action {action_id!r} in {[a.title for a in found]}")


async def choose(
    client: LanguageClient, action: types.CodeAction, log: EditLog, timeout: float = 600
) -> types.WorkspaceEdit | None:
    """Do what an editor does when the user picks ``action``: resolve it (when it has
    data) or execute its command; the edit to apply, or None."""
    if action.data is not None:
        resolved = await asyncio.wait_for(client.code_action_resolve_async(action), timeout)
        return resolved.edit
    assert action.command is not None
    before = len(log.edits)
    await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command=action.command.command, arguments=action.command.arguments
            )
        ),
        timeout,
    )
    return log.edits[-1] if len(log.edits) > before else None


def plain(value: Any) -> Any:
    """pygls hands untyped results back as named tuples; make them plain data."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _offset(text: str, position: types.Position) -> int:
    lines = text.splitlines(keepends=True)
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: position.line])
    content = lines[position.line].rstrip("\r\n")
    units = content.encode("utf-16-le")[: 2 * position.character]
    return start + len(units.decode("utf-16-le"))


def _apply_text_edits(text: str, edits: list[Any]) -> str:
    spans = sorted(
        ((_offset(text, e.range.start), _offset(text, e.range.end), e.new_text) for e in edits),
        reverse=True,
    )
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def apply_workspace_edit(
    edit: types.WorkspaceEdit, files: dict[str, str], versions: dict[str, int] | None = None
) -> dict[str, str]:
    """The files after ``edit``, as an editor applies it (versions checked if given)."""
    files = dict(files)
    for uri, edits in (edit.changes or {}).items():
        files[uri] = _apply_text_edits(files.get(uri, ""), list(edits))
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            options = change.options or types.CreateFileOptions()
            if change.uri in files:  # some editors empty it unless told to leave it
                assert options.ignore_if_exists and not options.overwrite, f"{change.uri} exists"
            else:
                files[change.uri] = ""
        elif isinstance(change, types.TextDocumentEdit):
            uri = change.text_document.uri
            version = change.text_document.version
            if versions is not None and version is not None:
                assert versions.get(uri) == version, f"stale edit for {uri}"
            files[uri] = _apply_text_edits(files[uri], list(change.edits))
        else:
            raise AssertionError(f"unexpected change {change}")
    return files
