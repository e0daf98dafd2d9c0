"""Completion without an editor: the same pipeline the server runs, for one position."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from lsp_server import languages
from lsp_server.completion import CompletionService
from lsp_server.documents import DocumentStore
from lsp_server.engine.factory import fim_tokens, make_loader, resolve_model
from lsp_server.engine.worker import ModelUnavailable, ModelWorker
from lsp_server.settings import resolve_settings


async def complete_file(
    path: Path, text: str, line: int, col: int | None, language_id: str | None
) -> str | None:
    """The suggestion at 1-based (line, col) in ``text``; col counts characters.

    Raises ValueError for a position outside the file and RuntimeError (with the fix)
    when the model cannot be loaded.
    """
    resolved = resolve_settings(os.environ)
    settings = resolved.settings
    uri = path.resolve().as_uri()
    language = language_id or languages.language_for("", uri) or "plaintext"
    document = DocumentStore().open(uri, language, 0, text)
    snapshot = document.snapshot()
    if line < 1 or line > snapshot.line_count():
        raise ValueError(f"line {line} is outside {path} (1-{snapshot.line_count()})")
    line_text = snapshot.line_at(line - 1)
    column = len(line_text) if col is None else col - 1
    if column < 0 or column > len(line_text):
        raise ValueError(f"column {col} is outside line {line} (1-{len(line_text) + 1})")
    offset = snapshot.offset_at(line - 1, 0) + column
    lsp_line, utf16_col = snapshot.position_at(offset)

    try:
        markers = fim_tokens(resolve_model(settings))
    except ModelUnavailable as exc:
        raise RuntimeError(f"{exc}\nfix: {exc.fix}") from exc
    # One suggestion and exit: nothing to speculate about.
    settings = dataclasses.replace(settings, speculation=False)
    worker = ModelWorker()
    try:
        error = await worker.load_async(make_loader(settings))
        if error is not None:
            raise RuntimeError(f"{error}\nfix: {error.fix}")
        service = CompletionService(worker, lambda: settings, lambda: markers)
        suggestion = await service.complete(snapshot, lsp_line, utf16_col, lambda: True)
        return suggestion.text if suggestion else None
    finally:
        await worker.close()
