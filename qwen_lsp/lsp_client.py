"""The client's side of a code action: what its capabilities allow, the workspace edit in
the form it takes (versioned document changes, file creation), and the cancellable
progress it shows while the model works. Edge code: lsprotocol types only here and in
server.py.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from qwen_lsp.actions.service import ActionRun, lsp_edits
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import CancelToken

log = logging.getLogger(__name__)


def client_supports(ls: LanguageServer, dotted: str) -> bool:
    node: Any = ls.client_capabilities
    for name in dotted.split("."):
        node = getattr(node, name, None)
        if node is None:
            return False
    return bool(node)


class ActionProgress:
    """Server-initiated work-done progress with a cancel button wired to a CancelToken."""

    def __init__(self, ls: LanguageServer, token: str | None) -> None:
        self._ls = ls
        self._token = token

    @classmethod
    async def start(cls, ls: LanguageServer, title: str, cancel: CancelToken) -> ActionProgress:
        if not client_supports(ls, "window.work_done_progress"):
            return cls(ls, None)
        token = f"qwen-lsp-action-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
        except Exception as exc:
            log.warning("progress not available: %s", exc)
            return cls(ls, None)
        stop = ls.work_done_progress.tokens.get(token)
        if stop is not None:  # pygls cancels this future on window/workDoneProgress/cancel
            stop.add_done_callback(
                lambda f: cancel.cancel("cancelled by the user") if f.cancelled() else None
            )
        ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0)
        )
        return cls(ls, token)

    def report(self, message: str, percentage: int | None) -> None:
        if self._token is not None:
            self._ls.work_done_progress.report(
                self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self) -> None:
        if self._token is not None:
            self._ls.work_done_progress.end(self._token, types.WorkDoneProgressEnd())
            self._ls.work_done_progress.tokens.pop(self._token, None)
            self._token = None


def workspace_edit(ls: LanguageServer, run: ActionRun, snapshot: Snapshot) -> types.WorkspaceEdit:
    """The result's changes; versioned document changes (and file creation) where the
    client supports them, so an edit for an older version is refused by the client too.

    A file is created with ``ignoreIfExists``: if it appeared meanwhile (or the server
    could not see it), the client keeps it rather than emptying it, and the text goes in
    at its start."""
    document_changes: list[Any] = []
    changes: dict[str, list[types.TextEdit]] = {}
    versioned = client_supports(ls, "workspace.workspace_edit.document_changes") or bool(
        resource_operations(ls)
    )
    for change in run.result.changes:
        edits = [
            types.TextEdit(range=range_of(start, end), new_text=text)
            for start, end, text in lsp_edits(change, snapshot)
        ]
        if not versioned:
            changes[change.uri] = edits
            continue
        if change.create:
            document_changes.append(
                types.CreateFile(
                    uri=change.uri,
                    options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True),
                )
            )
        document_changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=change.uri, version=change.version
                ),
                edits=list(edits),
            )
        )
    if versioned:
        return types.WorkspaceEdit(document_changes=document_changes)
    return types.WorkspaceEdit(changes=changes)


def lsp_range(range_: types.Range) -> tuple[tuple[int, int], tuple[int, int]]:
    return (range_.start.line, range_.start.character), (range_.end.line, range_.end.character)


def range_of(start: tuple[int, int], end: tuple[int, int]) -> types.Range:
    return types.Range(
        start=types.Position(line=start[0], character=start[1]),
        end=types.Position(line=end[0], character=end[1]),
    )


def resolvable_properties(ls: LanguageServer) -> list[str]:
    code_action = getattr(ls.client_capabilities.text_document, "code_action", None)
    support = getattr(code_action, "resolve_support", None)
    return list(getattr(support, "properties", None) or [])


def resource_operations(ls: LanguageServer) -> list[str]:
    workspace_edit = getattr(ls.client_capabilities.workspace, "workspace_edit", None)
    operations = getattr(workspace_edit, "resource_operations", None) or []
    return [str(getattr(op, "value", op)) for op in operations]
