"""Code actions, the pure part: catalogue, prompts, and turning a model's answer into edits.

The road of one action: the user's range (or, when it is empty, the enclosing function or
class, found with tree-sitter) becomes a :class:`Target` of whole lines; a chat prompt
holds the action's system prompt, some context (imports, enclosing signatures) within a
token budget, the code and the task; the answer is taken out of its wrapping (fences,
prose), re-indented to the target's indentation, turned into a line diff against the
target (minimal edits), and checked: a change that adds a syntax error to the file, drops
a definition, or does not do what the action claims (no docstring, no annotations, no
tests) is refused with a message instead.

Coordinates: offsets are code points into the snapshot's text; every conversion goes
through :class:`Snapshot`.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from tree_sitter import Node

from lsp_server import postprocess, syntax
from lsp_server.chat import ChatTemplate
from lsp_server.documents import Snapshot
from lsp_server.engine import PromptPart
from lsp_server.settings import CustomAction

Placement = Literal["replace", "above", "below", "newFile"]
AnswerKind = Literal["code", "text"]
Check = Literal["", "docstring", "annotations", "tests"]

CUSTOM_PREFIX = "custom:"

# --- languages ------------------------------------------------------------------------------

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
        return syntax.rules_for(language).line_comment
    return _LINE_COMMENTS.get(language_id.lower())


# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """One code action: how it is offered, prompted, and how its answer is applied."""

    id: str
    title: str
    kind: str
    system: str
    prompt: str  # the user message, with {placeholders}
    placement: Placement
    answer: AnswerKind = "code"
    rewrite: bool = False  # the answer repeats the code: prompt-lookup decoding pays
    languages: frozenset[str] | None = None  # our language names or language ids; None: all
    check: Check = ""
    keep_names: bool = False  # the answer must still define what the code defined
    needs_definition: bool = False  # only offered for a function/class (or a selection)
    widen_line: bool = False  # a range within one line means the definition around it
    file_name: str = ""  # placement newFile: the new file's name pattern
    max_tokens: int = 0  # 0: derived from the size of the code
    preferred: bool = False


_CODE_REPLY = (
    "Reply with the complete resulting code in a single fenced code block and nothing else: "
    "no explanations before or after it."
)
_CODE_BLOCK = "{context}Code:\n{code}\n\n"

BUILTIN_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        id="fix",
        title="Qwen: Fix",
        kind="quickfix",
        system=(
            "You are an expert {language} programmer who fixes bugs. Change as little as "
            "possible: keep names, structure, comments and formatting. " + _CODE_REPLY
        ),
        prompt=_CODE_BLOCK + "{diagnostics}Task: fix the bugs in this code{fix_hint}.",
        placement="replace",
        rewrite=True,
        keep_names=True,
        widen_line=True,
    ),
    ActionSpec(
        id="explain",
        title="Qwen: Explain",
        kind="refactor.explain",
        system=(
            "You are an expert {language} programmer. You explain code to a colleague in "
            "plain text: short sentences, no Markdown headings, no code blocks."
        ),
        prompt=(
            _CODE_BLOCK + "Task: explain what this code does and how, in at most five short "
            "sentences."
        ),
        placement="above",
        answer="text",
        max_tokens=200,
    ),
    ActionSpec(
        id="docstring",
        title="Qwen: Add docstring",
        kind="refactor.rewrite.docstring",
        system=(
            "You are an expert {language} programmer who documents code. Add or complete "
            "documentation only; do not change the code itself. " + _CODE_REPLY
        ),
        prompt=(
            _CODE_BLOCK + "Task: add documentation to {subject}: {doc_convention}. If it "
            "already has some, complete it. Keep every line of code exactly as it is."
        ),
        placement="replace",
        rewrite=True,
        check="docstring",
        keep_names=True,
        needs_definition=True,
    ),
    ActionSpec(
        id="annotate",
        title="Qwen: Add type annotations",
        kind="refactor.rewrite.annotate",
        system=(
            "You are an expert {language} programmer who adds precise type annotations. "
            "Change nothing but the annotations. " + _CODE_REPLY
        ),
        prompt=(
            _CODE_BLOCK + "Task: add type annotations to every parameter and return type "
            "that lacks one{annotate_hint}. Keep everything else exactly as it is."
        ),
        placement="replace",
        rewrite=True,
        languages=frozenset({"python", "typescript", "tsx"}),
        check="annotations",
        keep_names=True,
        needs_definition=True,
    ),
    ActionSpec(
        id="simplify",
        title="Qwen: Simplify",
        kind="refactor.rewrite.simplify",
        system=(
            "You are an expert {language} programmer who refactors code to be simpler and "
            "more readable without changing its behaviour or its interface. " + _CODE_REPLY
        ),
        prompt=_CODE_BLOCK + "Task: simplify this code. Keep its names and behaviour.",
        placement="replace",
        rewrite=True,
        keep_names=True,
    ),
    ActionSpec(
        id="tests",
        title="Qwen: Generate unit tests",
        kind="source.generateTests",
        system=(
            "You are an expert {language} programmer who writes focused, correct unit tests. "
            "Reply with the complete test code in a single fenced code block and nothing else."
        ),
        prompt=(
            _CODE_BLOCK + "The code is in the file {file}. Task: write unit tests for "
            "{names}: at most four short test functions, each with one or two assertions "
            "on small inputs whose results are easy to work out by hand from the code as "
            "written. {test_guidance}"
        ),
        placement="newFile",
        check="tests",
        needs_definition=True,
        max_tokens=700,
    ),
)


_PLACEMENTS: dict[str, Placement] = {
    "replace": "replace",
    "above": "above",
    "below": "below",
    "newFile": "newFile",
}


def custom_spec(index: int, action: CustomAction) -> ActionSpec:
    placement = _PLACEMENTS.get(action.target, "replace")
    answer: AnswerKind = "text" if action.answer == "text" else "code"
    prompt = action.prompt
    if "{selection}" not in prompt and "{code}" not in prompt:
        prompt += "\n\n{code}"
    system = action.system or (
        "You are an expert {language} programmer working inside a code editor."
        + (" " + _CODE_REPLY if answer == "code" else " Reply in plain text.")
    )
    return ActionSpec(
        id=f"{CUSTOM_PREFIX}{index}",
        title=action.title,
        kind=action.kind,
        system=system,
        prompt=prompt,
        placement=placement,
        answer=answer,
        rewrite=placement == "replace" and answer == "code",
        languages=frozenset(action.languages) if action.languages else None,
        file_name=action.fileName or "{stem}.qwen{ext}",
    )


def catalogue(custom: Sequence[CustomAction] = ()) -> list[ActionSpec]:
    return [*BUILTIN_ACTIONS, *(custom_spec(i, a) for i, a in enumerate(custom))]


def find_spec(action_id: str, custom: Sequence[CustomAction] = ()) -> ActionSpec | None:
    return next((s for s in catalogue(custom) if s.id == action_id), None)


def _offered_for(spec: ActionSpec, snapshot: Snapshot) -> bool:
    if spec.languages is None:
        return True
    return snapshot.language in spec.languages or snapshot.language_id in spec.languages


# --- the target -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The code an action works on: whole lines, as code-point offsets of the snapshot."""

    start: int  # start of the first line
    end: int  # end of the last line, before its line ending
    names: tuple[str, ...]  # functions/classes defined at the top level of the target
    is_definition: bool  # the target is one whole definition (from an empty selection)
    scope_start: int  # the innermost definition enclosing the target (or the target)
    scope_end: int
    # The file's top-level definitions holding ``names`` (a method's class): what a test
    # file imports. Same order as ``names``.
    top_names: tuple[str, ...] = ()


def find_target(
    snapshot: Snapshot,
    start: int,
    end: int,
    *,
    widen_line: bool = False,
    line_fallback: bool = False,
) -> Target | None:
    """The target of a range of code points; None when there is nothing to act on.

    An empty range means the function or class around it (innermost); a non-empty range
    is widened to whole lines (a range ending at the start of a line stops before it).
    ``widen_line``: a range within one line also means the definition around it (a fix
    needs more than the line with the problem). ``line_fallback``: outside any
    definition, an empty range means its (non-blank) line.
    """
    text = snapshot.text
    start, end = min(start, end), max(start, end)
    tree = snapshot.tree
    language = snapshot.language
    one_line = _line_start(text, start) == _line_start(text, end)
    if start == end or (widen_line and one_line):
        node = None
        if tree is not None and language in _DEFINITION_TYPES:
            byte = snapshot.byte_offset(start)
            node = _enclosing_definition(tree.root_node, byte, byte, language)
        if node is not None:
            first = _with_leading(node)
            t_start = _line_start(text, snapshot.offset_from_byte(first.start_byte))
            t_end = _line_end(text, snapshot.offset_from_byte(node.end_byte))
            name = _definition_name(node, snapshot)
            top = _top_level_name(node, snapshot) or name
            return Target(
                t_start,
                t_end,
                (name,) if name else (),
                True,
                t_start,
                t_end,
                (top,) if name and top else (),
            )
        if start == end and not line_fallback:
            return None
        if start == end:
            end = _line_end(text, start)
            start = _line_start(text, start)
            if start == end:
                return None
    if end > start and _line_start(text, end) == end and text[end - 1] in "\r\n":
        end -= 2 if text[end - 2 : end] == "\r\n" else 1  # the line ending before `end`
    t_start, t_end = _line_start(text, start), _line_end(text, end)
    if not text[t_start:t_end].strip():
        return None
    names: tuple[str, ...] = ()
    top_names: tuple[str, ...] = ()
    scope = (t_start, t_end)
    if tree is not None and language in _DEFINITION_TYPES:
        start_byte, end_byte = snapshot.byte_offset(t_start), snapshot.byte_offset(t_end)
        named = [
            (n, _top_level_name(node, snapshot) or n)
            for node in _definitions_within(tree.root_node, start_byte, end_byte, language)
            if (n := _definition_name(node, snapshot))
        ]
        names = tuple(n for n, _ in named)
        top_names = tuple(t for _, t in named)
        enclosing = _enclosing_definition(tree.root_node, start_byte, end_byte, language)
        if enclosing is not None:
            scope = (
                _line_start(text, snapshot.offset_from_byte(_with_leading(enclosing).start_byte)),
                _line_end(text, snapshot.offset_from_byte(enclosing.end_byte)),
            )
    return Target(t_start, t_end, names, False, *scope, top_names)


def _top_level_name(node: Node, snapshot: Snapshot) -> str | None:
    """The name of the top-level definition that holds ``node``."""
    top = node
    while top.parent is not None and top.parent.parent is not None:
        top = top.parent
    if top is node:
        return _definition_name(_outermost(node), snapshot)
    return _definition_name(top, snapshot)


def _line_start(text: str, offset: int) -> int:
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def _line_end(text: str, offset: int) -> int:
    ends = [i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0]
    return min(ends) if ends else len(text)


def _is_definition(node: Node, language: str) -> bool:
    if node.type in _DEFINITION_TYPES[language]:
        return True
    if node.type in _VARIABLE_DECLARATIONS:
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        return len(declarators) == 1 and any(
            (value := d.child_by_field_name("value")) is not None and value.type in _FUNCTION_VALUES
            for d in declarators
        )
    return False


def _outermost(node: Node) -> Node:
    """A definition with what wraps it (decorators, export)."""
    while node.parent is not None and node.parent.type in _WRAPPERS:
        node = node.parent
    return node


def _with_leading(node: Node) -> Node:
    """The first of the comments/attributes directly above ``node`` (or ``node``)."""
    first = node
    sibling = node.prev_sibling
    while (
        sibling is not None
        and sibling.type in _LEADING
        and sibling.end_point[0] >= first.start_point[0] - 1
    ):
        first = sibling
        sibling = sibling.prev_sibling
    return first


def _enclosing_definition(root: Node, start_byte: int, end_byte: int, language: str) -> Node | None:
    node: Node | None = root.descendant_for_byte_range(start_byte, end_byte)
    while node is not None:
        if _is_definition(node, language) and node.start_byte <= start_byte:
            return _outermost(node)
        node = node.parent
    return None


def _definitions_within(root: Node, start_byte: int, end_byte: int, language: str) -> list[Node]:
    """Outermost definitions lying wholly inside [start_byte, end_byte]."""
    found: list[Node] = []

    def visit(node: Node) -> None:
        for child in node.children:
            if child.end_byte <= start_byte or child.start_byte >= end_byte:
                continue
            inside = child.start_byte >= start_byte and child.end_byte <= end_byte
            if inside and _is_definition(child, language):
                found.append(child)
            elif child.type in _WRAPPERS and inside:
                inner = [c for c in child.named_children if _is_definition(c, language)]
                found.extend(inner[:1])
            else:
                visit(child)

    visit(root)
    return found


def _definition_name(node: Node, snapshot: Snapshot) -> str | None:
    def text_of(n: Node) -> str:
        return snapshot.text[
            snapshot.offset_from_byte(n.start_byte) : snapshot.offset_from_byte(n.end_byte)
        ]

    current: Node | None = node
    for _ in range(8):
        if current is None:
            return None
        name = current.child_by_field_name("name")
        if name is not None:
            return text_of(name)
        nested = (
            current.child_by_field_name("definition")
            or current.child_by_field_name("declaration")
            or current.child_by_field_name("declarator")
        )
        if nested is None:
            nested = next(
                (
                    c
                    for c in current.named_children
                    if c.type in ("variable_declarator", "type_spec", "function_declarator")
                ),
                None,
            )
        if nested is None:
            impl_type = current.child_by_field_name("type")
            return text_of(impl_type) if impl_type is not None else None
        if nested.type in ("identifier", "field_identifier", "type_identifier"):
            return text_of(nested)
        current = nested
    return None


# --- context --------------------------------------------------------------------------------


def context_text(
    snapshot: Snapshot, target: Target, count_tokens: Callable[[str], int], budget: int
) -> str:
    """Imports and the signatures enclosing the target, within ``budget`` tokens.

    Enclosing signatures come first (a method without its class reads wrong), then the
    file's imports in order, as many as fit.
    """
    tree, language = snapshot.tree, snapshot.language
    if tree is None or language not in _DEFINITION_TYPES or budget <= 0:
        return ""
    text = snapshot.text
    start_byte, end_byte = snapshot.byte_offset(target.start), snapshot.byte_offset(target.end)
    headers: list[str] = []
    node: Node | None = tree.root_node.descendant_for_byte_range(start_byte, end_byte)
    while node is not None:
        if (
            _is_definition(node, language)
            and node.start_byte < start_byte
            and node.end_byte >= end_byte
        ):
            headers.append(_header(snapshot, node, language))
        node = node.parent
    headers.reverse()
    used = sum(count_tokens(h) for h in headers)
    if used > budget:
        headers, used = headers[-1:], count_tokens(headers[-1])
        if used > budget:
            return ""
    imports: list[str] = []
    for child in tree.root_node.children:
        if child.type in _IMPORT_TYPES.get(language, frozenset()):
            if child.start_byte >= start_byte:
                break
            line = text[
                snapshot.offset_from_byte(child.start_byte) : snapshot.offset_from_byte(
                    child.end_byte
                )
            ]
            cost = count_tokens(line)
            if used + cost > budget:
                break
            imports.append(line)
            used += cost
    return "\n\n".join(part for part in ("\n".join(imports), "\n".join(headers)) if part)


def _header(snapshot: Snapshot, node: Node, language: str) -> str:
    """The signature of a definition, its body elided."""
    definition = node
    for field_name in ("definition", "declaration"):
        inner = definition.child_by_field_name(field_name)
        if inner is not None:
            definition = inner
    body = definition.child_by_field_name("body")
    text = snapshot.text
    start = _line_start(text, snapshot.offset_from_byte(node.start_byte))
    if body is None:
        end = _line_end(text, snapshot.offset_from_byte(node.start_byte))
        return text[start:end]
    head = text[start : snapshot.offset_from_byte(body.start_byte)].rstrip()
    indent = _indent_of(text[start:])
    if language == "python":
        return f"{head}\n{indent}    ..."
    return f"{head} {{ ... }}" if not head.endswith("{") else f"{head} ... }}"


# --- the prompt -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    """A problem the client reported (from the code-action context)."""

    line: int  # 0-based document line
    message: str
    source: str = ""
    code: str = ""


@dataclass(frozen=True)
class ActionInput:
    """Everything an action's prompt and edit depend on."""

    spec: ActionSpec
    snapshot: Snapshot
    target: Target
    diagnostics: tuple[Diagnostic, ...] = ()
    can_create_files: bool = True
    # For placement newFile: the uri of the file to write and its current text, if any.
    new_file_uri: str = ""
    new_file_text: str | None = None

    @property
    def code(self) -> str:
        return self.snapshot.text[self.target.start : self.target.end]

    @property
    def placement(self) -> Placement:
        if self.spec.placement == "newFile" and (
            not self.can_create_files or not self.new_file_uri
        ):
            return "below"
        return self.spec.placement


@dataclass(frozen=True)
class PromptPlan:
    parts: list[PromptPart]
    assistant_prefix: str  # the answer continues this text (e.g. an opening fence)
    max_tokens: int
    rewrite: bool
    prompt_tokens: int = 0
    max_line: int = 400  # a longer answer line is a model stuck repeating itself
    fence: str = "```"  # the code fence the answer was opened with


def dedent(code: str) -> str:
    return textwrap.dedent(code.expandtabs(8) if _mixed_indent(code) else code)


def _mixed_indent(code: str) -> bool:
    indents = {line[: len(line) - len(line.lstrip())] for line in code.splitlines()}
    return any("\t" in i for i in indents) and any(" " in i for i in indents)


def uri_parts(uri: str) -> tuple[str, str, str]:
    """(directory uri, stem, extension) of a document uri."""
    split = urlsplit(uri)
    path = unquote(split.path) if split.scheme else uri
    directory, name = posixpath.split(path)
    stem, ext = posixpath.splitext(name)
    return urlunsplit((split.scheme, split.netloc, directory, "", "")), stem, ext


def new_file_uri(spec: ActionSpec, snapshot: Snapshot) -> str:
    """Where a newFile action writes, next to the document; "" when it does not apply."""
    pattern = spec.file_name
    if spec.id == "tests":
        style = _TEST_STYLES.get(snapshot.language or "")
        pattern = style.file_name if style is not None else ""
    if not pattern or spec.placement != "newFile":
        return ""
    directory, stem, ext = uri_parts(snapshot.uri)
    if not stem:
        return ""
    name = pattern.format(stem=stem, ext=ext)
    return f"{directory.rstrip('/')}/{quote(name)}"


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace known {placeholders} in one pass (inserted text is never re-scanned)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _diagnostics_text(action: ActionInput) -> str:
    target_line = action.snapshot.position_at(action.target.start)[0]
    end_line = action.snapshot.position_at(action.target.end)[0]
    lines = []
    for diagnostic in action.diagnostics:
        if not target_line <= diagnostic.line <= end_line:
            continue
        where = f"line {diagnostic.line - target_line + 1}"
        source = f" ({diagnostic.source}{' ' + diagnostic.code if diagnostic.code else ''})"
        lines.append(f"- {where}: {diagnostic.message}{source if diagnostic.source else ''}")
    if not lines:
        return ""
    heading = "Problems the editor reports (line numbers count from the first line of the code):"
    return heading + "\n" + "\n".join(lines) + "\n\n"


def placeholder_values(action: ActionInput, context: str) -> dict[str, str]:
    snapshot, target = action.snapshot, action.target
    language = snapshot.language or snapshot.language_id
    fence = fence_language(snapshot.language, snapshot.language_id)
    code = dedent(action.code)
    _, stem, ext = uri_parts(snapshot.uri)
    qualified = ", ".join(
        name if top == name else f"{top}.{name}"
        for name, top in zip(target.names, target.top_names or target.names, strict=False)
    )
    imports = ", ".join(dict.fromkeys(target.top_names or target.names))
    diagnostics = _diagnostics_text(action)
    ticks = _fence_ticks(code)
    file_name = f"{stem}{ext}"
    context_block = (
        f"Context from {file_name}:\n{ticks}{fence}\n{context}\n{ticks}\n\n" if context else ""
    )
    subject = f"`{target.names[0]}`" if len(target.names) == 1 else "each function and class"
    style = _TEST_STYLES.get(snapshot.language or "")
    test_guidance = test_start = ""
    if style is not None:
        in_file = action.placement != "newFile"
        guidance = style.guidance
        if in_file and style.file_name:
            guidance = (
                "Write the tests as code that goes at the end of the same file, below the "
                "code (the code under test is already defined there; do not import or "
                "redefine it)."
            )
        test_values = {
            "module": stem,
            "names": imports or "the functions",
            "stem": stem,
            "package": _go_package(snapshot) or "main",
        }
        test_guidance = _unbrace(fill(guidance, test_values))
        # A test file that exists already has its header: only a test is started.
        fresh_file = not in_file and action.new_file_text is None
        test_start = fill(style.file_start if fresh_file else style.block_start, test_values)
    values = {
        "language": language,
        "selection": code,
        "code": f"{ticks}{fence}\n{code}\n{ticks}",
        "scope": dedent(snapshot.text[target.scope_start : target.scope_end]),
        "diagnostics": diagnostics,
        "file": file_name,
        "name": target.names[0] if target.names else "",
        "names": f"`{qualified}`" if qualified else "the code",
        "context": context_block,
        "subject": subject,
        "doc_convention": _DOC_CONVENTIONS.get(snapshot.language or "", "a doc comment"),
        "fix_hint": " (the problems listed above)" if diagnostics else "",
        "annotate_hint": " (use the typing module where needed)"
        if snapshot.language == "python"
        else "",
        "test_guidance": test_guidance,
        "test_start": test_start,
    }
    return values


def _unbrace(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _fence_ticks(code: str) -> str:
    longest = max((len(m.group()) for m in re.finditer(r"`{3,}", code)), default=0)
    return "`" * max(3, longest + 1)


def _go_package(snapshot: Snapshot) -> str:
    match = re.search(r"^package\s+(\w+)", snapshot.text, re.M)
    return match.group(1) if match else ""


def build_prompt(
    action: ActionInput,
    template: ChatTemplate,
    count_tokens: Callable[[str], int],
    context_budget: int,
) -> PromptPlan:
    """The chat prompt of an action, and how much the answer may take."""
    context = context_text(action.snapshot, action.target, count_tokens, context_budget)
    values = placeholder_values(action, context)
    spec = action.spec
    system = fill(spec.system, values)
    user = fill(spec.prompt, values)
    fence = fence_language(action.snapshot.language, action.snapshot.language_id)
    # A fence longer than any run of backticks in the code, so the code cannot close it.
    ticks = _fence_ticks(values["selection"])
    prefix = f"{ticks}{fence}\n" if spec.answer == "code" else ""
    if spec.answer == "code" and spec.check == "tests":
        prefix += values["test_start"]
    code_tokens = count_tokens(values["selection"])
    max_tokens = spec.max_tokens or (code_tokens * 2 + 160)
    if spec.answer == "code" and spec.placement == "replace":
        max_tokens = max(max_tokens, code_tokens + 160)
    parts = template.render(system, user, prefix)
    prompt_tokens = sum(count_tokens(p) for p in parts if isinstance(p, str)) + sum(
        1 for p in parts if not isinstance(p, str)
    )
    longest = max((len(line) for line in values["selection"].split("\n")), default=0)
    return PromptPlan(
        parts, prefix, max_tokens, spec.rewrite, prompt_tokens, max(400, 2 * longest), ticks
    )


# --- the answer -----------------------------------------------------------------------------

_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$")


def answer_complete(answer: str, plan: PromptPlan) -> bool:
    """Whether a streaming answer is done: the code block it was opened with is closed,
    or the model is stuck writing one endless line.

    Without this the small models go on explaining what they wrote, which costs seconds
    and is thrown away.
    """
    last_line = len(answer) - answer.rfind("\n") - 1
    if last_line > plan.max_line:
        return True
    if not plan.assistant_prefix:
        return False
    closing = re.compile(rf"(?:^|\n)[ \t]*{plan.fence}[ \t]*\n")
    return closing.search(answer) is not None


def complete_statements(code: str, language: str) -> str:
    """``code`` without its trailing top-level statements that do not parse (an answer
    cut off by its token limit): what remains parses, or is returned unchanged."""
    snapshot, root = _parse(language, code)
    if not root.has_error:
        return code
    children = list(root.children)
    while len(children) > 1:
        children.pop()
        head = code[: snapshot.offset_from_byte(children[-1].end_byte)]
        if not _parse(language, head)[1].has_error:
            return head
    return code


def extract_code(answer: str, assistant_prefix: str = "") -> str | None:
    """The code in a model's answer: its fenced block (the first non-empty one when the
    answer was opened with a fence, else the longest), or the bare answer when it has no
    fence at all. None when nothing is left."""
    text = (assistant_prefix + answer).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[str] = []
    current: list[str] | None = None
    opener = ""
    for line in text.split("\n"):
        match = _FENCE_LINE.match(line)
        if current is None:
            if match:
                current, opener = [], match.group(1)
            continue
        if match and match.group(1).startswith(opener[0]) and len(match.group(1)) >= len(opener):
            if not match.group(2):
                blocks.append("\n".join(current))
                current = None
                continue
        current.append(line)
    if current is not None:  # an unclosed block (the answer hit its token limit)
        blocks.append("\n".join(current))
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        chosen = blocks[0] if assistant_prefix else max(blocks, key=len)
        return chosen.strip("\n")
    if "```" in text or not text.strip():
        return None
    return text.strip("\n")


def extract_text(answer: str) -> str | None:
    """Plain prose from an answer: Markdown emphasis, headings and fences dropped."""
    lines = []
    for line in answer.replace("\r\n", "\n").split("\n"):
        if _FENCE_LINE.match(line):
            continue
        line = re.sub(r"^#+\s*", "", line.rstrip())
        line = line.replace("**", "").replace("__", "")
        lines.append(line)
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text or None


def comment_block(text: str, comment: str, indent: str, width: int = 88) -> str:
    """Prose as a block of line comments, wrapped, at ``indent``."""
    out: list[str] = []
    room = max(30, width - len(indent.expandtabs()) - len(comment) - 1)
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            out.append(f"{indent}{comment}")
            continue
        bullet = re.match(r"^(\s*(?:[-*]|\d+[.)])\s+)", paragraph)
        hang = " " * len(bullet.group(1)) if bullet else ""
        for line in textwrap.wrap(paragraph.strip(), room, subsequent_indent=hang) or [""]:
            out.append(f"{indent}{comment} {line}".rstrip())
    while out and out[-1].strip() == comment:
        out.pop()
    return "\n".join(out)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _leading_width(line: str) -> int:
    return len(_indent_of(line).expandtabs(4))


def reindent(code: str, base_indent: str, file_unit: str) -> str:
    """``code`` (an answer) re-indented to start at ``base_indent`` in a file indenting by
    ``file_unit``: its common indentation is replaced, its indentation step converted
    (tabs, 2 or 4 spaces), blank lines around it dropped."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    answer_unit = postprocess.detect_indent_unit("\n".join(lines))
    lines = [_convert_unit(line, answer_unit, file_unit) for line in lines]
    base = min(_leading_width(line) for line in lines if line.strip())
    return "\n".join(
        base_indent + _strip_width(line, base) if line.strip() else "" for line in lines
    )


def _strip_width(line: str, width: int) -> str:
    """``line`` without ``width`` columns of its leading whitespace (tabs count 4)."""
    removed = 0
    index = 0
    while index < len(line) and removed < width and line[index] in " \t":
        removed += 4 - removed % 4 if line[index] == "\t" else 1
        index += 1
    return line[index:]


def _convert_unit(line: str, answer_unit: str, file_unit: str) -> str:
    if answer_unit == file_unit or not line.strip():
        return line
    indent = _indent_of(line)
    width = len(indent.expandtabs(len(answer_unit) if answer_unit != "\t" else 4))
    step = 4 if answer_unit == "\t" else len(answer_unit)
    levels, extra = divmod(width, step)
    unit = file_unit
    return unit * levels + " " * extra + line[len(indent) :]


# --- edits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OffsetEdit:
    start: int  # code points of the file's text
    end: int
    text: str


@dataclass(frozen=True)
class FileChange:
    """Edits to one file: the document (version known) or a new/other file."""

    uri: str
    base_text: str  # the text the edits apply to ("" for a new file)
    edits: tuple[OffsetEdit, ...]
    version: int | None = None
    create: bool = False
    language: str | None = None

    def new_text(self) -> str:
        return apply_edits(self.base_text, self.edits)


@dataclass(frozen=True)
class ActionResult:
    """The outcome: changes to apply, or a message saying why there are none."""

    changes: tuple[FileChange, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.message


def apply_edits(text: str, edits: Sequence[OffsetEdit]) -> str:
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def line_diff(old: str, new: str, base: int) -> list[OffsetEdit]:
    """Minimal whole-line edits turning ``old`` (at offset ``base``) into ``new``."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(OffsetEdit(base + starts[i1], base + starts[i2], "".join(new_lines[j1:j2])))
    return edits


def newline_of(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"


def _error_line(language: str, text: str, near: int) -> int | None:
    """1-based line of the first syntax error of ``text`` at or after code point ``near``
    (where the new code starts); None when it parses.

    Error recovery can open an ERROR node long before the real problem: an error that
    starts before ``near`` is reported at ``near``.
    """
    snapshot, root = _parse(language, text)
    if not root.has_error:
        return None
    near_byte = snapshot.byte_offset(min(near, len(text)))
    for node in _walk(root):
        if (node.is_error or node.is_missing) and node.end_byte >= near_byte:
            return snapshot.position_from_byte(max(node.start_byte, near_byte))[0] + 1
    return snapshot.position_at(min(near, len(text)))[0] + 1


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if node.has_error or node.child_count:
        for child in node.children:
            yield from _walk(child)


def _count_errors(language: str, text: str) -> int:
    tree = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
    return syntax.count_errors(tree.root_node)


def _refuse(message: str) -> ActionResult:
    return ActionResult(message=f"qwen-lsp: {message}; nothing was changed.")


def result_for_answer(action: ActionInput, answer: str, plan: PromptPlan) -> ActionResult:
    """Turn the model's raw answer into validated, minimal edits (or a refusal)."""
    spec, snapshot, target = action.spec, action.snapshot, action.target
    text = snapshot.text
    newline = newline_of(text)
    first_line = text[target.start : _line_end(text, target.start)]
    indent = _indent_of(first_line)
    language = snapshot.language
    if spec.answer == "text":
        prose = extract_text(answer)
        comment = line_comment(language, snapshot.language_id)
        if prose is None:
            return _refuse("the model gave no explanation")
        if action.placement == "newFile":
            return _new_file(action, prose)
        if comment is None:
            return _refuse(f"no comment syntax is known for {snapshot.language_id}")
        block = comment_block(prose, comment, indent)
        return _placed(action, block, newline)
    code = extract_code(answer, plan.assistant_prefix)
    if code is None or not code.strip():
        return _refuse("the model's answer contains no code")
    if spec.check == "docstring" and language == "python":
        code = python_docstring_inside(dedent(code))
    elif spec.check == "docstring" and language is not None and _only_comments(code, language):
        # Just the doc comment: it goes above the code (replacing the one there, if any).
        code = code.strip("\n") + "\n" + _without_leading_comments(dedent(action.code))
    if spec.check == "tests" and language is not None:
        code = complete_statements(dedent(code), language)
    file_unit = postprocess.detect_indent_unit(text)
    placement = action.placement
    if placement == "newFile":
        body = reindent(code, "", file_unit)
        if spec.check == "tests" and language == "python":
            body = python_tests_use_real_code(
                body,
                uri_parts(snapshot.uri)[1],
                target.top_names or target.names,
                action.new_file_text or "",
            )
        return _new_file(action, body)
    if placement == "replace":
        new_code = reindent(code, indent, file_unit)
    elif spec.check == "tests":  # a test block at the end of the file, at the top level
        new_code = reindent(code, "", file_unit)
        if language == "python":
            new_code = python_tests_use_real_code(new_code, None, target.top_names or target.names)
    else:
        new_code = reindent(code, indent, file_unit)
    return _placed(action, new_code, newline)


def _placed(action: ActionInput, block: str, newline: str) -> ActionResult:
    """Edits putting ``block`` (text with "\\n" line ends) where the action says."""
    snapshot, target = action.snapshot, action.target
    text = snapshot.text
    block = block.replace("\n", newline)
    placement = action.placement
    if placement == "replace":
        edits = line_diff(text[target.start : target.end], block, target.start)
        if not edits:
            return _refuse("the model's answer is the same as the code")
    elif placement == "above":
        edits = [OffsetEdit(target.start, target.start, block + newline)]
    elif action.spec.check == "tests" or action.spec.placement == "newFile":
        # Tests (or a new file the client cannot create) go to the end of the file.
        at = len(text.rstrip("\r\n"))
        blank_lines = 2 if snapshot.language == "python" else 1
        edits = [OffsetEdit(at, at, newline * (blank_lines + 1) + block)]
    else:
        edits = [OffsetEdit(target.end, target.end, newline + newline + block)]
    change = FileChange(
        snapshot.uri, text, tuple(edits), snapshot.version, language=snapshot.language
    )
    problem = check_change(action, change)
    if problem:
        return _refuse(problem)
    return ActionResult((change,))


def _new_file(action: ActionInput, body: str) -> ActionResult:
    # The new file's language decides how it is checked (tests: the document's).
    language = syntax.language_for("", action.new_file_uri)
    existing = action.new_file_text
    if existing is None:
        change = FileChange(
            action.new_file_uri,
            "",
            (OffsetEdit(0, 0, body + "\n"),),
            create=True,
            language=language,
        )
    else:
        newline = newline_of(existing)
        at = len(existing.rstrip("\r\n"))
        sep = newline * 3 if at else ""
        change = FileChange(
            action.new_file_uri,
            existing,
            (OffsetEdit(at, len(existing), sep + body.replace("\n", newline) + newline),),
            language=language,
        )
    problem = check_change(action, change)
    if problem:
        return _refuse(problem)
    return ActionResult((change,))


def check_change(action: ActionInput, change: FileChange) -> str:
    """Why a change must not be applied ("" when it may)."""
    language = change.language
    spec = action.spec
    new_text = change.new_text()
    region = _changed_region(action, change)
    if language is not None:
        old_errors = _count_errors(language, change.base_text) if change.base_text else 0
        new_errors = _count_errors(language, new_text)
        if new_errors > old_errors:
            first_edit = min(change.edits, key=lambda e: e.start).start if change.edits else 0
            line = _error_line(language, new_text, first_edit)
            where = f" at line {line}" if line is not None else ""
            name = posixpath.basename(unquote(urlsplit(change.uri).path)) or change.uri
            return f"the model's answer would add a syntax error to {name}{where}"
    if spec.keep_names and language is not None and action.target.names:
        defined = set(_names_in(language, new_text, *region))
        missing = [n for n in action.target.names if n not in defined]
        if missing:
            return f"the model's answer drops `{missing[0]}`"
    if spec.check == "tests":
        added = "".join(e.text for e in change.edits)
        marker = _TEST_MARKERS.get(language or "")
        if marker is not None and not marker.search(added):
            return "the model's answer contains no tests"
    if spec.check == "docstring" and language is not None:
        if not _has_doc(language, new_text, *region, action.target.names):
            return "the model did not add a docstring"
    if spec.check == "annotations" and language in _ANNOTATION_NODES:
        before = _count_nodes(language, change.base_text, action.target.start, action.target.end)
        after = _count_nodes(language, new_text, *region)
        if after <= before:
            return "the model added no type annotations"
    return ""


def _changed_region(action: ActionInput, change: FileChange) -> tuple[int, int]:
    """Code points of the new text holding what the action wrote: the target with its
    rewrite, or the inserted text."""
    if change.uri == action.snapshot.uri and action.placement == "replace":
        delta = sum(len(e.text) - (e.end - e.start) for e in change.edits)
        return action.target.start, action.target.end + delta
    start, end, shift = len(change.new_text()), 0, 0
    for edit in sorted(change.edits, key=lambda e: e.start):
        start = min(start, edit.start + shift)
        end = max(end, edit.start + shift + len(edit.text))
        shift += len(edit.text) - (edit.end - edit.start)
    return start, max(start, end)


def _parse(language: str, text: str) -> tuple[Snapshot, Node]:
    snapshot = Snapshot.build("untitled:check", language, 0, text, language=language)
    assert snapshot.tree is not None
    return snapshot, snapshot.tree.root_node


def _definitions_touching(
    language: str, text: str, start: int, end: int
) -> tuple[Snapshot, list[Node]]:
    snapshot, root = _parse(language, text)
    if language not in _DEFINITION_TYPES:
        return snapshot, []
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    found: list[Node] = []

    def visit(node: Node) -> None:
        for child in node.children:
            if child.end_byte <= start_byte or child.start_byte >= end_byte:
                continue
            if _is_definition(child, language):
                found.append(child)
            visit(child)

    visit(root)
    return snapshot, found


def _names_in(language: str, text: str, start: int, end: int) -> list[str]:
    snapshot, nodes = _definitions_touching(language, text, start, end)
    return [n for node in nodes if (n := _definition_name(node, snapshot))]


def _has_doc(language: str, text: str, start: int, end: int, names: Sequence[str]) -> bool:
    snapshot, nodes = _definitions_touching(language, text, start, end)
    wanted = [node for node in nodes if not names or _definition_name(node, snapshot) in names]
    if not wanted:
        return False
    for node in wanted:
        if language == "python":
            body = node.child_by_field_name("body")
            first = body.named_children[0] if body is not None and body.named_children else None
            if first is not None and _is_docstring(first):
                return True
        else:
            outer = _outermost(node)
            if _with_leading(outer) is not outer:
                return True
    return False


def _count_nodes(language: str, text: str, start: int, end: int) -> int:
    snapshot, root = _parse(language, text)
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    kinds = _ANNOTATION_NODES[language]
    count = 0

    def visit(node: Node) -> None:
        nonlocal count
        for child in node.children:
            if child.end_byte < start_byte or child.start_byte > end_byte:
                continue
            if child.type in kinds:
                count += 1
            visit(child)

    visit(root)
    return count


def python_tests_use_real_code(
    code: str, module: str | None, names: Sequence[str], existing: str = ""
) -> str:
    """Tests must exercise the real code: small models like to paste a copy of it into the
    test file. Copies are dropped, and the code is imported from ``module`` (None: the
    tests live in the same file, nothing to import) unless the answer or the ``existing``
    test file it is appended to already imports it."""
    snapshot, root = _parse("python", code)
    copies: list[tuple[int, int]] = []
    for child in root.children:
        node = child
        if child.type == "decorated_definition":
            node = child.child_by_field_name("definition") or child
        if node.type in ("function_definition", "class_definition") and (
            _definition_name(node, snapshot) in names
        ):
            copies.append(
                (
                    snapshot.offset_from_byte(child.start_byte),
                    snapshot.offset_from_byte(child.end_byte),
                )
            )
    for start, end in reversed(copies):
        code = code[:start].rstrip("\n") + "\n\n\n" + code[end:].lstrip("\n")
    lines = code.strip("\n").split("\n")
    if module is None:
        # The tests live next to the code: importing it from a guessed module would fail.
        kept = []
        for line in lines:
            match = _FROM_IMPORT.match(line)
            from_names = _imported_names(match[2]) if match else set()
            if not (from_names and from_names <= set(names)):
                kept.append(line)
        return "\n".join(kept).strip("\n")
    if not names:
        return "\n".join(lines)
    imported = False
    for index, line in enumerate(lines):
        match = _FROM_IMPORT.match(line)
        if match is None:
            continue
        if _imported_names(match[2]) & set(names):
            # `from your_module import f`: the model guessed the module's name.
            lines[index] = f"from {module} import {match[2]}"
            imported = True
    escaped = re.escape(module)
    has_import = re.compile(rf"^(import\s+{escaped}\b|from\s+{escaped}\s+import\s)", re.M)
    if imported or has_import.search(code) or has_import.search(existing):
        return "\n".join(lines)
    at = 0
    for index, line in enumerate(lines):
        if re.match(r"^(import|from)\s", line):
            at = index + 1
    lines.insert(at, f"from {module} import {', '.join(names)}")
    if (
        at + 1 < len(lines)
        and lines[at + 1].strip()
        and not re.match(r"^(import|from)\s", lines[at + 1])
    ):
        lines[at + 1 : at + 1] = ["", ""]
    return "\n".join(lines)


def python_docstring_inside(code: str) -> str:
    """Move a docstring written above a def or class (a common small-model slip) into
    its body, where Python looks for it. Code that has its docstrings right is returned
    unchanged."""
    snapshot, root = _parse("python", code)
    children = root.children
    for before, node in zip(children, children[1:], strict=False):
        definition = node.child_by_field_name("definition") or node
        if definition.type not in ("function_definition", "class_definition"):
            continue
        if not (
            before.type == "expression_statement"
            and len(before.named_children) == 1
            and before.named_children[0].type == "string"
        ):
            continue
        body = definition.child_by_field_name("body")
        if body is None or not body.named_children or _is_docstring(body.named_children[0]):
            continue
        lines = code.split("\n")
        doc_first, doc_last = before.start_point[0], before.end_point[0]
        body_row = body.named_children[0].start_point[0]
        if body_row <= definition.start_point[0]:
            continue  # a body on the def line ("def f(): return 1")
        body_indent = _indent_of(lines[body_row])
        doc_indent = len(_indent_of(lines[doc_first]))
        docstring = [
            body_indent + line[doc_indent:] if line.strip() else ""
            for line in lines[doc_first : doc_last + 1]
        ]
        between = [line for line in lines[doc_last + 1 : body_row]]
        while between and not between[0].strip():
            between.pop(0)
        return "\n".join(lines[:doc_first] + between + docstring + lines[body_row:])
    return code


def _only_comments(code: str, language: str) -> bool:
    _, root = _parse(language, code)
    return bool(root.children) and all(c.type in _COMMENTS for c in root.children)


def _without_leading_comments(code: str) -> str:
    lines = code.split("\n")
    while lines and lines[0].lstrip().startswith(("//", "/*", "*")):
        lines.pop(0)
    return "\n".join(lines)


_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})


def _is_docstring(node: Node) -> bool:
    return (
        node.type == "expression_statement"
        and bool(node.named_children)
        and node.named_children[0].type == "string"
    )


def _imported_names(clause: str) -> set[str]:
    return {n.strip().split(" as ")[0].strip("() ") for n in clause.split(",")}


_FROM_IMPORT = re.compile(r"^from\s+([\w.]+)\s+import\s+(.+)$")


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """One action to list: shown at once, computed only when chosen."""

    spec: ActionSpec
    title: str


def offers(
    snapshot: Snapshot,
    target: Target | None,
    custom: Sequence[CustomAction],
    only: Sequence[str] | None,
    has_diagnostics: bool,
) -> list[Offer]:
    """The actions for a target, filtered by the client's requested kinds (``only``)."""
    if target is None or snapshot.is_binary:
        return []
    found = []
    for spec in catalogue(custom):
        if only and not any(spec.kind == k or spec.kind.startswith(k + ".") for k in only):
            continue
        if not _offered_for(spec, snapshot):
            continue
        if spec.needs_definition and not target.names:
            continue
        if spec.answer == "code" and snapshot.language is None and spec.check:
            continue
        if spec.answer == "text" and line_comment(snapshot.language, snapshot.language_id) is None:
            continue
        title = spec.title
        if spec.id == "fix" and has_diagnostics:
            title = "Qwen: Fix the reported problems"
        found.append(Offer(spec, title))
    return found


def unified_diff(change: FileChange, old_name: str, new_name: str) -> str:
    old = change.base_text.splitlines(keepends=True)
    new = change.new_text().splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, "/dev/null" if change.create else old_name, new_name)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
