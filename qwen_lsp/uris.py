"""File URIs from paths and paths from file URIs: the one pair every module uses.

A path becomes ``file://`` + its UTF-8 bytes percent-encoded (everything but letters,
digits, ``-._~``, ``/`` and ``:``), so ``#``, ``?``, ``%``, spaces and non-ASCII names
survive; :func:`to_path` undoes exactly that, and ``to_path(from_path(p)) == p`` for every
absolute path (also bytes that are not UTF-8, kept as surrogate escapes the way Python
names such files). Clients spell the same file in more than one way (``%3A`` or ``:``,
``%7E`` or ``~``, upper or lower case hex): compare paths, never URI strings.

A query or a fragment (an unencoded ``?`` or ``#``) is not part of the path, as RFC 3986
says: that is why a path must be encoded by :func:`from_path` and nothing else. Windows
paths (``C:\\dir``, UNC ``\\\\host\\share``) are handled when ``windows`` is true, by
default on Windows only. Pure: no file system, no environment.
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import quote, unquote_to_bytes, urlsplit

WINDOWS = sys.platform == "win32"

# Bytes that stay as they are in a path; everything else is percent-encoded.
_SAFE = "/:"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: C: is a drive
_FILE = re.compile(r"^file:", re.IGNORECASE)
_DRIVE = re.compile(r"^/?([A-Za-z]):(?=/|$)")


def from_path(path: str | os.PathLike[str], *, windows: bool = WINDOWS) -> str:
    """The file URI of an absolute path; ValueError for a relative one."""
    text = os.fspath(path)
    host = ""
    if windows:
        text = text.replace("\\", "/")
        if text.startswith("//"):  # UNC: //host/share/...
            host, _, rest = text[2:].partition("/")
            text = "/" + rest
        elif _DRIVE.match(text) and not text.startswith("/"):
            text = "/" + text  # C:/dir -> /C:/dir
    if not text.startswith("/"):
        raise ValueError(f"not an absolute path: {os.fspath(path)!r}")
    return "file://" + host + _quote(text)


def to_path(uri: str, *, windows: bool = WINDOWS) -> str | None:
    """The local path of a file URI; None for another scheme or another machine's file."""
    if not _FILE.match(uri):
        return None
    split = urlsplit(uri)
    path = _unquote(split.path) or "/"
    host = "" if split.netloc.lower() == "localhost" else split.netloc
    if not windows:
        return None if host else path
    drive = _DRIVE.match(path)
    if drive and not host:
        path = f"{drive.group(1)}:{path[drive.end() :] or '/'}"
    elif host:
        path = f"//{_unquote(host)}{path}"
    return path.replace("/", "\\")


def path_part(uri: str) -> str:
    """The decoded path of any URI, with ``/`` separators, for names and extensions:
    ``file:///a/b%20c.py`` -> ``/a/b c.py``, ``untitled:Untitled-1`` -> ``Untitled-1``;
    a string without a scheme is taken as a path already."""
    if _FILE.match(uri):
        path = to_path(uri, windows=False)
        if path is not None:
            return path
        return _unquote(urlsplit(uri).path)  # another machine's file: still has a name
    if _SCHEME.match(uri):
        return _unquote(urlsplit(uri).path)
    return uri.replace("\\", "/") if WINDOWS else uri


def name(uri: str) -> str:
    """The file name of a URI (its last path segment), "" when it has none."""
    return path_part(uri).rstrip("/").rsplit("/", 1)[-1]


def same_file(a: str, b: str) -> bool:
    """Whether two URIs name the same local file, however each client spelled it."""
    if a == b:
        return True
    path_a, path_b = to_path(a), to_path(b)
    if path_a is None or path_b is None:
        return False
    return path_a.lower() == path_b.lower() if WINDOWS else path_a == path_b


def _quote(path: str) -> str:
    return quote(path.encode("utf-8", "surrogateescape"), safe=_SAFE)


def _unquote(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")
