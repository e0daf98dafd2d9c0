"""Whether an offered code-action edit is what the action claims (the success-rate
benchmark's verdicts, benchmarks/bench_action_success.py).

- docstring: the function has a docstring (Python) or a doc comment directly above it,
  and the file is otherwise byte-identical once comments, docstrings and blank lines are
  set aside; the lines added do not copy 4 words in a row of the request (a small model
  may write "doc comments directly above it, ..."), nor one line 4 times;
- annotations: the function has more type annotations, and the file's tokens are the
  same once every annotation is dropped and the lines it inserted that import from
  typing or collections.abc (each name used by the annotations) are set aside; in
  Python, the module still binds every name the annotations evaluate;
- explain: lines were only inserted, and all of them are comments;
- tests: the test file parses; Python tests are run with pytest in a temporary folder
  beside a copy of the module, in a subprocess with a time limit (model-written code is
  never run anywhere else); JavaScript and TypeScript test files are run there by
  node's test runner (benchmarks/action_js_tests.py);
- simplify: not only the layout changed (:func:`layout_only`), and the function's
  doctests, where it has some, give the same results on the old and the new module (run
  the same way); without doctests, generated calls (benchmarks/action_calls.py,
  action_js_calls.py), then the same bytecode (action_bytecode.py, action_js_bytecode.py)
  decide, else "unchecked".

The verdicts are pure but for the sandboxed runs.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from qwen_lsp import syntax
from qwen_lsp.actions.text import copied_words, inserted_lines, looping_line

GOOD, BAD, UNCHECKED = "good", "bad", "unchecked"

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
# Nodes compared as one token: their text in full (their children may not cover it).
_ATOMIC = _COMMENTS | frozenset(
    {
        "string",
        "string_literal",
        "raw_string_literal",
        "interpreted_string_literal",
        "template_string",
        "char_literal",
        "rune_literal",
        "regex",
    }
)
_PY_ANNOTATION_PARENTS = frozenset({"typed_parameter", "typed_default_parameter"})


@dataclass(frozen=True)
class Verdict:
    outcome: str  # GOOD, BAD or UNCHECKED
    note: str = ""
    details: dict[str, object] = field(default_factory=dict)


def _root(language: str, text: str) -> tuple[bytes, Node]:
    source = text.encode("utf-8", syntax.UTF8_ERRORS)
    return source, syntax.get_parser(language).parse(source).root_node


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _cut(source: bytes, spans: list[tuple[int, int]]) -> bytes:
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            start = at
        if end <= start:
            continue
        out.append(source[at:start])
        at = end
    out.append(source[at:])
    return b"".join(out)


def _is_docstring(node: Node) -> bool:
    """A Python string statement that is the first statement of a module, class or def."""
    if node.type != "expression_statement" or len(node.named_children) != 1:
        return False
    if node.named_children[0].type != "string":
        return False
    parent = node.parent
    if parent is None or not parent.named_children or parent.named_children[0] != node:
        return False
    return parent.type == "module" or (
        parent.type == "block"
        and parent.parent is not None
        and parent.parent.type in ("function_definition", "class_definition")
    )


def without_docs(language: str, text: str, docstrings: bool = True) -> str:
    """``text`` without comments, Python docstrings (unless not ``docstrings``), trailing
    spaces and blank lines."""
    source, root = _root(language, text)
    spans = [
        # (Rust's doc comments end with their newline: it stays, so the indentation left
        # of the comment does not join the next line's)
        (n.start_byte, n.end_byte - (source[n.end_byte - 1 : n.end_byte] == b"\n"))
        for n in _walk(root)
        if n.type in _COMMENTS or (docstrings and language == "python" and _is_docstring(n))
    ]
    kept = _cut(source, spans).decode("utf-8", syntax.UTF8_ERRORS)
    return "\n".join(line.rstrip() for line in kept.split("\n") if line.strip())


def tokens(language: str, text: str) -> list[str]:
    """The file's tokens (leaves of its tree, strings and comments whole), whitespace
    not counted."""
    source, root = _root(language, text)
    out: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in _ATOMIC or not node.children:
            if node.end_byte > node.start_byte:
                out.append(source[node.start_byte : node.end_byte].decode("utf-8", "replace"))
            continue
        stack.extend(reversed(node.children))
    return out


def _annotation_spans(language: str, root: Node) -> list[tuple[int, int]]:
    spans = []
    for node in _walk(root):
        if language == "python" and node.type == "type":
            before = node.prev_sibling
            if before is not None and before.type in (":", "->"):
                spans.append((before.start_byte, node.end_byte))
        elif language in ("typescript", "tsx") and node.type == "type_annotation":
            spans.append((node.start_byte, node.end_byte))
    return spans


def without_annotations(language: str, text: str) -> str:
    source, root = _root(language, text)
    return _cut(source, _annotation_spans(language, root)).decode("utf-8", syntax.UTF8_ERRORS)


def _functions_named(language: str, text: str, name: str) -> list[Node]:
    """The definitions named ``name``, in the file's order."""
    source, root = _root(language, text)
    found = []
    for node in _walk(root):
        field_node = node.child_by_field_name("name")
        if field_node is None or node.type in ("identifier", "call_expression"):
            continue
        if source[field_node.start_byte : field_node.end_byte].decode("utf-8", "replace") == name:
            found.append(node)
    return found


def function_in(language: str, text: str, old: str, name: str, line: int) -> Node | None:
    """In ``text``, the definition that is, in ``old``, the one named ``name`` nearest to
    ``line`` (0-based): the same rank among those of that name (a getter and a setter
    share one; lines move when documentation is added above)."""
    before = _functions_named(language, old, name)
    if not before:
        return None
    rank = min(range(len(before)), key=lambda i: abs(before[i].start_point[0] - line))
    after = _functions_named(language, text, name)
    return after[rank] if rank < len(after) else None


def has_doc(language: str, text: str, name: str, line: int, old: str | None = None) -> bool:
    """Whether the function ``name`` near ``line`` (of ``old``, the text before the edit;
    default ``text``) is documented: a docstring in Python, else a comment on the line
    directly above it (attributes and decorators skipped)."""
    node = function_in(language, text, text if old is None else old, name, line)
    if node is None:
        return False
    if language == "python":
        body = node.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        return first is not None and _is_docstring(first)
    outer = node
    while outer.parent is not None and outer.parent.type in ("export_statement",):
        outer = outer.parent
    sibling = outer.prev_sibling
    top = outer.start_point[0]
    while sibling is not None and sibling.type == "attribute_item":
        top, sibling = sibling.start_point[0], sibling.prev_sibling
    return sibling is not None and sibling.type in _COMMENTS and sibling.end_point[0] >= top - 1


def _count_annotations(language: str, text: str, old: str, name: str, line: int) -> int:
    node = function_in(language, text, old, name, line)
    if node is None:
        return 0
    return len(_annotation_spans(language, node))


def _first_difference(old: str, new: str) -> str:
    old_lines, new_lines = old.split("\n"), new.split("\n")
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines).get_opcodes():
        if tag != "equal":
            was = old_lines[i1] if i1 < i2 else ""
            now = new_lines[j1] if j1 < j2 else ""
            return f"{tag}: {was.strip()[:60]!r} -> {now.strip()[:60]!r}"
    return ""


def docstring_verdict(
    language: str, old: str, new: str, name: str, line: int, request: str = ""
) -> Verdict:
    """See the module's docstring; ``request`` is the text the model was asked with
    (without the code): documentation that copies it documents nothing."""
    before, after = without_docs(language, old), without_docs(language, new)
    if before != after:
        return Verdict(BAD, "code changed: " + _first_difference(before, after))
    if not has_doc(language, new, name, line, old):
        return Verdict(BAD, f"no docstring on {name}")
    added = inserted_lines(old, new)
    if echo := copied_words(added, request):
        return Verdict(BAD, f"the documentation repeats the request: {echo!r}")
    if repeated := looping_line(added):
        return Verdict(BAD, f"the documentation repeats a line: {repeated[:40]!r}")
    return Verdict(GOOD)


# An import the annotate action may add (Python): the standard library's typing names.
_TYPING_IMPORT = re.compile(
    r"^(?:from (?:typing|collections\.abc) import ([\w, ]+)|import (typing))\s*$"
)


def _without_typing_imports(old: str, new: str) -> tuple[str, list[str]]:
    """``new`` without the lines it inserted that import from typing or collections.abc,
    and the names those lines import."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    kept, names = [], []
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(
        None, old_lines, new_lines, autojunk=False
    ).get_opcodes():
        for line in new_lines[j1:j2]:
            match = _TYPING_IMPORT.match(line) if tag == "insert" else None
            if match is None:
                kept.append(line)
            else:
                names.extend(n.strip() for n in (match[1] or match[2]).split(","))
    return "\n".join(kept), names


class _Bindings(ast.NodeVisitor):
    """The names a module binds outside its functions (where annotations are evaluated)."""

    def __init__(self) -> None:
        self.names: set[str] = set(dir(builtins))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.names.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.add(node.name)
        self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> None:
        self.names.add(node.asname or node.name.split(".")[0])

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)


def _annotation_roots(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function's annotations evaluate (not those in strings)."""
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    annotations = [a.annotation for a in every if a is not None and a.annotation is not None]
    if function.returns is not None:
        annotations.append(function.returns)
    return {n.id for a in annotations for n in ast.walk(a) if isinstance(n, ast.Name)}


def _unbound_annotation_names(new: str, name: str, line: int) -> tuple[set[str], set[str]]:
    """The names the annotations of the function ``name`` nearest ``line`` (of ``new``)
    use, and those of them the module does not bind (none when it does not evaluate
    them, or when Python cannot read it)."""
    try:
        tree = ast.parse(new)
    except (SyntaxError, ValueError):
        return set(), set()
    functions = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    ]
    if not functions:
        return set(), set()
    function = min(functions, key=lambda f: abs(f.lineno - 1 - line))
    used = _annotation_roots(function)
    if re.search(r"^from\s+__future__\s+import\s+[^\n]*\bannotations\b", new, re.M):
        return used, set()
    bindings = _Bindings()
    bindings.visit(tree)
    return used, used - bindings.names


def annotations_verdict(language: str, old: str, new: str, name: str, line: int) -> Verdict:
    imports: list[str] = []
    if language == "python":
        new_code, imports = _without_typing_imports(old, new)
    else:
        new_code = new
    before = tokens(language, without_annotations(language, old))
    after = tokens(language, without_annotations(language, new_code))
    if before != after:
        return Verdict(
            BAD, "code changed: " + _first_difference("\n".join(before), "\n".join(after))
        )
    added = _count_annotations(language, new, old, name, line) - _count_annotations(
        language, old, old, name, line
    )
    if added <= 0:
        return Verdict(BAD, "no annotation added")
    details: dict[str, object] = {"added": added}
    if language == "python":
        used, unbound = _unbound_annotation_names(new, name, line)
        if unbound:
            return Verdict(BAD, f"the module does not bind {', '.join(sorted(unbound))}")
        functions = sorted(n for n in used if not isinstance(getattr(builtins, n, int), type))
        if functions:
            return Verdict(BAD, f"annotations name built-in functions: {', '.join(functions)}")
        if imports:
            if not set(imports) <= used or len(set(imports)) < len(imports):
                return Verdict(BAD, f"imports what the annotations do not use: {imports}")
            details["imports"] = len(imports)
    return Verdict(GOOD, details=details)


def comment_verdict(language: str, old: str, new: str) -> Verdict:
    """An insertion of comment lines and nothing else."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    if any(tag not in ("equal", "insert") for tag, *_ in matcher.get_opcodes()):
        return Verdict(BAD, "existing lines changed: " + _first_difference(old, new))
    if old == new:
        return Verdict(BAD, "nothing inserted")
    if without_docs(language, old, docstrings=False) != without_docs(language, new, False):
        return Verdict(BAD, "not only comments inserted")
    return Verdict(GOOD)


def layout_only(language: str, old: str, new: str) -> str:
    """Why a rewrite simplified nothing ("" when it changed the code): its tokens are the
    same once comments, docstrings and JavaScript's statement-ending semicolons are set
    aside."""

    def code(text: str) -> list[str]:
        return [t for t in tokens(language, without_docs(language, text)) if t != ";"]

    if code(old) != code(new):
        return ""

    def documentation(text: str) -> list[str]:
        source, root = _root(language, text)
        return [
            source[n.start_byte : n.end_byte].decode("utf-8", "replace")
            for n in _walk(root)
            if n.type in _COMMENTS or (language == "python" and _is_docstring(n))
        ]

    dropped = not set(documentation(old)) <= set(documentation(new))
    return "only the layout changed" + (" (comments dropped)" if dropped else "")


def parses(language: str, text: str) -> bool:
    _, root = _root(language, text)
    return not root.has_error


# --- running model-written code, only in a sandbox ------------------------------------------


@dataclass(frozen=True)
class SandboxRun:
    returncode: int | None  # None: killed at the time limit
    output: str
    passed: int = 0
    failed: int = 0
    errors: int = 0


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (50 << 20, 50 << 20))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))


def run_sandboxed(files: dict[str, str], argv: list[str], timeout: float) -> SandboxRun:
    """Run ``argv`` in a fresh temporary folder holding ``files``, in its own process group
    with memory, file-size and CPU limits, killed (with its children) at ``timeout``."""
    with tempfile.TemporaryDirectory(prefix="qwen-lsp-sandbox-") as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": folder,
            "TMPDIR": folder,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "LANG": "C.UTF-8",
        }
        process = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_limits,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            code = None
    text = output.decode("utf-8", "replace")
    counts = {
        kind: sum(int(n) for n in re.findall(rf"(\d+) {kind}", _summary(text)))
        for kind in ("passed", "failed", "error")
    }
    return SandboxRun(code, text, counts["passed"], counts["failed"], counts["error"])


def _summary(output: str) -> str:
    lines = [line for line in output.strip().split("\n") if line.strip()]
    return lines[-1] if lines else ""


def python_tests_verdict(module: str, module_text: str, tests: str, timeout: float) -> Verdict:
    """Generated pytest tests: they parse, import the module and run. GOOD means they ran
    (collected and executed); whether they passed is in the details."""
    if not parses("python", tests):
        return Verdict(BAD, "the test file does not parse")
    run = run_sandboxed(
        {f"{module}.py": module_text, f"test_{module}.py": tests},
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"test_{module}.py"],
        timeout,
    )
    details: dict[str, object] = {
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "summary": _summary(run.output)[:200],
        # what failed and why, for reading the JSON (pytest -q's short summary)
        "failures": [line[:160] for line in run.output.split("\n") if line.startswith("FAILED")],
    }
    if run.returncode is None:
        return Verdict(BAD, "the tests hit the time limit", details)
    if run.returncode not in (0, 1) or run.errors or not run.passed + run.failed:
        return Verdict(BAD, "the tests do not run: " + _summary(run.output)[:120], details)
    return Verdict(GOOD, details=details)


def tests_verdict(
    language: str, module: str, module_text: str, tests: str, timeout: float
) -> Verdict:
    if language == "python":
        return python_tests_verdict(module, module_text, tests, timeout)
    if not parses(language, tests):
        return Verdict(BAD, "the test file does not parse")
    # Running them would need the project's build (go and cargo modules); JavaScript and
    # TypeScript: benchmarks/action_js_tests.py.
    return Verdict(GOOD, "parses (not run)")


# The original function's examples, run against a module (the old one, then the new one).
_DOCTEST = (
    "import doctest, importlib, pathlib\n"
    "module = importlib.import_module({module!r})\n"
    "source = pathlib.Path('examples.txt').read_text()\n"
    "test = doctest.DocTestParser().get_doctest(source, vars(module), {name!r}, None, 0)\n"
    "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)\n"
    "runner.run(test, out=lambda s: None)\n"
    "print('doctest', runner.failures, runner.tries)\n"
)


def _docstring(function: str) -> str:
    """The docstring of a Python function's source (parsed, never run); "" if none."""
    try:
        tree = ast.parse(textwrap.dedent(function))
    except SyntaxError:
        return ""
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return ""
    return ast.get_docstring(node) or ""


def simplify_verdict(
    module: str, old: str, new: str, name: str, old_function: str, timeout: float
) -> Verdict:
    """Same doctest results before and after, for a Python function that has doctests."""
    examples = _docstring(old_function)
    if ">>>" not in examples:
        return Verdict(UNCHECKED, "no doctests")
    script = _DOCTEST.format(module=module, name=name)
    results = []
    for text in (old, new):
        run = run_sandboxed(
            {f"{module}.py": text, "run_doctests.py": script, "examples.txt": examples},
            [sys.executable, "run_doctests.py"],
            timeout,
        )
        found = re.search(r"doctest (\d+) (\d+)", run.output)
        results.append(found.groups() if found else None)
    if results[0] is None or results[0][1] == "0":
        return Verdict(UNCHECKED, "the doctests did not run on the original")
    if results[1] != results[0]:
        return Verdict(BAD, f"doctests: {results[0]} before, {results[1]} after")
    return Verdict(GOOD, "same doctest results")
