"""Languages of a managed runtime: Java, C# and Kotlin.

Kotlin's grammar names no `body` field on classes and functions: its record says which
node types are bodies.
"""

from __future__ import annotations

import re

from qwen_lsp.languages.record import (
    Definitions,
    Grammar,
    LanguageSpec,
    TestStyle,
    TextRules,
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
    doc_start="/**",
    test_style=TestStyle(
        "{stem}Test.java",
        "Write a JUnit 5 test class {stem}Test with @Test methods (import "
        "org.junit.jupiter.api.Test and static org.junit.jupiter.api.Assertions.*).",
    ),
    test_marker=re.compile(r"@Test\b"),
    text=TextRules(
        import_lines=(r"package\s", r"import\b"),
        definition_keywords=names("class interface enum"),
    ),
)

CSHARP = LanguageSpec(
    name="csharp",
    grammar=Grammar("tree_sitter_c_sharp"),
    language_ids=("csharp", "cs"),  # "cs": Neovim's filetype, its default languageId
    extensions=(".cs", ".csx"),
    line_comment="//",
    completion=brace_rules(
        names("block declaration_list switch_body enum_member_declaration_list accessor_list"),
        names(
            "string_literal verbatim_string_literal raw_string_literal character_literal"
            " interpolated_string_expression"
        ),
        interpolations=names("interpolation"),
    ),
    definitions=Definitions(
        leaves=names("method_declaration constructor_declaration record_declaration"),
        containers=names(
            "class_declaration interface_declaration struct_declaration enum_declaration"
        ),
        descend=names("namespace_declaration declaration_list"),
    ),
    # `namespace Shop;` names the file's namespace (the braced form is the whole body)
    import_nodes=names("using_directive file_scoped_namespace_declaration"),
    doc_convention=(
        "XML documentation comments (/// lines with <summary>, <param> and <returns>) "
        "directly above it"
    ),
    doc_start="/// <summary>",
    test_style=TestStyle(
        "{stem}Tests.cs",
        "Write an xUnit test class {stem}Tests (using Xunit;) with [Fact] methods that call "
        "the code under test and check it with Assert.Equal.",
    ),
    test_marker=re.compile(r"\[(?:Fact|Theory|Test|TestMethod)\b"),
    # not `record` (Java's records would count too), nor `public`, `static` and friends
    text=TextRules(
        import_lines=(r"using\s",),
        definition_keywords=names("class interface struct enum"),
    ),
)

KOTLIN = LanguageSpec(
    name="kotlin",
    grammar=Grammar("tree_sitter_kotlin"),
    language_ids=("kotlin",),
    extensions=(".kt", ".kts"),
    line_comment="//",
    completion=brace_rules(
        # `when (x) {` and `list.forEach {` open their braces in the node itself
        names("block class_body enum_class_body lambda_literal when_expression"),
        names("string_literal multiline_string_literal character_literal"),
        comments=names("line_comment block_comment"),
        interpolations=names("interpolation"),
    ),
    definitions=Definitions(
        leaves=names("function_declaration"),
        # interfaces and enum classes are class_declarations too
        containers=names("class_declaration object_declaration"),
        descend=names("companion_object class_body"),
        bodies=names("class_body enum_class_body function_body"),
    ),
    import_nodes=names("package_header import"),
    doc_convention="a KDoc comment (/** ... */) directly above it, with @param and @return",
    doc_start="/**",
    test_style=TestStyle(
        "{stem}Test.kt",
        "Write a test class {stem}Test with kotlin.test: import kotlin.test.Test and "
        "kotlin.test.assertEquals, and write @Test functions that call the code directly.",
    ),
    test_marker=re.compile(r"@Test\b"),
    text=TextRules(
        import_lines=(r"package\s", r"import\b"),
        # `fun Bin.label()`, an extension function, goes by its last name
        definition_keywords=names("fun class interface"),
        definition_modifiers=names("suspend"),
    ),
)
