"""Why a change must not be applied: the last gate before an answer reaches the editor.

A change that adds a syntax error to the file, drops a definition, or does not do what
the action claims (no docstring, no annotations, no tests) is refused with a message
instead. Syntax, definitions, docstrings and annotations are read from a fresh
tree-sitter parse of the changed text; tests are recognised by a pattern per language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from tree_sitter import Node

from qwen_lsp import languages, syntax, uris
from qwen_lsp.actions import pytypes
from qwen_lsp.actions.edits import FileChange, OffsetEdit
from qwen_lsp.actions.prompt import ActionInput
from qwen_lsp.actions.target import (
    definition_name,
    definitions_touching,
    has_documentation,
    is_docstring,
    parse,
)
from qwen_lsp.documents import MAX_PARSE_BYTES, Snapshot
from qwen_lsp.languages import LanguageSpec


def check_change(action: ActionInput, change: FileChange) -> str:
    """Why a change must not be applied ("" when it may)."""
    language = change.language
    spec = action.spec
    record = languages.find(language)
    new_text = change.new_text()
    if language is not None and max(len(new_text), len(change.base_text)) > MAX_PARSE_BYTES:
        # Parsing it (twice, and again per check) would take seconds per megabyte.
        name = uris.name(change.uri) or change.uri
        limit = MAX_PARSE_BYTES // 1_000_000
        return f"{name} is too large (over {limit} MB) for qwen-lsp to check the model's answer"
    outside = _edits_outside(action, change)
    imported: list[str] = []  # names the annotate action's added imports bind
    for edit in outside:
        names = _claimed_import(action, change, edit)
        if names is None:
            what = f"`{action.target.names[0]}`" if action.target.names else "the selection"
            return f"the model's answer changes code outside {what}"
        imported.extend(names)
    region = _changed_region(action, change, outside)
    if language is not None:
        old_errors = _count_errors(language, change.base_text) if change.base_text else 0
        new_errors = _count_errors(language, new_text)
        if new_errors > old_errors:
            first_edit = min(change.edits, key=lambda e: e.start).start if change.edits else 0
            line = _error_line(language, new_text, first_edit)
            where = f" at line {line}" if line is not None else ""
            name = uris.name(change.uri) or change.uri
            return f"the model's answer would add a syntax error to {name}{where}"
    if language == "python" and change.uri == action.snapshot.uri:
        line = _python_error_in(new_text, *region)
        if line is not None:
            # tree-sitter reads a line indented out of place as code; Python does not.
            name = uris.name(change.uri) or change.uri
            return f"the model's answer would add a syntax error to {name} at line {line}"
    if spec.keep_names and language is not None and action.target.names:
        defined = set(_names_in(language, new_text, *region))
        missing = [n for n in action.target.names if n not in defined]
        if missing:
            return f"the model's answer drops `{missing[0]}`"
    if spec.check == "tests":
        added = "".join(e.text for e in change.edits)
        marker = record.test_marker if record is not None else None
        if marker is not None and not marker.search(added):
            return "the model's answer contains no tests"
    old_region = (action.target.start, action.target.end)
    if spec.changes_code and language is not None:
        if _tokens(language, change.base_text, *old_region, _is_layout) == _tokens(
            language, new_text, *region, _is_layout
        ):
            return (
                "the model found nothing to simplify here: its answer only changes the "
                "layout or the comments, not the code"
            )
    if spec.check == "docstring" and language is not None:
        if not _has_doc(language, new_text, *region, action.target.names):
            return "the model did not add a docstring"
        # Documentation only: the code must read the same without its comments and docstrings.
        if _tokens(language, change.base_text, *old_region, _is_doc) != _tokens(
            language, new_text, *region, _is_doc
        ):
            return "the model's answer changes the code, not only its documentation"
    if spec.check == "annotations" and record is not None and record.annotation_nodes:
        before = _count_nodes(record, change.base_text, action.target.start, action.target.end)
        after = _count_nodes(record, new_text, *region)
        if after <= before:
            return "the model added no type annotations"

        def is_annotation(node: Node) -> bool:
            return _is_annotation(node, record.annotation_nodes)

        if _tokens(language, change.base_text, *old_region, is_annotation) != _tokens(
            language, new_text, *region, is_annotation
        ):
            return "the model's answer changes the code, not only its type annotations"
        used = pytypes.annotation_names(new_text, *region) if imported else []
        if len(set(imported)) < len(imported) or not set(imported) <= set(used):
            # An import the new annotations do not need is not the action's to add.
            name = uris.name(change.uri) or change.uri
            return f"the model's answer imports what the annotations of {name} do not use"
        unknown = (
            pytypes.unknown_names(change.base_text, new_text, *region)
            if language == "python"
            else []
        )
        unknown = [n for n in unknown if n not in imported]
        if unknown:
            # Evaluated when the def runs: the module would no longer import.
            name = uris.name(change.uri) or change.uri
            return f"the model's annotations use `{unknown[0]}`, which {name} does not import"
    return ""


_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})


def _tokens(
    language: str | None, text: str, start: int, end: int, skip: Callable[[Node], bool]
) -> list[str]:
    """The tokens of code points [start, end] of ``text`` (whitespace aside), without the
    nodes ``skip`` says; strings and comments count whole."""
    assert language is not None
    snapshot, root = parse(language, text)
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    source = snapshot.source
    strings = languages.get(language).completion.string_node_types
    out: list[str] = []

    def visit(node: Node) -> None:
        for child in node.children:
            if child.end_byte <= start_byte or child.start_byte >= end_byte or skip(child):
                continue
            if child.child_count == 0 or child.type in strings or child.type in _COMMENTS:
                out.append(source[child.start_byte : child.end_byte].decode("utf-8", "replace"))
            else:
                visit(child)

    visit(root)
    return out


def _is_doc(node: Node) -> bool:
    """A comment, or a Python docstring (the first statement of a body)."""
    if node.type in _COMMENTS:
        return True
    parent = node.parent
    return (
        is_docstring(node)
        and parent is not None
        and parent.type in ("block", "module")
        and parent.named_children[0] == node
    )


def _is_layout(node: Node) -> bool:
    """What does not change what code does: comments, docstrings, and the semicolons
    JavaScript's automatic insertion would put there anyway (statement ends only)."""
    if _is_doc(node):
        return True
    parent = node.parent
    return (
        node.type == ";"
        and parent is not None
        and parent.type.endswith(("statement", "declaration"))
        and node.next_sibling is None
    )


def _is_annotation(node: Node, kinds: frozenset[str]) -> bool:
    """A type annotation, or the `:` / `->` before one (Python's annotation node has no
    room for it)."""
    if node.type in kinds:
        return True
    following = node.next_sibling
    return node.type in (":", "->") and following is not None and following.type in kinds


def _edits_outside(action: ActionInput, change: FileChange) -> list[OffsetEdit]:
    """The edits of a rewrite of the target that are not within it (the only ones an
    action may make there: the annotate action's imports, inserted above it)."""
    if change.uri != action.snapshot.uri or action.placement != "replace":
        return []
    start, end = action.target.start, action.target.end
    return [
        e
        for e in change.edits
        if e.start < start
        or e.end > end
        or (e.start == e.end == start and pytypes.added_imports(e.text) is not None)
    ]


def _claimed_import(action: ActionInput, change: FileChange, edit: OffsetEdit) -> list[str] | None:
    """The names ``edit``, an edit outside the target, imports when it is an import the
    annotate action may add (None: it is not, and the answer changes code it did not claim
    to change): inserted above the target, nothing but imports from the standard
    library's typing modules, of names the file did not bind."""
    if action.spec.check != "annotations" or change.language != "python":
        return None
    if edit.start != edit.end or edit.end > action.target.start:
        return None
    names = pytypes.added_imports(edit.text)
    if names is None or set(names) & pytypes.known_names(change.base_text):
        return None
    return names


def _changed_region(
    action: ActionInput, change: FileChange, outside: Sequence[OffsetEdit] = ()
) -> tuple[int, int]:
    """Code points of the new text holding what the action wrote: the target with its
    rewrite (``outside`` it: the edits above it, which shift it), or the inserted text."""
    if change.uri == action.snapshot.uri and action.placement == "replace":
        inside = [e for e in change.edits if e not in outside]
        before = sum(len(e.text) - (e.end - e.start) for e in outside)
        delta = sum(len(e.text) - (e.end - e.start) for e in inside)
        return action.target.start + before, action.target.end + before + delta
    start, end, shift = len(change.new_text()), 0, 0
    for edit in sorted(change.edits, key=lambda e: e.start):
        start = min(start, edit.start + shift)
        end = max(end, edit.start + shift + len(edit.text))
        shift += len(edit.text) - (edit.end - edit.start)
    return start, max(start, end)


def _error_line(language: str, text: str, near: int) -> int | None:
    """1-based line of the first syntax error of ``text`` at or after code point ``near``
    (where the new code starts); None when it parses.

    Error recovery can open an ERROR node long before the real problem: an error that
    starts before ``near`` is reported at ``near``.
    """
    snapshot, root = parse(language, text)
    if not root.has_error:
        return None
    near_byte = snapshot.byte_offset(min(near, len(text)))
    for node in _walk(root):
        if (node.is_error or node.is_missing) and node.end_byte >= near_byte:
            return snapshot.position_from_byte(max(node.start_byte, near_byte))[0] + 1
    return snapshot.position_at(min(near, len(text)))[0] + 1


def _python_error_in(text: str, start: int, end: int) -> int | None:
    """1-based line of the syntax error Python's compiler finds first in ``text``, when
    it is within code points [start, end] (the new code); None otherwise. Compiled,
    never run."""
    try:
        compile(text, "<action>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno or 0
        first = text.count("\n", 0, start) + 1
        last = text.count("\n", 0, end) + 1
        return line if first <= line <= last else None
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if node.has_error or node.child_count:
        for child in node.children:
            yield from _walk(child)


def _count_errors(language: str, text: str) -> int:
    tree = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
    return syntax.count_errors(tree.root_node)


def _definitions_touching(
    language: str, text: str, start: int, end: int
) -> tuple[Snapshot, list[Node]]:
    snapshot, root = parse(language, text)
    return snapshot, definitions_touching(snapshot, root, start, end)


def _names_in(language: str, text: str, start: int, end: int) -> list[str]:
    snapshot, nodes = _definitions_touching(language, text, start, end)
    return [n for node in nodes if (n := definition_name(node, snapshot))]


def _has_doc(language: str, text: str, start: int, end: int, names: Sequence[str]) -> bool:
    snapshot, nodes = _definitions_touching(language, text, start, end)
    wanted = [node for node in nodes if not names or definition_name(node, snapshot) in names]
    return any(has_documentation(node, language) for node in wanted)


def _count_nodes(record: LanguageSpec, text: str, start: int, end: int) -> int:
    """Annotation nodes of ``record``'s language in code points [start, end] of ``text``."""
    snapshot, root = parse(record.name, text)
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    kinds = record.annotation_nodes
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
