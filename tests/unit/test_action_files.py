"""Where an action may write another file, and what it reads first (actions/files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_lsp import uris
from qwen_lsp.actions.catalogue import ActionSpec
from qwen_lsp.actions.files import FileRefused, OpenFile, allowed_roots, inside, target_file
from qwen_lsp.actions.prompt import FileNameError, file_name, new_file_uri
from qwen_lsp.documents import Snapshot


def _nothing_open(uri: str) -> OpenFile | None:
    return None


def test_inside_resolves_dots_and_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "file_link.py").symlink_to(outside / "secret.py")
    assert inside(str(root / "a" / "b.py"), [str(root)])
    assert inside(str(root / "a" / ".." / "b.py"), [str(root)])
    assert not inside(str(root / ".." / "outside" / "b.py"), [str(root)])
    assert not inside(str(root / "link" / "b.py"), [str(root)])
    assert not inside(str(root / "file_link.py"), [str(root)])
    assert not inside(str(tmp_path / "rootless.py"), [str(root)])  # a prefix is not a parent
    assert inside(str(outside / "x"), [str(root), str(outside)])


def test_allowed_roots() -> None:
    assert allowed_roots("file:///w/sub/a.py", ["/w", "/v"]) == ["/w", "/v"]
    assert allowed_roots("file:///w/sub/a.py", []) == ["/w/sub"]  # no workspace: its folder
    assert allowed_roots("untitled:1", []) == []


def test_target_file(tmp_path: Path) -> None:
    doc = uris.from_path(tmp_path / "a.py")
    new = tmp_path / "test_a.py"
    assert target_file(uris.from_path(new), doc, [str(tmp_path)], _nothing_open).text is None
    new.write_bytes(b"x = 1\r\n")
    found = target_file(uris.from_path(new), doc, [str(tmp_path)], _nothing_open)
    assert found.text == "x = 1\r\n" and found.version is None  # line ends as they are
    new.write_bytes(b"x = '\xe9'\n")
    with pytest.raises(FileRefused, match="is not UTF-8 text"):
        target_file(uris.from_path(new), doc, [str(tmp_path)], _nothing_open)
    (tmp_path / "folder.py").mkdir()
    with pytest.raises(FileRefused, match="is a folder"):
        target_file(uris.from_path(tmp_path / "folder.py"), doc, [str(tmp_path)], _nothing_open)
    with pytest.raises(FileRefused, match="outside the workspace folder"):
        target_file(uris.from_path(tmp_path.parent / "x.py"), doc, [str(tmp_path)], _nothing_open)
    opened = OpenFile("file:///spelled/otherwise", "open text", 4)
    found = target_file(uris.from_path(new), doc, [str(tmp_path)], lambda uri: opened)
    assert (found.uri, found.text, found.version) == ("file:///spelled/otherwise", "open text", 4)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("{stem}.notes{ext}", "calc.notes.py"),
        ("tests/test_{stem}{ext}", "tests/test_calc.py"),
        ("{{literal}}-{stem}", "{literal}-calc"),
    ],
)
def test_file_name_patterns(pattern: str, expected: str) -> None:
    assert file_name(pattern, "calc", ".py") == expected


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("{x}.py", "uses {x}; it may use {stem} and {ext}"),
        ("{0}.py", "uses {0}"),
        ("{stem.__class__}", "uses {stem.__class__}"),
        ("{stem.py", "unmatched brace"),
        ("stem}.py", "unmatched brace"),
    ],
)
def test_bad_file_name_patterns(pattern: str, message: str) -> None:
    with pytest.raises(FileNameError, match=message.replace("{", r"\{").replace("}", r"\}")):
        file_name(pattern, "calc", ".py")


def _spec(file_name: str) -> ActionSpec:
    return ActionSpec("custom:0", "Notes", "source", "", "", "newFile", file_name=file_name)


def test_new_file_uri_encodes_and_normalises() -> None:
    snapshot = Snapshot.build("file:///w/a%23b%20c/calc.py", "python", 1, "x = 1\n")
    assert new_file_uri(_spec("{stem}.md"), snapshot) == "file:///w/a%23b%20c/calc.md"
    assert new_file_uri(_spec("../up/{stem}.md"), snapshot) == "file:///w/up/calc.md"
    untitled = Snapshot.build("untitled:Untitled-1", "python", 1, "x = 1\n")
    assert new_file_uri(_spec("{stem}.md"), untitled) == ""  # not a file: nowhere to put it
    with pytest.raises(FileNameError, match="gives no file name"):
        new_file_uri(_spec("sub/"), snapshot)
