"""Languages of the web: JavaScript, TypeScript, TSX and PHP.

TypeScript and TSX share one grammar package and every rule; they differ in their
grammar function and in the test-file style (TSX files get no test guidance of their own).
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

_JS_BLOCKS = names("statement_block class_body switch_body")
_JS_STRINGS = names("string template_string regex")
_TS_BLOCKS = _JS_BLOCKS | names("interface_body enum_body object_type")
_TEMPLATE_SUBSTITUTIONS = frozenset({"template_substitution"})
# Every node that is a function in JavaScript and TypeScript: declared, an expression, an
# arrow, a method, a generator (an older grammar's `function` node is `function_expression`
# in every one we accept).
JS_FUNCTIONS = names(
    "function_declaration generator_function_declaration function_expression "
    "generator_function arrow_function method_definition"
)

_JS_DEFINITIONS = Definitions(
    leaves=names(
        "function_declaration generator_function_declaration method_definition variable_declarator"
    ),
    containers=names("class_declaration"),
    descend=names("program export_statement class_body lexical_declaration variable_declaration"),
    # (an older grammar's `function` node is `function_expression` in every one we accept)
    function_values=names("arrow_function function_expression generator_function"),
    # an action knows a `const f = () => ...` by its declaration, not by any declarator;
    # it also takes a `const A = class { ... }`, and leaves a generator function alone
    not_targets=names("variable_declarator"),
    extra_target_values=names("class"),
    not_target_values=names("generator_function"),
)
_TS_DEFINITIONS = Definitions(
    leaves=_JS_DEFINITIONS.leaves
    | names("interface_declaration type_alias_declaration enum_declaration"),
    containers=_JS_DEFINITIONS.containers | names("abstract_class_declaration"),
    descend=_JS_DEFINITIONS.descend,
    function_values=_JS_DEFINITIONS.function_values,
    extra_target_values=_JS_DEFINITIONS.extra_target_values,
    not_target_values=_JS_DEFINITIONS.not_target_values,
    extra_targets=names("function_signature"),
    not_targets=names("variable_declarator type_alias_declaration enum_declaration"),
)
_IMPORTS = names("import_statement")
_JS_IMPORT_LINES = (
    r"import\b",
    r"export\s+\*?\s*(?:\{[^}]*\}\s*)?from\b",  # a re-export
    r"(?:const|let|var)\s+[\w{}\s,]+=\s*require\s*\(",
)
_JS_MODIFIERS = names("export async")
_TS_TEXT = TextRules(
    import_lines=_JS_IMPORT_LINES,
    definition_keywords=names("function class interface type enum"),
    definition_modifiers=_JS_MODIFIERS,
)
_TS_DOC = "a TSDoc comment (/** ... */) directly above it, with @param and @returns"
_TEST_CALL = re.compile(r"\b(?:test|it|describe)\s*\(")

JAVASCRIPT = LanguageSpec(
    name="javascript",
    grammar=Grammar("tree_sitter_javascript"),
    # tree-sitter-javascript parses JSX itself
    language_ids=("javascript", "javascriptreact"),
    extensions=(".js", ".mjs", ".cjs", ".jsx"),
    line_comment="//",
    completion=brace_rules(_JS_BLOCKS, _JS_STRINGS, interpolations=_TEMPLATE_SUBSTITUTIONS),
    definitions=_JS_DEFINITIONS,
    import_nodes=_IMPORTS,
    doc_convention="a JSDoc comment (/** ... */) directly above it, with @param and @returns",
    doc_start="/**",
    test_style=TestStyle(
        "{stem}.test.js",
        "Write tests with node's built-in test runner: `const test = require('node:test');` "
        "and `const assert = require('node:assert');`, importing the code under test with "
        "`const {binding} = require('./{stem}');`.",
        # Not started, the 0.5B model wrote `function testX() {...}` and called it, half
        # of the time: no test the runner knows.
        file_start=(
            "const test = require('node:test');\nconst assert = require('node:assert');\n"
            "const {binding} = require('./{stem}');\n\ntest('"
        ),
    ),
    test_marker=_TEST_CALL,
    text=TextRules(
        import_lines=_JS_IMPORT_LINES,
        definition_keywords=names("function class"),
        definition_modifiers=_JS_MODIFIERS,
    ),
)

TYPESCRIPT = LanguageSpec(
    name="typescript",
    grammar=Grammar("tree_sitter_typescript", "language_typescript"),
    language_ids=("typescript",),
    extensions=(".ts", ".mts", ".cts"),
    line_comment="//",
    completion=brace_rules(_TS_BLOCKS, _JS_STRINGS, interpolations=_TEMPLATE_SUBSTITUTIONS),
    definitions=_TS_DEFINITIONS,
    import_nodes=_IMPORTS,
    doc_convention=_TS_DOC,
    doc_start="/**",
    test_style=TestStyle(
        "{stem}.test.ts",
        "Write tests with `import {{ test }} from 'node:test';` and "
        "`import assert from 'node:assert';`, importing the code under test with "
        "`import {binding} from './{stem}';`.",
        # Started as JavaScript's is (a test of the runner, the module bound).
        file_start=(
            "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
            "import {binding} from './{stem}';\n\ntest('"
        ),
    ),
    test_marker=_TEST_CALL,
    annotation_nodes=frozenset({"type_annotation"}),
    text=_TS_TEXT,
)

TSX = LanguageSpec(
    name="tsx",
    grammar=Grammar("tree_sitter_typescript", "language_tsx"),
    language_ids=("typescriptreact",),
    extensions=(".tsx",),
    line_comment="//",
    completion=brace_rules(_TS_BLOCKS, _JS_STRINGS, interpolations=_TEMPLATE_SUBSTITUTIONS),
    definitions=_TS_DEFINITIONS,
    import_nodes=_IMPORTS,
    doc_convention=_TS_DOC,
    doc_start="/**",
    test_marker=_TEST_CALL,
    annotation_nodes=frozenset({"type_annotation"}),
    text=_TS_TEXT,
)

PHP = LanguageSpec(
    name="php",
    # language_php: a file that starts as HTML and switches to PHP at `<?php`
    grammar=Grammar("tree_sitter_php", "language_php"),
    language_ids=("php",),
    extensions=(".php",),
    line_comment="//",
    completion=brace_rules(
        names("compound_statement declaration_list enum_declaration_list switch_block match_block"),
        # "$x" and "{$x}" in a string are plain children of it: no interpolation node
        names("string encapsed_string heredoc nowdoc"),
    ),
    definitions=Definitions(
        leaves=names("function_definition method_declaration"),
        containers=names(
            "class_declaration interface_declaration trait_declaration enum_declaration"
        ),
        # `namespace App { ... }`: its body holds the definitions
        descend=names("namespace_definition compound_statement"),
    ),
    # not `namespace App;`: in its braced form the node is the whole namespace
    import_nodes=names("namespace_use_declaration"),
    doc_convention="a PHPDoc comment (/** ... */) directly above it, with @param and @return",
    doc_start="/**",
    test_style=TestStyle(
        "{stem}Test.php",
        "Write a PHPUnit test class {stem}Test that extends PHPUnit\\Framework\\TestCase, "
        "with one public method per behaviour (returning void, named for what it checks) "
        "that uses $this->assertSame.",
        file_start=(
            "<?php\n\nuse PHPUnit\\Framework\\TestCase;\n\n"
            "final class {stem}Test extends TestCase\n{\n    public function test"
        ),
    ),
    test_marker=re.compile(r"\bfunction\s+test\w*\s*\("),
    # `final class`, `public function`: modifiers Java and TypeScript have too
    text=TextRules(
        import_lines=(
            r"use\s",
            r"(?:require|include)(?:_once)?\s+(?:[\"']|__DIR__)",
            r"(?:require|include)_once\s*\(",
        ),
        definition_keywords=names("function class interface trait enum"),
    ),
)
