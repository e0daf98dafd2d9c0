"""Tests of qwen_lsp.documents: coordinate conversions, incremental edits, snapshots."""

from __future__ import annotations

import dataclasses
import random
import re
import threading

import pytest
from tree_sitter import Node, Tree

from qwen_lsp import text_index
from qwen_lsp.documents import (
    MAX_PARSE_BYTES,
    Document,
    DocumentNotOpenError,
    DocumentStore,
    Snapshot,
    TreeEdit,
)
from qwen_lsp.syntax import get_parser
from qwen_lsp.text_index import LspRange, PositionError

# --- naive reference conversions (slow, obviously right) -----------------------------------------


def ref_lines(text: str) -> list[str]:
    """LSP lines without their endings ("\\n", "\\r\\n", "\\r")."""
    return re.split(r"\r\n|\r|\n", text)


def ref_line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def ref_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def ref_offset_at(text: str, line: int, utf16_col: int) -> int:
    """LSP position -> code points, clamped to the document (what apply_change expects)."""
    lines = ref_lines(text)
    if line >= len(lines):
        return len(text)
    offset = ref_line_starts(text)[line]
    units = 0
    for char in lines[line]:
        if units + ref_units(char) > utf16_col:
            break
        units += ref_units(char)
        offset += 1
    return offset


def ref_position_at(text: str, offset: int) -> tuple[int, int]:
    starts = ref_line_starts(text)
    line = max(i for i, start in enumerate(starts) if start <= offset)
    content = ref_lines(text)[line][: offset - starts[line]]
    return line, sum(ref_units(c) for c in content)


def ref_point(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset].encode("utf-8", "surrogatepass")
    return before.count(b"\n"), len(before) - (before.rfind(b"\n") + 1)


def make(text: str, language_id: str = "python", uri: str = "file:///t/x") -> Document:
    return Document(uri, language_id, 1, text)


# --- positions -----------------------------------------------------------------------------------

# lines: "ab\tc" CRLF, "😀x漢" CR, "" CRLF, "end"; offsets: 0 / 6 / 10 / 12, length 15
TRICKY = "ab\tc\r\n😀x漢\r\r\nend"


def test_tricky_text_lines() -> None:
    doc = make(TRICKY)
    assert doc.line_count() == 4
    assert [doc.line_at(i) for i in range(4)] == ["ab\tc", "😀x漢", "", "end"]
    with pytest.raises(PositionError, match="4 lines"):
        doc.line_at(4)


@pytest.mark.parametrize(
    ("line", "utf16_col", "offset"),
    [
        (0, 0, 0),
        (0, 3, 3),  # a tab is one unit
        (0, 4, 4),
        (0, 99, 4),  # past the line end: the line end, before "\r\n"
        (1, 0, 6),
        (1, 1, 6),  # between the halves of 😀: round down
        (1, 2, 7),
        (1, 3, 8),
        (1, 4, 9),
        (1, 5, 9),
        (2, 0, 10),
        (2, 7, 10),
        (3, 3, 15),
        (4, 0, 15),  # (line_count, 0) is the end of the text
    ],
)
def test_offset_at(line: int, utf16_col: int, offset: int) -> None:
    assert make(TRICKY).offset_at(line, utf16_col) == offset


@pytest.mark.parametrize(("line", "utf16_col"), [(4, 1), (5, 0), (-1, 0), (0, -1), (100, 100)])
def test_offset_at_outside_the_document(line: int, utf16_col: int) -> None:
    with pytest.raises(PositionError):
        make(TRICKY).offset_at(line, utf16_col)


def test_position_error_message_names_the_line_count() -> None:
    with pytest.raises(PositionError, match=r"line 7 .*has 4 lines"):
        make(TRICKY).offset_at(7, 0)
    assert issubclass(PositionError, ValueError)


@pytest.mark.parametrize(
    ("offset", "position"),
    [
        (0, (0, 0)),
        (4, (0, 4)),
        (5, (0, 4)),  # between "\r" and "\n": the line end
        (6, (1, 0)),
        (7, (1, 2)),
        (8, (1, 3)),
        (9, (1, 4)),
        (10, (2, 0)),
        (11, (2, 0)),
        (12, (3, 0)),
        (15, (3, 3)),
    ],
)
def test_position_at(offset: int, position: tuple[int, int]) -> None:
    assert make(TRICKY).position_at(offset) == position


@pytest.mark.parametrize("offset", [-1, 16])
def test_position_at_outside(offset: int) -> None:
    with pytest.raises(PositionError):
        make(TRICKY).position_at(offset)


@pytest.mark.parametrize(
    ("offset", "byte_offset", "point"),
    [
        (0, 0, (0, 0)),
        (4, 4, (0, 4)),
        (6, 6, (1, 0)),
        (7, 10, (1, 4)),  # 😀 is 4 bytes
        (8, 11, (1, 5)),
        (9, 14, (1, 8)),  # 漢 is 3 bytes
        (10, 15, (1, 9)),  # a lone "\r" ends the LSP line but not the tree-sitter row
        (12, 17, (2, 0)),
        (15, 20, (2, 3)),
    ],
)
def test_bytes_and_points(offset: int, byte_offset: int, point: tuple[int, int]) -> None:
    snap = make(TRICKY).snapshot()
    assert snap.byte_offset(offset) == byte_offset
    assert snap.point_at(offset) == point
    assert snap.offset_from_byte(byte_offset) == offset
    assert snap.position_from_byte(byte_offset) == snap.position_at(offset)


@pytest.mark.parametrize(("byte_offset", "offset"), [(7, 6), (9, 6), (12, 8), (13, 8)])
def test_offset_from_byte_inside_a_character_rounds_down(byte_offset: int, offset: int) -> None:
    assert make(TRICKY).snapshot().offset_from_byte(byte_offset) == offset


def test_points_match_tree_sitter_with_crlf_and_lone_cr() -> None:
    text = 'a = "漢"\rb = 1\r\nc = "😀"\nd = 2\r'
    snap = make(text).snapshot()
    assert snap.tree is not None
    for node in walk(snap.tree):
        start = snap.offset_from_byte(node.start_byte)
        end = snap.offset_from_byte(node.end_byte)
        assert snap.point_at(start) == tuple(node.start_point)
        assert snap.point_at(end) == tuple(node.end_point)


@pytest.mark.parametrize(
    ("text", "line_count"),
    [
        ("", 1),
        ("a", 1),
        ("a\n", 2),
        ("\r\n", 2),
        ("\r", 2),
        ("\n\r", 3),
        ("\r\r\n", 3),
        ("a\u2028b\x0bc\x0cd\x85e", 1),  # only \n, \r\n, \r end LSP lines
    ],
)
def test_line_count(text: str, line_count: int) -> None:
    assert make(text).line_count() == line_count


ALPHABET = ["a", "Z", "_", " ", "\t", "\n", "\r", "\r\n", "😀", "漢", "é", "\u2028", "{", "'"]


@pytest.mark.parametrize("chunk", [4096, 1, 3, 7])  # byte offsets are indexed per chunk
@pytest.mark.parametrize("seed", range(20))
def test_conversions_agree_with_the_reference(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_index, "CHUNK", chunk)
    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 60)))
    snap = make(text).snapshot()
    assert snap.line_count() == len(ref_lines(text))
    for line, content in enumerate(ref_lines(text)):
        assert snap.line_at(line) == content
        width = sum(ref_units(c) for c in content)
        for utf16_col in range(width + 3):
            assert snap.offset_at(line, utf16_col) == ref_offset_at(text, line, utf16_col)
    for offset in range(len(text) + 1):
        assert snap.position_at(offset) == ref_position_at(text, offset)
        byte_offset = len(text[:offset].encode("utf-8"))
        assert snap.byte_offset(offset) == byte_offset
        assert snap.offset_from_byte(byte_offset) == offset
        assert snap.point_at(offset) == ref_point(text, offset)


def test_lone_surrogate_does_not_crash() -> None:
    doc = make('s = "a\ud800b"\n')
    assert doc.tree is not None
    snap = doc.snapshot()
    assert snap.byte_offset(7) == 9  # encoded with surrogatepass: 3 bytes
    assert snap.offset_from_byte(9) == 7
    assert snap.position_at(7) == (0, 7)
    doc.apply_change("\ud83d", ((0, 5), (0, 5)))
    assert doc.text == 's = "\ud83da\ud800b"\n'


# --- incremental edits ---------------------------------------------------------------------------


def walk(tree: Tree) -> list[Node]:
    nodes: list[Node] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(reversed(node.children))
    return nodes


def shape(tree: Tree) -> list[tuple[object, ...]]:
    return [
        (n.type, n.start_byte, n.end_byte, tuple(n.start_point), tuple(n.end_point), n.is_missing)
        for n in walk(tree)
    ]


def assert_same_as_fresh_parse(snap: Snapshot) -> None:
    assert snap.tree is not None and snap.language is not None
    fresh = get_parser(snap.language).parse(snap.text.encode("utf-8", "surrogatepass"))
    assert str(snap.tree.root_node) == str(fresh.root_node)
    assert shape(snap.tree) == shape(fresh)


SEEDS = {
    "python": 'def f(x):\n    """Doc 😀."""\r\n    return x + 1\n\nclass A:\n    y = "漢字"\n',
    "javascript": "function f(a) {\r\n  const s = `😀 ${a}`;\n  return s; // 漢\n}\n",
    "go": 'package main\n\nimport "fmt"\n\nfunc main() {\r\n\tfmt.Println("漢😀")\n}\n',
    "rust": 'fn main() {\n    let s = "😀";\r\n    println!("{}", s);\n}\n',
    "java": 'class A {\n  String s = "漢";\r\n  void f() { int x = 1; }\n}\n',
}
FRAGMENTS = [
    "",
    "x",
    "😀",
    "漢字",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "    ",
    "{",
    "}",
    "(",
    ")",
    '"',
    "'",
    ":",
    ";",
    "return 1",
    "if x:\n    pass\n",
    "{ let y = 2; }",
    "// 😀 note\n",
    "# 漢\r\n",
    "a😀b\r\nc漢d",
]


def random_range(rng: random.Random, text: str) -> LspRange:
    """A random LSP range, sometimes ending past the line or document end, sometimes reversed."""
    lines = ref_lines(text)

    def position() -> tuple[int, int]:
        line = rng.randrange(len(lines) + (1 if rng.random() < 0.1 else 0))
        width = sum(ref_units(c) for c in lines[line]) if line < len(lines) else 0
        return line, rng.randrange(width + 3)

    start, end = position(), position()
    if rng.random() < 0.9 and end < start:
        start, end = end, start
    if rng.random() < 0.05:
        end = (len(lines) + 3, 0)  # editors send ends past the document
    return start, end


def assert_tree_edit(snap: Snapshot, old_text: str, range_: LspRange, new_text: str) -> None:
    """The Tree.edit arguments agree with byte/point arithmetic on the plain strings."""
    start = ref_offset_at(old_text, *range_[0])
    end = ref_offset_at(old_text, *range_[1])
    start, end = min(start, end), max(start, end)
    new_full = old_text[:start] + new_text + old_text[end:]
    edit = snap.tree_edit(start, end, new_text)

    def byte(text: str, offset: int) -> int:
        return len(text[:offset].encode("utf-8", "surrogatepass"))

    assert edit == TreeEdit(
        start_byte=byte(old_text, start),
        old_end_byte=byte(old_text, end),
        new_end_byte=byte(new_full, start + len(new_text)),
        start_point=ref_point(old_text, start),
        old_end_point=ref_point(old_text, end),
        new_end_point=ref_point(new_full, start + len(new_text)),
    )


def apply_reference(text: str, new_text: str, range_: LspRange) -> str:
    start = ref_offset_at(text, *range_[0])
    end = ref_offset_at(text, *range_[1])
    start, end = min(start, end), max(start, end)
    return text[:start] + new_text + text[end:]


@pytest.mark.parametrize("language", sorted(SEEDS))
def test_incremental_tree_equals_fresh_parse(language: str) -> None:
    rng = random.Random(f"edits-{language}")
    doc = Document(f"file:///t/seed.{language}", language, 0, SEEDS[language])
    expected = SEEDS[language]
    for step in range(300):
        new_text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randrange(0, 3)))
        range_ = random_range(rng, expected)
        before = doc.snapshot()
        before_shape = shape(before.tree) if before.tree is not None else None
        doc.apply_change(new_text, range_)
        old_text = expected
        expected = apply_reference(expected, new_text, range_)
        assert_tree_edit(before, old_text, range_, new_text)
        assert doc.text == expected, f"step {step}"
        assert doc.snapshot().utf8_size() == len(expected.encode("utf-8", "surrogatepass"))
        assert_same_as_fresh_parse(doc.snapshot())
        # the snapshot taken before the edit still shows the old text and an unedited tree
        assert before.tree is not None
        assert shape(before.tree) == before_shape
        assert_same_as_fresh_parse(before)
        if rng.random() < 0.02:  # now and then a full replacement
            expected = SEEDS[language]
            doc.apply_change(expected, None)


def test_edit_that_splits_and_joins_crlf() -> None:
    doc = make("a = 1\r\nb = 2\r\n")
    # delete the "\n" of the first "\r\n" (LSP cannot address it, so delete from line end)
    doc.apply_change("", ((0, 5), (1, 0)))
    assert doc.text == "a = 1b = 2\r\n"
    assert_same_as_fresh_parse(doc.snapshot())
    doc.apply_change("\r", ((0, 5), (0, 5)))
    assert doc.text == "a = 1\rb = 2\r\n"
    assert doc.line_count() == 3
    assert_same_as_fresh_parse(doc.snapshot())
    doc.apply_change("\n", ((1, 0), (1, 0)))  # after the lone "\r": now "\r\n" again
    assert doc.text == "a = 1\r\nb = 2\r\n"
    assert doc.line_count() == 3
    assert_same_as_fresh_parse(doc.snapshot())


@pytest.mark.parametrize(
    ("range_", "new_text", "expected"),
    [
        (((0, 0), (0, 0)), "# ", "# ab😀c\n漢\n"),
        (((0, 2), (0, 4)), "", "abc\n漢\n"),  # delete 😀 (2 units)
        (((0, 3), (0, 3)), "X", "abX😀c\n漢\n"),  # inside 😀: before it
        (((1, 0), (9, 9)), "end", "ab😀c\nend"),  # end past the document: clamped
        (((0, 99), (1, 0)), "", "ab😀c漢\n"),  # join lines
        (((1, 1), (0, 2)), "-", "ab-\n"),  # reversed range: reordered
        (((5, 0), (5, 0)), "tail", "ab😀c\n漢\ntail"),  # start past the end: appended
        (None, "new", "new"),
    ],
)
def test_apply_change_text(range_: LspRange | None, new_text: str, expected: str) -> None:
    doc = make("ab😀c\n漢\n")
    assert doc.snapshot().utf8_size() == 12
    doc.apply_change(new_text, range_)
    assert doc.text == expected
    assert doc.snapshot().utf8_size() == len(expected.encode())
    assert_same_as_fresh_parse(doc.snapshot())


def test_the_store_knows_the_utf8_size_of_the_current_text_only() -> None:
    store = DocumentStore()
    big = "café = 1\n" * 30_000  # no tree (too large to parse): nothing encodes it
    store.open("file:///t/a.txt", "plaintext", 1, big)
    text = store.get("file:///t/a.txt").text  # type: ignore[union-attr]
    assert store.utf8_size("file:///t/a.txt", text) == len(big.encode())
    store.change("file:///t/a.txt", 2, [("é", ((3, 0), (3, 0)))] * 3)
    now = store.get("file:///t/a.txt").text  # type: ignore[union-attr]
    assert store.utf8_size("file:///t/a.txt", now) == len(big.encode()) + 6
    assert store.utf8_size("file:///t/a.txt", text) is None  # an older text: not known
    assert store.utf8_size("file:///t/b.txt", now) is None


# --- no tree: huge, binary, unknown language -----------------------------------------------------


def test_huge_document_gets_no_tree_and_still_edits() -> None:
    line = "x = 1  # 漢\n"
    text = line * (MAX_PARSE_BYTES // len(line.encode()) + 10)
    assert len(text.encode()) > MAX_PARSE_BYTES
    doc = make(text)
    assert doc.tree is None
    doc.apply_change("y = 2\n", ((0, 0), (0, 0)))
    assert doc.text.startswith("y = 2\nx = 1")
    assert doc.tree is None
    last = doc.line_count() - 1
    assert doc.position_at(len(doc.text)) == (last, 0)
    assert doc.offset_at(last - 1, 100) == len(doc.text) - 1
    # shrinking it below the limit brings the tree back
    doc.apply_change("", ((1, 0), (last, 0)))
    assert doc.text == "y = 2\n"
    assert_same_as_fresh_parse(doc.snapshot())


def test_huge_by_bytes_not_by_code_points() -> None:
    text = "漢" * (MAX_PARSE_BYTES // 3 + 1)  # fewer code points than the limit, more bytes
    assert len(text) < MAX_PARSE_BYTES < len(text.encode())
    assert make(text).tree is None
    assert make(text[:-10]).tree is not None


def test_binary_document_gets_no_tree() -> None:
    doc = make("abc\x00\x01def\n")
    assert doc.is_binary
    assert doc.tree is None
    assert doc.position_at(4) == (0, 4)
    doc.apply_change("", ((0, 3), (0, 4)))  # remove the NUL: parse again
    assert not doc.is_binary
    assert_same_as_fresh_parse(doc.snapshot())


def test_unknown_language_gets_no_tree() -> None:
    doc = Document("file:///t/notes.txt", "plaintext", 1, "hello 😀\n")
    assert doc.language is None
    assert doc.tree is None
    doc.apply_change("!", ((0, 5), (0, 5)))
    assert doc.text == "hello! 😀\n"
    assert doc.tree is None


def test_language_comes_from_the_uri_when_the_id_is_unknown() -> None:
    doc = Document("file:///t/main.go", "plaintext", 1, "package main\n")
    assert doc.language == "go"
    assert doc.tree is not None


# --- snapshots and the store ---------------------------------------------------------------------


def test_snapshot_is_immutable_and_survives_changes() -> None:
    doc = make("def f():\n    return 1\n")
    snap = doc.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.text = "changed"  # type: ignore[misc]
    for i in range(20):
        doc.apply_change(f"x{i} = {i}\n", ((0, 0), (0, 0)))
    assert snap.text == "def f():\n    return 1\n"
    assert snap.version == 1
    assert_same_as_fresh_parse(snap)
    assert doc.snapshot() is not snap
    assert doc.snapshot().line_at(0) == "x19 = 19"


def test_snapshots_read_from_another_thread_while_edits_go_on() -> None:
    doc = make("def f():\n    return 1\n")
    stop = threading.Event()
    problems: list[str] = []
    checked = 0

    def reader() -> None:
        nonlocal checked
        while not stop.is_set():
            snap = doc.snapshot()
            assert snap.tree is not None
            fresh = get_parser("python").parse(snap.source)
            if str(snap.tree.root_node) != str(fresh.root_node):
                problems.append(snap.text)
            if snap.position_at(len(snap.text)) != ref_position_at(snap.text, len(snap.text)):
                problems.append(snap.text)
            checked += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(300):
            doc.apply_change(f"x{i} = '😀'\r\n", ((i % 3, 0), (i % 3, 0)))
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert checked > 0


def test_snapshot_made_directly_indexes_its_own_text() -> None:
    snap = Snapshot("file:///t/a.py", "python", "python", 1, "a\n😀b")
    assert snap.line_count() == 2
    assert snap.byte_offset(4) == 7
    assert snap.tree is None  # only Snapshot.build and apply_change parse
    assert Snapshot.build("file:///t/a.py", "python", 1, "a\n").tree is not None


def test_store_lifecycle() -> None:
    store = DocumentStore()
    uri = "file:///t/a.py"
    assert store.get(uri) is None
    doc = store.open(uri, "python", 3, "a = 1\n")
    assert store.get(uri) is doc and uri in store and len(store) == 1
    assert (doc.uri, doc.language_id, doc.language, doc.version) == (uri, "python", "python", 3)
    # changes apply in order: the second range is in the text after the first change
    changes: list[tuple[str, LspRange | None]] = [
        ("b", ((0, 0), (0, 1))),
        ("\nc = 😀", ((0, 5), (0, 5))),
        (" # 漢", ((1, 6), (1, 6))),
    ]
    assert store.change(uri, 4, changes) is doc
    assert doc.text == "b = 1\nc = 😀 # 漢\n"
    assert doc.version == 4
    assert doc.snapshot().version == 4
    assert_same_as_fresh_parse(doc.snapshot())
    store.change(uri, 5, [("z = 0\n", None)])
    assert (doc.text, doc.version) == ("z = 0\n", 5)
    reopened = store.open(uri, "python", 1, "again\n")
    assert store.get(uri) is reopened is not doc
    store.close(uri)
    assert store.get(uri) is None
    store.close(uri)  # closing twice is harmless


def test_change_of_a_document_that_is_not_open() -> None:
    store = DocumentStore()
    with pytest.raises(DocumentNotOpenError, match="file:///t/missing.py.*not open"):
        store.change("file:///t/missing.py", 2, [("x", None)])
    assert issubclass(DocumentNotOpenError, KeyError)


def test_failed_change_batch_leaves_the_document_untouched() -> None:
    store = DocumentStore()
    doc = store.open("file:///t/a.py", "python", 1, "a = 1\n")
    with pytest.raises(PositionError):
        store.change("file:///t/a.py", 2, [("b", ((0, 0), (0, 1))), ("c", ((0, -1), (0, 0)))])
    assert (doc.text, doc.version) == ("a = 1\n", 1)
