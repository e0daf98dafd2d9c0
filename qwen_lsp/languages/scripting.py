"""Scripting languages: Python, Ruby, Lua and Bash.

Python opens its blocks with ``:`` and indentation, so its completion rules name the
keywords that start a block header (an opener inside an ERROR node is judged by them).
Ruby, Lua and Bash close their blocks with a keyword (``end``, ``fi``, ``done``); a line
that ends with ``do``, ``then`` or ``else`` opens one.
"""

from __future__ import annotations

import re

from qwen_lsp.languages.record import (
    VALUE_PREFIXES,
    CompletionRules,
    Definitions,
    Grammar,
    LanguageSpec,
    TestStyle,
    TextRules,
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
    doc_start='"""',
    # (not "name every test function test_something": the answer is started with
    # "def test_", and the 0.5B model went on with "something", one vague test per file)
    test_style=TestStyle(
        "test_{stem}.py",
        "Write pytest tests in a new file next to the module. Import the code under test "
        "with `from {module} import {names}`; do not copy or redefine it. Use plain assert "
        "statements, and name each test function for the behaviour it checks.",
        file_start="from {module} import {names}\n\n\ndef test_",
        block_start="def test_",
    ),
    test_marker=re.compile(r"^\s*(?:async\s+)?def\s+test", re.M),
    annotation_nodes=frozenset({"type"}),
    text=TextRules(
        import_lines=(r"import\b", r"from\s+\S+\s+import\b"),
        definition_keywords=names("def class"),
        definition_modifiers=names("async"),
    ),
)

RUBY = LanguageSpec(
    name="ruby",
    grammar=Grammar("tree_sitter_ruby"),
    language_ids=("ruby",),
    extensions=(".rb", ".rake", ".gemspec"),
    line_comment="#",
    completion=CompletionRules(
        # bodies (`def` ... `end`), blocks (`do |x|` ... `end`, `{ |x| ... }`) and the
        # branches of `if`, `case`, `while`
        block_node_types=names("body_statement do_block block block_body then else do"),
        block_openers=("do", "then", "else", "{"),
        string_node_types=names(
            "string string_array symbol_array delimited_symbol heredoc_body regex subshell"
            " character"
        ),
        comment_node_types=names("comment"),
        interpolation_node_types=names("interpolation"),
        value_prefixes=VALUE_PREFIXES,  # `x = {` opens a hash, `list.each {` a block
    ),
    definitions=Definitions(
        leaves=names("method singleton_method"),
        containers=names("class module singleton_class"),
    ),
    # `require` is a method call like any other: no node type tells it apart
    import_nodes=frozenset(),
    # (no "# lines": after its "# " start a small model copies what followed "# " here)
    doc_convention="YARD comments directly above it, with @param and @return tags",
    doc_start="# ",
    test_style=TestStyle(
        "test_{stem}.rb",
        'Write Minitest tests in a new file next to the code: `require "minitest/autorun"` '
        'and `require_relative "{stem}"`, then a class that inherits from Minitest::Test '
        "with one method per behaviour, named for what it checks, using assert_equal.",
        file_start='require "minitest/autorun"\nrequire_relative "{stem}"\n\nclass Test',
        block_start="def test_",
    ),
    test_marker=re.compile(r"^\s*(?:def\s+test_|it\s*[\"'(])", re.M),
    text=TextRules(
        import_lines=(r"require(?:_relative)?\s+[\"']",),
        definition_keywords=names("def class"),
    ),
)

LUA = LanguageSpec(
    name="lua",
    grammar=Grammar("tree_sitter_lua"),
    language_ids=("lua",),
    extensions=(".lua",),
    line_comment="--",
    completion=CompletionRules(
        # A body is a `block` once it holds a statement; before that only the statement
        # around it (`if x then|end`) tells where it goes.
        block_node_types=names(
            "block function_declaration function_definition if_statement elseif_statement"
            " else_statement for_statement while_statement do_statement repeat_statement"
        ),
        block_openers=("then", "do", "else"),
        string_node_types=names("string"),
        comment_node_types=names("comment"),
    ),
    definitions=Definitions(
        leaves=names("function_declaration"),
        qualified_names=names("dot_index_expression method_index_expression"),
    ),
    # `require` is a function call: no node type tells it apart
    import_nodes=frozenset(),
    doc_convention=(
        "LuaDoc comments (three dashes) directly above it, with @param and @return annotations"
    ),
    doc_start="--- ",
    test_style=TestStyle(
        "{stem}_spec.lua",
        'Write busted tests in a new file: `local {stem} = require("{stem}")`, then '
        "describe and it blocks that check results with assert.are.equal.",
    ),
    test_marker=re.compile(r"\bit\s*\("),
    text=TextRules(
        # not a bare `require("x")` line: JavaScript's would count too
        import_lines=(r"local\s+\w+\s*=\s*require\b", r"require\s+[\"']"),
        definition_keywords=names("function"),
        definition_modifiers=names("local"),
    ),
)

BASH = LanguageSpec(
    name="bash",
    grammar=Grammar("tree_sitter_bash"),
    language_ids=("shellscript", "sh", "bash"),
    extensions=(".sh", ".bash"),
    line_comment="#",
    completion=CompletionRules(
        # `then` and `else` open no node of their own: their commands sit in the statement
        block_node_types=names(
            "compound_statement do_group if_statement elif_clause else_clause case_item"
        ),
        block_openers=("then", "do", "else", "{"),
        string_node_types=names("string raw_string ansi_c_string translated_string heredoc_body"),
        comment_node_types=names("comment"),
        interpolation_node_types=names("command_substitution"),
        value_prefixes=("=",),
    ),
    definitions=Definitions(leaves=names("function_definition")),
    # `source lib.sh` is a command like any other: no node type tells it apart
    import_nodes=frozenset(),
    doc_convention=(
        "a block of comment lines directly above it: what it does, its arguments ($1, "
        "$2, ...), what it prints and its exit status"
    ),
    # `source lib.sh`, `. ./lib.sh` (not `source = x`, another language's assignment)
    doc_start="# ",
    text=TextRules(
        import_lines=(r"(?:source|\.)\s+[\"']?[$~./\w{}-]*[./$]\S*\s*$",),
        definition_keywords=names("function"),
    ),
)
