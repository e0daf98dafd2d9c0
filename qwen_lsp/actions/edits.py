"""The changes an action makes: edits in code points of a file's text, a minimal line
diff, and the unified diff the headless command prints.

Plain data: turning these into LSP positions (UTF-16) is the service's job, through
:class:`~qwen_lsp.documents.Snapshot`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OffsetEdit:
    start: int  # code points of the file's text
    end: int
    text: str


@dataclass(frozen=True)
class FileChange:
    """Edits to one file: the document (version known) or a new/other file."""

    uri: str
    base_text: str  # the text the edits apply to ("" for a new file)
    edits: tuple[OffsetEdit, ...]
    version: int | None = None
    create: bool = False
    language: str | None = None

    def new_text(self) -> str:
        return apply_edits(self.base_text, self.edits)


@dataclass(frozen=True)
class ActionResult:
    """The outcome: changes to apply, or a message saying why there are none."""

    changes: tuple[FileChange, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.message


def apply_edits(text: str, edits: Sequence[OffsetEdit]) -> str:
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def line_diff(old: str, new: str, base: int) -> list[OffsetEdit]:
    """Minimal whole-line edits turning ``old`` (at offset ``base``) into ``new``."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(OffsetEdit(base + starts[i1], base + starts[i2], "".join(new_lines[j1:j2])))
    return edits


def unified_diff(change: FileChange, old_name: str, new_name: str) -> str:
    old = change.base_text.splitlines(keepends=True)
    new = change.new_text().splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, "/dev/null" if change.create else old_name, new_name)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
