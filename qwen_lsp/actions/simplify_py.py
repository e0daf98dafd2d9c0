"""The simplifications Simplify finds in Python code (see simplify_hints.py)."""

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
from qwen_lsp.postprocess import detect_indent_unit

_PY_BOOL_CALLS = frozenset(
    {"isinstance", "issubclass", "hasattr", "callable", "bool", "any", "all"}
)
# Names that behave otherwise in a generator expression's own frame (``super()`` has no
# class there, ``locals()`` other names; ``next`` may raise StopIteration).
_FRAME_NAMES = frozenset({"next", "super", "locals", "vars", "dir", "eval", "exec", "__class__"})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "%", "**", "|", "&", "^", "<<", ">>"})
# Where an identifier is bound (any child of these; the fields of others are checked).
_BOUND_IN = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "list_splat_pattern",
        "as_pattern_target",
        "parenthesized_expression",
        "delete_statement",
        "aliased_import",
        "dotted_name",
        "parameters",
        "lambda_parameters",
        "typed_parameter",
        "global_statement",
        "nonlocal_statement",
        "function_definition",
        "class_definition",
        "case_pattern",
        "keyword_pattern",
        "splat_pattern",
    }
)
_BOUND_FIELDS = {
    "for_statement": "left",
    "for_in_clause": "left",
    "named_expression": "name",
    "default_parameter": "name",
    "typed_default_parameter": "name",
}
# Statements after which the rest of an `if` body never runs (the `else` is not needed).
_JUMPS = {
    "return_statement": "return",
    "raise_statement": "raise",
    "continue_statement": "continue",
    "break_statement": "break",
}


# -----------------------------------------------------------------------------------


class PythonFinder(Finder):
    def hint(self, node: Node) -> Hint | None:
        if node.type == "if_statement" and has_comment(node):
            # Comments move along with the lines they are on.
            return self._else_after_return(node)
        if has_comment(node):
            return None
        if node.type == "if_statement":
            return (
                self._bool_return(node)
                or self._dict_get(node)
                or self._nested_if(node)
                or self._ternary(node)
                or self._else_after_return(node)
                or self._else_if(node)
            )
        if node.type == "for_statement":
            return self._any_all(node)
        if node.type == "not_operator":
            return self._not_in(node)
        if node.type == "while_statement":
            return self._while_true(node)
        if node.type == "call":
            return self._range_from_zero(node)
        if node.type == "comparison_operator":
            return self._keys_in(node)
        if node.type == "conditional_expression":
            return self._bool_conditional(node)
        if node.type == "expression_statement":
            return self._temporary(node) or self._accumulate(node) or self._augmented(node)
        return None

    # `if c: return True else: return False` -> `return c`
    def _bool_return(self, node: Node) -> Hint | None:
        condition = node.child_by_field_name("condition")
        alternatives = node.children_by_field_name("alternative")
        body = statements(node.child_by_field_name("consequence"))
        if condition is None or len(body) != 1 or len(alternatives) > 1:
            return None
        first = self._returned_bool(body[0])
        if first is None:
            return None
        last: Node
        if alternatives:
            if alternatives[0].type != "else_clause":
                return None
            other = statements(alternatives[0].child_by_field_name("body"))
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
        text = self.text(condition)
        if negate:
            if condition.type == "not_operator":
                inner = condition.child_by_field_name("argument")
                if inner is not None and self._is_bool(inner):
                    return self.text(inner)
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
        new = self.with_replaced(node, value)
        return Hint(
            node.start_point[0],
            node.start_point[0],
            new,
            f"`{self.text(node)}` is the condition's value",
            "bool-conditional",
        )

    def _in_try(self, node: Node) -> bool:
        """Whether ``node`` runs under a ``try`` of its function (a ``finally`` or a
        handler may read what it assigns, even half done)."""
        around = self.enclosing(node, ("try_statement", "function_definition"))
        return around is not None and around.type == "try_statement"

    # `if c: ... return x` then `else: rest` -> `rest` after the `if`
    def _else_after_return(self, node: Node) -> Hint | None:
        alternatives = node.children_by_field_name("alternative")
        body = statements(node.child_by_field_name("consequence"))
        if not alternatives or not body:
            return None
        jump = _JUMPS.get(body[-1].type)
        if jump is None:
            return None
        kind = "else-after-return" if jump in ("return", "raise") else "else-after-jump"
        other = alternatives[0]
        lines = self.snapshot.text.split("\n")
        if other.type == "elif_clause":
            # `elif b:` after a return is `if b:` (the rest of the chain hangs on it).
            line = lines[other.start_point[0]].strip()
            if not line.startswith("elif "):
                return None
            return Hint(
                other.start_point[0],
                other.start_point[0],
                line[2:],
                f"the `if` ends with a `{jump}`: its `elif` can be a plain `if`",
                kind,
            )
        if len(alternatives) != 1 or other.type != "else_clause":
            return None
        if lines[other.start_point[0]].strip() != "else:":
            return None
        block = other.child_by_field_name("body")
        if block is None or block.start_point[0] == other.start_point[0]:
            return None
        if has_multiline_string(block):
            return None
        moved = dedent("\n".join(lines[block.start_point[0] : other.end_point[0] + 1]))
        return Hint(
            other.start_point[0],
            other.end_point[0],
            moved.rstrip("\n"),
            f"the `if` ends with a `{jump}`: its `else` is not needed, the lines under it "
            "move out one level",
            kind,
        )

    # `else:` holding only `if b:` -> `elif b:`
    def _else_if(self, node: Node) -> Hint | None:
        alternatives = node.children_by_field_name("alternative")
        if not alternatives or alternatives[-1].type != "else_clause":
            return None
        other = alternatives[-1]
        body = statements(other.child_by_field_name("body"))
        if len(body) != 1 or body[0].type != "if_statement":
            return None
        inner = body[0]
        lines = self.snapshot.text.split("\n")
        if lines[other.start_point[0]].strip() != "else:":
            return None
        if inner.start_point[0] != other.start_point[0] + 1 or has_multiline_string(inner):
            return None
        moved = dedent("\n".join(lines[inner.start_point[0] : inner.end_point[0] + 1]))
        return Hint(
            other.start_point[0],
            inner.end_point[0],
            "el" + moved.rstrip("\n"),
            "the `else` holds only an `if`: it is an `elif`, the lines under it move out one level",
            "else-if",
        )

    # `not a in b` -> `a not in b`, `not a is b` -> `a is not b`
    def _not_in(self, node: Node) -> Hint | None:
        argument = node.child_by_field_name("argument")
        if argument is not None and argument.type == "parenthesized_expression":
            inner = argument.named_children
            argument = inner[0] if len(inner) == 1 else None
        if argument is None or argument.type != "comparison_operator":
            return None
        operands = argument.named_children
        operators = [self.text(c) for c in argument.children if not c.is_named]
        if len(operands) != 2 or operators not in (["in"], ["is"]):
            return None
        if node.start_point[0] != node.end_point[0]:
            return None
        left, right = (self.text(o) for o in operands)
        # A comparison binds tighter than `not`: it fits wherever the `not` was.
        joined = f"{left} not in {right}" if operators == ["in"] else f"{left} is not {right}"
        return self.one_line_hint(
            node,
            joined,
            f"`{self.text(node)}` reads better as `{joined}` (the same test)",
            "not-in",
        )

    # `for x in xs: if c: return True` then `return False` -> `return any(c for x in xs)`
    def _any_all(self, node: Node) -> Hint | None:
        if node.child_by_field_name("alternative") or any(c.type == "async" for c in node.children):
            return None
        body = statements(node.child_by_field_name("body"))
        if len(body) != 1 or body[0].type != "if_statement":
            return None
        test = body[0]
        condition = test.child_by_field_name("condition")
        inside = statements(test.child_by_field_name("consequence"))
        if condition is None or test.children_by_field_name("alternative") or len(inside) != 1:
            return None
        found = self._returned_bool(inside[0])
        following = self._next(node)
        after = self._returned_bool(following) if following is not None else None
        if found is None or after is None or after == found or following is None:
            return None
        target, iterable = node.child_by_field_name("left"), node.child_by_field_name("right")
        if target is None or iterable is None:
            return None
        if any("\n" in self.text(n) for n in (target, condition, iterable)):
            return None
        if not self._generator_safe(node, target, condition, iterable):
            return None
        value = self.text(condition) if found else self._as_bool(condition, negate=True)
        if found and condition.type in ("conditional_expression", "lambda"):
            value = f"({value})"
        source = self.text(iterable)
        if iterable.type in ("conditional_expression", "lambda", "named_expression"):
            source = f"({source})"
        call = "any" if found else "all"
        return self._span(
            node,
            following,
            f"return {call}({value} for {self.text(target)} in {source})",
            f"the loop returns {found} as soon as one item {'passes' if found else 'fails'} "
            f"the test: `{call}(...)` says it in one line",
            "any-all",
        )

    def _generator_safe(self, loop: Node, target: Node, condition: Node, iterable: Node) -> bool:
        """Whether the loop's test behaves the same in a generator expression: its own
        scope (no walrus, no closure over the loop variable, no await or yield, nothing
        that reads the frame it runs in), and StopIteration (from ``next``) would become a
        RuntimeError there."""
        if iterable.type == "expression_list":
            return False
        unsafe = ("named_expression", "lambda", "await", "yield")
        if any(n.type in unsafe for n in walk(condition)):
            return False
        if any(n.type == "identifier" and self.text(n) in _FRAME_NAMES for n in walk(condition)):
            return False
        names = [n for n in walk(target)]
        if any(
            n.type not in ("identifier", "pattern_list", "tuple_pattern", ",", "(", ")")
            for n in names
        ):
            return False
        # The loop's variables live on in the function; the generator's do not.
        function = self.enclosing(loop, ("function_definition",))
        if function is None:
            return False
        for variable in (n for n in names if n.type == "identifier"):
            for use in self.uses(function, self.text(variable)):
                if use.start_byte < loop.start_byte or use.end_byte > loop.end_byte:
                    return False
        return True

    # `while 1:` -> `while True:`
    def _while_true(self, node: Node) -> Hint | None:
        condition = node.child_by_field_name("condition")
        if condition is None or condition.type != "integer" or self.text(condition) != "1":
            return None
        return self.one_line_hint(
            condition,
            "True",
            "`while True:` says the loop runs until it breaks (the same loop as `while 1:`)",
            "while-true",
        )

    # `range(0, n)` -> `range(n)`
    def _range_from_zero(self, node: Node) -> Hint | None:
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if function is None or arguments is None or self.text(function) != "range":
            return None
        given = arguments.named_children
        if len(given) != 2 or given[0].type != "integer" or self.text(given[0]) != "0":
            return None
        if given[1].type in ("keyword_argument", "list_splat", "dictionary_splat"):
            return None
        if node.start_point[0] != node.end_point[0] or self._rebinds_builtin(node, "range"):
            return None
        return self.one_line_hint(
            node,
            f"range({self.text(given[1])})",
            "a `range` starts at 0 unless told otherwise",
            "range-zero",
        )

    def _rebinds_builtin(self, node: Node, name: str) -> bool:
        """Whether the file uses ``name`` other than by calling it (it may be another)."""
        root = node
        while root.parent is not None:
            root = root.parent
        for use in self.uses(root, name):
            parent = use.parent
            if (
                parent is None
                or parent.type != "call"
                or parent.child_by_field_name("function") != use
            ):
                return True
        return False

    # `n = n + 1` -> `n += 1`, where `n` is only ever a number
    def _augmented(self, node: Node) -> Hint | None:
        found = _name_assignment(node)
        if found is None or node.start_point[0] != node.end_point[0]:
            return None
        assignment, left, right = found
        name = self.text(left)
        step = self._numeric_step(right, name)
        if step is None or assignment.child_by_field_name("type") is not None:
            return None
        function = self.enclosing(node, ("function_definition",))
        if function is None or not self._only_numbers(function, name):
            return None
        operator, operand = step
        new = f"{name} {operator}= {self.text(operand)}"
        return self.one_line_hint(
            assignment,
            new,
            f"`{name}` is only ever a number: `{new}` says it is changed in place",
            "augmented",
        )

    def _numeric_step(self, value: Node, name: str) -> tuple[str, Node] | None:
        """(operator, number) of ``name <operator> number``."""
        if value.type != "binary_operator":
            return None
        first, operator = value.child_by_field_name("left"), value.child_by_field_name("operator")
        operand = value.child_by_field_name("right")
        if first is None or operator is None or operand is None or not _is_number(operand):
            return None
        if first.type != "identifier" or self.text(first) != name:
            return None
        op = self.text(operator)
        return (op, operand) if op in _ARITHMETIC else None

    def _only_numbers(self, function: Node, name: str) -> bool:
        """Whether every binding of ``name`` in the function gives it a number (a number,
        or itself and a number by an operator): ``+=`` on a number is ``+`` (``+=`` on a
        list or an array changes it in place, where others may see it)."""
        if self._declared_outside(function.children[-1], name):
            return False
        for use in self.uses(function, name):
            parent = use.parent
            if parent is None:
                return False
            if parent.type == "assignment" and parent.child_by_field_name("left") == use:
                value = parent.child_by_field_name("right")
                if value is None or not (
                    _is_number(value) or self._numeric_step(value, name) is not None
                ):
                    return False
            elif parent.type == "augmented_assignment":
                if parent.child_by_field_name("left") == use:
                    value = parent.child_by_field_name("right")
                    operator = self.text(parent.child_by_field_name("operator") or parent)
                    if value is None or not _is_number(value) or operator[:-1] not in _ARITHMETIC:
                        return False
            elif parent.type in _BOUND_IN:
                return False
            elif parent.type in _BOUND_FIELDS:
                if parent.child_by_field_name(_BOUND_FIELDS[parent.type]) == use:
                    return False
        return True

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
        return self.one_line_hint(
            call,
            self.text(mapping),
            f"`in` looks up the keys of `{self.text(mapping)}` without `.keys()`",
            "keys-in",
        )

    # `x = expr` then `return x` -> `return expr`
    def _temporary(self, node: Node) -> Hint | None:
        found = _name_assignment(node)
        if found is None:
            return None
        assignment, left, right = found
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
        if self._declared_outside(node, self.text(left)) or self._in_try(node):
            return None
        if self.uses(right, self.text(left)):
            return None  # `x = lambda: x`: the value reads the name it is given
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
        for inner in walk(function):
            if inner.type in ("global_statement", "nonlocal_statement") and name in (
                self.text(c) for c in inner.named_children
            ):
                return True
        return False

    # `if a:` holding only `if b:` -> `if a and b:`
    def _nested_if(self, node: Node) -> Hint | None:
        if node.children_by_field_name("alternative"):
            return None
        body = statements(node.child_by_field_name("consequence"))
        if len(body) != 1 or body[0].type != "if_statement":
            return None
        inner = body[0]
        if inner.children_by_field_name("alternative"):
            return None
        outer_c, inner_c = (
            node.child_by_field_name("condition"),
            inner.child_by_field_name("condition"),
        )
        inner_body = inner.child_by_field_name("consequence")
        if outer_c is None or inner_c is None or inner_body is None:
            return None
        if self.snapshot.text.split("\n")[inner_body.start_point[0]].strip().startswith("if "):
            return None  # a one-line `if b: x` body: leave it
        if has_multiline_string(inner_body):
            return None
        joined = f"if {self._operand(outer_c)} and {self._operand(inner_c)}:"
        # The inner body moves out one level: the model rewrites the lines of both ifs.
        lines = self.snapshot.text.split("\n")[inner_body.start_point[0] : inner.end_point[0] + 1]
        body_text = dedent("\n".join(lines))
        unit = detect_indent_unit(self.snapshot.text)
        moved = indent_lines(body_text, unit)
        return self._span(
            node,
            inner,
            f"{joined}\n{moved}",
            "an `if` whose body is only another `if`: one `if` with both conditions",
            "nested-if",
        )

    def _operand(self, condition: Node) -> str:
        text = self.text(condition)
        if condition.type in ("boolean_operator", "conditional_expression", "named_expression"):
            if (
                condition.type != "boolean_operator"
                or self.text(condition.child_by_field_name("operator") or condition) == "or"
            ):
                return f"({text})"
        return text

    def _one_assignment(self, block: Node | None) -> tuple[str, Node] | None:
        body = statements(block)
        if len(body) != 1 or body[0].type != "expression_statement":
            return None
        found = _name_assignment(body[0])
        if found is None or found[0].child_by_field_name("type") is not None:
            return None
        return self.text(found[1]), found[2]

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
        # `.get` evaluates its default always; the `else` only when the key is missing.
        simple = ("identifier", "string", "integer", "float", "none", "true", "false")
        if got.type != "subscript" or default.type not in simple:
            return None
        value, index = got.child_by_field_name("value"), got.child_by_field_name("subscript")
        if value is None or index is None:
            return None
        if self.text(value) != self.text(operands[1]) or self.text(index) != self.text(operands[0]):
            return None
        replacement = f"{name} = {self.text(value)}.get({self.text(index)}, {self.text(default)})"
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
        unfit = ("conditional_expression", "lambda", "expression_list", "assignment", "yield")
        if then.type in unfit or other.type in unfit or then.type == "named_expression":
            return None
        cond = self.text(condition)
        if condition.type in ("conditional_expression", "lambda", "named_expression"):
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
        found = _name_assignment(node)
        if found is None:
            return None
        _, left, right = found
        if right.type != "list" or right.named_children:
            return None
        loop = self._next(node)
        if loop is None or loop.type != "for_statement" or loop.child_by_field_name("alternative"):
            return None
        if any(c.type == "async" for c in loop.children):
            return None
        name = self.text(left)
        body = statements(loop.child_by_field_name("body"))
        condition = ""
        if len(body) == 1 and body[0].type == "if_statement":
            inner = body[0]
            test = inner.child_by_field_name("condition")
            if inner.children_by_field_name("alternative") or test is None:
                return None
            condition = " if " + self.text(test)
            if test.type in ("conditional_expression", "lambda"):
                condition = f" if ({' '.join(self.text(test).split())})"
            body = statements(inner.child_by_field_name("consequence"))
        if len(body) != 1:
            return None
        element = self._appended(body[0], name)
        if element is None:
            return None
        target, iterable = loop.child_by_field_name("left"), loop.child_by_field_name("right")
        if target is None or iterable is None:
            return None
        # The list must not be read while it is built (`if x not in out`).
        if len(self.uses(loop, name)) != 1 or self._in_try(node):
            return None
        # A comprehension's variables end with it; the loop's live on after it.
        function = self.enclosing(loop, ("function_definition",))
        if function is None:
            return None
        for variable in (n for n in walk(target) if n.type == "identifier"):
            later = self.uses(function, self.text(variable))
            if any(n.start_byte > loop.end_byte for n in later):
                return None
        value = self.text(element)
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
        function, arguments = (
            call.child_by_field_name("function"),
            call.child_by_field_name("arguments"),
        )
        if function is None or arguments is None or self.text(function) != f"{name}.append":
            return None
        args = arguments.named_children
        if len(args) != 1 or args[0].type in ("keyword_argument", "list_splat", "dictionary_splat"):
            return None
        return args[0]


def _name_assignment(statement: Node) -> tuple[Node, Node, Node] | None:
    """(assignment, name, value) of an expression statement ``name = value``."""
    assignment = statement.named_children[0] if statement.named_children else None
    if assignment is None or assignment.type != "assignment":
        return None
    left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
    if left is None or right is None or left.type != "identifier":
        return None
    return assignment, left, right


def _is_number(node: Node) -> bool:
    if node.type == "unary_operator" and node.named_children:
        node = node.named_children[-1]
    return node.type in ("integer", "float")
