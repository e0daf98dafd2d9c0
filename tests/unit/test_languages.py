"""Tests of lsp_server.languages: every language's record, its look-ups, and that the
records hold exactly what the modules reading them had in tables of their own."""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

import pytest

from lsp_server import languages, syntax
from lsp_server.languages import LANGUAGES, SUPPORTED_LANGUAGES, LanguageSpec, language_for


@pytest.mark.parametrize(
    ("language_id", "uri", "expected"),
    [
        ("python", "", "python"),
        ("javascript", "", "javascript"),
        ("javascriptreact", "file:///a/app.jsx", "javascript"),
        ("typescript", "", "typescript"),
        ("typescriptreact", "", "tsx"),
        ("go", "", "go"),
        ("rust", "", "rust"),
        ("c", "", "c"),
        ("cpp", "", "cpp"),
        ("java", "", "java"),
        ("Python", "", "python"),
        ("python", "file:///a/b.js", "python"),  # a known languageId wins
        ("plaintext", "file:///home/me/x.py", "python"),
        ("", "file:///home/me/My%20Project/main.GO", "go"),
        ("plaintext", "file:///c%3A/src/lib.rs?x=1#frag", "rust"),
        ("", "untitled:Untitled-1", None),
        ("plaintext", "file:///a/b.tsx", "tsx"),
        ("plaintext", "file:///a/b.hpp", "cpp"),
        ("plaintext", "file:///a/b.h", "c"),
        ("plaintext", "file:///a/Main.java", "java"),
        ("plaintext", "file:///a/README.md", None),
        ("markdown", "", None),
        ("plaintext", "/no/scheme/script.py", "python"),
    ],
)
def test_language_for(language_id: str, uri: str, expected: str | None) -> None:
    assert language_for(language_id, uri) == expected


@pytest.mark.parametrize("spec", LANGUAGES, ids=SUPPORTED_LANGUAGES)
def test_ids_and_extensions_lead_to_their_record(spec: LanguageSpec) -> None:
    assert spec.language_ids and spec.extensions
    for language_id in spec.language_ids:
        assert language_id == language_id.lower()
        assert language_for(language_id) == spec.name
    for extension in spec.extensions:
        assert extension.startswith(".") and extension == extension.lower()
        assert language_for("plaintext", f"file:///src/name{extension}") == spec.name


def _node_types(spec: LanguageSpec) -> set[str]:
    completion, definitions = spec.completion, spec.definitions
    return {
        *completion.block_node_types,
        *completion.string_node_types,
        *completion.comment_node_types,
        *completion.interpolation_node_types,
        *definitions.leaves,
        *definitions.containers,
        *definitions.descend,
        *definitions.function_values,
        *definitions.extra_targets,
        *definitions.not_targets,
        *spec.import_nodes,
        *spec.annotation_nodes,
    }


@pytest.mark.parametrize("spec", LANGUAGES, ids=SUPPORTED_LANGUAGES)
def test_every_node_type_of_a_record_is_in_its_grammar(spec: LanguageSpec) -> None:
    # a misspelt node type would silently never match
    grammar = syntax.get_language(spec.name)
    unknown = sorted(t for t in _node_types(spec) if grammar.id_for_node_kind(t, True) is None)
    assert unknown == []
    openers = spec.completion.block_openers
    assert [o for o in openers if grammar.id_for_node_kind(o, False) is None] == []


def test_lookups_of_unknown_languages() -> None:
    assert languages.find(None) is None
    assert languages.find("cobol") is None
    assert languages.find("python") is languages.get("python")
    with pytest.raises(ValueError, match="unsupported language 'cobol'"):
        languages.get("cobol")


# --- the code actions' tables, until the actions read the records ------------------------------


def _action_tables() -> ModuleType:
    """Where the code actions keep their per-language tables today (a module, or a module of
    the actions package). These tests go when the actions read lsp_server.languages."""
    try:
        return importlib.import_module("lsp_server.actions.languages")
    except ModuleNotFoundError:
        return importlib.import_module("lsp_server.actions")


def test_definition_targets_are_the_actions_definition_types() -> None:
    table = _action_tables()._DEFINITION_TYPES
    assert set(table) <= set(SUPPORTED_LANGUAGES)
    for language, types in table.items():
        assert languages.get(language).definitions.targets == types, language


def test_records_hold_the_actions_imports_docs_and_annotations() -> None:
    tables = _action_tables()
    for language, types in tables._IMPORT_TYPES.items():
        assert languages.get(language).import_nodes == types, language
    for language, convention in tables._DOC_CONVENTIONS.items():
        assert languages.get(language).doc_convention == convention, language
    for language, types in tables._ANNOTATION_NODES.items():
        assert languages.get(language).annotation_nodes == types, language
    for language in set(tables._DEFINITION_TYPES) - set(tables._ANNOTATION_NODES):
        assert not languages.get(language).annotation_nodes, language


def test_records_hold_the_actions_test_styles_and_markers() -> None:
    tables = _action_tables()
    for language in tables._DEFINITION_TYPES:
        style = tables._TEST_STYLES.get(language)
        own = languages.get(language).test_style
        if style is None:
            assert own is None, language
        else:
            assert own is not None and dataclasses.astuple(own) == dataclasses.astuple(style)
        marker = tables._TEST_MARKERS.get(language)
        own_marker = languages.get(language).test_marker
        if marker is None:
            assert own_marker is None, language
        else:
            assert own_marker is not None, language
            assert (own_marker.pattern, own_marker.flags) == (marker.pattern, marker.flags)


def test_line_comments_are_the_actions_line_comments() -> None:
    for language_id, comment in _action_tables()._LINE_COMMENTS.items():
        assert languages.line_comment(None, language_id) == comment, language_id
    for spec in LANGUAGES:
        assert languages.line_comment(spec.name, "whatever") == spec.line_comment
    assert languages.line_comment(None, "plaintext") is None
    assert languages.line_comment(None, "Lua") == "--"
