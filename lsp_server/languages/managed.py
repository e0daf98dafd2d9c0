"""Languages of a managed runtime: Java."""

from __future__ import annotations

import re

from lsp_server.languages.record import (
    Definitions,
    Grammar,
    LanguageSpec,
    TestStyle,
    brace_rules,
    names,
)

JAVA = LanguageSpec(
    name="java",
    grammar=Grammar("tree_sitter_java"),
    language_ids=("java",),
    extensions=(".java",),
    line_comment="//",
    completion=brace_rules(
        names(
            "block class_body interface_body enum_body switch_block constructor_body"
            " annotation_type_body"
        ),
        names("string_literal character_literal"),
        comments=names("line_comment block_comment"),
    ),
    definitions=Definitions(
        leaves=names("method_declaration constructor_declaration record_declaration"),
        containers=names("class_declaration interface_declaration enum_declaration"),
        descend=names("program class_body interface_body enum_body"),
    ),
    import_nodes=names("package_declaration import_declaration"),
    doc_convention="a Javadoc comment (/** ... */) directly above it, with @param and @return",
    test_style=TestStyle(
        "{stem}Test.java",
        "Write a JUnit 5 test class {stem}Test with @Test methods (import "
        "org.junit.jupiter.api.Test and static org.junit.jupiter.api.Assertions.*).",
    ),
    test_marker=re.compile(r"@Test\b"),
)
