"""The simplifications Simplify finds in JavaScript and TypeScript (see simplify_hints.py)."""

from __future__ import annotations

from tree_sitter import Node

from qwen_lsp.actions.simplify_patterns import (
    Finder,
    Hint,
    has_comment,
    has_multiline_string,
    statements,
    walk,
)
from qwen_lsp.actions.text import dedent, indent_lines
from qwen_lsp.languages import web
from qwen_lsp.postprocess import detect_indent_unit

_JS_BOOL_OPS = frozenset({"==", "!=", "===", "!==", "<", ">", "<=", ">=", "instanceof", "in"})
# Statements after which the rest of an `if` body never runs (the `else` is not needed).
_JUMPS = {
    "return_statement": "return",
    "throw_statement": "throw",
    "continue_statement": "continue",
    "break_statement": "break",
}
# Where a name is bound, not read (the field of the node that holds the name; "" for
# any child): another binding of a `var`'s name is left alone.
_BINDERS = {
    "formal_parameters": "",
    "catch_clause": "parameter",
    "import_specifier": "",
    "import_clause": "",
    "namespace_import": "",
    "required_parameter": "pattern",
    "optional_parameter": "pattern",
    "arrow_function": "parameter",
    "variable_declarator": "name",
    "function_declaration": "name",
    "generator_function_declaration": "name",
    "function_expression": "name",
    "generator_function": "name",
    "class_declaration": "name",
    "class": "name",
}


def _binds(parent: Node, name: Node) -> bool:
    field = _BINDERS.get(parent.type)
    return field is not None and (field == "" or parent.child_by_field_name(field) == name)


# Where a name is assigned again: it cannot be a `const`.
_PATTERNS = frozenset(
    {"array_pattern", "object_pattern", "pair_pattern", "rest_pattern", "assignment_pattern"}
)
_MENTIONS = frozenset(
    {"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"}
)
# ------------------------------------------------------------------


class JavaScriptFinder(Finder):
    def hint(self, node: Node) -> Hint | None:
        if node.type == "if_statement" and has_comment(node):
            return self._else_after_return(node)
        if has_comment(node):
            return None
        if node.type == "if_statement":
            return (
                self._bool_return(node)
                or self._nested_if(node)
                or self._ternary(node)
                or self._else_after_return(node)
            )
        if node.type == "ternary_expression":
            return self._bool_ternary(node)
        if node.type == "lexical_declaration":
            return self._temporary(node)
        if node.type == "variable_declaration":
            return self._temporary(node) or self._var(node)
        if node.type == "object":
            return self._shorthand(node)
        if node.type == "arrow_function":
            return self._arrow_body(node)
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
        jump = _JUMPS.get(body[-1].type) if body else None
        if jump is None:
            return None
        kind = "else-after-return" if jump in ("return", "throw") else "else-after-jump"
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
                f"the `if` ends with a `{jump}`: its `else if` can be a plain `if`",
                kind,
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
            f"the `if` ends with a `{jump}`: its `else` is not needed, the lines in it move "
            "out one level",
            kind,
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
        return self.one_line_hint(
            node,
            value,
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
        if node.type == "variable_declaration":
            # A `var` belongs to the whole function: read anywhere else, it must stay.
            function = self.enclosing(node, web.JS_FUNCTIONS)
            if function is None or len(self._mentions(function, self.text(name))) != 2:
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

    # `{ name: name }` -> `{ name }`
    def _shorthand(self, node: Node) -> Hint | None:
        pairs = self._shorthand_pairs(node)
        if not pairs:
            return None
        first, last = pairs[0].start_point[0], pairs[-1].end_point[0]
        start = self.source.rfind(b"\n", 0, pairs[0].start_byte) + 1
        end = self.source.find(b"\n", pairs[-1].end_byte)
        text = self.source[start : end if end >= 0 else len(self.source)]
        for pair in reversed(pairs):
            value = pair.child_by_field_name("value")
            if value is None:
                return None
            name = self.source[value.start_byte : value.end_byte]
            text = text[: pair.start_byte - start] + name + text[pair.end_byte - start :]
        names = ", ".join(f"`{self.text(p)}`" for p in pairs)
        return Hint(
            first,
            last,
            dedent(text.decode("utf-8", "replace")).strip("\n"),
            f"{names}: a property named as the variable it holds is written once",
            "shorthand",
        )

    def _shorthand_pairs(self, node: Node) -> list[Node]:
        """The ``name: name`` properties of an object literal."""
        found = []
        for pair in node.named_children:
            if pair.type != "pair" or pair.start_point[0] != pair.end_point[0]:
                continue
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is None or value is None or has_comment(pair):
                continue
            # `{ __proto__: __proto__ }` sets the prototype; `{ __proto__ }` does not.
            if key.type != "property_identifier" or self.text(key) == "__proto__":
                continue
            if value.type == "identifier" and self.text(value) == self.text(key):
                found.append(pair)
        return found

    def _assigned(self, branch: Node | None) -> tuple[Node, Node, Node] | None:
        """(statement, name, value) of a branch that is only ``name = value``."""
        found = statements(branch)
        if len(found) != 1 or found[0].type != "expression_statement":
            return None
        inner = found[0].named_children
        if len(inner) != 1 or inner[0].type != "assignment_expression":
            return None
        name, value = inner[0].child_by_field_name("left"), inner[0].child_by_field_name("right")
        if name is None or value is None or name.type != "identifier":
            return None
        return found[0], name, value

    # `if (c) { x = a } else { x = b }` -> `x = c ? a : b`
    def _ternary(self, node: Node) -> Hint | None:
        alternative = node.child_by_field_name("alternative")
        condition = self._condition(node)
        if alternative is None or condition is None or len(alternative.named_children) != 1:
            return None
        then = self._assigned(node.child_by_field_name("consequence"))
        other = self._assigned(alternative.named_children[0])
        if then is None or other is None or self.text(then[1]) != self.text(other[1]):
            return None
        if any("\n" in self.text(n) for n in (condition, then[2], other[2])):
            return None
        loose = ("ternary_expression", "sequence_expression", "assignment_expression")
        if any(
            n.type in (*loose, "yield_expression", "arrow_function") for n in (then[2], other[2])
        ):
            return None
        test = self.text(condition)
        if condition.type in (*loose, "arrow_function", "yield_expression"):
            test = f"({test})"
        end = ";" if self.text(then[0]).endswith(";") else ""
        name = self.text(then[1])
        return self._span(
            node,
            node,
            f"{name} = {test} ? {self.text(then[2])} : {self.text(other[2])}{end}",
            f"both branches only assign `{name}`: one conditional expression",
            "ternary",
        )

    def _mentions(self, scope: Node, name: str) -> list[Node]:
        """The identifiers ``name`` in ``scope``, with ``{ name }`` in objects and patterns."""
        return [n for n in walk(scope) if n.type in _MENTIONS and self.text(n) == name]

    # `var x = 1` -> `const x = 1` (`let` when it is assigned again)
    def _var(self, node: Node) -> Hint | None:
        function = self.enclosing(node, web.JS_FUNCTIONS)
        if function is None or node.parent != function.child_by_field_name("body"):
            return None  # in a nested block, a `let` would end with the block
        if any(n.type == "with_statement" or self.text(n) == "eval" for n in walk(function)):
            return None
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if not declarators:
            return None
        constant = True
        for declarator in declarators:
            mode = self._declared_once(function, declarator)
            if mode is None:
                return None
            constant = constant and mode == "const"
        keyword = node.children[0]
        if keyword.type != "var":
            return None
        new = "const" if constant else "let"
        names = ", ".join(f"`{self.text(d.child_by_field_name('name') or d)}`" for d in declarators)
        return self.one_line_hint(
            keyword,
            new,
            f"{names}: read only after the `var`, in the function's own block, "
            + ("never assigned again" if constant else "assigned again")
            + f": `{new}`",
            "var",
        )

    def _declared_once(self, function: Node, declarator: Node) -> str | None:
        """ "const" or "let" for a ``var`` declarator whose name is met only after it, bound
        nowhere else in the function, and never in a hoisted function (which could run
        before the declaration, where a ``let`` is not yet readable); None otherwise."""
        name = declarator.child_by_field_name("name")
        if name is None or name.type != "identifier":
            return None
        constant = declarator.child_by_field_name("value") is not None
        for mention in self._mentions(function, self.text(name)):
            if mention == name:
                continue
            if mention.start_byte < declarator.end_byte:
                return None
            if mention.type == "shorthand_property_identifier_pattern":
                return None
            parent = mention.parent
            if parent is None or _binds(parent, mention):
                return None
            inner = self.enclosing(mention, web.JS_FUNCTIONS)
            while inner is not None and inner != function:
                if inner.type in ("function_declaration", "generator_function_declaration"):
                    return None
                inner = self.enclosing(inner, web.JS_FUNCTIONS)
            if parent.type in _PATTERNS or parent.type == "update_expression":
                constant = False
            elif (
                parent.type
                in (
                    "assignment_expression",
                    "augmented_assignment_expression",
                    "for_in_statement",
                )
                and parent.child_by_field_name("left") == mention
            ):
                constant = False
        return "const" if constant else "let"

    # `(x) => { return e }` -> `(x) => e`
    def _arrow_body(self, node: Node) -> Hint | None:
        body = node.child_by_field_name("body")
        found = statements(body) if body is not None and body.type == "statement_block" else []
        if len(found) != 1 or found[0].type != "return_statement" or body is None:
            return None
        values = found[0].named_children
        if len(values) != 1 or "\n" in self.text(values[0]):
            return None
        value = self.text(values[0])
        # `=> {` would open a block, `=> a, b` end the arrow at the comma.
        if value.startswith("{") or values[0].type == "sequence_expression":
            value = f"({value})"
        start = self.source.rfind(b"\n", 0, node.start_byte) + 1
        end = self.source.find(b"\n", node.end_byte)
        before = self.source[start : body.start_byte].decode("utf-8", "replace")
        after = self.source[node.end_byte : end if end >= 0 else len(self.source)]
        line = (before + value + after.decode("utf-8", "replace")).strip(" \t\r")
        return Hint(
            node.start_point[0],
            node.end_point[0],
            line,
            "an arrow function whose body only returns a value: the value alone is its body",
            "arrow-body",
        )
