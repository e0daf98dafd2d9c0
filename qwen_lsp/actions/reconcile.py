"""Answers the way small models write them, made into the target's new text.

Asked for documentation, a small model writes the docstring alone, the function with its
docstring, the function inside a class it made up, or the docstring above the def; asked
for annotations, the signature alone or the whole function; asked to simplify, the
function plus examples of its use, or its body without the signature. Instead of taking
the answer as the new code, the part the action asked for is taken out of it and put into
the *original* code:

- documentation (:func:`with_docs`): each docstring or doc comment of the answer goes to
  the definition of the same name in the target (a lone one to the target's own
  definition), at that definition's indentation, replacing the one it had; the code
  itself is never taken from the answer;
- annotations (:func:`with_signatures`): each signature of the answer replaces the
  signature of the same-named function in the target; bodies are never taken;
- rewrites (:func:`trimmed_rewrite`): only the answer's definition of the target's name
  is kept (what surrounds it, example calls and made-up wrappers, is dropped), and a
  body without its signature is put under the original signature.

Each returns the target's new text with "\\n" line ends (None: the answer holds nothing
of what was asked); the checks then judge it as any other answer.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp import languages
from qwen_lsp.actions import pytypes
from qwen_lsp.actions.target import (
    Target,
    definition_name,
    is_definition,
    outermost,
    parse,
    with_leading,
)
from qwen_lsp.actions.text import dedent, indent_lines, indent_of, line_end, line_start
from qwen_lsp.documents import Snapshot

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
# Function nodes whose signature can be replaced (they have a name and parameters).
_SIGNATURE_NODES = frozenset(
    {
        "function_definition",
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "function_signature",
        "method_signature",
    }
)
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function"})


@dataclass(frozen=True)
class _Edit:
    start: int  # code points of the target's text
    end: int
    text: str


def _apply(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _walk(node: Node) -> list[Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(reversed(current.children))
    return found


class _Code:
    """A text (the document or an answer) with its tree, and offsets of its nodes."""

    def __init__(self, snapshot: Snapshot, root: Node, start: int = 0, end: int = -1) -> None:
        self.snapshot, self.root = snapshot, root
        self.text = snapshot.text
        self.start, self.end = start, len(self.text) if end < 0 else end

    @classmethod
    def of(cls, language: str, text: str) -> _Code:
        if language == "php" and "<?php" not in text:
            text = "<?php\n" + text  # else the grammar reads it as HTML
        snapshot, root = parse(language, text)
        return cls(snapshot, root)

    def offset(self, byte: int) -> int:
        return self.snapshot.offset_from_byte(byte)

    def node_text(self, node: Node) -> str:
        return self.text[self.offset(node.start_byte) : self.offset(node.end_byte)]

    def inside(self, node: Node) -> bool:
        return self.offset(node.start_byte) >= self.start and self.offset(node.end_byte) <= self.end

    def definitions(self, language: str) -> list[tuple[str, Node]]:
        """(name, node) of the definitions within the range, outer ones first, in order."""
        found = []
        for node in _walk(self.root):
            if node.type in ("decorated_definition", "export_statement"):
                continue  # the definition inside counts
            if is_definition(node, language) and self.inside(node):
                name = definition_name(node, self.snapshot)
                if name:
                    found.append((name, node))
        return found


# A method alone is no JavaScript: `name(a) { ... }` reads as a call and a block. An
# answer for a method is read inside a class.
_METHOD_WRAP = ("class __Answer {\n", "\n}\n")
_CLASS_LANGUAGES = frozenset({"javascript", "typescript", "tsx"})


def _reply(language: str, text: str, document: _Code, target: Target) -> _Code:
    """The answer's tree, read as what the target is (a method: inside a class)."""
    primary = _primary(document, target, language)
    if (
        language in _CLASS_LANGUAGES
        and primary is not None
        and primary.type in ("method_definition", "method_signature")
        and not re.match(r"\s*(export\s+)?(default\s+)?(abstract\s+)?class\b", text)
    ):
        return _Code.of(language, _METHOD_WRAP[0] + text + _METHOD_WRAP[1])
    return _Code.of(language, text)


def _primary(code: _Code, target: Target, language: str) -> Node | None:
    """The target's own definition: the first one named like the target."""
    for name, node in code.definitions(language):
        if target.names and name == target.names[0]:
            return node
    return None


# --- documentation ---------------------------------------------------------------------------


def with_docs(snapshot: Snapshot, target: Target, answer: str) -> str | None:
    """The target with the answer's documentation in place (None: the answer has none)."""
    language = snapshot.language
    if language is None or snapshot.tree is None:
        return None
    document = _Code(snapshot, snapshot.tree.root_node, target.start, target.end)
    reply = _reply(language, dedent(answer).strip("\n") + "\n", document, target)
    if language == "python":
        docs, lone = _python_docs(reply)
    else:
        docs, lone = _leading_docs(reply, language, dedent(answer))
    wanted: list[tuple[Node, str]] = []
    taken: set[int] = set()
    definitions = document.definitions(language)
    for name, doc in docs:
        for other, node in definitions:
            if other == name and node.id not in taken:
                taken.add(node.id)
                wanted.append((node, doc))
                break
    if not wanted and lone is None and docs and len(target.names) == 1:
        lone = docs[0][1]  # documentation of a function the model renamed: still ours
    if not wanted and lone is not None:
        primary = _primary(document, target, language)
        if primary is not None:
            wanted.append((primary, lone))
    if not wanted:
        return None
    edits = [
        edit
        for node, doc in wanted
        if (edit := _doc_edit(document, node, doc, language)) is not None
    ]
    if not edits:
        return None
    code = document.text[target.start : target.end]
    shifted = [_Edit(e.start - target.start, e.end - target.start, e.text) for e in edits]
    return _apply(code, shifted).replace("\r\n", "\n")


def _is_string_statement(node: Node | None) -> bool:
    return (
        node is not None
        and node.type == "expression_statement"
        and len(node.named_children) == 1
        and node.named_children[0].type == "string"
    )


def _python_docs(reply: _Code) -> tuple[list[tuple[str, str]], str | None]:
    """(name, docstring) of the answer's definitions, and a docstring written alone (or
    above code that defines nothing: the body without its signature)."""
    docs = []
    for name, node in reply.definitions("python"):
        definition = node.child_by_field_name("definition") or node
        body = definition.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        if _is_string_statement(first):
            assert first is not None
            docs.append((name, reply.node_text(first)))
            continue
        before = outermost(node).prev_named_sibling
        if _is_string_statement(before):  # the docstring written above the def
            assert before is not None
            docs.append((name, reply.node_text(before)))
    lone = None
    statements = reply.root.named_children
    if statements and _is_string_statement(statements[0]) and not docs:
        lone = reply.node_text(statements[0])
    return docs, lone


def _leading_docs(
    reply: _Code, language: str, answer: str
) -> tuple[list[tuple[str, str]], str | None]:
    """(name, doc comment) of the answer's definitions, and the comment lines the answer
    starts with (what a small model writes when asked for the doc comment alone, maybe
    followed by the start of the code, which may not parse)."""
    docs = []
    for name, node in reply.definitions(language):
        comments = _comment_block_above(outermost(node))
        if comments:
            start = reply.offset(comments[0].start_byte)
            end = reply.offset(comments[-1].end_byte)
            docs.append((name, reply.text[line_start(reply.text, start) : end]))
    return docs, _leading_comment_lines(answer)


_COMMENT_START = re.compile(r"\s*(//|/\*|\*|#|--)")


def _leading_comment_lines(answer: str) -> str | None:
    lines: list[str] = []
    in_block = False
    for line in answer.strip("\n").split("\n"):
        if not (in_block or _COMMENT_START.match(line)):
            break
        lines.append(line)
        opened, closed = line.rfind("/*"), line.rfind("*/")
        in_block = opened > closed if opened >= 0 or closed >= 0 else in_block
    return "\n".join(lines) if lines and not in_block else None


def _comment_block_above(node: Node) -> list[Node]:
    """The comments directly above a definition (above its attributes), top first."""
    first = with_leading(node)
    block = []
    sibling: Node | None = first
    while sibling is not None and sibling != node:
        if sibling.type in _COMMENTS:
            block.append(sibling)
        elif block:
            break  # an attribute after the comments: the doc ends there
        sibling = sibling.next_sibling
    return block


def _doc_edit(document: _Code, node: Node, doc: str, language: str) -> _Edit | None:
    text = document.text
    if language == "python":
        definition = node.child_by_field_name("definition") or node
        body = definition.child_by_field_name("body")
        if body is None or not body.named_children:
            return None
        first = body.named_children[0]
        if first.start_point[0] == definition.start_point[0]:
            return None  # a body on the def line: no room for a docstring
        at = line_start(text, document.offset(first.start_byte))
        indent = indent_of(text[at : line_end(text, at)])
        new = _python_doc_lines(doc, indent)
        if _is_string_statement(first):  # the docstring it had is replaced
            end = line_end(text, document.offset(first.end_byte))
            return _Edit(at, end, new)
        return _Edit(at, at, new + "\n")
    outer = outermost(node)
    at = line_start(text, document.offset(outer.start_byte))
    indent = indent_of(text[at : line_end(text, at)])
    new = indent_lines(dedent(doc), indent)
    old = _comment_block_above(outer)
    if old:
        start = line_start(text, document.offset(old[0].start_byte))
        last = document.offset(old[-1].end_byte)
        if text[last - 1 : last] == "\n":  # Rust's /// comments end with their newline
            last -= 1
        return _Edit(start, line_end(text, last), new)
    return _Edit(at, at, new + "\n")


def _python_doc_lines(doc: str, indent: str) -> str:
    """A docstring's source at ``indent``: the lines after the first keep their
    indentation relative to each other."""
    lines = doc.replace("\r\n", "\n").split("\n")
    rest = dedent("\n".join(lines[1:])).split("\n") if len(lines) > 1 else []
    return "\n".join(
        [indent + lines[0].strip()] + [indent + line if line.strip() else "" for line in rest]
    )


# --- annotations ------------------------------------------------------------------------------


def _function_of(node: Node) -> Node | None:
    """The node holding a definition's parameters (a declared arrow function's value)."""
    if node.type in _SIGNATURE_NODES:
        return node
    for inner in ("definition", "declaration"):
        child = node.child_by_field_name(inner)
        if child is not None:
            return _function_of(child)
    if node.type in ("lexical_declaration", "variable_declaration"):
        for declarator in node.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None and value.type in _FUNCTION_VALUES:
                return value
    return None


def _signature_span(code: _Code, function: Node, language: str) -> tuple[int, int] | None:
    """Code points of a function's signature: from its start to the colon (Python) or
    to its body ({, =>'s right side), without the space before the body."""
    start = code.offset(function.start_byte)
    if language == "python":
        colons = [c for c in function.children if c.type == ":"]
        if not colons:
            return None
        return start, code.offset(colons[-1].end_byte)
    body = function.child_by_field_name("body")
    end = code.offset(body.start_byte) if body is not None else code.offset(function.end_byte)
    return start, start + len(code.text[start:end].rstrip().rstrip(";").rstrip())


def _signatures(code: _Code, language: str) -> list[tuple[str, Node]]:
    found = []
    for name, node in code.definitions(language):
        function = _function_of(node)
        if function is not None:
            found.append((name, function))
    for node in _walk(code.root):  # signatures of methods alone (TypeScript)
        if node.type == "method_signature" and code.inside(node):
            name_node = node.child_by_field_name("name")
            if name_node is not None:
                found.append((code.node_text(name_node), node))
    return found


_DEF_LINE = re.compile(r"\s*(?:async\s+)?def\s")


def _with_bodies(answer: str, language: str) -> str:
    """Signatures written alone given a body (Python's ``...``, the braces left open
    closed), so that they parse."""
    if language != "python":
        return answer + "\n}" * max(0, answer.count("{") - answer.count("}"))
    out: list[str] = []
    header: str | None = None  # the indentation of a def whose header is being read
    opened: str | None = None  # ... of a def whose header ended: its body comes next
    for line in answer.split("\n"):
        if opened is not None and line.strip():
            if len(indent_of(line).expandtabs(4)) <= len(opened.expandtabs(4)):
                out.append(opened + "    ...")
            opened = None
        out.append(line)
        if _DEF_LINE.match(line):
            header = indent_of(line)
        if header is not None and re.sub(r"#.*$", "", line).rstrip().endswith(":"):
            opened, header = header, None
    if opened is not None:
        out.append(opened + "    ...")
    return "\n".join(out)


def with_signatures(snapshot: Snapshot, target: Target, answer: str) -> str | None:
    """The target with its functions' signatures taken from the answer, by name (None:
    the answer has no signature of the target's functions)."""
    language = snapshot.language
    if language is None or snapshot.tree is None:
        return None
    document = _Code(snapshot, snapshot.tree.root_node, target.start, target.end)
    text = _with_bodies(dedent(answer).strip("\n"), language) + "\n"
    reply = _reply(language, text, document, target)
    theirs = _signatures(reply, language)
    known = pytypes.known_names(document.text) if language == "python" else set()
    taken: set[int] = set()
    edits = []
    for name, function in _signatures(document, language):
        match = next((f for n, f in theirs if n == name and f.id not in taken), None)
        if match is None:
            continue
        taken.add(match.id)
        old = _signature_span(document, function, language)
        new = _signature_span(reply, match, language)
        if old is None or new is None:
            continue
        at = line_start(document.text, old[0])
        indent = indent_of(document.text[at : line_end(document.text, at)])
        lines = reply.text[new[0] : new[1]].split("\n")
        own = indent_of(reply.text[line_start(reply.text, new[0]) : new[0]])
        rest = [indent + _strip_prefix(line, own) if line.strip() else "" for line in lines[1:]]
        signature = "\n".join(lines[:1] + rest)
        if language == "python":
            signature = pytypes.builtin_generics(signature, known)
        edits.append(_Edit(old[0] - target.start, old[1] - target.start, signature))
    if not edits:
        return None
    code = document.text[target.start : target.end]
    return _apply(code, edits).replace("\r\n", "\n")


def _strip_prefix(line: str, prefix: str) -> str:
    return line[len(prefix) :] if line.startswith(prefix) else line.lstrip(" \t")


# --- rewrites ---------------------------------------------------------------------------------


def trimmed_rewrite(snapshot: Snapshot, target: Target, answer: str) -> str | None:
    """A rewrite of one definition without what small models add around it: found inside
    a wrapper the model made up (a class around a method), the definition alone; found at
    the top level, the answer without its top-level statements that are no definitions
    (example calls, prints, a ``__main__`` block; imports too unless the target is at the
    top level itself), helpers it defined kept. An answer that defines nothing becomes
    the body under the original signature. Anything else is returned as it was.

    None when the answer's definition is cut off: statements that use its parameters
    follow it a level too far out (a small model losing the indentation halfway through
    the body); taking the definition alone would drop them from the code."""
    language = snapshot.language
    if language is None or snapshot.tree is None or not target.is_definition or not target.names:
        return answer
    code = dedent(answer).strip("\n") + "\n"
    document = _Code(snapshot, snapshot.tree.root_node, target.start, target.end)
    reply = _reply(language, code, document, target)
    definitions = [(n, d) for n, d in reply.definitions(language) if n != "__Answer"]
    for name, node in definitions:
        if name != target.names[0]:
            continue
        outer = outermost(node)
        if _body_cut_off(reply, node, outer, language):
            return None
        if outer.parent is not None and outer.parent.parent is None:
            top_level = not indent_of(snapshot.text[target.start : target.end])
            whole = _Code(snapshot, snapshot.tree.root_node)
            # What the file has already (the prompt's context, copied back) is not new.
            known = {n for n, _ in whole.definitions(language)} - set(target.names)
            lines = {line.strip() for line in snapshot.text.splitlines()}
            return _without_statements(reply, language, top_level, known, lines, target.names)
        first = with_leading(outer)
        text = reply.text
        start = line_start(text, reply.offset(first.start_byte))
        return text[start : line_end(text, reply.offset(node.end_byte))]
    if definitions or not _is_body(language, code):
        return answer
    primary = _primary(document, target, language)
    if primary is None:
        return answer
    return _under_signature(document, primary, code.strip("\n"), target) or answer


def _without_statements(
    reply: _Code,
    language: str,
    keep_imports: bool,
    known: set[str],
    lines: set[str],
    own: Collection[str],
) -> str:
    """The answer's top level without its statements (and the comments above them), the
    definitions the file has already (``known`` names, or a header line it has, unless
    ``own``: the target's) and its imports (``lines``)."""
    record = languages.get(language)
    children = [c for c in reply.root.children if c.type != "php_tag"]
    keep: list[bool] = []
    for child in children:
        inner = _function_of(child) or child.child_by_field_name("definition") or child
        defines = (
            is_definition(child, language)
            or is_definition(inner, language)
            or child.type in ("decorated_definition", "export_statement")
        )
        name = definition_name(child, reply.snapshot) if defines else None
        # A definition whose header line the file has is the file's, copied back, even
        # where the file does not parse (its definitions then hide in an error node).
        header = reply.node_text(inner).split("\n", 1)[0].strip()
        keep.append(
            (defines and name not in known and (name in own or header not in lines))
            # (a Go file's imports and package clause come before its declarations)
            or (
                keep_imports
                and language != "go"
                and child.type in record.import_nodes
                and reply.node_text(child).strip() not in lines
            )
        )
    # A comment goes with the node below it.
    following = True
    for index in range(len(children) - 1, -1, -1):
        if children[index].type in _COMMENTS:
            keep[index] = following
        else:
            following = keep[index]
    text = reply.text
    spans = [
        (line_start(text, reply.offset(c.start_byte)), line_end(text, reply.offset(c.end_byte)))
        for c, kept in zip(children, keep, strict=True)
        if not kept
    ]
    for start, end in reversed(spans):
        text = text[:start] + text[end + 1 :]
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n")


def _body_cut_off(reply: _Code, node: Node, outer: Node, language: str) -> bool:
    """Whether statements after a Python definition, at its own level, use its
    parameters: its body's tail, written a level too far out."""
    function = _function_of(node)
    if language != "python" or function is None:
        return False
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return False
    names = set()
    for parameter in parameters.named_children:
        name = parameter.child_by_field_name("name") or parameter
        if name.type != "identifier":  # *args, **kwargs, a typed one: the identifier in it
            name = next((c for c in name.named_children if c.type == "identifier"), name)
        if name.type == "identifier":
            names.add(reply.node_text(name))
    sibling = outer.next_sibling
    while sibling is not None:
        if not is_definition(sibling, language) and sibling.type not in _COMMENTS | {
            "decorated_definition",
            "import_statement",
            "import_from_statement",
        }:
            used = {reply.node_text(n) for n in _walk(sibling) if n.type == "identifier"}
            if used & names:
                return True
        sibling = sibling.next_sibling
    return False


# Statements parse at the top level of a file in some languages only: elsewhere they are
# tried inside a function.
_BODY_WRAPPERS = {"go": ("func _() {\n", "\n}\n"), "rust": ("fn _() {\n", "\n}\n")}


def _is_body(language: str, code: str) -> bool:
    """Whether an answer reads as a function's statements (and not as broken code)."""
    before, after = _BODY_WRAPPERS.get(language, ("", ""))
    return not _Code.of(language, before + code + after).root.has_error


def _under_signature(document: _Code, node: Node, body_text: str, target: Target) -> str | None:
    """The target with the body of ``node`` replaced by ``body_text``."""
    definition = _function_of(node) or node.child_by_field_name("definition") or node
    body = definition.child_by_field_name("body")
    if body is None or not body.named_children:
        return None
    text = document.text
    first = body.named_children[0]
    start = line_start(text, document.offset(first.start_byte))
    if start <= line_start(text, document.offset(definition.start_byte)):
        return None  # the body starts on the signature's line
    indent = indent_of(text[start : line_end(text, start)])
    last = body.named_children[-1]
    end = line_end(text, document.offset(last.end_byte))
    new_body = indent_lines(dedent(body_text), indent)
    code = text[target.start : target.end]
    edit = _Edit(start - target.start, end - target.start, new_body)
    return _apply(code, [edit]).replace("\r\n", "\n")


def signature_start(snapshot: Snapshot, target: Target) -> str:
    """How an annotated-signature answer is started: the target's one function up to its
    first parameter without a type, and the colon ("def mean(values: "), else up to its
    parameters' end and the return type's arrow or colon ("def mean(values: list) -> ").
    Started so, the small model writes a type there and goes on in that style; started
    at the bracket, it copies the signature as it was. "" when the target is not one
    function (or all is annotated: then the bracket)."""
    language = snapshot.language
    if language is None or snapshot.tree is None or len(target.names) != 1:
        return ""
    document = _Code(snapshot, snapshot.tree.root_node, target.start, target.end)
    primary = _primary(document, target, language)
    function = _function_of(primary) if primary is not None else None
    if function is None or function.type not in _SIGNATURE_NODES:
        return ""
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return ""
    text = document.text
    start = document.offset(function.start_byte)
    indent = indent_of(text[line_start(text, start) : start])

    def upto(byte: int, then: str) -> str:
        lines = text[start : document.offset(byte)].split("\n")
        return "\n".join(lines[:1] + [_strip_prefix(line, indent) for line in lines[1:]]) + then

    for index, parameter in enumerate(parameters.named_children):
        end = _untyped_name_end(parameter, language, index, document)
        if end is not None:
            return upto(end, ": ")
    if function.child_by_field_name("return_type") is None:
        return upto(parameters.end_byte, " -> " if language == "python" else ": ")
    return upto(parameters.start_byte + 1, "")


def _untyped_name_end(parameter: Node, language: str, index: int, code: _Code) -> int | None:
    """Where a parameter without a type ends its name (None: it has one, or needs none)."""
    if language == "python":
        if parameter.type == "identifier":
            if index == 0 and code.node_text(parameter) in ("self", "cls"):
                return None
            return parameter.end_byte
        if parameter.type == "default_parameter":
            name = parameter.child_by_field_name("name")
            return name.end_byte if name is not None else None
        if parameter.type in ("list_splat_pattern", "dictionary_splat_pattern"):
            return parameter.end_byte
        return None
    if parameter.type in ("required_parameter", "optional_parameter"):
        if parameter.child_by_field_name("type") is not None:
            return None
        pattern = parameter.child_by_field_name("pattern")
        if pattern is None or code.node_text(pattern) == "this":
            return None
        after = pattern.next_sibling
        return after.end_byte if after is not None and after.type == "?" else pattern.end_byte
    return None
