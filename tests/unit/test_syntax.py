"""Tests of qwen_lsp.syntax: parsers and completion-kind decisions, for every language."""

from __future__ import annotations

import threading

import pytest

from qwen_lsp import languages, syntax
from qwen_lsp.languages import SUPPORTED_LANGUAGES
from qwen_lsp.syntax import (
    CompletionKind,
    completion_kind,
    count_errors,
    get_parser,
)

CURSOR = "‸"


def kind_at(language: str | None, marked: str, *, with_tree: bool = True) -> CompletionKind:
    """completion_kind at the cursor marker of ``marked`` (parsed unless with_tree is False)."""
    assert marked.count(CURSOR) == 1, marked
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    tree = None
    if with_tree and language is not None:
        tree = get_parser(language).parse(text.encode("utf-8"))
    return completion_kind(tree, text, offset, language)


# (language, code with the cursor marker, expected kind)
KIND_CASES: list[tuple[str, str, CompletionKind]] = [
    # --- python ----------------------------------------------------------------------------------
    ("python", "def f():\n    ‸", "block"),
    ("python", "def f():\n    ‸\n\nx = 1\n", "block"),
    ("python", "def f():‸", "block"),
    ("python", "class A:\n    def f(self):\n        ‸", "block"),
    ("python", "if x:\n    pass\nelse:\n    ‸", "block"),
    ("python", "for i in range(3):\n    ‸\nprint(i)\n", "block"),
    ("python", "while True:\n\n    ‸", "block"),
    ("python", "try:\n    ‸", "block"),
    ("python", "try:\n    a()\nexcept ValueError:\n    ‸", "block"),
    ("python", "with open(p) as f:  # why\n    ‸", "block"),
    ("python", "def f():\n    # todo\n    ‸", "block"),
    ("python", "@dec\nasync def f():\n    ‸", "block"),
    ("python", "match x:\n    case 1:\n        ‸", "block"),
    ("python", "def f():\r\n    ‸\r\n", "block"),
    ("python", "def f():  # 😀 漢\n    ‸", "block"),
    ("python", "x = 1\n‸", "block"),
    ("python", "def f():\n    x = 1\n    ‸", "block"),
    ("python", "d = {\n    'a':\n        ‸", "block"),
    ("python", "x = {'a':‸}", "line"),
    ("python", "f = lambda x:‸", "line"),
    ("python", "foo‸", "line"),
    ("python", "foo(‸)", "line"),
    ("python", "print('hello ‸')", "line"),
    ("python", "x = f'{y}‸'", "line"),
    ("python", "x = f'{y‸} z'", "line"),
    ("python", "# comment‸", "line"),
    ("python", "x = 1  # note ‸", "line"),
    ("python", 's = """\ndef f():\n    ‸\n"""\n', "line"),
    ("python", "fo‸o", "none"),
    ("python", "‸foo()", "none"),
    ("python", "print('hel‸lo')", "none"),
    ("python", "x = 'a ‸' + y", "none"),
    ("python", "# a ‸ b", "none"),
    ("python", 'def f():\n    """Doc ‸ more."""\n', "none"),
    ("python", "s = '😀 ‸ 漢'", "none"),
    # --- javascript ------------------------------------------------------------------------------
    ("javascript", "function f() {\n  ‸\n}\n", "block"),
    ("javascript", "function f() {\n  ‸", "block"),
    ("javascript", "if (x) {‸}", "block"),
    ("javascript", "if (x) {‸", "block"),
    ("javascript", "const f = () => {\n  ‸", "block"),
    ("javascript", "class A {\n  ‸\n}", "block"),
    ("javascript", "switch (x) {\n  ‸\n}", "block"),
    ("javascript", "for (;;) {\n  // loop\n  ‸\n}", "block"),
    ("javascript", "function f() {\r\n  ‸\r\n}\r\n", "block"),
    ("javascript", "const x = {\n  ‸\n};", "line"),
    ("javascript", "const x = {\n  ‸", "block"),
    ("javascript", "foo(‸);", "line"),
    ("javascript", "const a = 1;\n‸", "block"),
    ("javascript", "const s = `a${b‸} c`;", "line"),
    ("javascript", "/* x */‸", "line"),
    ("javascript", "f('a', ‸)", "line"),
    ("javascript", "const s = 'abc ‸';", "line"),
    ("javascript", 'f("a‸", b);', "none"),
    ("javascript", "const s = `a ‸ ${b}`;", "none"),
    ("javascript", "/* x ‸ y */", "none"),
    ("javascript", "// a ‸ b", "none"),
    ("javascript", "fo‸o();", "none"),
    # --- typescript ------------------------------------------------------------------------------
    ("typescript", "interface I {\n  ‸\n}", "block"),
    ("typescript", "enum E {\n  ‸\n}", "block"),
    ("typescript", "function f(): void {\n  ‸\n}", "block"),
    ("typescript", "class C {\n  m(): number {\n    ‸\n  }\n}", "block"),
    ("typescript", "const x: number = ‸", "line"),
    ("typescript", "const o: Record<string, number> = {\n  ‸\n};", "line"),
    ("typescript", "let s: string = 'a ‸, b';", "none"),
    ("typescript", "let va‸lue: number;", "none"),
    ("tsx", "function A() {\n  ‸\n}", "block"),
    ("tsx", "const a = <div>{‸}</div>;", "line"),
    # --- go --------------------------------------------------------------------------------------
    ("go", "package main\n\nfunc main() {\n\t‸", "block"),
    ("go", "package main\n\nfunc main() {\n\t‸\n}\n", "block"),
    ("go", "package main\n\nfunc main() {\n\tswitch x {\n\t‸\n\t}\n}\n", "block"),
    ("go", "package main\n\ntype S struct {\n\t‸\n}\n", "block"),
    ("go", "package main\n\nfunc main() {\n\tfor {‸}\n}\n", "block"),
    ("go", "package main\n\nvar v = T{\n\t‸\n}\n", "line"),
    ("go", "package main\n\nfunc main() {\n\tx := 1\n\t‸\n}\n", "block"),
    ("go", "package main\n\nfunc main() {\n\tfmt.Println(‸)\n}\n", "line"),
    ("go", 'package main\n\nvar s = "a ‸ b"\n', "none"),
    ("go", "package main\n\nvar s = `raw ‸ text`\n", "none"),
    ("go", "package main\n\nfunc ma‸in() {}\n", "none"),
    # --- rust ------------------------------------------------------------------------------------
    ("rust", "fn main() {\n    ‸", "block"),
    ("rust", "fn main() {‸}", "block"),
    ("rust", "impl S {\n    ‸\n}\n", "block"),
    ("rust", "fn f(x: u8) {\n    match x {\n        ‸\n    }\n}\n", "block"),
    ("rust", "struct S {\n    ‸\n}\n", "block"),
    ("rust", "fn main() {\n    let s = S {\n        ‸\n    };\n}\n", "line"),
    ("rust", "fn main() {\n    let x = 1;\n    ‸\n}\n", "block"),
    ("rust", "fn main() {\n    let c = 'x‸';\n}\n", "line"),
    ("rust", "// done‸", "line"),
    ("rust", 'fn main() {\n    let s = "a ‸ b";\n}\n', "none"),
    ("rust", "fn main() {\n    // a ‸ b\n}\n", "none"),
    # --- c ---------------------------------------------------------------------------------------
    ("c", "int main(void) {\n  ‸", "block"),
    ("c", "int main(void) {\n  ‸\n}\n", "block"),
    ("c", "int main(void)\n{\n  ‸\n}\n", "block"),
    ("c", "struct S {\n  ‸\n};", "block"),
    ("c", "int a[] = {\n  ‸\n};", "line"),
    ("c", "int main(void) {\n  int x = 1;\n  ‸\n}\n", "block"),
    ("c", "#include <stdio.h>\n‸", "block"),
    ("c", 'int main(void) {\n  printf("a ‸ b");\n}\n', "none"),
    ("c", "/* a ‸ b */", "none"),
    ("c", "int ma‸in(void);", "none"),
    # --- cpp -------------------------------------------------------------------------------------
    ("cpp", "namespace n {\n‸\n}", "block"),
    ("cpp", "class A {\n  ‸\n};", "block"),
    ("cpp", "auto f = [](int x) {\n  ‸\n};", "block"),
    ("cpp", "int main() {\n  ‸", "block"),
    ("cpp", "std::vector<int> v = {\n  ‸\n};", "line"),
    ("cpp", "int main() {\n  std::cout << ‸;\n}\n", "line"),
    ("cpp", 'auto r = R"(a ‸ b)";', "none"),
    ("cpp", "int main() {\n  // a ‸ b\n}\n", "none"),
    # --- java ------------------------------------------------------------------------------------
    ("java", "class A {\n  void f() {\n    ‸", "block"),
    ("java", "class A {\n  ‸\n}", "block"),
    ("java", "interface I {\n  ‸\n}", "block"),
    ("java", "class A {\n  A() {\n    ‸\n  }\n}", "block"),
    ("java", "class A {\n  int[] a = {\n    ‸\n  };\n}", "line"),
    ("java", "class A {\n  void f() {\n    int x = 1;\n    ‸\n  }\n}", "block"),
    ("java", 'class A {\n  String s = "a ‸ b";\n}', "none"),
    ("java", "class A {\n  // a ‸ b\n}", "none"),
    ("java", "class A {\n  void f() {\n    Sys‸tem.out.println();\n  }\n}", "none"),
    # --- ruby ------------------------------------------------------------------------------------
    ("ruby", "def label\n  ‸", "block"),
    ("ruby", "def label(x)\n  ‸\nend\n", "block"),
    ("ruby", "class Bin < Base\n  ‸\nend\n", "block"),
    ("ruby", "bins.each do |bin|\n  ‸", "block"),
    ("ruby", "bins.each do‸", "block"),
    ("ruby", "if ready then\n  ‸\nend\n", "block"),
    ("ruby", "def f\n  x = 1\n  ‸\nend\n", "block"),
    ("ruby", "h = {\n  ‸\n}\n", "line"),
    ("ruby", 'puts "a #{‸}"', "line"),
    ("ruby", 'x = "a ‸ b"', "none"),
    ("ruby", "# a ‸ b", "none"),
    ("ruby", "def la‸bel\nend\n", "none"),
    # --- php -------------------------------------------------------------------------------------
    ("php", "<?php\nfunction total($bins) {\n    ‸", "block"),
    ("php", "<?php\nfunction total($bins)\n{\n    ‸\n}\n", "block"),
    ("php", "<?php\nclass Shelf\n{\n    ‸\n}\n", "block"),
    ("php", "<?php\nif ($x) {‸}", "block"),
    ("php", "<?php\n$a = [\n    ‸\n];\n", "line"),
    ("php", "<?php\n$total = ‸;\n", "line"),
    ("php", '<?php\n$s = "a $x ‸ b";\n', "none"),
    ("php", "<?php\n// a ‸ b\n", "none"),
    ("php", "<?php\n$to‸tal = 1;\n", "none"),
    # --- csharp ----------------------------------------------------------------------------------
    ("csharp", "class A {\n    void M() {\n        ‸", "block"),
    ("csharp", "class A\n{\n    void M()\n    {\n        ‸\n    }\n}\n", "block"),
    ("csharp", "namespace Shop\n{\n    ‸\n}\n", "block"),
    ("csharp", "int[] a = {\n    ‸\n};\n", "line"),
    ("csharp", 'var s = $"a {‸} b";', "line"),
    ("csharp", 'var s = "a ‸ b";', "none"),
    ("csharp", "/// a ‸ b", "none"),
    ("csharp", "Con‸sole.WriteLine();", "none"),
    # --- lua -------------------------------------------------------------------------------------
    ("lua", "function M.total(bins)\n  ‸", "block"),
    ("lua", "local function helper(x)\n  ‸\nend\n", "block"),
    ("lua", "if ready then\n  ‸\nend\n", "block"),
    ("lua", "if ready then‸", "block"),
    ("lua", "for i = 1, 3 do\n  ‸", "block"),
    ("lua", "if ready then\nelse\n  ‸\nend\n", "block"),
    ("lua", "local t = {\n  ‸\n}\n", "line"),
    ("lua", 'local s = "a ‸ b"', "none"),
    ("lua", "-- a ‸ b", "none"),
    ("lua", "pr‸int(x)", "none"),
    # --- bash ------------------------------------------------------------------------------------
    ("bash", 'if [ -n "$x" ]; then\n  ‸', "block"),
    ("bash", 'if [ -n "$x" ]; then\n  ‸\nfi\n', "block"),
    ("bash", "for f in *.txt; do\n  ‸\ndone\n", "block"),
    ("bash", "total() {\n  ‸", "block"),
    ("bash", "total() {\n  ‸\n}\n", "block"),
    ("bash", 'echo "today: $(‸)"', "line"),
    ("bash", 'echo "a ‸ b"', "none"),
    ("bash", "# a ‸ b", "none"),
    ("bash", "ec‸ho hi", "none"),
    # --- kotlin ----------------------------------------------------------------------------------
    ("kotlin", "fun total(xs: List<Int>): Int {\n    ‸", "block"),
    ("kotlin", "class Bin {\n    ‸\n}\n", "block"),
    ("kotlin", "fun f() {\n    xs.forEach {\n        ‸\n    }\n}\n", "block"),
    ("kotlin", "fun f(x: Int) {\n    when (x) {\n        ‸\n    }\n}\n", "block"),
    ("kotlin", "val m = mapOf(\n    ‸\n)\n", "line"),
    ("kotlin", 'val s = "a ${‸} b"', "line"),
    ("kotlin", 'val s = "a ‸ b"', "none"),
    ("kotlin", "// a ‸ b", "none"),
    ("kotlin", "fun to‸tal() = 1", "none"),
]


@pytest.mark.parametrize(("language", "marked", "expected"), KIND_CASES)
def test_completion_kind(language: str, marked: str, expected: CompletionKind) -> None:
    assert kind_at(language, marked) == expected


def test_cases_cover_every_language() -> None:
    assert {case[0] for case in KIND_CASES} == set(SUPPORTED_LANGUAGES)


# Without a tree (no grammar, or the document is too large to parse): text rules only.
PLAIN_CASES: list[tuple[str | None, str, CompletionKind]] = [
    (None, "def f():\n    ‸", "block"),
    (None, "int main() {\n    ‸", "block"),
    (None, "def f():\n‸", "line"),  # not indented deeper than the opener line
    (None, "x = 1\n    ‸", "line"),
    (None, "fo‸o", "none"),
    (None, "foo‸", "line"),
    ("python", "if x:\n    # comment\n    ‸", "block"),
    ("python", "x = {\n    ‸", "line"),  # python opens blocks with ":" only
    ("go", "func main() {\n\t‸", "block"),
]


@pytest.mark.parametrize(("language", "marked", "expected"), PLAIN_CASES)
def test_completion_kind_without_tree(
    language: str | None, marked: str, expected: CompletionKind
) -> None:
    assert kind_at(language, marked, with_tree=False) == expected


def test_completion_kind_clamps_offset_and_handles_empty_text() -> None:
    tree = get_parser("python").parse(b"")
    assert completion_kind(tree, "", 0, "python") == "block"  # an empty file: a blank line
    assert completion_kind(None, "abc", 99, None) == "line"
    assert completion_kind(None, "abc", -5, None) == "none"


def test_completion_kind_lone_carriage_return_lines() -> None:
    # "\r" ends an LSP line; the previous line is the opener, not "def f():\r    ".
    assert kind_at(None, "def f():\r    ‸") == "block"
    assert kind_at("javascript", "function f() {\r  ‸\r}") == "block"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_language_has_rules_and_parses(language: str) -> None:
    spec = languages.get(language)
    assert spec.name == language
    assert spec.completion.block_node_types and spec.completion.block_openers
    assert spec.line_comment
    tree = get_parser(language).parse(b"x")
    assert tree.root_node is not None


def test_unknown_language_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported language 'cobol'"):
        languages.get("cobol")
    with pytest.raises(ValueError, match="unsupported language 'cobol'"):
        get_parser("cobol")


def test_get_parser_gives_each_caller_its_own_parser() -> None:
    assert get_parser("python") is not get_parser("python")
    assert syntax.get_language("python") is syntax.get_language("python")


def test_parsers_in_threads() -> None:
    source = b"def f(x):\n    return [i * 2 for i in range(x)]\n" * 200
    expected = str(get_parser("python").parse(source).root_node)
    results: list[str] = []

    def work() -> None:
        for _ in range(5):
            results.append(str(get_parser("python").parse(source).root_node))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 20


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("python", "def f(x):\n    return x\n", 0),
        ("python", "def f(:\n  x = = 1\n", 3),
        ("javascript", "function f() {", 1),  # MISSING "}"
        ("javascript", "let x = ;", 1),
        ("go", "package main\nfunc main() { x := }\n", 1),
        ("c", "int main(void) { return 0 }", 1),  # MISSING ";"
        ("java", "class A { void f() { int x = 1 } }", 1),
    ],
)
def test_count_errors(language: str, code: str, expected: int) -> None:
    tree = get_parser(language).parse(code.encode())
    assert count_errors(tree.root_node) == expected
    assert (expected > 0) == tree.root_node.has_error


def test_count_errors_on_a_subtree_counts_only_that_subtree() -> None:
    tree = get_parser("javascript").parse(b"function a() { let x = ; }\nfunction b() { f(; }\n")
    first, second = tree.root_node.children
    total = count_errors(tree.root_node)
    assert count_errors(first) >= 1
    assert count_errors(second) >= 1
    assert count_errors(first) + count_errors(second) == total


@pytest.mark.parametrize(
    "language, marked, expected",
    [
        # The body of what goes on the blank line is already below it: one line.
        ("python", "def f(xs):\n    xs.sort()\n    ‸\n        print(xs)\n", "line"),
        ("python", "def f(xs):\n    ‸\n    return xs\n", "block"),
        ("go", "package main\n\nfunc f() {\n\tx := 1\n\t‸\n\t\tg(x)\n\t}\n}\n", "line"),
        # Column 0 of a stripped blank line stands for the indentation of the code around
        # it: the next statement of the same body is not a body below it (issue 17).
        ("python", "def f(xs):\n    xs.sort()\n‸\n    return xs\n", "block"),
        ("go", "package main\n\nfunc f() {\n\tx := 1\n‸\n\tg(x)\n}\n", "block"),
        # ...but a line deeper than that code still is one.
        ("python", "def f(xs):\n    xs.sort()\n‸\n        print(xs)\n", "line"),
    ],
)
def test_blank_line_with_a_body_below_is_one_line(
    language: str, marked: str, expected: str
) -> None:
    assert kind_at(language, marked) == expected


def test_a_leaf_under_the_cursor_is_not_an_error() -> None:
    # Found by the fuzzer: py-tree-sitter raises IndexError for child(0) of a node without
    # children, which made a completion request fail with an internal error.
    tree = syntax.get_parser("python").parse(b"x = 1\n")
    rules = languages.get("python").completion
    assert syntax._among_statements(tree.root_node, 0, rules) is True


# (language, code with the cursor marker, the indentation implied there)
IMPLIED_INDENT_CASES: list[tuple[str | None, str, str]] = [
    # between two statements of one block: theirs
    ("python", "class A:\n    def f(self):\n        a = 1\n‸\n        b = 2\n", "        "),
    ("python", "def f():\n    a = 1\n    # why\n‸\n\n    # then\n    b = 2\n", "    "),
    ("python", "def f():\n\ta = 1\n‸\n\tb = 2\n", "\t"),
    # a body opened above, the next line indented deeper: the body's
    ("python", "def f(self):\n‸\n        return 1\n", "        "),
    ("python", "x = call(\n‸\n    b)\n", "    "),
    ("c", "int f(void) {\n‸\n    return 0;\n}\n", "    "),
    ("rust", "fn f() {\n    let a = 1;\n‸\n    a\n}\n", "    "),
    ("ruby", "items.each do\n‸\n  puts 1\nend\n", "  "),
    (None, "a:\n‸\n  b\n", "  "),
    # the statement's own indentation, not that of its last line's alignment
    (
        "python",
        "class A:\n    def f(self, a,\n          b=(1, 2)):  # x\n‸\n\n    def g(self):\n",
        "        ",
    ),
    ("python", "def f():\n    x = [a(1)\n         for a in b]\n‸\n    try:\n", "    "),
    ("python", "def f():\n    x = g(')',\n          a)\n‸\n    y = 1\n", "    "),
    # left open: the block may end here or go on
    ("python", "def f():\n    if a:\n        b = 1\n‸\n    return b\n", ""),
    # left open: this line may open a block for the deeper one below
    ("python", "def f():\n    a = 1\n‸\n        b = 2\n", ""),
    # a body opened above with nothing in it yet: one level deeper than its opener
    ("python", "def f():\n    if a:\n‸\n    return 1\n", "        "),
    ("python", "def f(x):\n‸\n\ndef g():\n    pass\n", "    "),
    ("python", "class A:\n    def f(self):  # why\n‸", "        "),
    ("c", "int f(void) {\n‸\n}\n", "    "),
    ("python", "x = call(\n‸\n)\n", "    "),
    # (after a comma, with the closing bracket level with the line above: that line's own
    # indentation, column 0 here)
    ("python", "x = [1,\n‸\n]\n", ""),
    ("ruby", "def undo\n‸\n  1\nend\n", ""),  # `undo` is no `do`
    # not column 0 of a bare line, or nothing to go by
    ("python", "def f():\n    a = 1\n    ‸\n    b = 2\n", ""),
    ("python", "def f():\n    a = 1\n‸x\n    b = 2\n", ""),
    ("python", "def f():\n    a = 1\n‸", ""),
    ("python", "‸\nx = 1\n", ""),
    ("python", "x = 1\n‸\ny = 2\n", ""),  # (column 0 is the indentation)
]


@pytest.mark.parametrize(("language", "marked", "expected"), IMPLIED_INDENT_CASES)
def test_implied_indent(language: str | None, marked: str, expected: str) -> None:
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    assert syntax.implied_indent(text, offset, language, "    ") == expected


def test_implied_indent_reads_crlf_lines() -> None:
    text = "def f():\r\n    a = 1\r\n\r\n    b = 2\r\n"
    at = text.index("\r\n\r\n") + 2
    assert syntax.implied_indent(text, at, "python", "\t") == "    "
    tabbed = "def f():\n\tif a:\n\n\treturn 1\n"
    assert syntax.implied_indent(tabbed, tabbed.index("\n\n") + 1, "python", "\t") == "\t\t"


@pytest.mark.parametrize(
    ("language", "marked", "expected"),
    [
        ("python", "class A:\n    def f(self, x):\n        ‸\n\nprint(1)\n", True),
        ("python", "def f(x):‸\n", True),  # the end of the header line
        ("python", "def f(x):\n‸\n", True),  # column 0 of the line below
        ("python", "def f(x):\n    # why\n\n    ‸\n", True),  # a comment between
        ("python", "def f(x):  # why\n    ‸\n", True),
        ("python", "if x:\n    ‸\n", False),  # another block
        ("python", "def f(x):\n    y = 1\n    ‸\n", False),  # the body has begun
        ("python", "def f(x):\n    ‸y = 1\n", False),  # code after the cursor
        ("python", "x = {\n    ‸\n", False),
        ("go", "package m\n\nfunc f() {\n\t‸\n}\n", True),
        ("javascript", "class A {\n  m() {\n    ‸\n  }\n}\n", True),
        ("javascript", "const f = () => {\n  ‸\n}\n", True),
        ("javascript", "if (x) {\n  ‸\n}\n", False),
        ("rust", "fn f() {\n    ‸\n}\n", True),
        ("c", "int f(void) {\n    ‸\n}\n", True),
        ("c", "int f(void) {\n    for (;;) {\n        ‸\n    }\n}\n", False),
    ],
)
def test_opens_function_body(language: str, marked: str, expected: bool) -> None:
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    tree = get_parser(language).parse(text.encode("utf-8"))
    assert syntax.opens_function_body(tree, text, offset, language) is expected
    assert syntax.opens_function_body(None, text, offset, language) is False


def test_opens_function_body_in_a_window() -> None:
    # The tree of the whole document, the text a window of whole lines from byte_start.
    document = "import os\n\n\ndef f(x):\n    \n"
    tree = get_parser("python").parse(document.encode())
    start = document.index("def")
    window = document[start:]
    at = window.index("    \n") + 4
    assert syntax.opens_function_body(tree, window, at, "python", byte_start=start)
