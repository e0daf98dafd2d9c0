"""How sure the model was of each line (postprocess/chances.py) and the cut that reads it
(rule unsure-insert in postprocess/cuts.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from qwen_lsp.postprocess import CompletionSite, detect_indent_unit, line_chances, postprocess
from qwen_lsp.postprocess.cuts import _UNSURE_BELOW

CURSOR = "█"


def site_at(document: str) -> CompletionSite:
    prefix, suffix = document.split(CURSOR)
    return CompletionSite(prefix, suffix, "block", detect_indent_unit(prefix + suffix), "python")


def test_each_line_gets_the_geometric_mean_of_its_tokens() -> None:
    # tokens: "x", " = 1", "\n    ", "y", " = 2"
    text = "x = 1\n    y = 2"
    chances = line_chances(text, [1, 5, 10, 11, 15], [0.9, 0.8, 0.5, 0.2, 0.8])
    # The line break's token (with the next line's indentation) counts for the line it ends.
    first = math.exp((math.log(0.9) + math.log(0.8) + math.log(0.5)) / 3)
    assert chances[0] == pytest.approx(first)
    assert chances[1] == pytest.approx(0.4)


def test_blank_lines_and_unknown_tokens_count_as_sure() -> None:
    assert line_chances("a\n\nb", [1, 2, 3, 4], [0.1, 0.1, 0.1, 0.1])[1] == 1.0
    assert line_chances("a\nb", [], []) == [1.0, 1.0]
    assert line_chances("a\nb", [1, 3], [0.1]) == [1.0, 1.0]  # not one figure per token


def test_a_crlf_line_break_is_one_line_break() -> None:
    assert len(line_chances("a\r\nb\r\n", [1, 3, 4, 6], [0.5] * 4)) == 3


DOCUMENT = "def f(self):\n    self.a = 0\n    █\n    return self.a\n"
RAW = "self.b = 1\n    self.c = 2\n    self.d = 3\n"


@pytest.mark.parametrize(
    ("chances", "expected"),
    [
        ([0.9, 0.9, 0.9, 1.0], "self.b = 1\n    self.c = 2\n    self.d = 3"),
        ([0.9, 0.3, 0.9, 1.0], "self.b = 1"),  # unsure of the second statement: cut there
        ([0.9, 0.9, 0.3, 1.0], "self.b = 1\n    self.c = 2"),
        ([0.1, 0.9, 0.9, 1.0], "self.b = 1\n    self.c = 2\n    self.d = 3"),  # first line
        ((), "self.b = 1\n    self.c = 2\n    self.d = 3"),  # an engine that reports none
    ],
)
def test_between_statements_the_first_unsure_statement_is_cut(
    chances: list[float], expected: str
) -> None:
    assert postprocess(RAW, site_at(DOCUMENT), chances) == expected


def test_the_threshold_is_the_boundary() -> None:
    below, at = [0.9, _UNSURE_BELOW - 0.01, 0.9], [0.9, _UNSURE_BELOW, 0.9]
    assert postprocess(RAW, site_at(DOCUMENT), below) == "self.b = 1"
    assert postprocess(RAW, site_at(DOCUMENT), at).count("\n") == 2


def test_lines_inside_a_compound_statement_and_branches_are_not_cut() -> None:
    raw = "if self.a:\n        self.b = 1\n    else:\n        self.b = 2\n"
    unsure = [0.9, 0.1, 0.1, 0.1, 1.0]
    assert postprocess(raw, site_at(DOCUMENT), unsure) == raw.rstrip()


def test_a_whole_body_is_not_cut() -> None:
    document = "def f(self):\n    █\n\ndef g():\n    pass\n"
    raw = "self.b = 1\n    self.c = 2\n"
    assert postprocess(raw, site_at(document), [0.9, 0.1, 1.0]) == raw.rstrip()


def test_the_rule_can_be_switched_off() -> None:
    site = dataclasses.replace(site_at(DOCUMENT), disabled_rules=frozenset({"unsure-insert"}))
    assert postprocess(RAW, site, [0.9, 0.1, 0.1, 1.0]) == RAW.rstrip()


# The code after the cursor reads ``data``, which nothing above or below binds: the gap must.
READS_UNBOUND = (
    "import json\n\n\ndef error_text(raw):\n█\n"
    "    if isinstance(data, dict):\n        return data.get('error', raw)\n    return raw\n"
)
DOCSTRING_THEN_GUESS = (
    '    """The error\'s text."""\n'
    "    try:\n        data = json.loads(raw)\n    except ValueError:\n        return raw\n"
)


def test_an_unsure_statement_that_binds_what_the_code_below_reads_is_kept() -> None:
    # The 1.5B's answer in remote.py (issue 17): cut after the docstring before this check.
    unsure = [0.9, 0.4, 0.9, 0.9, 0.9, 1.0]
    assert postprocess(DOCSTRING_THEN_GUESS, site_at(READS_UNBOUND), unsure) == (
        DOCSTRING_THEN_GUESS.rstrip()
    )


def test_an_unsure_statement_that_binds_nothing_needed_is_still_cut() -> None:
    document = READS_UNBOUND.replace("def error_text(raw):\n", "def error_text(raw, data):\n")
    unsure = [0.9, 0.4, 0.9, 0.9, 0.9, 1.0]
    assert postprocess(DOCSTRING_THEN_GUESS, site_at(document), unsure) == (
        '    """The error\'s text."""'
    )
    # nor does an earlier line that already bound the name keep a later guess
    raw = "    data = json.loads(raw)\n    data = dict(data)\n"
    assert postprocess(raw, site_at(READS_UNBOUND), [0.9, 0.4, 1.0]) == "    data = json.loads(raw)"
