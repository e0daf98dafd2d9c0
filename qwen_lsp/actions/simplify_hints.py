"""Concrete simplifications of a function, found with tree-sitter (for Simplify).

Asked only to "simplify" a function, the 0.5B model copies it back or changes its layout;
told which lines to change and into what, it writes the change. This module finds such
changes, each one that keeps the behaviour exactly (the code it would replace has no
comments, the names it joins are the same text), in Python and JavaScript/TypeScript:

- an ``if``/``else`` returning ``True``/``False`` (or an ``if`` returning one, followed by
  a ``return`` of the other): one ``return`` of the condition (``bool(...)``/``!!`` when
  the condition need not be a boolean);
- ``c ? true : false`` / ``True if c else False``: the condition;
- a temporary returned right after it is assigned: ``return`` of its value;
- an ``if`` whose body is one ``if``, neither with an ``else``: one ``if`` joined by
  ``and``/``&&``;
- ``if k in d: v = d[k] else: v = w``: ``v = d.get(k, w)`` (Python);
- a list built by a loop that only appends (perhaps under one ``if``): a comprehension
  (Python);
- ``if c: v = a else: v = b``: ``v = a if c else b`` (Python, when it fits a line).

Each :class:`Hint` says which document lines to replace, what to replace them with, and
why, for the prompt (prompt.py); :func:`with_span_replaced` puts the model's answer there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp.actions.target import Target
from qwen_lsp.actions.text import dedent, indent_of
from qwen_lsp.documents import Snapshot
from qwen_lsp.postprocess import detect_indent_unit

MAX_LINE = 88  # a suggested line longer than this is no simplification
_JS = frozenset({"javascript", "typescript", "tsx"})
# Expressions whose value is a boolean already (returned as they are).
_PY_BOOL_CALLS = frozenset({"isinstance", "issubclass", "hasattr", "callable", "bool", "any", "all"})
_JS_BOOL_OPS = frozenset(
    {"==", "!=", "===", "!==", "<", ">", "<=", ">=", "instanceof", "in"}
)


@dataclass(frozen=True)
class Hint:
    """One simplification: replace document lines [first, last] (0-based) with
    ``replacement`` (dedented, "\\n" line ends), for the reason ``why``."""

    first: int
    last: int
    replacement: str
    why: str
    kind: str


def find_hints(snapshot: Snapshot, target: Target) -> list[Hint]:
    """The simplifications found in the target, in document order, none overlapping."""
    language = snapshot.language
    tree = snapshot.tree
    if tree is None or language is None or tree.root_node.has_error:
        return []
    if language == "python":
        finder = _Python(snapshot)
    elif language in _JS:
        finder = _JavaScript(snapshot)
    else:
        return []
    start = len(snapshot.text[: target.start].encode("utf-8"))
    end = len(snapshot.text[: target.end].encode("utf-8"))
    found: list[Hint] = []
    for node in _walk(tree.root_node):
        if node.end_byte <= start or node.start_byte >= end:
            continue
        if node.start_byte < start or node.end_byte > end:
            continue
        hint = finder.hint(node)
        if hint is not None and len(hint.replacement.split("\n")[0]) + _indent(
            snapshot, hint.first
        ) <= MAX_LINE:
            found.append(hint)
    found.sort(key=lambda h: (h.first, -h.last))
    kept: list[Hint] = []
    for hint in found:
        if not kept or hint.first > kept[-1].last:
            kept.append(hint)
    return kept


def _indent(snapshot: Snapshot, line: int) -> int:
    lines = snapshot.text.split("\n")
    return len(indent_of(lines[line]).expandtabs(4)) if line < len(lines) else 0


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _has_comment(node: Node) -> bool:
    return any(n.type == "comment" for n in _walk(node))


def _statements(block: Node | None) -> list[Node]:
    """A block's statements (a lone statement, for a JS body without braces)."""
    if block is None:
        return []
    if block.type in ("block", "statement_block"):
        return [c for c in block.named_children]
    return [block]


class _Finder:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.source = snapshot.source

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def hint(self, node: Node) -> Hint | None:
        raise NotImplementedError

    def _span(self, first: Node, last: Node, replacement: str, why: str, kind: str) -> Hint:
        return Hint(first.start_point[0], last.end_point[0], replacement, why, kind)

    def _next(self, node: Node) -> Node | None:
        sibling = node.next_named_sibling
        return sibling


# --- Python -----------------------------------------------------------------------------------


class _Python(_Finder):
    def hint(self, node: Node) -> Hint | None:
        if node.type == "if_statement" and _has_comment(node):
            # Comments move along with the lines they are on.
            return self._else_after_return(node)
        if _has_comment(node):
            return None
        if node.type == "if_statement":
            return (
                self._bool_return(node)
                or self._dict_get(node)
                or self._nested_if(node)
                or self._ternary(node)
                or self._else_after_return(node)
            )
        if node.type == "comparison_operator":
            return self._keys_in(node)
        if node.type == "conditional_expression":
            return self._bool_conditional(node)
        if node.type == "expression_statement":
            return self._temporary(node) or self._accumulate(node)
        return None

    # `if c: return True else: return False` -> `return c`
    def _bool_return(self, node: Node) -> Hint | None:
        condition = node.child_by_field_name("condition")
        alternatives = node.children_by_field_name("alternative")
        body = _statements(node.child_by_field_name("consequence"))
        if condition is None or len(body) != 1 or len(alternatives) > 1:
            return None
        first = self._returned_bool(body[0])
        if first is None:
            return None
        last: Node
        if alternatives:
            if alternatives[0].type != "else_clause":
                return None
            other = _statements(alternatives[0].child_by_field_name("body"))
            if len(other) != 1:
                return None
            last = other[0]
        else:
            following = self._next(node)
            if following is None:
                return None
            last = following
        second = self._returned_bool(last)
        if second is None or second == first:
            return None
        value = self._as_bool(condition, negate=not first)
        return self._span(
            node,
            last,
            f"return {value}",
            "they return True or False by the condition: return the condition's value",
            "bool-return",
        )

    def _returned_bool(self, node: Node) -> bool | None:
        if node.type != "return_statement" or len(node.named_children) != 1:
            return None
        value = node.named_children[0]
        return {"true": True, "false": False}.get(value.type)

    def _is_bool(self, node: Node) -> bool:
        if node.type in ("comparison_operator", "not_operator", "true", "false"):
            return True
        if node.type == "boolean_operator":
            return all(self._is_bool(c) for c in node.named_children)
        if node.type == "parenthesized_expression" and node.named_children:
            return self._is_bool(node.named_children[0])
        if node.type == "call":
            function = node.child_by_field_name("function")
            return function is not None and self.text(function) in _PY_BOOL_CALLS
        return False

    def _as_bool(self, condition: Node, negate: bool) -> str:
        text = " ".join(self.text(condition).split())
        if negate:
            if condition.type == "not_operator":
                inner = condition.child_by_field_name("argument")
                if inner is not None and self._is_bool(inner):
                    return " ".join(self.text(inner).split())
            needs = condition.type in ("boolean_operator", "conditional_expression", "lambda")
            return f"not ({text})" if needs else f"not {text}"
        return text if self._is_bool(condition) else f"bool({text})"

    # `True if c else False` -> `c`
    def _bool_conditional(self, node: Node) -> Hint | None:
        parts = node.named_children
        if len(parts) != 3 or {parts[0].type, parts[2].type} != {"true", "false"}:
            return None
        if node.start_point[0] != node.end_point[0]:
            return None
        value = self._as_bool(parts[1], negate=parts[0].type == "false")
        line = self._line_of(node)
        new = line.replace(self.text(node), value, 1)
        return Hint(
            node.start_point[0],
            node.start_point[0],
            new,
            f"`{self.text(node)}` is the condition's value",
            "bool-conditional",
        )

    def _line_of(self, node: Node) -> str:
        return dedent(self.snapshot.text.split("\n")[node.start_point[0]]).rstrip("\r")

    # `if c: ... return x` then `else: rest` -> `rest` after the `if`
    def _else_after_return(self, node: Node) -> Hint | None:
        alternatives = node.children_by_field_name("alternative")
        body = _statements(node.child_by_field_name("consequence"))
        if len(alternatives) != 1 or alternatives[0].type != "else_clause" or not body:
            return None
        if body[-1].type not in ("return_statement", "raise_statement"):
            return None
        other = alternatives[0]
        lines = self.snapshot.text.split("\n")
        if lines[other.start_point[0]].strip() != "else:":
            return None
        block = other.child_by_field_name("body")
        if block is None or block.start_point[0] == other.start_point[0]:
            return None
        moved = dedent("\n".join(lines[block.start_point[0] : other.end_point[0] + 1]))
        return Hint(
            other.start_point[0],
            other.end_point[0],
            moved.rstrip("\n"),
            "the `if` ends with a `return`: its `else` is not needed, the lines under it "
            "move out one level",
            "else-after-return",
        )

    # `k in d.keys()` -> `k in d`
    def _keys_in(self, node: Node) -> Hint | None:
        operands = node.named_children
        operators = [self.text(c) for c in node.children if not c.is_named]
        if len(operands) != 2 or operators not in (["in"], ["not", "in"], ["not in"]):
            return None
        call = operands[1]
        function = call.child_by_field_name("function") if call.type == "call" else None
        arguments = call.child_by_field_name("arguments") if call.type == "call" else None
        if function is None or arguments is None or arguments.named_children:
            return None
        if function.type != "attribute" or not self.text(function).endswith(".keys"):
            return None
        mapping = function.child_by_field_name("object")
        if mapping is None or node.start_point[0] != node.end_point[0]:
            return None
        line = self._line_of(node)
        new = line.replace(self.text(call), self.text(mapping), 1)
        return Hint(
            node.start_point[0],
            node.start_point[0],
            new,
            f"`in` looks up the keys of `{self.text(mapping)}` without `.keys()`",
            "keys-in",
        )

    # `x = expr` then `return x` -> `return expr`
    def _temporary(self, node: Node) -> Hint | None:
        assignment = node.named_children[0] if node.named_children else None
        if assignment is None or assignment.type != "assignment":
            return None
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            return None
        if assignment.child_by_field_name("type") is not None or right.type in (
            "assignment",
            "yield",
        ):
            return None
        following = self._next(node)
        if following is None or following.type != "return_statement":
            return None
        returned = following.named_children
        if len(returned) != 1 or self.text(returned[0]) != self.text(left):
            return None
        if self._declared_outside(node, self.text(left)):
            return None
        value = self.text(right)
        if right.type in ("expression_list", "tuple") and not value.startswith("("):
            value = f"({value})" if right.type == "expression_list" else value
        return self._span(
            node,
            following,
            f"return {value}",
            f"`{self.text(left)}` is returned right after it is assigned",
            "temporary",
        )

    def _declared_outside(self, node: Node, name: str) -> bool:
        """Whether ``name`` is global/nonlocal in the function around ``node``."""
        function = node.parent
        while function is not None and function.type != "function_definition":
            function = function.parent
        if function is None:
            return True
        for inner in _walk(function):
            if inner.type in ("global_statement", "nonlocal_statement") and name in (
                self.text(c) for c in inner.named_children
            ):
                return True
        return False

    # `if a:` holding only `if b:` -> `if a and b:`
    def _nested_if(self, node: Node) -> Hint | None:
        if node.children_by_field_name("alternative"):
            return None
        body = _statements(node.child_by_field_name("consequence"))
        if len(body) != 1 or body[0].type != "if_statement":
            return None
        inner = body[0]
        if inner.children_by_field_name("alternative"):
            return None
        outer_c, inner_c = node.child_by_field_name("condition"), inner.child_by_field_name(
            "condition"
        )
        inner_body = inner.child_by_field_name("consequence")
        if outer_c is None or inner_c is None or inner_body is None:
            return None
        if self.snapshot.text.split("\n")[inner_body.start_point[0]].strip().startswith("if "):
            return None  # a one-line `if b: x` body: leave it
        joined = f"if {self._operand(outer_c)} and {self._operand(inner_c)}:"
        # The inner body moves out one level: the model rewrites the lines of both ifs.
        lines = self.snapshot.text.split("\n")[inner_body.start_point[0] : inner.end_point[0] + 1]
        body_text = dedent("\n".join(lines))
        unit = detect_indent_unit(self.snapshot.text)
        moved = "\n".join(unit + line if line.strip() else "" for line in body_text.split("\n"))
        return self._span(
            node,
            inner,
            f"{joined}\n{moved}",
            "an `if` whose body is only another `if`: one `if` with both conditions",
            "nested-if",
        )

    def _operand(self, condition: Node) -> str:
        text = " ".join(self.text(condition).split())
        if condition.type in ("boolean_operator", "conditional_expression", "named_expression"):
            if condition.type != "boolean_operator" or self.text(
                condition.child_by_field_name("operator") or condition
            ) == "or":
                return f"({text})"
        return text

    def _one_assignment(self, block: Node | None) -> tuple[str, Node] | None:
        body = _statements(block)
        if len(body) != 1 or body[0].type != "expression_statement":
            return None
        assignment = body[0].named_children[0] if body[0].named_children else None
        if assignment is None or assignment.type != "assignment":
            return None
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if left is None or right is None or assignment.child_by_field_name("type") is not None:
            return None
        if left.type != "identifier":
            return None
        return self.text(left), right

    def _else_assignment(self, node: Node) -> tuple[tuple[str, Node], tuple[str, Node]] | None:
        alternatives = node.children_by_field_name("alternative")
        if len(alternatives) != 1 or alternatives[0].type != "else_clause":
            return None
        then = self._one_assignment(node.child_by_field_name("consequence"))
        other = self._one_assignment(alternatives[0].child_by_field_name("body"))
        if then is None or other is None or then[0] != other[0]:
            return None
        return then, other

    # `if k in d: v = d[k] else: v = w` -> `v = d.get(k, w)`
    def _dict_get(self, node: Node) -> Hint | None:
        pair = self._else_assignment(node)
        condition = node.child_by_field_name("condition")
        if pair is None or condition is None or condition.type != "comparison_operator":
            return None
        operands = condition.named_children
        operators = [self.text(c) for c in condition.children if not c.is_named]
        if len(operands) != 2 or operators != ["in"]:
            return None
        (name, got), (_, default) = pair
        if got.type != "subscript":
            return None
        value, index = got.child_by_field_name("value"), got.child_by_field_name("subscript")
        if value is None or index is None:
            return None
        if self.text(value) != self.text(operands[1]) or self.text(index) != self.text(operands[0]):
            return None
        replacement = (
            f"{name} = {self.text(value)}.get({self.text(index)}, {self.text(default)})"
        )
        return self._span(
            node,
            node,
            replacement,
            f"`{self.text(value)}.get` gives the value or the default in one line",
            "dict-get",
        )

    # `if c: v = a else: v = b` -> `v = a if c else b`
    def _ternary(self, node: Node) -> Hint | None:
        pair = self._else_assignment(node)
        condition = node.child_by_field_name("condition")
        if pair is None or condition is None:
            return None
        (name, then), (_, other) = pair
        if any("\n" in self.text(n) for n in (condition, then, other)):
            return None
        if then.type in ("conditional_expression", "lambda") or other.type in (
            "conditional_expression",
            "lambda",
        ):
            return None
        cond = self.text(condition)
        if condition.type in ("conditional_expression", "lambda"):
            cond = f"({cond})"
        replacement = f"{name} = {self.text(then)} if {cond} else {self.text(other)}"
        return self._span(
            node,
            node,
            replacement,
            f"both branches only assign `{name}`: one conditional expression",
            "ternary",
        )

    # `out = []` then `for x in xs: out.append(e)` -> `out = [e for x in xs]`
    def _accumulate(self, node: Node) -> Hint | None:
        assignment = node.named_children[0] if node.named_children else None
        if assignment is None or assignment.type != "assignment":
            return None
        left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            return None
        if right.type != "list" or right.named_children:
            return None
        loop = self._next(node)
        if loop is None or loop.type != "for_statement" or loop.child_by_field_name("alternative"):
            return None
        if any(c.type == "async" for c in loop.children):
            return None
        name = self.text(left)
        body = _statements(loop.child_by_field_name("body"))
        condition = ""
        if len(body) == 1 and body[0].type == "if_statement":
            inner = body[0]
            test = inner.child_by_field_name("condition")
            if inner.children_by_field_name("alternative") or test is None:
                return None
            condition = " if " + " ".join(self.text(test).split())
            if test.type in ("conditional_expression", "lambda"):
                condition = f" if ({' '.join(self.text(test).split())})"
            body = _statements(inner.child_by_field_name("consequence"))
        if len(body) != 1:
            return None
        element = self._appended(body[0], name)
        if element is None:
            return None
        target, iterable = loop.child_by_field_name("left"), loop.child_by_field_name("right")
        if target is None or iterable is None:
            return None
        # The list must not be read while it is built (`if x not in out`).
        uses = [n for n in _walk(loop) if n.type == "identifier" and self.text(n) == name]
        if len(uses) != 1:
            return None
        value = " ".join(self.text(element).split())
        if element.type in ("conditional_expression", "lambda"):
            value = f"({value})"
        comprehension = (
            f"{name} = [{value} for {self.text(target)} in "
            f"{' '.join(self.text(iterable).split())}{condition}]"
        )
        return self._span(
            node,
            loop,
            comprehension,
            f"the loop only appends to `{name}`: a list comprehension",
            "comprehension",
        )

    def _appended(self, statement: Node, name: str) -> Node | None:
        """The ``e`` of a statement ``name.append(e)``."""
        if statement.type != "expression_statement" or not statement.named_children:
            return None
        call = statement.named_children[0]
        if call.type != "call":
            return None
        function, arguments = call.child_by_field_name("function"), call.child_by_field_name(
            "arguments"
        )
        if function is None or arguments is None or self.text(function) != f"{name}.append":
            return None
        args = arguments.named_children
        if len(args) != 1 or args[0].type in ("keyword_argument", "list_splat", "dictionary_splat"):
            return None
        return args[0]


# --- JavaScript / TypeScript ------------------------------------------------------------------


class _JavaScript(_Finder):
    def hint(self, node: Node) -> Hint | None:
        if node.type == "if_statement" and _has_comment(node):
            return self._else_after_return(node)
        if _has_comment(node):
            return None
        if node.type == "if_statement":
            return (
                self._bool_return(node) or self._nested_if(node) or self._else_after_return(node)
            )
        if node.type == "ternary_expression":
            return self._bool_ternary(node)
        if node.type == "lexical_declaration":
            return self._temporary(node)
        return None

    def _condition(self, node: Node) -> Node | None:
        condition = node.child_by_field_name("condition")
        if condition is not None and condition.type == "parenthesized_expression":
            inner = condition.named_children
            return inner[0] if len(inner) == 1 else None
        return condition

    def _is_bool(self, node: Node) -> bool:
        if node.type in ("true", "false"):
            return True
        if node.type == "unary_expression":
            operator = node.child_by_field_name("operator")
            return operator is not None and self.text(operator) == "!"
        if node.type == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is None:
                return False
            op = self.text(operator)
            if op in _JS_BOOL_OPS:
                return True
            if op in ("&&", "||"):
                return all(self._is_bool(c) for c in node.named_children)
        if node.type == "parenthesized_expression" and len(node.named_children) == 1:
            return self._is_bool(node.named_children[0])
        return False

    def _as_bool(self, condition: Node, negate: bool) -> str:
        text = " ".join(self.text(condition).split())
        simple = condition.type in (
            "identifier",
            "member_expression",
            "call_expression",
            "parenthesized_expression",
            "unary_expression",
            "subscript_expression",
        )
        if negate:
            return f"!{text}" if simple else f"!({text})"
        if self._is_bool(condition):
            return text
        return f"!!{text}" if simple else f"Boolean({text})"

    def _returned_bool(self, node: Node) -> bool | None:
        statements = _statements(node)
        if len(statements) != 1 or statements[0].type != "return_statement":
            return None
        values = statements[0].named_children
        if len(values) != 1:
            return None
        return {"true": True, "false": False}.get(values[0].type)

    # `if (c) { return true; } else { return false; }` -> `return c;`
    def _bool_return(self, node: Node) -> Hint | None:
        condition = self._condition(node)
        consequence = node.child_by_field_name("consequence")
        if condition is None or consequence is None:
            return None
        first = self._returned_bool(consequence)
        if first is None:
            return None
        alternative = node.child_by_field_name("alternative")
        last: Node | None
        if alternative is not None:
            statements = alternative.named_children
            last = statements[0] if len(statements) == 1 else None
            if last is None or last.type == "if_statement":
                return None
        else:
            last = self._next(node)
        if last is None:
            return None
        second = self._returned_bool(last)
        if second is None or second == first:
            return None
        value = self._as_bool(condition, negate=not first)
        return self._span(
            node,
            last,
            f"return {value};",
            "they return true or false by the condition: return the condition's value",
            "bool-return",
        )

    # `if (c) { ... return x; } else { rest }` -> `rest` after the `if`
    def _else_after_return(self, node: Node) -> Hint | None:
        consequence = node.child_by_field_name("consequence")
        alternative = node.child_by_field_name("alternative")
        if consequence is None or alternative is None or consequence.type != "statement_block":
            return None
        body = _statements(consequence)
        if not body or body[-1].type not in ("return_statement", "throw_statement"):
            return None
        blocks = alternative.named_children
        if len(blocks) != 1 or blocks[0].type != "statement_block":
            return None
        # Declarations moved out of their block could meet a name of the enclosing one.
        declares = ("lexical_declaration", "class_declaration", "function_declaration")
        if any(s.type in declares for s in _statements(blocks[0])):
            return None
        lines = self.snapshot.text.split("\n")
        first, last = alternative.start_point[0], alternative.end_point[0]
        if lines[first].strip() != "} else {" or lines[last].strip() != "}" or last - first < 2:
            return None
        moved = dedent("\n".join(lines[first + 1 : last]))
        return Hint(
            first,
            last,
            "}\n" + moved.rstrip("\n"),
            "the `if` ends with a `return`: its `else` is not needed, the lines in it move "
            "out one level",
            "else-after-return",
        )

    # `c ? true : false` -> `c`
    def _bool_ternary(self, node: Node) -> Hint | None:
        condition = node.child_by_field_name("condition")
        then, other = node.child_by_field_name("consequence"), node.child_by_field_name(
            "alternative"
        )
        if condition is None or then is None or other is None:
            return None
        if {then.type, other.type} != {"true", "false"}:
            return None
        if node.start_point[0] != node.end_point[0]:
            return None
        value = self._as_bool(condition, negate=then.type == "false")
        line = dedent(self.snapshot.text.split("\n")[node.start_point[0]]).rstrip("\r")
        return Hint(
            node.start_point[0],
            node.start_point[0],
            line.replace(self.text(node), value, 1),
            f"`{self.text(node)}` is the condition's value",
            "bool-conditional",
        )

    # `const x = expr;` then `return x;` -> `return expr;`
    def _temporary(self, node: Node) -> Hint | None:
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        name, value = declarators[0].child_by_field_name("name"), declarators[
            0
        ].child_by_field_name("value")
        if name is None or value is None or name.type != "identifier":
            return None
        if declarators[0].child_by_field_name("type") is not None:
            return None  # a TypeScript annotation says something the return may not
        following = self._next(node)
        if following is None or following.type != "return_statement":
            return None
        returned = following.named_children
        if len(returned) != 1 or self.text(returned[0]) != self.text(name):
            return None
        text = self.text(value)
        if value.type == "object" or text.startswith("function"):
            text = f"({text})"
        return self._span(
            node,
            following,
            f"return {text};",
            f"`{self.text(name)}` is returned right after it is declared",
            "temporary",
        )

    # `if (a) { if (b) { ... } }` -> `if (a && b) { ... }`
    def _nested_if(self, node: Node) -> Hint | None:
        if node.child_by_field_name("alternative") is not None:
            return None
        statements = _statements(node.child_by_field_name("consequence"))
        if len(statements) != 1 or statements[0].type != "if_statement":
            return None
        inner = statements[0]
        if inner.child_by_field_name("alternative") is not None:
            return None
        outer_c, inner_c = self._condition(node), self._condition(inner)
        inner_body = inner.child_by_field_name("consequence")
        if outer_c is None or inner_c is None or inner_body is None:
            return None
        if inner_body.type != "statement_block":
            return None
        joined = f"if ({self._operand(outer_c)} && {self._operand(inner_c)}) "
        lines = self.text(inner_body).split("\n")
        if len(lines) < 3:
            return None
        closing = "}"
        middle = dedent("\n".join(lines[1:-1]))
        unit = detect_indent_unit(self.snapshot.text)
        moved = "\n".join(unit + line if line.strip() else "" for line in middle.split("\n"))
        return self._span(
            node,
            node,
            f"{joined}{{\n{moved}\n{closing}",
            "an `if` whose body is only another `if`: one `if` with both conditions",
            "nested-if",
        )

    def _operand(self, condition: Node) -> str:
        text = " ".join(self.text(condition).split())
        if condition.type in ("ternary_expression", "assignment_expression", "sequence_expression"):
            return f"({text})"
        if condition.type == "binary_expression":
            operator = condition.child_by_field_name("operator")
            if operator is not None and self.text(operator) in ("||", "??"):
                return f"({text})"
        return text


def with_span_replaced(text: str, start: int, end: int, hint: Hint, answer: str) -> str | None:
    """The target (code points [start, end) of ``text``, "\\n" line ends) with the hint's
    lines replaced by the answer, re-indented to the first of them; None when the answer
    is longer than the lines it replaces and the suggestion together (not such lines:
    the caller reads it as a whole rewrite)."""
    lines = dedent(answer.replace("\r\n", "\n")).strip("\n").split("\n")
    if not lines or not lines[0].strip():
        return None
    target = text[start:end].replace("\r\n", "\n")
    first_line = text[:start].count("\n")
    own = target.split("\n")
    low, high = hint.first - first_line, hint.last - first_line
    if low < 0 or high >= len(own):
        return None
    if len(lines) > max(high - low + 1, len(hint.replacement.split("\n"))) + 1:
        return None
    indent = indent_of(own[low])
    new = [indent + line if line.strip() else "" for line in lines]
    return "\n".join(own[:low] + new + own[high + 1 :])
