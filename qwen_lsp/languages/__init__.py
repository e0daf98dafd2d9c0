"""Every language the server parses, one record each, and the look-ups over them.

A :class:`LanguageSpec` holds all the server knows about a language: its tree-sitter
grammar, the LSP languageIds and file extensions that mean it, the node types completion
kinds are decided by, its definitions (cross-file context and code actions read the same
set), import nodes, comment syntax, docstring convention, test-file style and test marker,
annotation nodes, and the words of its import and definition lines for the rules that read
plain text (:class:`TextRules`). The modules that use these facts keep their algorithms and
read the facts from here.

To add a language (one record and its grammar dependency; nothing else in the server
changes):

1. add its grammar package (``tree-sitter-<name>`` on PyPI, built for the tree-sitter of
   pyproject.toml) to the dependencies in pyproject.toml;
2. write its :class:`LanguageSpec` in the family module that fits (``scripting``, ``web``,
   ``native``, ``managed``; or a new one) and list it in :data:`LANGUAGES` below. The
   node types come from parsing a few real snippets and printing their trees
   (``node.type``, ``node.children``, ``node.field_name_for_child(i)``);
3. the tests then ask for it: a row in tests/unit/test_languages.py (a snippet that
   parses, its id and extension, the definitions cross-file context finds, its comment
   syntax), lines for its text rules there (and for another language's lines they must
   leave alone), completion-kind cases in tests/unit/test_syntax.py, and the docstring
   and explain actions in tests/unit/test_actions.py.

Languages without a grammar still get their comment syntax (explanations are written as
comments) from :data:`LINE_COMMENTS_WITHOUT_GRAMMAR`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from qwen_lsp import uris
from qwen_lsp.languages import managed, native, scripting, web
from qwen_lsp.languages.record import (
    CompletionRules,
    Definitions,
    Grammar,
    LanguageSpec,
    TestStyle,
    TextRules,
)

__all__ = [
    "LANGUAGES",
    "LINE_COMMENTS_WITHOUT_GRAMMAR",
    "SUPPORTED_LANGUAGES",
    "CompletionRules",
    "Definitions",
    "Grammar",
    "LanguageSpec",
    "TestStyle",
    "TextRules",
    "find",
    "get",
    "language_for",
    "line_comment",
]

LANGUAGES: tuple[LanguageSpec, ...] = (
    scripting.PYTHON,
    web.JAVASCRIPT,
    web.TYPESCRIPT,
    web.TSX,
    native.GO,
    native.RUST,
    native.C,
    native.CPP,
    managed.JAVA,
    scripting.RUBY,
    web.PHP,
    managed.CSHARP,
    scripting.LUA,
    scripting.BASH,
    managed.KOTLIN,
)

SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(spec.name for spec in LANGUAGES)

# Comment syntax of languages we have no grammar for (explanations still need one), by
# LSP languageId.
LINE_COMMENTS_WITHOUT_GRAMMAR: dict[str, str] = {
    "sql": "--",
    "haskell": "--",
    "perl": "#",
    "r": "#",
    "yaml": "#",
    "toml": "#",
    "elixir": "#",
    "swift": "//",
    "scala": "//",
    "dart": "//",
    "zig": "//",
}


def _index(keys_of: Iterable[tuple[LanguageSpec, tuple[str, ...]]], what: str) -> dict[str, str]:
    """key -> language name; a key claimed by two records is a mistake in the table."""
    index: dict[str, str] = {}
    for spec, keys in keys_of:
        for key in keys:
            if index.setdefault(key, spec.name) != spec.name:
                raise ValueError(f"{what} {key!r} is claimed by {index[key]} and {spec.name}")
    return index


_BY_NAME: dict[str, LanguageSpec] = {spec.name: spec for spec in LANGUAGES}
_BY_LANGUAGE_ID = _index(((s, s.language_ids) for s in LANGUAGES), "languageId")
_BY_EXTENSION = _index(((s, s.extensions) for s in LANGUAGES), "extension")


def find(language: str | None) -> LanguageSpec | None:
    """The record of a supported language (our name), else None."""
    return _BY_NAME.get(language) if language is not None else None


def get(language: str) -> LanguageSpec:
    """The record of a supported language; ValueError for anything else."""
    spec = find(language)
    if spec is None:
        raise ValueError(f"unsupported language {language!r}")
    return spec


def language_for(language_id: str, uri: str = "") -> str | None:
    """Our language name for an LSP languageId, else for the uri's file extension, else None.

    A known languageId wins over the extension (the editor knows best); the extension is only
    consulted when the id is unknown, empty or "plaintext".
    """
    language = _BY_LANGUAGE_ID.get(language_id.lower())
    if language is not None:
        return language
    if not uri:
        return None
    path = uris.path_part(uri)
    _, ext = posixpath.splitext(path.replace("\\", "/"))
    return _BY_EXTENSION.get(ext.lower())


def line_comment(language: str | None, language_id: str) -> str | None:
    """What starts a line comment in a document of ``language`` (our name, None without a
    grammar) and ``language_id``; None when no comment syntax is known."""
    spec = find(language) or find(language_for(language_id))
    if spec is not None:
        return spec.line_comment
    return LINE_COMMENTS_WITHOUT_GRAMMAR.get(language_id.lower())
