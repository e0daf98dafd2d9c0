"""Tests for qwen_lsp.postprocess.scope: the names a function declares only below the cursor."""

from __future__ import annotations

import pytest

from qwen_lsp.postprocess.scope import (
    declared_below,
    declared_names,
    python_bound_names,
    unbound_below,
    used_names,
)


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


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # read below, bound nowhere: the gap has to bind it
        ("def f(raw):\n    █\n    return data.get(raw)\n", {"data"}),
        # parameters, names above the cursor, builtins, the module's names are bound
        (
            "import json\nLIMIT = 3\n\n\ndef f(raw):\n    n = 1\n    █\n"
            "    return json.loads(raw)[:LIMIT] + [n, len(raw), g()]\n\n\ndef g():\n    pass\n",
            set(),
        ),
        # bound below the cursor (a later assignment, a loop, with's and except's names)
        (
            "def f(raw):\n    █\n    for k, v in raw:\n        total = k\n"
            "    with open(total) as fh:\n        pass\n    try:\n        pass\n"
            "    except OSError as e:\n        print(e, fh, v)\n",
            set(),
        ),
        # an attribute's name and a keyword argument's are not names read
        ("def f(raw):\n    █\n    return raw.data(key=1)\n", set()),
        # a subscript or attribute stored into reads its base
        ("def f():\n    █\n    table[0] = 1\n    obj.x = 2\n", {"table", "obj"}),
        # an enclosing function's names are bound for the inner one
        (
            "def outer(a):\n    b = 1\n    def inner():\n        █\n        return a + b + c\n",
            {"c"},
        ),
        # a comprehension's variable, a string's words are not names read
        ("def f(xs):\n    █\n    return [x for x in xs if 'missing']\n", set()),
        # outside a function, nothing
        ("█\nprint(data)\n", set()),
    ],
)
def test_python_names_the_gap_must_bind(document: str, expected: set[str]) -> None:
    assert unbound_below("python", *_split(document)) == expected


def test_other_languages_have_no_unbound_names() -> None:
    assert unbound_below("javascript", *_split("function f() {\n  █\n  return data;\n}\n")) == set()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["x = 1", "    a, b = f()", "y: int = 2"], {"x", "a", "b", "y"}),
        (["for k, v in items:", "    pass"], {"k", "v"}),
        (["with open(p) as fh:", "except E as err:"], {"fh", "err"}),
        (["if (m := rx.match(s)):", "import os.path", "from a import b, c"], {"m", "os", "b", "c"}),
        (["def helper():", "class Box:"], {"helper", "Box"}),
        # comparisons, calls with keyword arguments, attributes, augmented assignments
        (["if x == 1:", "f(key=1)", "self.total = 0", "n += 1"], set()),
        # what a string or a comment says
        (['"""x = 1', 'y = 2"""', "# z = 3"], set()),
    ],
)
def test_the_names_python_lines_bind(lines: list[str], expected: set[str]) -> None:
    assert python_bound_names(lines) == expected


def test_a_deeply_nested_literal_does_not_exhaust_the_recursion_limit() -> None:
    deep = "TABLE = " + "[" * 3000 + "]" * 3000 + "\n\n\ndef f():\n    █\n    return data\n"
    assert unbound_below("python", *_split(deep)) == {"data"}
