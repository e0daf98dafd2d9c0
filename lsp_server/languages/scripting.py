"""Scripting languages: Python.

Python opens its blocks with ``:`` and indentation, so its completion rules name the
keywords that start a block header (an opener inside an ERROR node is judged by them).
"""

from __future__ import annotations

import re

from lsp_server.languages.record import (
    CompletionRules,
    Definitions,
    Grammar,
    LanguageSpec,
    TestStyle,
    names,
)

PYTHON = LanguageSpec(
    name="python",
    grammar=Grammar("tree_sitter_python"),
    language_ids=("python",),
    extensions=(".py", ".pyi", ".pyw"),
    line_comment="#",
    completion=CompletionRules(
        block_node_types=frozenset({"block"}),
        block_openers=(":",),
        string_node_types=frozenset({"string"}),
        comment_node_types=frozenset({"comment"}),
        interpolation_node_types=frozenset({"interpolation"}),
        block_keywords=names(
            "def class if elif else for while with try except finally match case async"
        ),
    ),
    definitions=Definitions(
        leaves=names("function_definition"),
        containers=names("class_definition"),
        descend=names("module decorated_definition block"),
    ),
    import_nodes=names("import_statement import_from_statement future_import_statement"),
    doc_convention=(
        "a PEP 257 docstring in triple double quotes as the first statement of the body: a "
        "one-line summary, then Args:, Returns: and Raises: sections where they apply"
    ),
    test_style=TestStyle(
        "test_{stem}.py",
        "Write pytest tests in a new file next to the module. Import the code under test "
        "with `from {module} import {names}`; do not copy or redefine it. Use plain assert "
        "statements and name every test function test_something.",
        file_start="from {module} import {names}\n\n\ndef test_",
        block_start="def test_",
    ),
    test_marker=re.compile(r"^\s*(?:async\s+)?def\s+test", re.M),
    annotation_nodes=frozenset({"type"}),
)
