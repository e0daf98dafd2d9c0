"""Languages compiled to native code: Go, Rust, C and C++.

C and C++ share most of their rules; C++ adds classes, namespaces and raw strings.
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

GO = LanguageSpec(
    name="go",
    grammar=Grammar("tree_sitter_go"),
    language_ids=("go",),
    extensions=(".go",),
    line_comment="//",
    completion=brace_rules(
        names(
            "block field_declaration_list interface_type"
            " expression_switch_statement type_switch_statement select_statement"
        ),
        names("interpreted_string_literal raw_string_literal rune_literal"),
    ),
    definitions=Definitions(
        leaves=names("function_declaration method_declaration type_spec"),
        descend=names("source_file type_declaration"),
        # an action takes the whole `type` declaration; the index shows each spec in it
        extra_targets=names("type_declaration"),
        not_targets=names("type_spec"),
    ),
    import_nodes=names("package_clause import_declaration"),
    doc_convention=(
        "a Go doc comment (// lines directly above it, the first sentence starting with the "
        "function's name)"
    ),
    # (no space after the name: the model writes its next word with the space, and a
    # start that ends in one gave "// Run  starts")
    doc_start="// {name}",
    test_style=TestStyle(
        "{stem}_test.go",
        'Write a Go test file in package {package}: import "testing" and write '
        "test functions that take t *testing.T, call the code directly and are named for "
        "the behaviour they check.",
        file_start='package {package}\n\nimport "testing"\n\nfunc Test',
        block_start="func Test",
    ),
    test_marker=re.compile(r"^func\s+Test\w*\s*\(", re.M),
    text=TextRules(
        import_lines=(r"package\s", r"import\b"),
        definition_keywords=names("func type"),  # `func (s *Store) Get`: the receiver is skipped
    ),
)

RUST = LanguageSpec(
    name="rust",
    grammar=Grammar("tree_sitter_rust"),
    language_ids=("rust",),
    extensions=(".rs",),
    line_comment="//",
    completion=brace_rules(
        names("block declaration_list field_declaration_list enum_variant_list match_block"),
        names("string_literal raw_string_literal char_literal"),
        comments=names("line_comment block_comment"),
    ),
    definitions=Definitions(
        leaves=names("function_item struct_item enum_item type_item"),
        containers=names("trait_item"),
        descend=names("source_file impl_item declaration_list mod_item"),
        # an action takes a whole impl block or module; the index shows what is inside
        extra_targets=names("impl_item mod_item"),
        not_targets=names("type_item"),
    ),
    import_nodes=names("use_declaration"),
    # Not "/// doc comments ...": the answer is started with "///", and the 0.5B model
    # copied the words that followed it here. No examples: their ``` closed the answer's
    # fence, or the model wrote ``` lines until its token limit.
    doc_convention="Rust doc comments (three slashes) directly above it, without examples",
    doc_start="///",
    test_style=TestStyle(
        "",
        "Write a #[cfg(test)] mod tests {{ use super::*; ... }} block with #[test] functions.",
        block_start="#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn ",
    ),
    test_marker=re.compile(r"#\[test\]"),
    text=TextRules(
        import_lines=(r"use\s", r"(?:pub\s+)?mod\s+\w+\s*;"),
        definition_keywords=names("fn struct enum trait type"),
        definition_modifiers=names("pub async"),
    ),
)

_C_BLOCKS = names("compound_statement field_declaration_list declaration_list enumerator_list")
_C_STRINGS = names("string_literal char_literal system_lib_string")
_C_DEFINITIONS = Definitions(
    leaves=names("function_definition struct_specifier enum_specifier type_definition"),
    descend=names("translation_unit declaration_list"),
    # actions take functions and structs (C++: and classes), not enums and typedefs
    not_targets=names("enum_specifier type_definition"),
)
_DOXYGEN = "a Doxygen comment (/** ... */) directly above it, with @param and @return"
_ASSERT_CALL = re.compile(r"\bassert\s*\(")
_INCLUDE_LINE = r"#\s*include\b"

C = LanguageSpec(
    name="c",
    grammar=Grammar("tree_sitter_c"),
    language_ids=("c",),
    extensions=(".c", ".h"),
    line_comment="//",
    completion=brace_rules(_C_BLOCKS, _C_STRINGS),
    definitions=_C_DEFINITIONS,
    import_nodes=names("preproc_include"),
    doc_convention=_DOXYGEN,
    doc_start="/**",
    test_style=TestStyle(
        "test_{stem}.c",
        "Write a C test program with assert.h and a main() that calls the code under test.",
    ),
    test_marker=_ASSERT_CALL,
    text=TextRules(import_lines=(_INCLUDE_LINE,), definition_keywords=names("struct enum")),
)

CPP = LanguageSpec(
    name="cpp",
    grammar=Grammar("tree_sitter_cpp"),
    language_ids=("cpp", "cuda-cpp"),
    extensions=(".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp"),
    line_comment="//",
    completion=brace_rules(_C_BLOCKS, _C_STRINGS | {"raw_string_literal"}),
    definitions=Definitions(
        leaves=_C_DEFINITIONS.leaves,
        descend=_C_DEFINITIONS.descend | {"namespace_definition"},
        extra_targets=names("class_specifier"),
        not_targets=_C_DEFINITIONS.not_targets,
    ),
    import_nodes=names("preproc_include using_declaration"),
    doc_convention=_DOXYGEN,
    doc_start="/**",
    test_style=TestStyle(
        "test_{stem}.cpp",
        "Write a C++ test program with <cassert> and a main() that calls the code under test.",
    ),
    test_marker=_ASSERT_CALL,
    text=TextRules(
        import_lines=(_INCLUDE_LINE, r"using\s"),
        definition_keywords=names("class struct enum"),
    ),
)
