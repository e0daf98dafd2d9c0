"""The record of one language: every fact the server knows about it, in one value.

The algorithms stay with their use cases (:mod:`qwen_lsp.syntax` decides completion kinds,
:mod:`qwen_lsp.crossfile` indexes definitions, the code actions prompt and check); they
read what differs between languages from a :class:`LanguageSpec`, never from a table of
their own. The records themselves are in the family modules of this package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple


def names(words: str) -> frozenset[str]:
    """Node type names written as one space-separated string (what the records use)."""
    return frozenset(words.split())


class Grammar(NamedTuple):
    """Where the tree-sitter grammar is: a module and its function that returns the
    TSLanguage pointer (one package may hold several grammars: TypeScript and TSX)."""

    module: str
    function: str = "language"


@dataclass(frozen=True)
class CompletionRules:
    """What completion-kind decisions (:func:`qwen_lsp.syntax.completion_kind`) need to
    know about one grammar."""

    # Node types that are statement blocks or bodies (where a multi-line completion belongs).
    block_node_types: frozenset[str]
    # Tokens that end a line opening a block, once the tree confirms it.
    block_openers: tuple[str, ...]
    string_node_types: frozenset[str]
    comment_node_types: frozenset[str]
    # Code embedded in a string (f-string / template substitutions): not "inside a string".
    interpolation_node_types: frozenset[str] = frozenset()
    # When the opener sits in an ERROR node the tree cannot confirm a block: for indentation
    # languages the line must start with one of these keywords ...
    block_keywords: frozenset[str] = frozenset()
    # ... and for brace languages the text before the opener must not end like a value
    # (``x = {``, ``f({``, ``[{``, ``a: {`` are literals, not blocks).
    value_prefixes: tuple[str, ...] = ()


C_COMMENTS = frozenset({"comment"})
VALUE_PREFIXES = ("=", "(", "[", ",", ":", "return")


def brace_rules(
    blocks: frozenset[str],
    strings: frozenset[str],
    comments: frozenset[str] = C_COMMENTS,
    interpolations: frozenset[str] = frozenset(),
) -> CompletionRules:
    """The completion rules of a language whose blocks are ``{ ... }``."""
    return CompletionRules(
        block_node_types=blocks,
        block_openers=("{",),
        string_node_types=strings,
        comment_node_types=comments,
        interpolation_node_types=interpolations,
        value_prefixes=VALUE_PREFIXES,
    )


@dataclass(frozen=True)
class Definitions:
    """The definition node types of one grammar, one set with the role of each.

    Cross-file context (:func:`qwen_lsp.crossfile.definitions.definitions`) indexes
    ``leaves`` and ``containers`` and walks into ``descend``. Code actions act on
    :attr:`targets`: the same definitions, adjusted by ``extra_targets`` / ``not_targets``
    where what a user selects differs from what is worth indexing (a Rust ``impl`` block
    is a target but only its methods are indexed; a Go ``type_spec`` is indexed, its
    ``type_declaration`` is the target). Likewise a ``const f = ...`` is indexed by
    ``function_values`` and acted on by :attr:`target_values`.
    """

    leaves: frozenset[str]  # definitions shown as a whole (functions, methods, types)
    containers: frozenset[str] = frozenset()  # with members (classes): members indexed too
    descend: frozenset[str] = frozenset()  # other nodes whose children may hold definitions
    # `const f = () => ...` counts as a function when a `variable_declarator` leaf's value
    # is one of these.
    function_values: frozenset[str] = frozenset()
    extra_targets: frozenset[str] = frozenset()  # acted on, though not indexed as such
    not_targets: frozenset[str] = frozenset()  # indexed, though not acted on
    # The same adjustment for those values: what makes such a declaration (the whole
    # `const`) a target (:attr:`target_values`).
    extra_target_values: frozenset[str] = frozenset()
    not_target_values: frozenset[str] = frozenset()
    # The body of a definition when the grammar has no `body` field for it (Kotlin's
    # class_body, function_body): the first named child of one of these types.
    bodies: frozenset[str] = frozenset()
    # A name that is a path (Lua's `M.total`, `Bin:label`): the definition goes by its
    # last part, the name its callers write after the dot.
    qualified_names: frozenset[str] = frozenset()

    @cached_property
    def targets(self) -> frozenset[str]:
        """Node types a code action treats as a definition (function, class, type)."""
        return (self.leaves | self.containers | self.extra_targets) - self.not_targets

    @cached_property
    def target_values(self) -> frozenset[str]:
        """Values that make a declaration of one variable (``const f = () => ...``) a
        definition a code action treats as one."""
        return (self.function_values | self.extra_target_values) - self.not_target_values


@dataclass(frozen=True)
class TestStyle:
    """How the tests action writes tests in one language."""

    __test__ = False  # not a pytest test class, despite its name

    file_name: str  # "" = a test block below the code, in the same file
    guidance: str
    # How the answer is made to start (after the opening fence) in a new file and in a
    # block below the code: small models then write tests instead of wandering off.
    file_start: str = ""
    block_start: str = ""


@dataclass(frozen=True)
class TextRules:
    """What the rules that read plain text know about a language: the FIM prompt's outline
    (:mod:`qwen_lsp.context`) and the names cross-file context looks up or leaves to the
    file itself (:mod:`qwen_lsp.crossfile.header`) read lines, not trees.

    Those rules do not know which language a text is in: each is one regex built from the
    rules of every record, applied to any file. A pattern here must therefore not match
    ordinary lines of another language (``public class`` would be C#'s, but it would also
    make Java's ``public class`` lines count); tests/unit/test_languages.py holds lines of
    every language and what the rules make of them.
    """

    # Regexes of lines that bring names into a file, matched at the start of a line that
    # is not indented: `import x`, `#include <x>`, `require "x"`.
    import_lines: tuple[str, ...] = ()
    # Words that start a definition, its name after them (`def`, `fun`; a Go receiver and
    # a dotted path, `def self.build`, `function M.total`, may come between) ...
    definition_keywords: frozenset[str] = frozenset()
    # ... and the words that may come before those (`export`, `pub`, `async`).
    definition_modifiers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LanguageSpec:
    """Everything about one language, under our name for it (``name``)."""

    name: str
    grammar: Grammar
    # LSP languageIds (lower case) and file extensions (lower case, with the dot) that
    # mean this language; each belongs to one record only.
    language_ids: tuple[str, ...]
    extensions: tuple[str, ...]
    line_comment: str  # what starts a line comment (explanations are written as these)
    completion: CompletionRules
    definitions: Definitions
    import_nodes: frozenset[str]  # top-level nodes that bring names in (action context)
    doc_convention: str  # how the docstring action is asked to document a definition
    # How its documentation starts ('"""', "/**", "// {name}"): the docstring action's
    # answer is started with it, so that a small model writes the documentation alone.
    doc_start: str = ""
    test_style: TestStyle | None = None  # None: the tests action has no guidance
    # Text that proves a test file or block contains a test (None: not checked).
    test_marker: re.Pattern[str] | None = None
    # Node types the annotate action counts (empty: it is not offered).
    annotation_nodes: frozenset[str] = frozenset()
    text: TextRules = TextRules()  # imports and definitions, read from lines
