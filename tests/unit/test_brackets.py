"""Tests for qwen_lsp.brackets: what a piece of code leaves open."""

from __future__ import annotations

import pytest

from qwen_lsp.brackets import scan


@pytest.mark.parametrize(
    ("code", "comment", "closers"),
    [
        ("foo(a, [b", "#", "])"),
        ("foo(a, [b])", "#", ""),
        ("f(')', \"(\", `[`)", "//", ""),  # brackets in strings do not count
        ("f(x) # (", "#", ""),  # nor in a comment
        ("g({ a: 1 // }\n", "//", "})"),
        ("f(x]", "#", ")"),  # a stray closer closes nothing
        ("s = 'it\\'s (", "#", ""),  # an escaped quote keeps the string open
        ("if (a) {\n  b(\n", "//", ")}"),
    ],
)
def test_closers(code: str, comment: str, closers: str) -> None:
    assert scan(code, comment).closers() == closers


def test_offsets_and_an_open_string() -> None:
    found = scan("x = f(1, 'ab", "#")
    assert found.brackets == [("(", 5)]
    assert (found.quote, found.quote_at) == ("'", 9)
    assert not found.unsure_strings


@pytest.mark.parametrize("code", ['x = """doc (\n', "a = 'one\ntwo'"])
def test_strings_it_cannot_follow_are_flagged(code: str) -> None:
    assert scan(code, "#").unsure_strings


def test_a_template_literal_may_span_lines() -> None:
    found = scan("s = `a\nb(`", "//")
    assert not found.unsure_strings and found.closers() == ""
