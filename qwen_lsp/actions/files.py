"""The file a newFile action writes: inside the workspace, and never replaced.

An action that writes another file (generated tests, a custom action's ``fileName``) may
only touch a file inside one of the workspace folders (the document's own folder when the
client named none), with symlinks and ``..`` resolved first. A file that exists is read
and edited, versioned when it is open; one that cannot be read as UTF-8 text is refused
with a message, never replaced: an editor applying ``CreateFile`` to a file the server
wrongly believed absent empties it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qwen_lsp import uris


class FileRefused(Exception):
    """Why the action must not write its file (the message is for the user)."""


@dataclass(frozen=True)
class OpenFile:
    """A document the client has open: its URI as the client spells it."""

    uri: str
    text: str
    version: int


@dataclass(frozen=True)
class TargetFile:
    """The file to write: ``text`` None when it does not exist yet."""

    uri: str
    text: str | None = None
    version: int | None = None  # the open document's version: the edit is versioned


def allowed_roots(document_uri: str, workspace_folders: Sequence[str]) -> list[str]:
    """The folders an action may write in: the workspace folders (local paths), else the
    folder of the document itself."""
    roots = [folder for folder in workspace_folders if folder]
    if roots:
        return roots
    path = uris.to_path(document_uri)
    return [os.path.dirname(path)] if path is not None else []


def inside(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path`` lies within one of ``roots`` once symlinks and ``..`` are resolved."""
    real = os.path.realpath(path)
    for root in roots:
        real_root = os.path.realpath(root)
        try:
            if os.path.commonpath([real, real_root]) == real_root:
                return True
        except ValueError:  # another drive (Windows)
            continue
    return False


def target_file(
    uri: str,
    document_uri: str,
    workspace_folders: Sequence[str],
    open_file: Callable[[str], OpenFile | None],
) -> TargetFile:
    """The file at ``uri`` as the action will edit it; FileRefused says why it must not.

    ``open_file`` finds an open document by URI (any spelling of the same path).
    """
    path = uris.to_path(uri)
    if path is None:
        raise FileRefused(f"{uri} is not a local file")
    roots = allowed_roots(document_uri, workspace_folders)
    if not roots or not inside(path, roots):
        where = (
            "the workspace folder " + ", ".join(roots)
            if workspace_folders
            else "the document's folder"
        )
        raise FileRefused(f"{path} is outside {where}; it was not written")
    document = open_file(uri)
    if document is not None:
        return TargetFile(document.uri, document.text, document.version)
    if not os.path.lexists(path):
        return TargetFile(uri)
    if os.path.isdir(path):
        raise FileRefused(f"{path} is a folder; nothing was written")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise FileRefused(
            f"{path} exists but cannot be read ({exc.strerror or exc}); it was left as it is"
        ) from exc
    try:
        # Bytes as they are: newline translation would make the edit's positions and
        # line ends differ from the file the editor opens.
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"{path} exists but is not UTF-8 text (byte {exc.start}); it was left as it "
            "is: convert it to UTF-8 or choose another file name"
        ) from exc
    return TargetFile(uri, text)
