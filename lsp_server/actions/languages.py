"""What the code actions know per language: comment syntax, the tree-sitter node types of
definitions and imports, documentation conventions, how tests are written and recognised,
and the node types of type annotations.

Data only (and the two lookups that read it), kept apart from the logic that uses it so
that what the actions know about a language is found in one place. The names keep the
leading underscore they had as private tables: they are internal to this package, whose
modules read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsp_server import languages

# Comment syntax of languages we have no grammar for (explanations still need one).
_LINE_COMMENTS = {
    "lua": "--",
    "sql": "--",
    "haskell": "--",
    "ruby": "#",
    "shellscript": "#",
    "sh": "#",
    "bash": "#",
    "perl": "#",
    "r": "#",
    "yaml": "#",
    "toml": "#",
    "elixir": "#",
    "php": "//",
    "kotlin": "//",
    "swift": "//",
    "scala": "//",
    "csharp": "//",
    "dart": "//",
    "zig": "//",
}

_DEFINITION_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition", "class_definition"}),
    "javascript": frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "class_declaration",
        }
    ),
    "go": frozenset({"function_declaration", "method_declaration", "type_declaration"}),
    "rust": frozenset(
        {"function_item", "impl_item", "struct_item", "enum_item", "trait_item", "mod_item"}
    ),
    "c": frozenset({"function_definition", "struct_specifier"}),
    "cpp": frozenset({"function_definition", "class_specifier", "struct_specifier"}),
    "java": frozenset(
        {
            "method_declaration",
            "constructor_declaration",
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
        }
    ),
}
_TS_DEFINITIONS = _DEFINITION_TYPES["javascript"] | {
    "abstract_class_declaration",
    "interface_declaration",
    "function_signature",
}
_DEFINITION_TYPES["typescript"] = _TS_DEFINITIONS
_DEFINITION_TYPES["tsx"] = _TS_DEFINITIONS
# A `const f = () => ...` is a definition when its value is one of these.
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "class"})
_VARIABLE_DECLARATIONS = frozenset({"lexical_declaration", "variable_declaration"})
# Nodes that wrap a definition and belong to it (decorators, `export`).
_WRAPPERS = frozenset({"decorated_definition", "export_statement"})
# Siblings directly above a definition that belong to it (doc comments, attributes).
_LEADING = frozenset({"comment", "line_comment", "block_comment", "attribute_item"})

_IMPORT_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
    "javascript": frozenset({"import_statement"}),
    "typescript": frozenset({"import_statement"}),
    "tsx": frozenset({"import_statement"}),
    "go": frozenset({"package_clause", "import_declaration"}),
    "rust": frozenset({"use_declaration"}),
    "c": frozenset({"preproc_include"}),
    "cpp": frozenset({"preproc_include", "using_declaration"}),
    "java": frozenset({"package_declaration", "import_declaration"}),
}

_DOC_CONVENTIONS = {
    "python": (
        "a PEP 257 docstring in triple double quotes as the first statement of the body: a "
        "one-line summary, then Args:, Returns: and Raises: sections where they apply"
    ),
    "javascript": "a JSDoc comment (/** ... */) directly above it, with @param and @returns",
    "typescript": "a TSDoc comment (/** ... */) directly above it, with @param and @returns",
    "tsx": "a TSDoc comment (/** ... */) directly above it, with @param and @returns",
    "go": "a Go doc comment (// lines) directly above it that starts with its name",
    "rust": "/// doc comments directly above it, with # Examples only if short",
    "java": "a Javadoc comment (/** ... */) directly above it, with @param and @return",
    "c": "a Doxygen comment (/** ... */) directly above it, with @param and @return",
    "cpp": "a Doxygen comment (/** ... */) directly above it, with @param and @return",
}


@dataclass(frozen=True)
class TestStyle:
    file_name: str  # "" = a test block below the code, in the same file
    guidance: str
    # How the answer is made to start (after the opening fence) in a new file and in a
    # block below the code: small models then write tests instead of wandering off.
    file_start: str = ""
    block_start: str = ""


_TEST_STYLES = {
    "python": TestStyle(
        "test_{stem}.py",
        "Write pytest tests in a new file next to the module. Import the code under test "
        "with `from {module} import {names}`; do not copy or redefine it. Use plain assert "
        "statements and name every test function test_something.",
        file_start="from {module} import {names}\n\n\ndef test_",
        block_start="def test_",
    ),
    "javascript": TestStyle(
        "{stem}.test.js",
        "Write tests with node's built-in test runner: `const test = require('node:test');` "
        "and `const assert = require('node:assert');`, importing the code under test with "
        "`const {{ {names} }} = require('./{stem}');`.",
    ),
    "typescript": TestStyle(
        "{stem}.test.ts",
        "Write tests with `import {{ test }} from 'node:test';` and "
        "`import assert from 'node:assert';`, importing the code under test with "
        "`import {{ {names} }} from './{stem}';`.",
    ),
    "go": TestStyle(
        "{stem}_test.go",
        'Write a Go test file in package {package}: import "testing" and write '
        "func TestXxx(t *testing.T) functions that call the code directly.",
        file_start='package {package}\n\nimport "testing"\n\nfunc Test',
        block_start="func Test",
    ),
    "rust": TestStyle(
        "",
        "Write a #[cfg(test)] mod tests {{ use super::*; ... }} block with #[test] functions.",
        block_start="#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn ",
    ),
    "java": TestStyle(
        "{stem}Test.java",
        "Write a JUnit 5 test class {stem}Test with @Test methods (import "
        "org.junit.jupiter.api.Test and static org.junit.jupiter.api.Assertions.*).",
    ),
    "c": TestStyle(
        "test_{stem}.c",
        "Write a C test program with assert.h and a main() that calls the code under test.",
    ),
    "cpp": TestStyle(
        "test_{stem}.cpp",
        "Write a C++ test program with <cassert> and a main() that calls the code under test.",
    ),
}
# Text that proves a test file or block contains a test.
_TEST_MARKERS = {
    "python": re.compile(r"^\s*(?:async\s+)?def\s+test", re.M),
    "javascript": re.compile(r"\b(?:test|it|describe)\s*\("),
    "typescript": re.compile(r"\b(?:test|it|describe)\s*\("),
    "tsx": re.compile(r"\b(?:test|it|describe)\s*\("),
    "go": re.compile(r"^func\s+Test\w*\s*\(", re.M),
    "rust": re.compile(r"#\[test\]"),
    "java": re.compile(r"@Test\b"),
    "c": re.compile(r"\bassert\s*\("),
    "cpp": re.compile(r"\bassert\s*\("),
}
_ANNOTATION_NODES = {
    "python": frozenset({"type"}),
    "typescript": frozenset({"type_annotation"}),
    "tsx": frozenset({"type_annotation"}),
}


def fence_language(language: str | None, language_id: str) -> str:
    """The info string of a Markdown code fence for this language."""
    return language or language_id or ""


def line_comment(language: str | None, language_id: str) -> str | None:
    if language is not None:
        return languages.get(language).line_comment
    return _LINE_COMMENTS.get(language_id.lower())
