"""Whether an action has anything to do on a target, decided when actions are listed.

An action listed where its only possible answer is "nothing to do" costs the user a
click and a wait for the model (7 s on a CPU) to learn that: *Add docstring* on
definitions that are documented already (the model writes their documentation again),
*Add type annotations* where every parameter and return type has one, *Generate unit
tests* for a JavaScript method private to its class (``#name``: a test file cannot call
it). Such actions are not listed. Tree-sitter only, on the document's tree, so listing
stays instant.
"""

from __future__ import annotations

from tree_sitter import Node

from qwen_lsp import languages
from qwen_lsp.actions.target import (
    Target,
    definition_name,
    definitions_touching,
    has_documentation,
    outermost,
    with_leading,
)
from qwen_lsp.documents import Snapshot
from qwen_lsp.languages import web

# The parameter nodes that carry no annotation, and those a language never annotates.
_PY_UNTYPED = frozenset(
    {"identifier", "default_parameter", "list_splat_pattern", "dictionary_splat_pattern"}
)
_TS_PARAMETERS = frozenset({"required_parameter", "optional_parameter"})
_TYPED_LANGUAGES = frozenset({"python", "typescript", "tsx"})


def _definitions(snapshot: Snapshot, target: Target) -> list[Node]:
    """The target's named definitions, and for a class its methods: what the docstring
    and annotate actions work on."""
    if snapshot.tree is None or snapshot.language is None or not target.names:
        return []
    found = definitions_touching(snapshot, snapshot.tree.root_node, target.start, target.end)
    named = [n for n in found if definition_name(n, snapshot) in target.names]
    methods = [
        n for n in found if n not in named and any(_is_method_of(n, owner) for owner in named)
    ]
    return named + methods


def _is_method_of(node: Node, owner: Node) -> bool:
    """``node`` is defined directly in the body of the class ``owner`` (a function's
    nested helpers are its own business: they are not asked for documentation)."""
    if owner.child_by_field_name("parameters") is not None:
        return False  # a function, not a class
    body = outermost(node).parent
    return body is not None and body.parent is not None and body.parent == owner


def is_documented(snapshot: Snapshot, target: Target) -> bool:
    """Every definition of the target (and every method of a class) has documentation:
    a docstring, or a comment above it in the language's documentation style (a
    `// TODO` above a JavaScript function is no documentation; `/** ... */` is)."""
    nodes = _definitions(snapshot, target)
    language = snapshot.language or ""
    record = languages.find(language)
    marker = record.doc_start.split(" ")[0].split("{")[0] if record is not None else ""
    return bool(nodes) and all(_documented(n, language, marker, snapshot) for n in nodes)


def _documented(node: Node, language: str, marker: str, snapshot: Snapshot) -> bool:
    if not has_documentation(node, language):
        return False
    if language == "python" or not marker:
        return True
    first = with_leading(outermost(node))
    start = snapshot.offset_from_byte(first.start_byte)
    return snapshot.text.startswith(marker, start)


def is_fully_typed(snapshot: Snapshot, target: Target) -> bool:
    """Every function of the target (and every method of a class) annotates each of its
    parameters and its return type; False where the language has no annotations."""
    language = snapshot.language
    if language not in _TYPED_LANGUAGES:
        return False
    functions = [fn for n in _definitions(snapshot, target) if (fn := _function_of(n)) is not None]
    if not functions:
        return False
    check = _python_typed if language == "python" else _typescript_typed
    return all(check(fn) for fn in functions)


def is_private_to_its_class(snapshot: Snapshot, target: Target) -> bool:
    """Every definition of the target is a JavaScript (TypeScript) ``#name``: reachable
    only from inside its class, so no test file can call it (the 0.5B model, asked to,
    wrote ``obj.#queryTree(...)``, a syntax error)."""
    return (
        snapshot.language in ("javascript", "typescript", "tsx")
        and bool(target.names)
        and all(name.startswith("#") for name in target.names)
    )


def _function_of(node: Node) -> Node | None:
    """The function a definition node is (`const f = () => ...` included), or None."""
    if node.type == "function_definition" or node.type in web.JS_FUNCTIONS:
        return node
    for child in node.named_children:  # a declaration: its declarator's value
        value = child.child_by_field_name("value")
        if child.type == "variable_declarator" and value is not None:
            return value if value.type in web.JS_FUNCTIONS else None
    return None


def _python_typed(function: Node) -> bool:
    if function.child_by_field_name("return_type") is None:
        return False
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return True
    found = parameters.named_children
    if found and found[0].type == "identifier" and _takes_self(function):
        found = found[1:]  # self / cls take no annotation
    return not any(p.type in _PY_UNTYPED for p in found)


def _takes_self(function: Node) -> bool:
    """A method whose first parameter is its instance or class (not a staticmethod)."""
    outer = outermost(function)
    body = outer.parent
    if body is None or body.parent is None or body.parent.type != "class_definition":
        return False
    decorators = [c for c in outer.named_children if c.type == "decorator"]
    return not any(d.text is not None and d.text.strip() == b"@staticmethod" for d in decorators)


def _typescript_typed(function: Node) -> bool:
    name = function.child_by_field_name("name")
    setter = any(c.type == "set" for c in function.children)
    constructor = name is not None and name.text == b"constructor"
    if not (setter or constructor) and function.child_by_field_name("return_type") is None:
        return False
    parameters = function.child_by_field_name("parameters")
    if parameters is None:  # `x => ...`: one parameter, never annotated
        return function.child_by_field_name("parameter") is None
    return all(
        p.child_by_field_name("type") is not None
        for p in parameters.named_children
        if p.type in _TS_PARAMETERS
    )
