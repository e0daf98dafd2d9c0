"""How a generated JavaScript (TypeScript) test file binds the code under test, and how it
calls a method.

The test file is started with ``const { Version } = require('./version')``; but npm's
modules mostly export one class, ``module.exports = Version``, and destructuring that
gives ``undefined``: every test then fails on "Cannot read properties of undefined"
before any assertion is tried. The module is read (parsed, never run) for what it
exports, and the name it exports alone is bound as it is (``const Version = ...``,
``import Version from ...``).

Asked to test an instance method (``usage`` of class ``Gyp``), the 0.5B model calls it on
the class, ``Gyp.usage()``: "not a function". The prompt says how it is called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp.actions.target import parse


@dataclass(frozen=True)
class Exports:
    whole: str | None  # the name exported as the module itself (module.exports = X)
    named: frozenset[str]  # names exported by name (exports.x, module.exports = { x })


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""


def _commonjs(statement: Node) -> tuple[str | None, set[str]]:
    """What one top-level ``module.exports = ...`` / ``exports.x = ...`` statement exports."""
    if statement.type != "expression_statement" or not statement.named_children:
        return None, set()
    assignment = statement.named_children[0]
    if assignment.type != "assignment_expression":
        return None, set()
    left, right = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
    target = _text(left)
    if target == "module.exports" and right is not None:
        if right.type == "identifier":
            return _text(right), set()
        if right.type in ("class", "function_expression", "class_declaration"):
            return _text(right.child_by_field_name("name")) or None, set()
        if right.type == "object":
            return None, _object_keys(right)
        return None, set()
    match = re.fullmatch(r"(?:module\.)?exports\.(\w+)", target)
    return (None, {match[1]}) if match else (None, set())


def _object_keys(node: Node) -> set[str]:
    keys: set[str] = set()
    for child in node.named_children:
        if child.type == "shorthand_property_identifier":
            keys.add(_text(child))
        elif child.type in ("pair", "method_definition"):
            key = child.child_by_field_name("key") or child.child_by_field_name("name")
            keys.add(_text(key).strip("'\""))
    return keys


def _esm(statement: Node) -> tuple[str | None, set[str]]:
    """What one ``export`` statement exports."""
    if statement.type != "export_statement":
        return None, set()
    is_default = any(child.type == "default" for child in statement.children)
    declaration = statement.child_by_field_name("declaration")
    value = statement.child_by_field_name("value")
    if is_default:
        named = declaration if declaration is not None else value
        name = _text(named.child_by_field_name("name")) if named is not None else ""
        if named is not None and named.type == "identifier":
            name = _text(named)
        return name or None, set()
    names: set[str] = set()
    if declaration is not None:
        names.add(_text(declaration.child_by_field_name("name")))
        for declarator in declaration.named_children:
            if declarator.type == "variable_declarator":
                names.add(_text(declarator.child_by_field_name("name")))
    for clause in statement.named_children:
        if clause.type == "export_clause":
            for specifier in clause.named_children:
                alias = specifier.child_by_field_name("alias")
                names.add(_text(alias or specifier.child_by_field_name("name")))
    return None, names


def module_exports(language: str, text: str) -> Exports:
    """What a JavaScript (TypeScript) module exports, read from its top-level statements."""
    _, root = parse(language, text)
    whole: str | None = None
    named: set[str] = set()
    for statement in root.named_children:
        for found_whole, found_named in (_commonjs(statement), _esm(statement)):
            whole = found_whole or whole
            named |= found_named
    named.discard("")
    return Exports(whole, frozenset(named))


def binding(language: str, text: str, names: list[str]) -> str:
    """What the test file binds the module to: ``Name`` when the one name wanted is what
    the module exports as itself (and not also by name), else ``{ a, b }``."""
    exports = module_exports(language, text)
    if len(names) == 1 and names[0] == exports.whole and names[0] not in exports.named:
        return names[0]
    return "{ " + ", ".join(names) + " }"


_METHOD_HEAD = re.compile(r"^[ \t]*((?:(?:static|async|get|set|public|private|protected)\s+)*)")


def method_guidance(text: str, code: str, name: str, owner: str) -> str:
    """How the test calls ``name``, a method of class ``owner`` (``code``: its definition;
    ``text``: the file); "" when the owner is no class of ``text``."""
    if name == owner or not re.search(rf"\bclass\s+{re.escape(owner)}\b", text):
        return ""
    head = _METHOD_HEAD.match(code)
    modifiers = set(head[1].split()) if head is not None else set()
    if name == "constructor":
        return f" It is the constructor of `{owner}`: test the objects `new {owner}(...)` makes."
    if "static" in modifiers:
        return f" `{name}` is a static method: call it on the class, `{owner}.{name}(...)`."
    made = (
        f" `{name}` is a method of `{owner}` objects: make one first (`const obj = new "
        f"{owner}(...)`, with the arguments its constructor needs), then "
    )
    if modifiers & {"get", "set"}:
        return made + f"read or set `obj.{name}`."
    return made + f"call `obj.{name}(...)`."
