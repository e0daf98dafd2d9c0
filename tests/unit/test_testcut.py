"""Test answers cut where they have what was asked (qwen_lsp/actions/testcut.py)."""

from __future__ import annotations

from qwen_lsp.actions.testcut import (
    MAX_ASSERTIONS,
    MAX_TESTS,
    cut_offset,
    cut_tests,
    javascript_declared_once,
    private_member_outside_class,
    python_that_parses,
    without_private_tests,
)


def _py_test(name: str, asserts: int = 1) -> str:
    return f"def test_{name}():\n" + "".join(f"    assert f({i}) == {i}\n" for i in range(asserts))


def test_as_many_tests_as_asked_are_not_cut() -> None:
    code = "from m import f\n\n\n" + "\n\n".join(_py_test(str(i)) for i in range(MAX_TESTS))
    assert cut_offset(code, "python") is None
    assert cut_tests(code, "python") == code


def test_one_test_more_than_asked_stops_at_its_line() -> None:
    tests = [_py_test(str(i)) for i in range(MAX_TESTS)]
    kept = "from m import f\n\n\n" + "\n\n".join(tests)
    # streamed: the next test's first word is enough
    assert cut_offset(kept + "\n\ndef test", "python") == len(kept) + 2
    assert cut_tests(kept + "\n\ndef test_more():\n    assert f(9) == 9\n", "python") == (
        kept.rstrip()
    )


def test_a_test_with_case_after_case_keeps_its_first_assertions() -> None:
    # what the 0.5B model writes: one test, case after case, each with its setup
    code = "def test_set():\n"
    for case in range(1, 6):
        code += f"    # Test case {case}\n    m = M()\n    m.set({case})\n"
        code += f"    assert m.x == {case}\n\n"
    at = cut_offset(code, "python")
    assert at is not None and code[at:].startswith(f"    assert m.x == {MAX_ASSERTIONS + 1}")
    cut = cut_tests(code, "python")
    assert cut.count("assert") == MAX_ASSERTIONS
    assert cut.endswith(f"assert m.x == {MAX_ASSERTIONS}")  # no setup of the next case


def test_an_assertion_over_several_lines_is_kept_whole() -> None:
    head = "def test_raises():\n" + "    assert f(0) == 0\n" * (MAX_ASSERTIONS - 2)
    kept = (
        head + "    with pytest.raises(ValueError):\n        f(-1)\n"
        "    assert f(\n        1\n    ) == 1"
    )
    assert cut_tests(kept + "\n    assert f(2) == 2\n", "python") == kept


def test_assertions_before_any_test_do_not_count() -> None:
    code = "assert True\n" * (MAX_ASSERTIONS + 1) + _py_test("a", MAX_ASSERTIONS)
    assert cut_offset(code, "python") is None


def test_javascript_tests_cut_inside_describe_are_closed() -> None:
    asserts = "".join(f"    assert.equal(f('}}{i}'), {i});\n" for i in range(MAX_ASSERTIONS))
    code = (
        "const test = require('node:test');\n"
        "describe('f', () => {\n"
        "  test('one', () => {\n" + asserts + "    assert.equal(f(9), 9);\n  });\n"
        "});\n"
    )
    assert cut_tests(code, "javascript") == (
        "const test = require('node:test');\n"
        "describe('f', () => {\n"
        "  test('one', () => {\n" + asserts + "  });\n"
        "});"
    )


def test_a_language_without_rules_is_left_alone() -> None:
    code = "func TestA(t *testing.T) {}\n" * 9
    assert cut_offset(code, "go") is None
    assert cut_tests(code, "go") == code


def test_python_the_compiler_refuses_is_cut_back_to_the_last_assertion() -> None:
    kept = "from m import F\n\n\ndef test_a():\n    x = F(a=1)\n    assert x.f() == 1"
    refused = "\n\n    # Test case 2\n    x = F(a=1, a=1)\n    assert x.f() == 1\n"
    assert python_that_parses(kept + refused) == kept
    assert python_that_parses(kept + "\n") == kept + "\n"  # compiles: unchanged
    # an error in the only test's first lines: nothing of the test is left
    assert python_that_parses("def test_a():\n    f(a=1, a=2)\n") == ""


def test_javascript_declared_twice_in_a_block_is_cut_back_to_the_last_assertion() -> None:
    kept = (
        "test('f', () => {\n  const { a, b: c } = f(1);\n  assert.equal(a, 1);\n"
        "  let d = 2;\n  assert.equal(c, d);"
    )
    again = "\n\n  // Test case 2\n  const [e, c] = f(2);\n  assert.equal(c, 2);\n});\n"
    assert javascript_declared_once(kept + again, "javascript") == kept + "\n});"
    # another block (a test of its own) may use the name again
    other = kept + "\n});\n\ntest('g', () => {\n  const c = 3;\n  assert.equal(c, 3);\n});\n"
    assert javascript_declared_once(other, "javascript") == other
    assert javascript_declared_once(kept + again, "python") == kept + again


def test_a_private_member_is_found_outside_a_class_only() -> None:
    code = "class Fake {\n  #a = 1;\n  get() { return this.#a; }\n}\n"
    assert private_member_outside_class(code, "javascript") is None
    used = code + "test('q', () => {\n  assert.equal(new Fake().#a, 1);\n});\n"
    assert private_member_outside_class(used, "javascript") == "#a"
    assert private_member_outside_class(used, "python") is None


def test_the_tests_using_a_private_member_are_left_out() -> None:
    head = "const test = require('node:test');\nconst { Fake } = require('./fake');\n\n"
    good = "test('get', () => {\n  assert.equal(new Fake().get(), 1);\n});\n"
    bad = "test('field', () => {\n  assert.equal(new Fake().#a, 1);\n});\n"
    code = head + bad + "\n" + good
    kept = without_private_tests(code, "javascript")
    assert kept == head + good
    assert private_member_outside_class(kept, "javascript") is None
    assert without_private_tests(head + good, "javascript") == head + good
    assert without_private_tests(code, "python") == code
    # only such tests: left as they are, for the refusal to say why
    assert without_private_tests(head + bad, "javascript") == head + bad
