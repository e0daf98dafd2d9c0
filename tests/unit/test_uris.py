"""File URIs and paths: one pair of functions that round-trips (qwen_lsp/uris.py)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from qwen_lsp import uris

AWKWARD = [
    "/",
    "/w/calc.py",
    "/w/a#b/c.py",
    "/w/what?/c.py",
    "/w/100%/c.py",
    "/w/100%25/c.py",  # a name that looks encoded already
    "/w/my project/c d.py",
    "/w/ünïcødé/日本語.py",
    "/w/emoji 🐍/x.py",
    "/w/a:b/c;d=e&f+g,h@i!$'()*/x.py",
    "/w/tab\there/x.py",
    "/w/\udcff-not-utf8.py",  # a byte that is not UTF-8, as Python names it
    "//double/leading",
    "/w/" + string.punctuation.replace("/", "") + ".py",
]


@pytest.mark.parametrize("path", AWKWARD)
def test_a_path_round_trips(path: str) -> None:
    uri = uris.from_path(path, windows=False)
    assert uri.startswith("file:///")
    assert not set(uri) & set("#? \t")  # encoded, never a fragment or a query
    assert uris.to_path(uri, windows=False) == path
    assert uris.from_path(uris.to_path(uri, windows=False) or "", windows=False) == uri


def test_encoding_is_the_usual_one() -> None:
    """What VS Code, Neovim and pathlib send for ordinary names, byte for byte."""
    for path in ("/home/me/My Project/main.go", "/w/ü.py", "/w/a~b_c-d.e"):
        assert uris.from_path(path, windows=False) == Path(path).as_uri()
    assert uris.from_path("/w/a#b", windows=False) == "file:///w/a%23b"


@pytest.mark.parametrize(
    "uri, path",
    [
        ("file:///w/a%23b/c.py", "/w/a#b/c.py"),
        ("file:///w/%c3%bc.py", "/w/ü.py"),  # lower-case hex
        ("file://localhost/w/x.py", "/w/x.py"),
        ("file:/w/x.py", "/w/x.py"),
        ("FILE:///w/x.py", "/w/x.py"),
        ("file:///w/x.py#L3", "/w/x.py"),  # a fragment is not part of the path
        ("file:///w/x.py?query", "/w/x.py"),
        ("file:///w/%7Ehome", "/w/~home"),
    ],
)
def test_client_spellings(uri: str, path: str) -> None:
    assert uris.to_path(uri, windows=False) == path


@pytest.mark.parametrize(
    "uri", ["untitled:Untitled-1", "https://example.com/x.py", "file://otherhost/w/x.py", ""]
)
def test_not_a_local_file(uri: str) -> None:
    assert uris.to_path(uri, windows=False) is None


def test_relative_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="not an absolute path"):
        uris.from_path("w/x.py", windows=False)


@pytest.mark.parametrize(
    "path, uri",
    [
        ("C:\\src\\my lib\\x#1.rs", "file:///C:/src/my%20lib/x%231.rs"),
        ("c:\\", "file:///c:/"),
        ("\\\\server\\share\\a b.py", "file://server/share/a%20b.py"),
    ],
)
def test_windows_paths(path: str, uri: str) -> None:
    assert uris.from_path(path, windows=True) == uri
    assert uris.to_path(uri, windows=True) == path


def test_windows_client_spellings() -> None:
    assert uris.to_path("file:///c%3A/src/x.py", windows=True) == "c:\\src\\x.py"  # VS Code


def test_names_and_sameness() -> None:
    assert uris.path_part("file:///c%3A/src/lib.rs?x=1#frag") == "/c:/src/lib.rs"
    assert uris.path_part("untitled:Untitled-1") == "Untitled-1"
    assert uris.path_part("/no/scheme.py") == "/no/scheme.py"
    assert uris.name("file:///w/a%23b/test%20x.py") == "test x.py"
    assert uris.name("file:///") == ""
    assert uris.same_file("file:///w/%C3%BC.py", "file:///w/%c3%bc.py")
    assert uris.same_file("file:///w/a.py", "file://localhost/w/a.py")
    assert not uris.same_file("file:///w/a.py", "file:///w/b.py")
    assert not uris.same_file("untitled:1", "untitled:2")
