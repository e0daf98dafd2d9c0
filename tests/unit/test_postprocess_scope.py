"""Tests for qwen_lsp.postprocess.scope: the names a function declares only below the cursor."""

from __future__ import annotations

import pytest

from qwen_lsp.postprocess.scope import declared_below, declared_names, used_names


def _split(document: str) -> tuple[str, str]:
    prefix, suffix = document.split("█")
    return prefix, suffix


@pytest.mark.parametrize(
    ("language", "document", "expected"),
    [
        (
            "typescript",
            "function f(a: number) {\n  const b = a;\n  █\n  let c = b;\n  const d = a;\n}\n",
            {"c", "d"},
        ),
        # a parameter and a name used above the cursor exist already
        ("javascript", "function f(c) {\n  let d = 1\n  █\n  let c2 = c\n  var d = 2\n}\n", {"c2"}),
        (
            "go",
            "package p\n\nfunc f() {\n\t█\n\tn, err := g()\n\tvar m int\n}\n",
            {"n", "err", "m"},
        ),
        ("rust", "fn f() {\n    █\n    let mut total = 0;\n    let n = 1;\n}\n", {"total", "n"}),
        # the next function's names are not this one's
        ("rust", "fn f() {\n    █\n}\n\nfn g() {\n    let n = 1;\n}\n", set()),
        # a ``var`` is hoisted: read above its declaration it is undefined, not an error
        ("javascript", "function f() {\n  █\n  var later = 1;\n  let now = 2;\n}\n", {"now"}),
        # far down a long file: read in the window around the cursor the syntax check parses
        (
            "typescript",
            "function g() {\n  let x = 1;\n}\n" * 5_000 + "function f() {\n  █\n  let y = 2;\n}\n",
            {"y"},
        ),
        # outside any function, and languages without a pattern: nothing
        ("typescript", "█\nconst top = 1;\n", set()),
        ("python", "def f():\n    █\n    x = 1\n", set()),
        ("c", "int f(void) {\n    █\n    int x = 1;\n    return x;\n}\n", set()),
    ],
)
def test_declared_below(language: str, document: str, expected: set[str]) -> None:
    assert declared_below(language, *_split(document)) == expected


def test_strings_comments_and_properties_are_not_names() -> None:
    assert used_names("log(obj.size, 'let x', size) // count") == {"log", "obj", "size"}
    assert declared_names("javascript", "// let x = 1\nconst y = 'let z'") == {"y"}
