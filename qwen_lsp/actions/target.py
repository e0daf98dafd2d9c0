"""The code an action works on, found with tree-sitter.

The user's range becomes a :class:`Target` of whole lines; an empty range means the
function or class around it. The definition helpers here (what is a definition, its
name, what wraps it) are also what :mod:`.checks` uses to see whether an answer kept
the definitions and added their documentation.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp import languages, syntax
from qwen_lsp.actions.text import line_end, line_start
from qwen_lsp.documents import Snapshot

# What a definition is in a language is its record's (``definitions.targets``); the node
# types below have one meaning in every grammar that has them, so they are not per language.
# `const f = () => ...` is a definition when its value is a function (the record's
# ``definitions.target_values``).
_VARIABLE_DECLARATIONS = frozenset({"lexical_declaration", "variable_declaration"})
# Nodes that wrap a definition and belong to it (decorators, `export`).
_WRAPPERS = frozenset({"decorated_definition", "export_statement"})
# Siblings directly above a definition that belong to it (doc comments, attributes).
_LEADING = frozenset({"comment", "line_comment", "block_comment", "attribute_item"})


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
    spec = languages.find(snapshot.language)
    one_line = line_start(text, start) == line_start(text, end)
    if start == end or (widen_line and one_line):
        node = None
        if tree is not None and spec is not None:
            byte = snapshot.byte_offset(start)
            node = _enclosing_definition(tree.root_node, byte, byte, spec.name)
        if node is not None:
            first = with_leading(node)
            t_start = line_start(text, snapshot.offset_from_byte(first.start_byte))
            t_end = line_end(text, snapshot.offset_from_byte(node.end_byte))
            if node.has_error and snapshot.language == "python":
                def_line = line_start(text, snapshot.offset_from_byte(node.start_byte))
                t_end = min(t_end, _python_block_end(text, def_line))
            name = definition_name(node, snapshot)
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
            end = line_end(text, start)
            start = line_start(text, start)
            if start == end:
                return None
    if end > start and line_start(text, end) == end and text[end - 1] in "\r\n":
        end -= 2 if text[end - 2 : end] == "\r\n" else 1  # the line ending before `end`
    t_start, t_end = line_start(text, start), line_end(text, end)
    if not text[t_start:t_end].strip():
        return None
    names: tuple[str, ...] = ()
    top_names: tuple[str, ...] = ()
    scope = (t_start, t_end)
    if tree is not None and spec is not None:
        start_byte, end_byte = snapshot.byte_offset(t_start), snapshot.byte_offset(t_end)
        named = [
            (n, _top_level_name(node, snapshot) or n)
            for node in _definitions_within(tree.root_node, start_byte, end_byte, spec.name)
            if (n := definition_name(node, snapshot))
        ]
        names = tuple(n for n, _ in named)
        top_names = tuple(t for _, t in named)
        enclosing = _enclosing_definition(tree.root_node, start_byte, end_byte, spec.name)
        if enclosing is not None:
            scope = (
                line_start(text, snapshot.offset_from_byte(with_leading(enclosing).start_byte)),
                line_end(text, snapshot.offset_from_byte(enclosing.end_byte)),
            )
    return Target(t_start, t_end, names, False, *scope, top_names)


def _python_block_end(text: str, def_line: int) -> int:
    """Where the Python definition whose line starts at ``def_line`` ends by its
    indentation: the end of its last line before code at its own level or further out.

    WHY: in a definition that does not parse (the very bug a fix is asked for: a ``)``
    removed), tree-sitter's recovery can stretch it over the next definitions; a fix
    taken as a rewrite of that span changed the next method (calendar.py's `prmonth`
    swallowed `formatmonth`). The indentation still says where it ends."""
    header = text[def_line : line_end(text, def_line)]
    level = len(header) - len(header.lstrip())
    last = line_end(text, def_line)
    position = last + 1
    while position < len(text):
        end = line_end(text, position)
        line = text[position:end]
        code = line.strip()
        if code and not code.startswith(("#", ")", "]", "}")):
            if len(line) - len(line.lstrip()) <= level:
                break
        if code:
            last = end
        position = end + 1
    return last


def _top_level_name(node: Node, snapshot: Snapshot) -> str | None:
    """The name of the top-level definition that holds ``node``."""
    top = node
    while top.parent is not None and top.parent.parent is not None:
        top = top.parent
    if top is node:
        return definition_name(outermost(node), snapshot)
    return definition_name(top, snapshot)


def is_definition(node: Node, language: str) -> bool:
    """Whether a node is a definition an action takes whole (a supported language's)."""
    definitions = languages.get(language).definitions
    if node.type in definitions.targets:
        return True
    if node.type in _VARIABLE_DECLARATIONS:
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        return len(declarators) == 1 and any(
            (value := d.child_by_field_name("value")) is not None
            and value.type in definitions.target_values
            for d in declarators
        )
    return False


def outermost(node: Node) -> Node:
    """A definition with what wraps it (decorators, export)."""
    while node.parent is not None and node.parent.type in _WRAPPERS:
        node = node.parent
    return node


def with_leading(node: Node) -> Node:
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
        if is_definition(node, language) and node.start_byte <= start_byte:
            return outermost(node)
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
            if inside and is_definition(child, language):
                found.append(child)
            elif child.type in _WRAPPERS and inside:
                inner = [c for c in child.named_children if is_definition(c, language)]
                found.extend(inner[:1])
            else:
                visit(child)

    visit(root)
    return found


def definitions_touching(snapshot: Snapshot, root: Node, start: int, end: int) -> list[Node]:
    """Every definition (nested ones too) overlapping code points [start, end]."""
    language = snapshot.language
    if language is None or languages.find(language) is None:
        return []
    start_byte, end_byte = snapshot.byte_offset(start), snapshot.byte_offset(end)
    found: list[Node] = []

    def visit(node: Node) -> None:
        for child in node.children:
            if child.end_byte <= start_byte or child.start_byte >= end_byte:
                continue
            if is_definition(child, language):
                found.append(child)
            visit(child)

    visit(root)
    return found


def has_documentation(node: Node, language: str) -> bool:
    """A definition has a docstring (Python) or a comment directly above it."""
    if language == "python":
        body = node.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        return first is not None and is_docstring(first)
    outer = outermost(node)
    return with_leading(outer) is not outer


def is_docstring(node: Node) -> bool:
    return (
        node.type == "expression_statement"
        and bool(node.named_children)
        and node.named_children[0].type == "string"
    )


def definition_name(node: Node, snapshot: Snapshot) -> str | None:
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


def parse(language: str, text: str) -> tuple[Snapshot, Node]:
    """The tree of a text that is no open document (an answer, a file as changed)."""
    snapshot = Snapshot.build("untitled:check", language, 0, text, language=language)
    tree = snapshot.tree
    if tree is None:  # NUL in the text (or a huge one): the parser still reads it
        tree = syntax.get_parser(language).parse(snapshot.source)
    return snapshot, tree.root_node
