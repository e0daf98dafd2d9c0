"""Tree-sitter parsers, and the "should we complete here, and how much?" decision.

What differs between languages (grammars, block and string node types, comment syntax) is
data in :mod:`qwen_lsp.languages`; this module holds the algorithms that read it.

Coordinates: :func:`completion_kind` takes a code-point offset into ``text`` (what a
:class:`qwen_lsp.documents.Snapshot` hands out) and encodes the text itself to find the
byte offsets tree-sitter needs; everything else in this module speaks tree-sitter bytes.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Literal

from tree_sitter import Language, Node, Parser, Tree

from qwen_lsp import languages
from qwen_lsp.languages import CompletionRules, LanguageSpec

CompletionKind = Literal["none", "line", "block"]

# Encoding used for every str -> tree-sitter bytes conversion in the project. "surrogatepass"
# keeps lone surrogates (JSON allows them) one code point = 3 bytes instead of crashing.
UTF8_ERRORS = "surrogatepass"


_languages: dict[str, Language] = {}
_languages_lock = threading.Lock()


def get_language(language: str) -> Language:
    """The tree-sitter Language of a supported language (loaded once, then cached)."""
    with _languages_lock:
        cached = _languages.get(language)
        if cached is not None:
            return cached
        module_name, function_name = languages.get(language).grammar
        loader: Callable[[], object] = getattr(importlib.import_module(module_name), function_name)
        loaded = Language(loader())
        _languages[language] = loaded
        return loaded


def get_parser(language: str) -> Parser:
    """A new Parser for ``language``.

    A tree-sitter Parser must not be used from two threads at once and costs next to nothing
    to create, so every caller gets its own instead of sharing a cached one.
    """
    return Parser(get_language(language))


def count_errors(node: Node) -> int:
    """Number of ERROR and MISSING nodes in the subtree rooted at ``node`` (itself included)."""
    count = 0
    cursor = node.walk()
    while True:
        current = cursor.node
        assert current is not None
        if current.is_error or current.is_missing:
            count += 1
        # has_error is false for a subtree without ERROR/MISSING nodes: skip it whole.
        if current.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or cursor.node == node:
                return count


def has_error_on_row(node: Node, row: int) -> bool:
    """Whether line ``row`` (0-based) holds a syntax error: an ERROR or MISSING node under
    ``node`` starts on it, or an ERROR node that ends on it holds a token of it that the
    parser could not place (a stray ``)``). WHY the second: tree-sitter-go wraps the
    statements above a stray closer into the ERROR with it (``defer stdout‸)``: the ERROR
    starts at the block's first statement). An ERROR that only passes over the row comes
    from code above."""
    if not node.has_error and not node.is_missing:
        return False
    if (node.is_error or node.is_missing) and node.start_point[0] == row:
        return True
    if node.is_error and node.end_point[0] == row:
        if any(c.child_count == 0 and c.start_point[0] == row for c in node.children):
            return True
    return any(
        has_error_on_row(child, row)
        for child in node.children
        if child.start_point[0] <= row <= child.end_point[0]
    )


# --- completion kind -----------------------------------------------------------------------------

_CLOSERS = frozenset("\"'`)]}>;,")
_PLAIN_OPENERS = (":", "{")


def completion_kind(
    tree: Tree | None, text: str, offset: int, language: str | None, *, byte_start: int = 0
) -> CompletionKind:
    """Decide whether to complete at code-point ``offset`` of ``text``, and how much.

    - "none": an identifier character right after the cursor (completing would splice into a
      word), or the cursor is inside a string or comment and something other than closing
      quotes/brackets follows on the line.
    - "block": the cursor is alone on its line (only whitespace around it) and the previous
      non-blank, non-comment line ends with a block opener the tree confirms (python ``:`` of
      a def/if/for/...; ``{`` of a body); or the cursor ends a line that ends with such an
      opener (``def f():‸``); or the cursor sits inside an empty body (``{‸}``).
    - "block" also on a blank line (only whitespace around the cursor) among statements.
    - "line" otherwise. Without a tree (or language) the identifier rule still applies and
      "block" comes from a plain-text heuristic: blank line, deeper indentation than the
      previous line, which ends with an opener character.

    ``tree`` must be the parse of exactly ``text`` (UTF-8, lone surrogates "surrogatepass"),
    or of a document that holds ``text`` at byte ``byte_start`` (a window of whole lines
    around the cursor: the work is then bounded by the window); an offset outside the text
    is clamped to it.
    """
    offset = max(0, min(offset, len(text)))
    line_start = _line_start(text, offset)
    line_end = _line_end(text, offset)
    before = text[line_start:offset]
    after = text[offset:line_end]
    if after and _is_identifier_char(after[0]):
        return "none"
    spec = languages.find(language)
    if spec is None or tree is None:
        return "block" if _plain_block(text, line_start, before, after, spec) else "line"
    rules = spec.completion

    root = tree.root_node
    line_start_byte = byte_start + len(text[:line_start].encode("utf-8", UTF8_ERRORS))
    byte_offset = line_start_byte + len(before.encode("utf-8", UTF8_ERRORS))
    if _inside_literal(root, byte_offset, before, rules):
        return "line" if _only_closers(after) else "none"

    if not after.strip() and _opener_above(root, text, offset, line_start_byte, spec):
        return "block"
    if _only_closers(after) and _in_empty_block(root, byte_offset, rules):
        return "block"
    if (
        not before.strip()
        and not after.strip()
        and not _deeper_code_follows(
            text, line_end, _blank_line_indent(text, line_start, before, spec.line_comment)
        )
        and _among_statements(root, byte_offset, rules)
    ):
        # A blank line among statements: the user is about to write statements, often
        # several (the rest of a body after its docstring). The cutting rules keep the
        # block to the lines that belong there. Inside a literal it stays one entry.
        return "block"
    return "line"


_BRACKETS = frozenset("{[(")

# Nodes that are a function or method, in the grammars of qwen_lsp.languages: their body is
# where opens_function_body finds the cursor.
_FUNCTION_NODE_TYPES = frozenset(
    {
        "function_definition",  # Python, C, C++, PHP, Bash
        "function_declaration",  # JavaScript, TypeScript, Go, Kotlin, Lua
        "generator_function_declaration",
        "function_expression",
        "function",
        "generator_function",
        "arrow_function",
        "method_definition",  # JavaScript, TypeScript classes
        "method_declaration",  # Java, C#, Go, PHP
        "constructor_declaration",
        "func_literal",  # Go
        "function_item",  # Rust
        "closure_expression",
        "method",  # Ruby
        "singleton_method",
        "local_function_statement",  # C#
    }
)


def opens_function_body(
    tree: Tree | None, text: str, offset: int, language: str | None, *, byte_start: int = 0
) -> bool:
    """Whether a block asked at code-point ``offset`` begins a function's body: the cursor
    ends the function's header line (``def f(x):‸``), or is alone on a line below it with
    only blank and comment lines between. ``tree`` and ``byte_start`` as for
    :func:`completion_kind`."""
    spec = languages.find(language)
    if spec is None or tree is None:
        return False
    offset = max(0, min(offset, len(text)))
    line_start = _line_start(text, offset)
    if text[offset : _line_end(text, offset)].strip():
        return False
    line_start_byte = byte_start + len(text[:line_start].encode("utf-8", UTF8_ERRORS))
    opener = _opener_above(tree.root_node, text, offset, line_start_byte, spec)
    owner = opener.parent if opener is not None else None
    if owner is not None and owner.type in spec.completion.block_node_types:
        owner = owner.parent  # a brace language's "{" belongs to the body, not the function
    return owner is not None and owner.type in _FUNCTION_NODE_TYPES


def _opener_above(
    root: Node, text: str, offset: int, line_start_byte: int, spec: LanguageSpec
) -> Node | None:
    """The block opener the cursor's line ends with before the cursor, or, for a cursor
    alone on its line, the one the code line above it ends with (None: neither)."""
    line_start = _line_start(text, offset)
    if text[line_start:offset].strip():
        opener_line: tuple[int, int] | None = (line_start, offset)
    else:
        opener_line = _previous_code_line(text, line_start, spec.line_comment)
    if opener_line is None:
        return None
    start, end = opener_line
    start_byte = line_start_byte - len(text[start:line_start].encode("utf-8", UTF8_ERRORS))
    return _block_opener(root, text[start:end], start_byte, spec.completion)


def _blank_line_indent(text: str, line_start: int, before: str, line_comment: str | None) -> str:
    """The indentation a blank cursor line stands for: its own, or at column 0 of a line
    whose whitespace the editor stripped, that of the code line above it.

    WHY: at column 0 every line of an indented body is "deeper" than the cursor, so the
    next statement of the same body read as the body of a statement about to be written
    and a hole among statements got one line (issue 17: the few-lines holes at column 0
    scored 26% against 35% after the indentation)."""
    if before:
        return before
    previous = _previous_code_line(text, line_start, line_comment)
    if previous is None:
        return before
    line = text[previous[0] : previous[1]]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _deeper_code_follows(text: str, line_end: int, indent: str) -> bool:
    """The next non-blank line is indented deeper than ``indent``: it is the body of
    whatever goes on this line, so this line is one statement, not a block."""
    line = _next_code_line(text, line_end, None)
    if line is None:
        return False
    width = len(line) - len(line.lstrip())
    return len(line[:width].expandtabs(8)) > len(indent.expandtabs(8))


def implied_indent(text: str, offset: int, language: str | None, unit: str) -> str:
    """The indentation a bare line needs, when the cursor sits at its column 0 and the code
    around it says which; "" anywhere else, and where the code around leaves it open.
    ``unit``: the file's indentation step.

    Said by the code lines above and below (comments skipped): the same indentation on
    both, the line above opening nothing, is a place between two statements of one
    block; a line above that opens a block or a bracket is a place in that body: the
    line below's indentation when it is deeper, else (the body is empty) a step deeper
    than the opener. A line below indented less (the block may end here or go on) or
    deeper after a plain statement (this line may open a block) leaves it open.

    WHY: an editor leaves the cursor at column 0 of an empty line (moving onto it, or a
    save that strips trailing whitespace), and there the model chose the indentation
    itself: it wrote a method after a constructor's assignments, or statements of the
    enclosing block (issue 17: one-line holes at column 0 scored 49.6 edit similarity
    where the same holes after the indentation score far more). Asked as if the
    indentation were typed, the request is the one after the indentation.
    """
    line_start = _line_start(text, offset)
    line_end = _line_end(text, offset)
    if offset != line_start or text[offset:line_end].strip():
        return ""
    spec = languages.find(language)
    line_comment = spec.line_comment if spec is not None else None
    previous = _previous_code_line(text, line_start, line_comment)
    if previous is None:
        return ""
    above = _without_line_comment(text[previous[0] : previous[1]], line_comment)
    above_indent = _statement_indent(text, previous[0], above, line_comment)
    block_openers = spec.completion.block_openers if spec is not None else _PLAIN_OPENERS
    opens = _ends_with_token(above, (*block_openers, "(", "[", "{"))
    below = _next_code_line(text, line_end, line_comment)
    if below is None:
        return above_indent + unit if opens else ""
    below_indent = below[: len(below) - len(below.lstrip(" \t"))]
    above_width, below_width = _indent_width(above_indent), _indent_width(below_indent)
    if below_width > above_width and (opens or _ends_with_token(above, (",",))):
        return below_indent
    if opens:
        return above_indent + unit
    return above_indent if below_width == above_width else ""


# Lines a statement's start is looked for above its last line (a long call's arguments).
_STATEMENT_LINES = 64


def _statement_indent(text: str, line_start: int, line: str, line_comment: str | None) -> str:
    """The indentation of the statement whose last line is ``line``: the line where its
    brackets open, when ``line`` closes more than it opens (a signature's last line,
    aligned under its parenthesis, ``timeout=None):``), else ``line``'s own."""
    depth = _bracket_balance(line)
    if depth > 0:
        above = itertools.islice(_lines_before(text, line_start), _STATEMENT_LINES)
        for start, end in above:
            depth += _bracket_balance(_without_line_comment(text[start:end], line_comment))
            if depth <= 0:
                line = text[start:end]
                break
    return line[: len(line) - len(line.lstrip(" \t"))]


def _bracket_balance(line: str) -> int:
    """Closing brackets minus opening ones on ``line``, quoted text skipped (one line's
    quotes: a string spanning lines counts as code, which only leaves the start unknown)."""
    balance, quote, index = 0, "", 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            balance -= 1
        elif char in ")]}":
            balance += 1
        index += 1
    return balance


def _without_line_comment(line: str, line_comment: str | None) -> str:
    """``line`` without a comment at its end (``def f():  # why``); a comment marker inside
    a string may cut it short too, which only leaves the indentation open."""
    if line_comment is None:
        return line
    marker = line.find(" " + line_comment)
    return line[:marker] if marker >= 0 else line


def _next_code_line(text: str, line_end: int, line_comment: str | None) -> str | None:
    """The first line after the one ending at ``line_end`` with code on it (not blank, not
    a ``line_comment``), line by line (the rest of a huge file is not split)."""
    start = line_end
    while start < len(text):
        start += 2 if text.startswith("\r\n", start) else 1
        end = _line_end(text, start)
        line = text[start:end]
        if line.strip() and not _is_comment_line(line, line_comment):
            return line
        start = end
    return None


def _ends_with_token(line: str, tokens: tuple[str, ...]) -> bool:
    """Whether ``line`` ends with one of ``tokens``, a word token (``do``) as a whole word."""
    end = line.rstrip()
    for token in tokens:
        if end.endswith(token):
            cut = end[: len(end) - len(token)]
            if not token[-1:].isalpha() or not cut[-1:] or not _is_identifier_char(cut[-1]):
                return True
    return False


def _among_statements(root: Node, byte_offset: int, rules: CompletionRules) -> bool:
    """True when the nearest enclosing construct is a body or the file, not a literal."""
    node: Node | None = root.descendant_for_byte_range(byte_offset, byte_offset)
    while node is not None and node.parent is not None:
        if node.type in rules.block_node_types:
            return True
        # py-tree-sitter 0.25 raises IndexError for child(0) of a leaf (found by the fuzzer)
        first = node.child(0) if node.child_count else None
        if first is not None and first.type in _BRACKETS and first.start_byte < byte_offset:
            return False
        node = node.parent
    return True


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _only_closers(rest: str) -> bool:
    return all(c.isspace() or c in _CLOSERS for c in rest.replace("*/", ""))


def _line_start(text: str, offset: int) -> int:
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def _line_end(text: str, offset: int) -> int:
    ends = [i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0]
    return min(ends) if ends else len(text)


def _lines_before(text: str, line_start: int) -> Iterator[tuple[int, int]]:
    """(start, end) code-point ranges of the lines above the one starting at ``line_start``."""
    end = line_start
    while end > 0:
        # step over the line ending ("\r\n" counts once)
        end -= 2 if text[end - 2 : end] == "\r\n" else 1
        start = _line_start(text, end)
        yield start, end
        end = start


def _is_comment_line(line: str, line_comment: str | None) -> bool:
    return line_comment is not None and line.lstrip().startswith(line_comment)


def _previous_code_line(
    text: str, line_start: int, line_comment: str | None
) -> tuple[int, int] | None:
    for start, end in _lines_before(text, line_start):
        line = text[start:end]
        if line.strip() and not _is_comment_line(line, line_comment):
            return start, end
    return None


def _indent_width(line: str) -> int:
    return len(line.expandtabs()) - len(line.expandtabs().lstrip())


def _plain_block(
    text: str, line_start: int, before: str, after: str, spec: LanguageSpec | None
) -> bool:
    if before.strip() or after.strip():
        return False
    line_comment = spec.line_comment if spec is not None else None
    previous = _previous_code_line(text, line_start, line_comment)
    if previous is None:
        return False
    line = text[previous[0] : previous[1]]
    openers = spec.completion.block_openers if spec is not None else _PLAIN_OPENERS
    return line.rstrip().endswith(openers) and len(before.expandtabs()) > _indent_width(line)


def _ancestors(node: Node | None) -> Iterator[Node]:
    while node is not None:
        yield node
        node = node.parent


def _inside_literal(root: Node, byte_offset: int, before: str, rules: CompletionRules) -> bool:
    """Whether the cursor is inside a string or comment (not in code interpolated into one)."""
    # The smallest node covering the character before the cursor: a closing quote right
    # before the cursor then belongs to a string that ends at the cursor (so: outside).
    node = root.descendant_for_byte_range(max(byte_offset - 1, 0), byte_offset)
    for ancestor in _ancestors(node):
        kind = ancestor.type
        if kind in rules.interpolation_node_types:
            return False
        start, end = ancestor.start_byte, ancestor.end_byte
        if kind in rules.comment_node_types:
            if start < byte_offset < end:
                return True
            # A line comment runs up to the cursor at its end; "/* */‸" is behind a comment.
            if start < byte_offset == end and not before.rstrip().endswith("*/"):
                return True
        elif kind in rules.string_node_types:
            if start < byte_offset < end:
                return True
            last = ancestor.child(ancestor.child_count - 1) if ancestor.child_count else None
            if start < byte_offset == end and last is not None and last.is_missing:
                return True
    return False


def _comment_around(node: Node | None, rules: CompletionRules) -> Node | None:
    for ancestor in _ancestors(node):
        if ancestor.type in rules.comment_node_types:
            return ancestor
    return None


def _block_opener(
    root: Node, line: str, line_start_byte: int, rules: CompletionRules
) -> Node | None:
    """The confirmed block opener ``line`` ends with (``:``, ``{``), or None."""
    line_bytes = line.encode("utf-8", UTF8_ERRORS)
    end = len(line_bytes.rstrip())
    while True:
        if end == 0:
            return None
        end_byte = line_start_byte + end
        leaf = root.descendant_for_byte_range(end_byte - 1, end_byte)
        comment = _comment_around(leaf, rules)
        if comment is None:
            break
        # a trailing comment ("def f():  # why") does not hide the opener before it
        end = len(line_bytes[: max(comment.start_byte - line_start_byte, 0)].rstrip())
    if leaf is None or leaf.is_named or leaf.type not in rules.block_openers:
        return None
    if leaf.end_byte != end_byte:
        return None
    parent = leaf.parent
    if parent is None:
        return None
    if parent.type in rules.block_node_types:
        return leaf
    # The node after the opener, comments skipped (python: ":" then the block). Not through
    # next_sibling: it skips the zero-width block of "def f():" at the end of the text.
    following = itertools.dropwhile(lambda child: child != leaf, parent.children)
    next(following, None)
    for sibling in following:
        if sibling.type not in rules.comment_node_types:
            if sibling.type in rules.block_node_types:
                return leaf
            break
    # An opener the parser could not place (ERROR), or placed by guessing a MISSING closer
    # ("if (x) {" at the end of the text parses as an object literal): judge the text.
    if parent.has_error:
        header = line_bytes[: leaf.start_byte - line_start_byte].decode("utf-8", UTF8_ERRORS)
        return leaf if _looks_like_block_header(header, rules) else None
    return None


def _looks_like_block_header(header: str, rules: CompletionRules) -> bool:
    """Text heuristic for an opener whose place in the tree is an error-recovery guess."""
    stripped = header.strip()
    if rules.block_keywords:
        word = stripped.split(maxsplit=1)[0] if stripped else ""
        word = word.split("(", 1)[0].rstrip(":")
        return word in rules.block_keywords
    return not stripped.endswith(rules.value_prefixes)


def _in_empty_block(root: Node, byte_offset: int, rules: CompletionRules) -> bool:
    """Whether the cursor is between the braces of a body that holds no code yet."""
    candidates = [root.descendant_for_byte_range(byte_offset, byte_offset)]
    if byte_offset > 0:
        candidates.append(root.descendant_for_byte_range(byte_offset - 1, byte_offset))
    for candidate in candidates:
        block = next((a for a in _ancestors(candidate) if a.type in rules.block_node_types), None)
        if block is not None and _is_empty_body_around(block, byte_offset, rules):
            return True
    return False


def _is_empty_body_around(block: Node, byte_offset: int, rules: CompletionRules) -> bool:
    children = block.children
    opener_index = next(
        (i for i, child in enumerate(children) if child.type in rules.block_openers), None
    )
    if opener_index is None or children[opener_index].end_byte > byte_offset:
        return False
    inner = children[opener_index + 1 :]
    closer = inner[-1] if inner and not inner[-1].is_named else None
    if closer is not None and not closer.is_missing and byte_offset > closer.start_byte:
        return False
    return not any(
        child.is_named and not child.is_missing and child.type not in rules.comment_node_types
        for child in inner
    )
