"""The simplifications Simplify finds in JavaScript and TypeScript (see simplify_hints.py)."""

from __future__ import annotations

from tree_sitter import Node

from qwen_lsp.actions.simplify_patterns import (
    Finder,
    Hint,
    has_comment,
    has_multiline_string,
    statements,
)
from qwen_lsp.actions.text import dedent, indent_lines
from qwen_lsp.postprocess import detect_indent_unit

_JS_BOOL_OPS = frozenset({"==", "!=", "===", "!==", "<", ">", "<=", ">=", "instanceof", "in"})


# ------------------------------------------------------------------


class JavaScriptFinder(Finder):
    def hint(self, node: Node) -> Hint | None:
        if node.type == "if_statement" and has_comment(node):
            return self._else_after_return(node)
        if has_comment(node):
            return None
        if node.type == "if_statement":
            return self._bool_return(node) or self._nested_if(node) or self._else_after_return(node)
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
        text = self.text(condition)
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
        found = statements(node)
        if len(found) != 1 or found[0].type != "return_statement":
            return None
        values = found[0].named_children
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
            branch = alternative.named_children
            last = branch[0] if len(branch) == 1 else None
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
        body = statements(consequence)
        if not body or body[-1].type not in ("return_statement", "throw_statement"):
            return None
        blocks = alternative.named_children
        lines = self.snapshot.text.split("\n")
        first = alternative.start_point[0]
        if len(blocks) == 1 and blocks[0].type == "if_statement":
            # `} else if (b) {` after a return is `}` and `if (b) {`.
            line = lines[first].strip()
            if not line.startswith("} else if (") or blocks[0].start_point[0] != first:
                return None
            return Hint(
                first,
                first,
                "}\n" + line[len("} else ") :],
                "the `if` ends with a `return`: its `else if` can be a plain `if`",
                "else-after-return",
            )
        if len(blocks) != 1 or blocks[0].type != "statement_block":
            return None
        # Declarations moved out of their block could meet a name of the enclosing one.
        declares = ("lexical_declaration", "class_declaration", "function_declaration")
        if any(s.type in declares for s in statements(blocks[0])):
            return None
        if has_multiline_string(blocks[0]):
            return None
        last = alternative.end_point[0]
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
        then, other = (
            node.child_by_field_name("consequence"),
            node.child_by_field_name("alternative"),
        )
        if condition is None or then is None or other is None:
            return None
        if {then.type, other.type} != {"true", "false"}:
            return None
        if node.start_point[0] != node.end_point[0]:
            return None
        value = self._as_bool(condition, negate=then.type == "false")
        return Hint(
            node.start_point[0],
            node.start_point[0],
            self.with_replaced(node, value),
            f"`{self.text(node)}` is the condition's value",
            "bool-conditional",
        )

    # `const x = expr;` then `return x;` -> `return expr;`
    def _temporary(self, node: Node) -> Hint | None:
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        name, value = (
            declarators[0].child_by_field_name("name"),
            declarators[0].child_by_field_name("value"),
        )
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
        if self.uses(value, self.text(name)):
            return None  # `const f = function () { f() }`: the value reads its name
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
        found = statements(node.child_by_field_name("consequence"))
        if len(found) != 1 or found[0].type != "if_statement":
            return None
        inner = found[0]
        if inner.child_by_field_name("alternative") is not None:
            return None
        outer_c, inner_c = self._condition(node), self._condition(inner)
        inner_body = inner.child_by_field_name("consequence")
        if outer_c is None or inner_c is None or inner_body is None:
            return None
        if inner_body.type != "statement_block" or has_multiline_string(inner_body):
            return None
        joined = f"if ({self._operand(outer_c)} && {self._operand(inner_c)}) "
        lines = self.text(inner_body).split("\n")
        if len(lines) < 3:
            return None
        closing = "}"
        middle = dedent("\n".join(lines[1:-1]))
        unit = detect_indent_unit(self.snapshot.text)
        moved = indent_lines(middle, unit)
        return self._span(
            node,
            node,
            f"{joined}{{\n{moved}\n{closing}",
            "an `if` whose body is only another `if`: one `if` with both conditions",
            "nested-if",
        )

    def _operand(self, condition: Node) -> str:
        text = self.text(condition)
        if condition.type in ("ternary_expression", "assignment_expression", "sequence_expression"):
            return f"({text})"
        if condition.type == "binary_expression":
            operator = condition.child_by_field_name("operator")
            if operator is not None and self.text(operator) in ("||", "??"):
                return f"({text})"
        return text
