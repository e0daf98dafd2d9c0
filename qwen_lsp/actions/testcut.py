"""Where a generated test answer has what was asked, and is cut.

The tests action asks for a few short tests with one or two assertions each. The 0.5B
model mostly writes one test function and then case after case in it ("# Test case 7:
..."), each assertion as likely wrong as the last, until its token limit cuts the
function off (and with it the only test). So the answer is stopped, while it streams,
at the start of the line that opens one test more than asked for, or one assertion more
than a test may have, and cut there: what it wrote before is complete tests.
Line-based: the answer's lines are read as they come, no parse needed.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from qwen_lsp import brackets
from qwen_lsp.actions.target import parse

MAX_TESTS = 4  # the prompt asks for "at most four short test functions"
# ... "each with one or two assertions"; a test may have twice that before it is taken
# for case after case. The 0.5B model's answers for 12 Python functions, cut at 2: 12
# tests kept, none passing, ~105 tokens (median); at 4: 17 kept, one passing, ~195
# tokens; not cut: 700 tokens, 4 of them no test file at all.
MAX_ASSERTIONS = 4

# A line that opens a test, or makes an assertion, per language (the line's start only:
# a streamed line is matched as soon as its first word is there).
_TEST_START = {
    "python": re.compile(r"[ \t]*(?:async[ \t]+)?def[ \t]+test"),
    "javascript": re.compile(r"[ \t]*(?:test|it)[ \t]*\("),
    "typescript": re.compile(r"[ \t]*(?:test|it)[ \t]*\("),
}
_ASSERTION = {
    "python": re.compile(
        r"[ \t]*(?:assert[\s(]|self\.assert\w*[ \t]*\("
        r"|with[ \t]+(?:pytest\.raises|self\.assertRaises))"
    ),
    "javascript": re.compile(r"[ \t]*(?:assert(?:\.\w+)?[ \t]*\(|expect[ \t]*\()"),
    "typescript": re.compile(r"[ \t]*(?:assert(?:\.\w+)?[ \t]*\(|expect[ \t]*\()"),
}


def cut_offset(code: str, language: str) -> int | None:
    """Where ``code`` (a test answer, as far as it is written) has more than asked: the
    start of the line opening test ``MAX_TESTS + 1``, or of a test's assertion
    ``MAX_ASSERTIONS + 1``. None when it has not (yet), or for a language not known here."""
    test_start, assertion = _TEST_START.get(language), _ASSERTION.get(language)
    if test_start is None or assertion is None:
        return None
    tests = assertions = 0
    offset = 0
    for line in code.split("\n"):
        if test_start.match(line):
            tests, assertions = tests + 1, 0
            if tests > MAX_TESTS:
                return offset
        elif tests and assertion.match(line):
            assertions += 1
            if assertions > MAX_ASSERTIONS:
                return offset
        offset += len(line) + 1
    return None


def cut_tests(code: str, language: str) -> str:
    """``code`` (a whole test answer) up to where it has more than asked (``cut_offset``),
    without what led to the cut (blank and comment lines, a case's setup after the last
    assertion kept), and with the brackets left open closed (a JavaScript ``describe``
    around the tests); unchanged when it has no more than asked."""
    at = cut_offset(code, language)
    if at is None:
        return code
    return _kept("\n".join(code[:at].split("\n")[:-1]), language)


def python_that_parses(code: str) -> str:
    """Python test ``code`` without what Python's compiler refuses, though tree-sitter
    parses it (a keyword argument given twice, the 0.5B model's fourth case in one test):
    kept up to the end of the last assertion above the error, as a cut (``cut_tests``)
    keeps it. Compiled, never run."""
    lines = code.split("\n")
    while lines:
        try:
            compile("\n".join(lines), "<tests>", "exec", dont_inherit=True)
            break
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            line = getattr(error, "lineno", None) or len(lines)
            kept = _kept("\n".join(lines[: min(line, len(lines)) - 1]), "python").split("\n")
            # Each round keeps less: an error the cut does not reach drops the last line.
            lines = kept if len(kept) < len(lines) and kept != [""] else lines[:-1]
    return "\n".join(lines)


def javascript_declared_once(code: str, language: str) -> str:
    """JavaScript (TypeScript) test ``code`` up to the ``const``/``let`` that declares a
    name its block declared already, cut back to the last assertion above it: the 0.5B
    model wrote case after case in one test, each with its own ``const result``, which
    is a SyntaxError (tree-sitter parses it). Unchanged without one; parsed, never run."""
    if language not in ("javascript", "typescript"):
        return code
    for _ in range(code.count("\n") + 1):  # each round keeps less
        line = _first_redeclaration(code, language)
        if line is None:
            break
        code = _kept("\n".join(code.split("\n")[:line]), language)
    return code


def _first_redeclaration(code: str, language: str) -> int | None:
    """The 0-based line of the first ``const``/``let`` in ``code`` that declares a name its
    block (or the file) declared before; None when there is none."""
    _, root = parse(language, code)
    found: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("program", "statement_block"):
            seen: set[str] = set()
            for child in node.named_children:
                if child.type != "lexical_declaration":
                    continue
                for declarator in child.named_children:
                    name = declarator.child_by_field_name("name")
                    for text in _bound(name):
                        if text in seen:
                            found.append(child.start_point[0])
                        seen.add(text)
        stack.extend(node.named_children)
    return min(found, default=None)


def without_private_tests(code: str, language: str) -> str:
    """JavaScript (TypeScript) test ``code`` without its top-level statements that use a
    ``#name`` outside a class body (see :func:`private_member_outside_class`): the other
    tests of the answer still run. Unchanged where no statement does, or where every
    statement (every test) does: then the answer is refused, saying why."""
    if language not in ("javascript", "typescript"):
        return code
    _, root = parse(language, code)
    statements = [n for n in root.named_children if n.type == "expression_statement"]
    cuts = [(n.start_byte, n.end_byte) for n in statements if _private_member(n) is not None]
    if not cuts or len(cuts) == len(statements):
        return code
    data = code.encode("utf-8")
    kept, last = [], 0
    for start, end in cuts:
        kept.append(data[last:start])
        last = end
    kept.append(data[last:])
    text = b"".join(kept).decode("utf-8")
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def private_member_outside_class(code: str, language: str) -> str | None:
    """The first ``#name`` that JavaScript (TypeScript) test ``code`` uses outside a
    class body, where it is a SyntaxError (tree-sitter parses it): the 0.5B model,
    asked to test a private method or a constructor setting private fields, called
    ``Query.#queryTree`` or asserted on ``handler.#origin``. None when there is none."""
    if language not in ("javascript", "typescript"):
        return None
    _, root = parse(language, code)
    return _private_member(root)


def _private_member(root: Node) -> str | None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "class_body":
            continue
        if node.type == "private_property_identifier" and node.text:
            return node.text.decode("utf-8", "replace")
        stack.extend(reversed(node.named_children))
    return None


def _bound(node: Node | None) -> list[str]:
    """The names a declarator's name (an identifier, or a destructuring pattern) binds."""
    if node is None:
        return []
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [node.text.decode("utf-8", "replace") if node.text else ""]
    names: list[str] = []
    for child in node.named_children:
        if child.type == "pair_pattern":
            child = child.child_by_field_name("value") or child
        if child.type != "property_identifier":
            names.extend(_bound(child))
    return names


def _kept(code: str, language: str) -> str:
    """``code``, the lines of a test answer before where it is cut, without what led
    to the cut: back to the end of the last assertion (or test start), the lines after it
    began the next case; with the brackets left open closed (a JavaScript ``describe``
    around the tests)."""
    lines = code.split("\n")
    test_start, assertion = _TEST_START[language], _ASSERTION[language]
    last = max(
        (i for i, line in enumerate(lines) if assertion.match(line) or test_start.match(line)),
        default=len(lines) - 1,
    )
    end = last + 1
    indent = len(lines[last]) - len(lines[last].lstrip())
    while end < len(lines) and _continues(lines[end], indent):
        end += 1  # the assertion's own further lines (a with block, arguments)
    kept = "\n".join(lines[:end]).rstrip()
    closing = _closing_lines(kept) if language != "python" else []
    return "\n".join([kept, *closing])


def _continues(line: str, indent: int) -> bool:
    """Whether ``line`` belongs to the statement above it, which starts at ``indent``:
    deeper indented, or a closing bracket at its level."""
    stripped = line.lstrip()
    if not stripped:
        return False
    width = len(line) - len(stripped)
    return width > indent or (width == indent and stripped[0] in ")]}")


def _closing_lines(code: str) -> list[str]:
    """The lines closing the brackets ``code`` leaves open, innermost first: the brackets
    one line opened are closed together, at that line's indentation (``});``). Strings
    and ``//`` comments are skipped; a mismatched closer is ignored."""
    # (closer, the number of the line that opened it)
    stack = [
        (brackets.CLOSER_OF[opener], code.count("\n", 0, at))
        for opener, at in brackets.scan(code, "//").brackets
    ]
    source_lines = code.split("\n")
    closing: list[str] = []
    while stack:
        opened_on = stack[-1][1]
        group = ""
        while stack and stack[-1][1] == opened_on:
            group += stack.pop()[0]
        opener = source_lines[opened_on]
        indent = opener[: len(opener) - len(opener.lstrip())]
        closing.append(indent + group + (";" if group.endswith(")") else ""))
    return closing
