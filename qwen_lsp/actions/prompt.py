"""The chat prompt of an action, and how much the answer may take.

The prompt holds the action's system prompt, some context (imports, enclosing
signatures) within a token budget, the code and the task; the user's templates name
what they need with {placeholders}. For actions that answer with code, the answer is
started for the model (an opening fence, the start of a test), which keeps small models
on task.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tree_sitter import Node

from qwen_lsp import languages, uris
from qwen_lsp.actions import nearby, simplify_hints, testrequire
from qwen_lsp.actions.catalogue import CODE_REPLY, ActionSpec, Placement, Reply
from qwen_lsp.actions.reconcile import signature_start
from qwen_lsp.actions.target import Target, is_definition
from qwen_lsp.actions.text import dedent, indent_of, line_end, line_start
from qwen_lsp.chat import ChatTemplate
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import PromptPart
from qwen_lsp.languages import TestStyle

# --- context --------------------------------------------------------------------------------


def context_text(
    snapshot: Snapshot, target: Target, count_tokens: Callable[[str], int], budget: int
) -> str:
    """Imports and the signatures enclosing the target, within ``budget`` tokens.

    Enclosing signatures come first (a method without its class reads wrong), then the
    file's imports in order, as many as fit.
    """
    tree, language, spec = snapshot.tree, snapshot.language, languages.find(snapshot.language)
    if tree is None or language is None or spec is None or budget <= 0:
        return ""
    text = snapshot.text
    start_byte, end_byte = snapshot.byte_offset(target.start), snapshot.byte_offset(target.end)
    headers: list[str] = []
    node: Node | None = tree.root_node.descendant_for_byte_range(start_byte, end_byte)
    while node is not None:
        if (
            is_definition(node, language)
            and node.start_byte < start_byte
            and node.end_byte >= end_byte
        ):
            headers.append(_header(snapshot, node, language))
        node = node.parent
    headers.reverse()
    used = sum(count_tokens(h) for h in headers)
    if used > budget:
        headers, used = headers[-1:], count_tokens(headers[-1])
        if used > budget:
            return ""
    imports: list[str] = []
    for child in tree.root_node.children:
        if child.type in spec.import_nodes:
            if child.start_byte >= start_byte:
                break
            line = text[
                snapshot.offset_from_byte(child.start_byte) : snapshot.offset_from_byte(
                    child.end_byte
                )
            ]
            cost = count_tokens(line)
            if used + cost > budget:
                break
            imports.append(line)
            used += cost
    return "\n\n".join(part for part in ("\n".join(imports), "\n".join(headers)) if part)


def _header(snapshot: Snapshot, node: Node, language: str) -> str:
    """The signature of a definition, its body elided."""
    definition = node
    for field_name in ("definition", "declaration"):
        inner = definition.child_by_field_name(field_name)
        if inner is not None:
            definition = inner
    body = definition.child_by_field_name("body")
    text = snapshot.text
    start = line_start(text, snapshot.offset_from_byte(node.start_byte))
    if body is None:
        end = line_end(text, snapshot.offset_from_byte(node.start_byte))
        return text[start:end]
    body_start = snapshot.offset_from_byte(body.start_byte)
    head = text[start:body_start].rstrip()
    indent = indent_of(text[start:])
    if language == "python":
        return f"{head}\n{indent}    ..."
    if head.endswith("{"):
        return f"{head} ... }}"
    if not text.startswith("{", body_start):
        return f"{head} ..."  # a body a keyword closes (Ruby's and Lua's `end`)
    return f"{head} {{ ... }}"


# --- the prompt -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    """A problem the client reported (from the code-action context)."""

    line: int  # 0-based document line
    message: str
    source: str = ""
    code: str = ""
    column: int = 0  # where on the line it starts (UTF-16 code units, as LSP counts)


@dataclass(frozen=True)
class ActionInput:
    """Everything an action's prompt and edit depend on."""

    spec: ActionSpec
    snapshot: Snapshot
    target: Target
    diagnostics: tuple[Diagnostic, ...] = ()
    can_create_files: bool = True
    # For placement newFile: the uri of the file to write, its current text if it exists
    # and its version if it is open (the edit is then versioned).
    new_file_uri: str = ""
    new_file_text: str | None = None
    new_file_version: int | None = None

    @property
    def code(self) -> str:
        return self.snapshot.text[self.target.start : self.target.end]

    @property
    def placement(self) -> Placement:
        if self.spec.placement == "newFile" and (
            not self.can_create_files or not self.new_file_uri
        ):
            return "below"
        return self.spec.placement


@dataclass(frozen=True)
class PromptPlan:
    parts: list[PromptPart]
    assistant_prefix: str  # the answer continues this text (e.g. an opening fence)
    max_tokens: int
    rewrite: bool
    prompt_tokens: int = 0
    max_line: int = 400  # a longer answer line is a model stuck repeating itself
    fence: str = "```"  # the code fence the answer was opened with
    # What the model was asked for ("doc", "signatures": that part alone, for one
    # definition; "code": the code) and in which language: the answer ends sooner.
    reply: Reply = "code"
    language: str = ""
    request: str = ""  # what the model was asked, without the code: an answer must not copy it
    tests: bool = False  # a test answer: it stops once it has the tests asked for (testcut.py)


def stem_and_ext(uri: str) -> tuple[str, str]:
    """(stem, extension) of a document's file name: ``file:///w/geo.py`` -> ("geo", ".py")."""
    return posixpath.splitext(uris.name(uri))


class FileNameError(ValueError):
    """A newFile action's fileName that cannot be filled in (said in the message)."""


_FILE_NAME_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
FILE_NAME_PLACEHOLDERS = ("stem", "ext")


def file_name(pattern: str, stem: str, ext: str) -> str:
    """A fileName pattern filled in: {stem} and {ext}, {{ and }} for braces.

    Raises FileNameError for any other {placeholder} or a lone brace.
    """
    values = {"stem": stem, "ext": ext}

    def part(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        key = match.group(1)
        if key in values:
            return values[key]
        allowed = " and ".join(f"{{{k}}}" for k in FILE_NAME_PLACEHOLDERS)
        what = f"uses {token}" if key is not None else "has an unmatched brace"
        raise FileNameError(f"the fileName {pattern!r} {what}; it may use {allowed}")

    return _FILE_NAME_PART.sub(part, pattern)


def new_file_uri(spec: ActionSpec, snapshot: Snapshot) -> str:
    """Where a newFile action writes, relative to the document's folder ("" when it does
    not apply: another placement, or a document that is not a local file).

    Raises FileNameError for a fileName pattern that cannot be filled in. The result is
    not checked against the workspace: :mod:`qwen_lsp.actions.files` does that.
    """
    pattern = spec.file_name
    if spec.id == "tests":
        style = _test_style(snapshot)
        pattern = style.file_name if style is not None else ""
    if not pattern or spec.placement != "newFile":
        return ""
    path = uris.to_path(snapshot.uri)
    stem, ext = stem_and_ext(snapshot.uri)
    if path is None or not stem:
        return ""
    name = file_name(pattern, stem, ext)
    if not name.strip() or "\0" in name or name.endswith(("/", os.sep)):
        raise FileNameError(f"the fileName {pattern!r} gives no file name ({name!r})")
    return uris.from_path(os.path.normpath(os.path.join(os.path.dirname(path), name)))


def _test_style(snapshot: Snapshot) -> TestStyle | None:
    spec = languages.find(snapshot.language)
    return spec.test_style if spec is not None else None


def fence_language(language: str | None, language_id: str) -> str:
    """The info string of a Markdown code fence for this language."""
    return language or language_id or ""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace known {placeholders} in one pass (inserted text is never re-scanned)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def reported_lines(action: ActionInput) -> list[int]:
    """The document lines (0-based) with a reported problem inside the target, in order."""
    target_line = action.snapshot.position_at(action.target.start)[0]
    end_line = action.snapshot.position_at(action.target.end)[0]
    return sorted({d.line for d in action.diagnostics if target_line <= d.line <= end_line})


def _diagnostics_text(action: ActionInput) -> str:
    target_line = action.snapshot.position_at(action.target.start)[0]
    end_line = action.snapshot.position_at(action.target.end)[0]
    document_lines = action.snapshot.text.splitlines()
    lines = []
    for diagnostic in action.diagnostics:
        if not target_line <= diagnostic.line <= end_line:
            continue
        # The line itself: a small model does not count lines.
        shown = (
            document_lines[diagnostic.line].strip() if diagnostic.line < len(document_lines) else ""
        )
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        where = f"line {diagnostic.line - target_line + 1}"
        if shown and "`" not in shown:
            where += f" (`{shown}`)"
        source = f" ({diagnostic.source}{' ' + diagnostic.code if diagnostic.code else ''})"
        hint = _names_hint(action, diagnostic.message)
        lines.append(f"- {where}: {diagnostic.message}{source if diagnostic.source else ''}{hint}")
    if not lines:
        return ""
    heading = "Problems the editor reports (line numbers count from the first line of the code):"
    return heading + "\n" + "\n".join(lines) + "\n\n"


def _names_hint(action: ActionInput, message: str) -> str:
    """For an undefined name, the names of the file spelled almost like it, as a
    language server's "did you mean" offers them: the 0.5B model told only that `eky` is
    undefined copies the line back; asked "Did you mean `key`?" it more often writes
    `key` (it did not when the names were listed on a line of their own)."""
    name = nearby.undefined_name(message)
    if name is None:
        return ""
    found = nearby.similar_names(action.snapshot, name, action.target.start, action.target.end)
    if not found:
        return ""
    # One name: offered two, the model picks the wrong one as often as not.
    return f" Did you mean `{found[0]}`?"


def _reported_block(action: ActionInput, ticks: str, fence: str) -> str:
    """The reported lines of the code shown again on their own, right before the task:
    a small model copies the block nearest its answer, so this one (corrected) rather
    than the whole function with the bug."""
    reported = reported_lines(action)
    if not reported or small_reply(action) != "lines":
        return ""
    first = action.snapshot.position_at(action.target.start)[0]
    code_lines = dedent(action.code).split("\n")
    low, high = min(reported) - first, max(reported) - first
    if high - low >= 8 or high >= len(code_lines):
        return ""
    shown = dedent("\n".join(code_lines[low : high + 1]))
    what = "The line" if low == high else "The lines"
    return f"{what} to correct:\n{ticks}{fence}\n{shown}\n{ticks}\n\n"


def placeholder_values(action: ActionInput, context: str) -> dict[str, str]:
    snapshot, target = action.snapshot, action.target
    language = snapshot.language or snapshot.language_id
    fence = fence_language(snapshot.language, snapshot.language_id)
    code = dedent(action.code)
    stem, ext = stem_and_ext(snapshot.uri)
    qualified = ", ".join(
        name if top == name else f"{top}.{name}"
        for name, top in zip(target.names, target.top_names or target.names, strict=False)
    )
    imports = ", ".join(dict.fromkeys(target.top_names or target.names))
    diagnostics = _diagnostics_text(action)
    spec = action.spec
    ticks = _fence_ticks(code)
    file_name = f"{stem}{ext}"
    context_block = (
        f"Context from {file_name}:\n{ticks}{fence}\n{context}\n{ticks}\n\n" if context else ""
    )
    subject = f"`{target.names[0]}`" if len(target.names) == 1 else "each function and class"
    style = _test_style(snapshot)
    test_guidance = test_start = ""
    if style is not None:
        in_file = action.placement != "newFile"
        guidance = style.guidance
        if in_file and style.file_name:
            guidance = (
                "Write the tests as code that goes at the end of the same file, below the "
                "code (the code under test is already defined there; do not import or "
                "redefine it)."
            )
        wanted = list(dict.fromkeys(target.top_names or target.names))
        test_values = {
            "module": stem,
            "names": imports or "the functions",
            # how a JavaScript (TypeScript) test binds the module: `{ a }`, or `A` itself
            "binding": testrequire.binding(language, snapshot.text, wanted)
            if snapshot.language in ("javascript", "typescript") and wanted
            else "{ " + (imports or "the functions") + " }",
            "stem": stem,
            "package": _go_package(snapshot) or "main",
        }
        test_guidance = _unbrace(fill(guidance, test_values))
        test_guidance += _method_guidance(snapshot.language, target, code, snapshot.text)
        if re.search(r"^\s*>>> ", code, re.M):
            # A small model's own expected values are often wrong; the code's examples are
            # right (as far as the code's author knew).
            test_guidance += (
                " The examples in its docstring (the >>> lines and the results under them) "
                "are right: make assertions of them first."
            )
        # A test file that exists already has its header: only a test is started.
        fresh_file = not in_file and action.new_file_text is None
        test_start = fill(style.file_start if fresh_file else style.block_start, test_values)
    values = {
        "language": language,
        "selection": code,
        "code": f"{ticks}{fence}\n{code}\n{ticks}",
        "scope": dedent(snapshot.text[target.scope_start : target.scope_end]),
        "diagnostics": diagnostics,
        "reported": _reported_block(action, ticks, fence),
        "file": file_name,
        "name": target.names[0] if target.names else "",
        "names": f"`{qualified}`" if qualified else "the code",
        "context": context_block,
        "subject": subject,
        "doc_convention": _doc_convention(snapshot),
        "fix_hint": " (the problems listed above)" if diagnostics else "",
        "annotate_hint": " (built-in types such as list[str], dict[str, int] and X | None, "
        "no imports)"
        if snapshot.language == "python"
        else "",
        "test_guidance": test_guidance,
        "test_start": test_start,
        # (a fix changes lines: it is not told to keep them)
        "reply": reply_text(small_reply(action), snapshot.language, spec.reply != "lines"),
    }
    return values


_PY_SELF_METHOD = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\([ \t]*self\b", re.M)


def _method_guidance(language: str | None, target: Target, code: str, text: str) -> str:
    """For a method of a class, how to call it: asked for tests of `Context.fma`, the 0.5B
    model wrote `Context.fma(a, b, c)`, which fails for want of `self` before any
    assertion is tried (JavaScript and TypeScript: testrequire.method_guidance)."""
    if len(target.names) != 1 or not target.top_names:
        return ""
    name, owner = target.names[0], target.top_names[0]
    if language in ("javascript", "typescript"):
        return testrequire.method_guidance(text, code, name, owner)
    if language != "python":
        return ""
    found = _PY_SELF_METHOD.match(code)
    if owner == name or found is None or found.group(1) != name:
        return ""
    if name == "__init__":
        return f" It is the constructor of `{owner}`: test the objects `{owner}(...)` makes."
    return (
        f" `{name}` is a method of `{owner}` objects: make one first (`obj = {owner}(...)`, "
        f"with the arguments its constructor needs), then call `obj.{name}(...)`."
    )


def small_reply(action: ActionInput) -> Reply:
    """What the model is asked to write: the part the action changes, alone, when the
    target is one definition; else the code (several definitions: which is which?)."""
    spec = action.spec
    if (
        spec.id == "simplify"
        and action.placement == "replace"
        and simplify_hints.first_hint(action.snapshot, action.target)
    ):
        return "span"  # the lines of the simplification the server found, rewritten
    if spec.reply == "code" or action.placement != "replace":
        return "code"
    if spec.reply == "lines":  # the reported lines, when there are some in the target
        return "lines" if reported_lines(action) else "code"
    if spec.reply == "doc" and len(action.target.names) != 1:
        return "code"
    return spec.reply


def _span_prompt(action: ActionInput, values: Mapping[str, str]) -> str:
    """Simplify told what to change: the 0.5B model asked only to "simplify" copies the
    code back; told which lines and into what, it writes them (simplify_hints.py)."""
    hint = simplify_hints.first_hint(action.snapshot, action.target)
    if hint is None:  # (small_reply said there is one)
        return fill(action.spec.prompt, values)
    first = action.snapshot.position_at(action.target.start)[0]
    code_lines = dedent(action.code).split("\n")
    low, high = hint.first - first, hint.last - first
    shown = dedent("\n".join(code_lines[low : high + 1]))
    ticks = _fence_ticks(values["selection"])
    fence = fence_language(action.snapshot.language, action.snapshot.language_id)
    where = f"Line {low + 1}" if low == high else f"Lines {low + 1}-{high + 1}"
    return (
        f"{values['context']}Code:\n{values['code']}\n\n"
        f"{where} of it:\n{ticks}{fence}\n{shown}\n{ticks}\n\n"
        f"Task: simplify these lines: {hint.why}. They become:\n"
        f"{ticks}{fence}\n{hint.replacement}\n{ticks}\n\n"
        "Reply with the new line(s) alone, in a single fenced code block, without the rest "
        "of the code."
    )


def reply_text(reply: Reply, language: str | None, keep_code: bool = True) -> str:
    if reply == "lines":
        return (
            "Reply with the corrected line(s) alone, in a single fenced code block: the "
            "line(s) the problems are on, fixed, without the rest of the code."
        )
    if reply == "doc":
        if language == "python":
            return (
                "Reply with the docstring alone, in a single fenced code block: the "
                "triple-quoted string, without the code."
            )
        return (
            "Reply with the doc comment alone, in a single fenced code block: the comment "
            "lines that go directly above it, without the code."
        )
    if reply == "signatures":
        part = (
            "its def line(s) up to the colon"
            if language == "python"
            else "its first line up to the opening brace"
        )
        return (
            f"Reply with the annotated signature of each function alone ({part}), in a "
            "single fenced code block, without the bodies."
        )
    return CODE_REPLY + (" Keep every line of code exactly as it is." if keep_code else "")


def _doc_convention(snapshot: Snapshot) -> str:
    spec = languages.find(snapshot.language)
    return spec.doc_convention if spec is not None else "a doc comment"


def _unbrace(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _fence_ticks(code: str) -> str:
    longest = max((len(m.group()) for m in re.finditer(r"`{3,}", code)), default=0)
    return "`" * max(3, longest + 1)


def _go_package(snapshot: Snapshot) -> str:
    match = re.search(r"^package\s+(\w+)", snapshot.text, re.M)
    return match.group(1) if match else ""


def build_prompt(
    action: ActionInput,
    template: ChatTemplate,
    count_tokens: Callable[[str], int],
    context_budget: int,
    answer_start: str = "",
) -> PromptPlan:
    """The chat prompt of an action, and how much the answer may take; ``answer_start``
    is put at the start of the answer, after what the action starts it with."""
    # Corrected lines need no context: the 0.5B model answered a fix in a method with
    # its class's header from the context (`class X extends Y { ... }`).
    reply = small_reply(action)
    context = (
        ""
        if reply in ("lines", "span")
        else context_text(action.snapshot, action.target, count_tokens, context_budget)
    )
    values = placeholder_values(action, context)
    spec = action.spec
    system = fill(spec.system, values)
    user = fill(spec.prompt, values) if reply != "span" else _span_prompt(action, values)
    fence = fence_language(action.snapshot.language, action.snapshot.language_id)
    # A fence longer than any run of backticks in the code, so the code cannot close it.
    ticks = _fence_ticks(values["selection"])
    prefix = f"{ticks}{fence}\n" if spec.answer == "code" else ""
    if spec.answer == "code" and spec.check == "tests":
        prefix += values["test_start"]
    # The answer is started as it should go on: the documentation's opening, or the
    # signature up to its parameters.
    if reply == "doc":
        record = languages.find(action.snapshot.language)
        prefix += fill(record.doc_start, values) if record is not None else ""
    elif reply == "signatures":
        prefix += signature_start(action.snapshot, action.target)
    prefix += answer_start
    code_tokens = count_tokens(values["selection"])
    max_tokens = spec.max_tokens or (code_tokens * 2 + 160)
    if spec.answer == "code" and spec.placement == "replace":
        max_tokens = max(max_tokens, code_tokens + 160)
    # The answer is a part of the code (its end is seen sooner); corrected lines are not
    # capped: a model that rewrites the whole function anyway must be able to finish it.
    if reply not in ("code", "lines", "span"):
        max_tokens = min(max_tokens, 96 + code_tokens // 2 if reply == "signatures" else 400)
    parts = template.render(system, user, prefix)
    prompt_tokens = sum(count_tokens(p) for p in parts if isinstance(p, str)) + sum(
        1 for p in parts if not isinstance(p, str)
    )
    longest = max((len(line) for line in values["selection"].split("\n")), default=0)
    return PromptPlan(
        parts,
        prefix,
        max_tokens,
        spec.rewrite,
        prompt_tokens,
        max(400, 2 * longest),
        ticks,
        reply,
        action.snapshot.language or "",
        system + "\n" + fill(spec.prompt, {**values, "code": "", "context": "", "reported": ""}),
        spec.check == "tests",
    )
