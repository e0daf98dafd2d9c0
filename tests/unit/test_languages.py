"""Tests of qwen_lsp.languages: every language's record and its look-ups."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qwen_lsp import languages, syntax
from qwen_lsp.actions import catalogue
from qwen_lsp.actions.target import find_target
from qwen_lsp.context import is_import_line
from qwen_lsp.crossfile.definitions import definitions
from qwen_lsp.crossfile.header import _local_names
from qwen_lsp.documents import Snapshot
from qwen_lsp.languages import LANGUAGES, SUPPORTED_LANGUAGES, LanguageSpec, language_for


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
        ("cs", "", "csharp"),  # Neovim's filetype
        ("sh", "", "bash"),
        ("plaintext", "file:///a/build.gradle.kts", "kotlin"),
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
        *definitions.extra_target_values,
        *definitions.not_target_values,
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


# --- one row per language: what adding a language is tested with ------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    language: str
    language_id: str  # an LSP languageId of it
    extension: str  # a file extension of it
    snippet: str  # realistic code that parses without an error
    definitions: tuple[str, ...]  # what cross-file context finds in the snippet, in order
    comment: str  # what starts the comment lines an explanation is written as


ROWS = [
    Row(
        "python",
        "python",
        ".py",
        "import os\n\n\nclass Bin:\n    def label(self) -> str:\n        return f'{self}'\n",
        ("Bin", "label"),
        "#",
    ),
    Row(
        "javascript",
        "javascriptreact",
        ".jsx",
        "import x from 'x';\n\nexport function total(xs) {\n  return xs.length;\n}\n"
        "const label = (b) => `${b}`;\n",
        ("total", "label"),
        "//",
    ),
    Row(
        "typescript",
        "typescript",
        ".mts",
        "interface Bin {\n  aisle: number;\n}\n\nfunction label(b: Bin): string {\n"
        "  return `${b.aisle}`;\n}\n",
        ("Bin", "label"),
        "//",
    ),
    Row(
        "tsx",
        "typescriptreact",
        ".tsx",
        "export function Label(props: { text: string }) {\n  return <b>{props.text}</b>;\n}\n",
        ("Label",),
        "//",
    ),
    Row(
        "go",
        "go",
        ".go",
        'package shop\n\nimport "fmt"\n\ntype Bin struct {\n\tAisle int\n}\n\n'
        "func (b Bin) Label() string {\n\treturn fmt.Sprint(b.Aisle)\n}\n",
        ("Bin", "Label"),
        "//",
    ),
    Row(
        "rust",
        "rust",
        ".rs",
        "use std::fmt;\n\nstruct Bin {\n    aisle: u32,\n}\n\nimpl Bin {\n"
        '    fn label(&self) -> String {\n        format!("{}", self.aisle)\n    }\n}\n',
        ("Bin", "label"),
        "//",
    ),
    Row(
        "c",
        "c",
        ".h",
        "#include <stdio.h>\n\nstruct bin {\n  int aisle;\n};\n\n"
        'int label(struct bin *b) {\n  return printf("%d", b->aisle);\n}\n',
        ("bin", "label"),
        "//",
    ),
    Row(
        "cpp",
        "cuda-cpp",
        ".hpp",
        "#include <string>\n\nnamespace shop {\nstd::string label(int aisle) {\n"
        "  return std::to_string(aisle);\n}\n}  // namespace shop\n",
        ("label",),
        "//",
    ),
    Row(
        "java",
        "java",
        ".java",
        "package shop;\n\nclass Bin {\n  int aisle;\n\n  String label() {\n"
        '    return "" + aisle;\n  }\n}\n',
        ("Bin", "label"),
        "//",
    ),
    Row(
        "ruby",
        "ruby",
        ".rake",
        'require "json"\n\nmodule Shop\n  class Bin < Base\n    attr_reader :aisle\n\n'
        "    def initialize(aisle)\n      @aisle = aisle\n    end\n\n"
        "    def self.build(data)\n      new(data.fetch(:aisle))\n    end\n\n"
        '    def label\n      "#{@aisle}-#{shelf}"\n    end\n  end\nend\n\n'
        "bins.each do |bin|\n  puts bin.label unless bin.nil?\nend\n",
        ("Shop", "Bin", "initialize", "build", "label"),
        "#",
    ),
    Row(
        "php",
        "php",
        ".php",
        "<?php\nnamespace App\\Shop;\n\nuse App\\Models\\Base;\n\n"
        "final class Bin extends Base\n{\n    private int $aisle;\n\n"
        "    public function __construct(int $aisle)\n    {\n        $this->aisle = $aisle;\n"
        "    }\n\n    public function label(): string\n    {\n"
        '        return "aisle {$this->aisle}";\n    }\n}\n\n'
        "function total(array $bins): int\n{\n    $sum = 0;\n"
        "    foreach ($bins as $bin) {\n        $sum += $bin->aisle;\n    }\n"
        "    return $sum;\n}\n",
        ("Bin", "__construct", "label", "total"),
        "//",
    ),
    Row(
        "csharp",
        "csharp",
        ".cs",
        "using System;\n\nnamespace Shop\n{\n    /// <summary>A bin.</summary>\n"
        "    public class Bin\n    {\n        public int Aisle { get; set; }\n\n"
        '        public string Label() => $"aisle {Aisle}";\n\n'
        "        public int Total(int[] xs)\n        {\n            var sum = 0;\n"
        "            foreach (var x in xs)\n            {\n                sum += x;\n"
        "            }\n            return sum;\n        }\n    }\n\n"
        "    public record Pair(int A, int B);\n}\n",
        ("Bin", "Label", "Total", "Pair"),
        "//",
    ),
    Row(
        "lua",
        "lua",
        ".lua",
        'local json = require("json")\nlocal M = {}\n\n--- Sum of the bins.\n'
        "function M.total(bins)\n  local sum = 0\n  for _, b in ipairs(bins) do\n"
        "    sum = sum + b\n  end\n  return sum\nend\n\n"
        "local function helper(x)\n  return x * 2\nend\n\n"
        "function Bin:label()\n  return 'aisle ' .. self.aisle\nend\n\nreturn M\n",
        ("total", "helper", "label"),
        "--",
    ),
    Row(
        "bash",
        "shellscript",
        ".sh",
        "#!/usr/bin/env bash\nset -euo pipefail\nsource ./lib.sh\n\ntotal() {\n  local sum=0\n"
        '  for b in "$@"; do\n    sum=$((sum + b))\n  done\n'
        '  if [ "$sum" -gt 1 ]; then\n    echo "big: ${sum} $(date)"\n  fi\n}\n\n'
        "function helper {\n  echo hi\n}\n",
        ("total", "helper"),
        "#",
    ),
    Row(
        "kotlin",
        "kotlin",
        ".kts",
        "package shop\n\nimport kotlin.math.max\n\n"
        'data class Bin(val aisle: Int) {\n    fun label(): String = "aisle $aisle"\n\n'
        "    companion object {\n        fun make(): Bin = Bin(1)\n    }\n}\n\n"
        "object Registry {\n    val bins = mutableListOf<Bin>()\n}\n\n"
        "fun total(xs: List<Int>): Int {\n    var sum = 0\n    for (x in xs) {\n"
        "        sum += x\n    }\n    return max(sum, 0)\n}\n",
        ("Bin", "label", "make", "Registry", "total"),
        "//",
    ),
]


def test_rows_cover_every_language() -> None:
    assert [row.language for row in ROWS] == list(SUPPORTED_LANGUAGES)


def test_at_least_ten_languages_parse() -> None:
    parsed = [
        row.language
        for row in ROWS
        if syntax.count_errors(
            syntax.get_parser(row.language).parse(row.snippet.encode()).root_node
        )
        == 0
    ]
    assert parsed == list(SUPPORTED_LANGUAGES)
    assert len(parsed) >= 10


@pytest.mark.parametrize("row", ROWS, ids=[row.language for row in ROWS])
def test_a_language_from_its_id_and_extension_to_its_comments(row: Row) -> None:
    uri = f"file:///work/shop/inventory{row.extension}"
    assert language_for(row.language_id) == row.language
    assert language_for("plaintext", uri) == row.language
    snapshot = Snapshot.build(uri, row.language_id, 1, row.snippet)
    assert snapshot.language == row.language
    assert snapshot.tree is not None and not snapshot.tree.root_node.has_error
    assert tuple(d.name for d in definitions(snapshot)) == row.definitions
    assert languages.line_comment(row.language, row.language_id) == row.comment
    # the explain action is offered, and writes its explanation behind these
    target = find_target(snapshot, 0, len(row.snippet))
    assert target is not None
    assert "explain" in [
        offer.spec.id for offer in catalogue.offers(snapshot, target, (), None, False)
    ]


# --- comment syntax, with and without a grammar ----------------------------------------------

# What starts the comment lines of an explanation, by LSP languageId alone: from the record
# the id leads to, else from the table of languages without a grammar.
LINE_COMMENTS = {
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


@pytest.mark.parametrize(("language_id", "comment"), LINE_COMMENTS.items())
def test_line_comments_by_language_id(language_id: str, comment: str) -> None:
    assert languages.line_comment(None, language_id) == comment


def test_line_comments_of_the_records() -> None:
    for spec in LANGUAGES:
        assert languages.line_comment(spec.name, "whatever") == spec.line_comment
    assert languages.line_comment(None, "plaintext") is None
    assert languages.line_comment(None, "Lua") == "--"


# --- text rules: lines that import, lines that define -----------------------------------------

# (language, line, whether it brings names into the file, the names it defines). The rules are
# built from every record and applied to any text, so the lines of the first nine languages
# keep what the hand-written rules made of them, and a new language's words must not make
# another language's ordinary lines count.
TEXT_LINES: list[tuple[str, str, bool, list[str]]] = [
    ("python", "import os", True, []),
    ("python", "from typing import Any", True, []),
    ("python", "from . import views", True, []),
    ("python", "import_module('x')", False, []),
    ("python", "def area(r):", False, ["area"]),
    ("python", "    async def fetch(self):", False, ["fetch"]),
    ("python", "class Store(Base):", False, ["Store"]),
    ("python", "type Alias = int", False, ["Alias"]),
    ("python", "source = Path('x')", False, []),
    ("python", "include = ['a']", False, []),
    ("python", "required = True", False, []),
    ("python", "module with the socks extra.", False, []),  # a docstring's prose
    ("python", "object to send in the body.", False, []),
    ("javascript", "import { join } from 'path';", True, []),
    ("javascript", "export * from './x';", True, []),
    ("javascript", "export { a, b } from './y';", True, []),
    ("javascript", "const fs = require('fs');", True, []),
    ("javascript", "const { readFile } = require('fs');", True, []),
    ("javascript", "require('./setup');", False, []),
    ("javascript", "module.exports = { total };", False, []),
    ("javascript", "export function total(xs) {", False, ["total"]),
    ("javascript", "export async function load() {", False, ["load"]),
    ("javascript", "export default class App {", False, []),
    ("javascript", "export class Bin {", False, ["Bin"]),
    ("typescript", "interface Bin {", False, ["Bin"]),
    ("typescript", "export type Id = string;", False, ["Id"]),
    ("typescript", "abstract class Shape {", False, []),
    ("typescript", "enum Color { Red }", False, ["Color"]),
    ("typescript", "  private open(x: number) {", False, []),
    ("tsx", "export function Label(props: Props) {", False, ["Label"]),
    ("go", "package main", True, []),
    ("go", "import (", True, []),
    ("go", "func (s *Store) Get(key string) string {", False, ["Get"]),
    ("go", "func main() {", False, ["main"]),
    ("go", "type Store struct {", False, ["Store"]),
    ("go", "source := load()", False, []),
    ("rust", "use std::fmt;", True, []),
    ("rust", "pub mod parser;", True, []),
    ("rust", "mod tests {", False, []),
    ("rust", "pub async fn run() {", False, ["run"]),
    ("rust", "pub struct Bin {", False, ["Bin"]),
    ("rust", "impl Bin {", False, []),
    ("rust", "trait Shape {", False, ["Shape"]),
    ("c", "#include <stdio.h>", True, []),
    ("c", '# include "bin.h"', True, []),
    ("c", "struct bin {", False, ["bin"]),
    ("c", "static int add(int a, int b) {", False, []),
    ("cpp", "using namespace std;", True, []),
    ("cpp", "class Cache {", False, ["Cache"]),
    ("cpp", "enum class Color { Red };", False, ["class"]),  # as the rules always had it
    ("java", "package shop;", True, []),
    ("java", "import java.util.List;", True, []),
    ("java", "public class Bin {", False, []),
    ("java", "class Bin {", False, ["Bin"]),
    ("java", "    record Pair(int a, int b) {}", False, []),
    ("java", "interface Shape {", False, ["Shape"]),
    ("java", "final class Money {", False, []),
    ("ruby", 'require "json"', True, []),
    ("ruby", "require_relative 'inventory'", True, []),
    ("ruby", "def self.build(data)", False, ["build"]),
    ("ruby", "  def label", False, ["label"]),
    ("ruby", "class Bin < Base", False, ["Bin"]),
    ("php", "use App\\Models\\Base;", True, []),
    ("php", "require_once __DIR__ . '/vendor/autoload.php';", True, []),
    ("php", "require_once('config.php');", True, []),
    ("php", "include 'header.php';", True, []),
    ("php", "function total(array $xs): int", False, ["total"]),
    ("php", "final class Bin extends Base", False, []),  # `final`: Java's lines would count
    ("csharp", "using System.Linq;", True, []),
    ("csharp", "interface IShape", False, ["IShape"]),
    ("csharp", "public class Bin", False, []),  # `public`: Java's lines would count
    ("lua", 'local json = require("json")', True, []),
    ("lua", 'require "busted.runner"', True, []),
    ("lua", "function M.total(bins)", False, ["total"]),
    ("lua", "local function helper(x)", False, ["helper"]),
    ("bash", "source ./lib.sh", True, []),
    ("bash", '. "$HOME/.profile"', True, []),
    ("bash", 'source "${BASH_SOURCE%/*}/common.sh"', True, []),
    ("bash", "source files are listed below", False, []),
    ("bash", "function helper {", False, ["helper"]),
    ("kotlin", "package shop", True, []),
    ("kotlin", "import kotlin.math.max", True, []),
    ("kotlin", "fun total(xs: List<Int>): Int {", False, ["total"]),
    ("kotlin", "suspend fun load() {", False, ["load"]),
    ("kotlin", 'fun Bin.label(): String = "x"', False, ["label"]),
]


@pytest.mark.parametrize(
    ("language", "line", "imports", "defined"),
    TEXT_LINES,
    ids=[f"{language}: {line}" for language, line, _, _ in TEXT_LINES],
)
def test_text_rules_of_a_line(language: str, line: str, imports: bool, defined: list[str]) -> None:
    assert is_import_line(line) is imports
    assert _local_names(line) == set(defined)


def test_text_rules_cover_every_language() -> None:
    assert {language for language, *_ in TEXT_LINES} == set(SUPPORTED_LANGUAGES)
    for spec in LANGUAGES:
        assert spec.text.import_lines and spec.text.definition_keywords, spec.name


@pytest.mark.parametrize("spec", LANGUAGES, ids=[spec.name for spec in LANGUAGES])
def test_no_doc_convention_shows_its_start_followed_by_words(spec: LanguageSpec) -> None:
    """The docstring answer is started with ``doc_start``; a convention that showed it
    followed by words ("/// doc comments directly above it") had the 0.5B model copy
    those words as the documentation of 5 of 6 Rust functions."""
    start = spec.doc_start.strip()
    if not start or "{name}" in start:  # (the function's name is in no convention)
        return
    index = spec.doc_convention.find(start)
    while index >= 0:
        after = spec.doc_convention[index + len(start) :].lstrip(" ")
        assert not after[:1].isalpha(), f"{start!r} followed by {after[:20]!r}"
        index = spec.doc_convention.find(start, index + 1)


@pytest.mark.parametrize(
    "spec", [s for s in LANGUAGES if s.test_style], ids=[s.name for s in LANGUAGES if s.test_style]
)
def test_no_test_guidance_goes_on_from_the_start_of_the_answer(spec: LanguageSpec) -> None:
    """The tests answer is started with the style's ``block_start`` ("def test_"); the
    guidance said "name every test function test_something", and the 0.5B model went on
    with "something": one test per file, named so, asserting little."""
    style = spec.test_style
    assert style is not None
    for start in (style.block_start, style.file_start):
        tail = re.search(r"\w+$", start)
        if tail is not None:
            assert not re.search(re.escape(tail.group()) + r"\w", style.guidance), start
