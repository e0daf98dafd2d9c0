"""Completion and code actions without an editor: the same pipelines the server runs, for
one position (``qwen-lsp complete``) or one range of lines (``qwen-lsp action``), built by
the same composition root (:class:`qwen_lsp.app.App`)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from qwen_lsp import languages, uris
from qwen_lsp.actions.catalogue import catalogue, find_spec
from qwen_lsp.actions.edits import unified_diff
from qwen_lsp.actions.service import ActionRequest, LspRange
from qwen_lsp.app import App
from qwen_lsp.documents import Snapshot
from qwen_lsp.settings_resolve import resolve_settings


async def complete_file(
    path: Path, text: str, line: int, col: int | None, language_id: str | None
) -> str | None:
    """The suggestion at 1-based (line, col) in ``text``; col counts characters.

    Raises ValueError for a position outside the file and RuntimeError (with the fix)
    when the model cannot be loaded.
    """
    # One suggestion and exit: nothing to speculate about, no next keystroke to warm a cut
    # prompt or finish a block for; a script waits for the whole answer.
    settings = dataclasses.replace(
        resolve_settings(os.environ).settings,
        speculation=False,
        coldPromptSeconds=0.0,
        blockShowAfterSeconds=0.0,
    )
    app = App(settings)
    snapshot = _open(app, path, text, language_id)
    if line < 1 or line > snapshot.line_count():
        raise ValueError(f"line {line} is outside {path} (1-{snapshot.line_count()})")
    line_text = snapshot.line_at(line - 1)
    column = len(line_text) if col is None else col - 1
    if column < 0 or column > len(line_text):
        raise ValueError(f"column {col} is outside line {line} (1-{len(line_text) + 1})")
    lsp_line, utf16_col = snapshot.position_at(snapshot.offset_at(line - 1, 0) + column)
    try:
        await _load(app)
        suggestion = await app.completions.complete(snapshot, lsp_line, utf16_col, lambda: True)
        return suggestion.text if suggestion else None
    finally:
        await app.close()


def _open(app: App, path: Path, text: str, language_id: str | None) -> Snapshot:
    """Open ``text`` as the document of ``path`` (language from the id, else the name)."""
    uri = uris.from_path(path.resolve())
    language = language_id or languages.language_for("", uri) or "plaintext"
    return app.documents.open(uri, language, 0, text).snapshot()


async def _load(app: App) -> None:
    error = await app.load_model()
    if error is not None:
        raise RuntimeError(f"{error}\nfix: {error.fix}")


async def run_file_action(
    name: str, path: Path, text: str, start_line: int, end_line: int | None, language_id: str | None
) -> tuple[str, str]:
    """Run action ``name`` on lines ``start_line``-``end_line`` (1-based, inclusive) of a
    file without an editor; END None: the function or class around ``start_line``.

    Returns (unified diff, "") or ("", the message saying why there is no edit). Raises
    ValueError for lines outside the file and RuntimeError (with the fix) when the model
    cannot be loaded.
    """
    app = App(resolve_settings(os.environ).settings)
    settings = app.settings
    snapshot = _open(app, path, text, language_id)
    last = end_line if end_line is not None else start_line
    if not 1 <= start_line <= last <= snapshot.line_count():
        raise ValueError(
            f"lines {start_line}-{last} are outside {path} (1-{snapshot.line_count()})"
        )
    if end_line is None:
        line_text = snapshot.line_at(start_line - 1)
        column = len(line_text) - len(line_text.lstrip())
        position = snapshot.position_at(snapshot.offset_at(start_line - 1, 0) + column)
        range_: LspRange = (position, position)
    else:
        range_ = ((start_line - 1, 0), snapshot.position_at(snapshot.line_range(end_line - 1)[1]))
    if find_spec(name, settings.customActions) is None:
        known = ", ".join(s.id for s in catalogue(settings.customActions))
        raise ValueError(f"unknown action {name!r} (known: {known})")
    try:
        await _load(app)
        request = ActionRequest(name, snapshot.uri, 0, range_)
        run = await app.actions.run(request, snapshot, lambda: True)
    finally:
        await app.close()
    if not run.result.ok:
        return "", run.result.message
    cwd = Path.cwd()
    diffs = []
    for change in run.result.changes:
        target = Path(uris.to_path(change.uri) or change.uri)
        try:
            shown = str(target.relative_to(cwd))
        except ValueError:
            shown = str(target).lstrip("/")
        diffs.append(unified_diff(change, f"a/{shown}", f"b/{shown}"))
    return "".join(diffs), ""
