"""Actions with nothing to do on a definition are not listed (actions/applicable.py)."""

from __future__ import annotations

import pytest

from qwen_lsp.actions.catalogue import offers
from qwen_lsp.actions.target import find_target
from qwen_lsp.documents import Snapshot

URIS = {
    "python": "file:///w/m.py",
    "typescript": "file:///w/m.ts",
    "javascript": "file:///w/m.js",
    "go": "file:///w/m.go",
    "rust": "file:///w/m.rs",
}


def listed(text: str, language_id: str, needle: str) -> list[str]:
    """The action ids listed with the cursor at ``needle`` (an empty range)."""
    snapshot = Snapshot.build(URIS[language_id], language_id, 1, text)
    at = text.index(needle)
    target = find_target(snapshot, at, at)
    assert target is not None
    return [o.spec.id for o in offers(snapshot, target, (), None, False)]


@pytest.mark.parametrize(
    ("language_id", "documented", "bare"),
    [
        (
            "python",
            'def f(a):\n    """Double a."""\n    return a * 2\n',
            "def f(a):\n    return a * 2\n",
        ),
        (
            "javascript",
            "/** Double a. */\nfunction f(a) {\n  return a * 2;\n}\n",
            "function f(a) {\n  return a * 2;\n}\n",
        ),
        (
            "go",
            "package m\n\n// f doubles a.\nfunc f(a int) int {\n\treturn a * 2\n}\n",
            "package m\n\nfunc f(a int) int {\n\treturn a * 2\n}\n",
        ),
        (
            "rust",
            "/// Doubles a.\nfn f(a: i32) -> i32 {\n    a * 2\n}\n",
            "fn f(a: i32) -> i32 {\n    a * 2\n}\n",
        ),
    ],
)
def test_add_docstring_is_not_listed_on_a_documented_definition(
    language_id: str, documented: str, bare: str
) -> None:
    assert "docstring" not in listed(documented, language_id, "f(a")
    assert "docstring" in listed(bare, language_id, "f(a")
    # the other actions stay
    assert {"explain", "tests"} <= set(listed(documented, language_id, "f(a"))


def test_a_comment_in_another_style_is_no_documentation() -> None:
    todo = "// TODO: faster\nfunction f(a) {\n  return a * 2;\n}\n"
    assert "docstring" in listed(todo, "javascript", "f(a")
    attribute = "#[inline]\nfn f(a: i32) -> i32 {\n    a * 2\n}\n"
    assert "docstring" in listed(attribute, "rust", "f(a")
    assert "docstring" not in listed("/// Doubles.\n" + attribute, "rust", "f(a")


def test_a_class_is_documented_when_its_methods_are() -> None:
    head = 'class C:\n    """A thing."""\n\n    def m(self):\n'
    undocumented = head + "        return 1\n"
    documented = head + '        """One."""\n        return 1\n'
    assert "docstring" in listed(undocumented, "python", "class C")
    assert "docstring" not in listed(documented, "python", "class C")
    # the method alone, documented: not listed; a nested helper does not count
    nested = 'def f():\n    """Outer."""\n\n    def g():\n        return 1\n\n    return g\n'
    assert "docstring" not in listed(documented, "python", "m(self")
    assert "docstring" not in listed(nested, "python", "def f")


@pytest.mark.parametrize(
    ("typed", "untyped"),
    [
        ("def f(a: int, *b: int, c: int = 1, **d: int) -> int:\n", "def f(a, b: int) -> int:\n"),
        ("def f(a: int) -> int:\n", "def f(a: int):\n"),
        ("def f() -> None:\n", "def f(*args) -> None:\n"),
        ("def f() -> None:\n", "def f(c=1) -> None:\n"),
        ("def f() -> None:\n", "def f(**kw) -> None:\n"),
    ],
)
def test_annotate_is_not_listed_on_a_fully_annotated_python_function(
    typed: str, untyped: str
) -> None:
    body = "    return 1\n"
    assert "annotate" not in listed(typed + body, "python", "def f")
    assert "annotate" in listed(untyped + body, "python", "def f")


def test_annotate_on_python_methods_ignores_self() -> None:
    typed = "class C:\n    def m(self, a: int) -> int:\n        return a\n"
    assert "annotate" not in listed(typed, "python", "def m")
    assert "annotate" not in listed(typed, "python", "class C")
    untyped = "class C:\n    def m(self, a) -> int:\n        return a\n"
    assert "annotate" in listed(untyped, "python", "def m")
    assert "annotate" in listed(untyped, "python", "class C")
    static = "class C:\n    @staticmethod\n    def m(a) -> int:\n        return a\n"
    assert "annotate" in listed(static, "python", "def m")  # a staticmethod's `a` counts
    # outside a class, a first parameter named self is a parameter like any other
    assert "annotate" in listed("def m(self) -> int:\n    return 1\n", "python", "def m")


@pytest.mark.parametrize(
    ("typed", "untyped"),
    [
        (
            "function f(a: number, b?: string): number {\n  return a;\n}\n",
            "function f(a: number, b?): number {\n  return a;\n}\n",
        ),
        (
            "function f(a: number): number {\n  return a;\n}\n",
            "function f(a: number) {\n  return a;\n}\n",
        ),
        (
            "const f = (a: number): number => a;\n",
            "const f = a => a;\n",
        ),
        (
            "class C {\n  constructor(a: number) {}\n  set f(v: number) {}\n}\n",
            "class C {\n  constructor(a) {}\n  set f(v: number) {}\n}\n",
        ),
    ],
)
def test_annotate_is_not_listed_on_a_fully_annotated_typescript_function(
    typed: str, untyped: str
) -> None:
    needle = "C {" if "class" in typed else "f"
    assert "annotate" not in listed(typed, "typescript", needle)
    assert "annotate" in listed(untyped, "typescript", needle)


@pytest.mark.parametrize("language_id", ["javascript", "typescript"])
def test_generate_tests_is_not_listed_on_a_method_private_to_its_class(language_id: str) -> None:
    code = (
        "class Query {\n  #tree(node) {\n    return node.children;\n  }\n"
        "  walk(node) {\n    return this.#tree(node);\n  }\n}\n"
    )
    assert "tests" not in listed(code, language_id, "#tree(node)")
    assert "tests" in listed(code, language_id, "walk(node)")
    assert "explain" in listed(code, language_id, "#tree(node)")
