"""Imports a generated Python test file lacks (qwen_lsp/actions/testimports.py)."""

from __future__ import annotations

from qwen_lsp.actions.testimports import unbound_names, with_missing_imports

MODULE = "from decimal import Decimal as D\n\nclass Context:\n    pass\n\n\nLIMIT = 3\n"


def test_names_bound_nowhere_are_found_in_order() -> None:
    tests = (
        "def test_a(tmp_path):\n    x = [y for y in range(LIMIT)]\n"
        "    with pytest.raises(ValueError) as caught:\n        Context().f(x, tmp_path)\n"
        "    assert caught and os.sep\n"
    )
    assert unbound_names(tests) == ["LIMIT", "pytest", "Context", "os"]
    assert unbound_names("def test_a(:\n") == []


def test_pytest_the_stdlib_and_the_modules_names_are_imported() -> None:
    tests = (
        "from geo import Context\n\n\ndef test_a():\n"
        "    with pytest.raises(ValueError):\n        Context().f(D(1), LIMIT, os.sep, nowhere)\n"
    )
    assert with_missing_imports(tests, "geo", MODULE) == (
        "import pytest\nimport os\nfrom geo import Context, D, LIMIT\n\n\ndef test_a():\n"
        "    with pytest.raises(ValueError):\n        Context().f(D(1), LIMIT, os.sep, nowhere)\n"
    )


def test_without_a_from_line_one_is_added_below_the_imports() -> None:
    tests = "import geo\n\n\ndef test_a():\n    assert geo.f(LIMIT)\n"
    assert with_missing_imports(tests, "geo", MODULE) == (
        "import geo\nfrom geo import LIMIT\n\n\ndef test_a():\n    assert geo.f(LIMIT)\n"
    )


def test_tests_in_the_modules_file_import_only_modules() -> None:
    tests = "def test_a():\n    assert Context() and pytest and re\n"
    module = MODULE + "import re\n"
    assert with_missing_imports(tests, None, module) == "import pytest\n" + tests


def test_an_existing_test_files_imports_count() -> None:
    tests = "def test_b():\n    assert pytest and LIMIT\n"
    existing = "import pytest\nfrom geo import LIMIT\n\n\ndef test_a():\n    pass\n"
    assert with_missing_imports(tests, "geo", MODULE, existing) == tests


def test_complete_tests_are_unchanged() -> None:
    tests = "import os\nfrom geo import Context\n\n\ndef test_a():\n    assert Context() and os\n"
    assert with_missing_imports(tests, "geo", MODULE) == tests
