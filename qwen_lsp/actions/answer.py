"""Turning the model's answer into validated, minimal edits (or a refusal).

The answer is taken out of its wrapping (fences, prose), put right where small models
slip (a docstring above its def, tests that paste a copy of the code), re-indented to
the target's indentation, placed (replacing the target, above or below it, or in a new
file), turned into a line diff against the target, and checked (:mod:`.checks`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from qwen_lsp import languages, postprocess
from qwen_lsp.actions import (
    linefix,
    pytypes,
    reconcile,
    simplify_hints,
    testcut,
    testimports,
)
from qwen_lsp.actions.checks import check_change
from qwen_lsp.actions.edits import ActionResult, FileChange, OffsetEdit, line_diff
from qwen_lsp.actions.prompt import ActionInput, PromptPlan, reported_lines, stem_and_ext
from qwen_lsp.actions.target import definition_name, is_definition, parse
from qwen_lsp.actions.text import (
    comment_content,
    copied_words,
    dedent,
    first_repeated_comment,
    indent_of,
    inserted_lines,
    line_end,
    looping_line,
    newline_of,
)

# --- the answer -----------------------------------------------------------------------------


_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$")


def answer_complete(answer: str, plan: PromptPlan) -> bool:
    """Whether a streaming answer is done: the code block it was opened with is closed,
    or the model is stuck writing one endless line.

    Without this the small models go on explaining what they wrote, which costs seconds
    and is thrown away.
    """
    last_line = len(answer) - answer.rfind("\n") - 1
    if last_line > plan.max_line:
        return True
    if not plan.assistant_prefix:
        return False
    closing = re.compile(rf"(?:^|\n)[ \t]*{plan.fence}[ \t]*\n")
    if closing.search(answer) is not None:
        return True
    started = plan.assistant_prefix.split("\n", 1)[1] if "\n" in plan.assistant_prefix else ""
    if plan.tests and testcut.cut_offset(started + answer, plan.language) is not None:
        return True  # more tests, or assertions, than asked for: cut (result_for_answer)
    return part_complete(started + answer, plan.reply, plan.language)


_PY_DOC_OPEN = re.compile(r"\s*[rRuUbB]?(\"\"\"|''')")
_COMMENT_LINE = re.compile(r"\s*(//|/\*|\*|#|--)")


def part_complete(text: str, reply: str, language: str) -> bool:
    """Whether an answer asked to be a part of the code (its documentation, its
    signature) has written it whole: small models go on with the code after it. Only
    complete lines count."""
    lines = text.split("\n")[:-1]
    if not lines:
        return False
    if reply == "doc" and language == "python":
        opened = _PY_DOC_OPEN.match(text)
        if opened is None:
            return False
        done = text.find(opened.group(1), opened.end())
        return done >= 0 and "\n" in text[done:]
    if reply == "doc":
        if any("*/" in line for line in lines) or first_repeated_comment(lines) is not None:
            return True
        return any(line.strip() and not _COMMENT_LINE.match(line) for line in lines[1:])
    if reply == "signatures" and language in ("python", "typescript", "tsx"):
        head = "\n".join(lines)
        if head.count("(") == 0 or head.count("(") != head.count(")"):
            return False
        last = re.sub(r"#.*$" if language == "python" else r"//.*$", "", lines[-1]).rstrip()
        return last.endswith(":") if language == "python" else last.endswith(("{", ";"))
    return False


def complete_statements(code: str, language: str) -> str:
    """``code`` without its trailing top-level statements that do not parse (an answer
    cut off by its token limit): what remains parses, or is returned unchanged."""
    snapshot, root = parse(language, code)
    if not root.has_error:
        return code
    children = list(root.children)
    while len(children) > 1:
        children.pop()
        head = code[: snapshot.offset_from_byte(children[-1].end_byte)]
        if not parse(language, head)[1].has_error:
            return head
    return code


def extract_code(answer: str, assistant_prefix: str = "") -> str | None:
    """The code in a model's answer: its fenced block (the first non-empty one when the
    answer was opened with a fence, else the longest), or the bare answer when it has no
    fence at all. None when nothing is left."""
    text = (assistant_prefix + answer).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[str] = []
    current: list[str] | None = None
    opener = ""
    for line in text.split("\n"):
        match = _FENCE_LINE.match(line)
        if current is None:
            if match:
                current, opener = [], match.group(1)
            continue
        if match and match.group(1).startswith(opener[0]) and len(match.group(1)) >= len(opener):
            if not match.group(2):
                blocks.append("\n".join(current))
                current = None
                continue
        current.append(line)
    if current is not None:  # an unclosed block (the answer hit its token limit)
        blocks.append("\n".join(current))
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        chosen = blocks[0] if assistant_prefix else max(blocks, key=len)
        return chosen.strip("\n")
    if "```" in text or not text.strip():
        return None
    return text.strip("\n")


def extract_text(answer: str) -> str | None:
    """Plain prose from an answer: Markdown emphasis, headings and fences dropped."""
    lines = []
    for line in answer.replace("\r\n", "\n").split("\n"):
        if _FENCE_LINE.match(line):
            continue
        line = re.sub(r"^#+\s*", "", line.rstrip())
        line = line.replace("**", "").replace("__", "")
        lines.append(line)
    text = "\n".join(lines).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text or None


def comment_block(text: str, comment: str, indent: str, width: int = 88) -> str:
    """Prose as a block of line comments, wrapped, at ``indent``."""
    out: list[str] = []
    room = max(30, width - len(indent.expandtabs()) - len(comment) - 1)
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            out.append(f"{indent}{comment}")
            continue
        bullet = re.match(r"^(\s*(?:[-*]|\d+[.)])\s+)", paragraph)
        hang = " " * len(bullet.group(1)) if bullet else ""
        for line in textwrap.wrap(paragraph.strip(), room, subsequent_indent=hang) or [""]:
            out.append(f"{indent}{comment} {line}".rstrip())
    while out and out[-1].strip() == comment:
        out.pop()
    return "\n".join(out)


def _leading_width(line: str) -> int:
    return len(indent_of(line).expandtabs(4))


def reindent(code: str, base_indent: str, file_unit: str) -> str:
    """``code`` (an answer) re-indented to start at ``base_indent`` in a file indenting by
    ``file_unit``: its common indentation is replaced, its indentation step converted
    (tabs, 2 or 4 spaces), blank lines around it dropped."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    answer_unit = postprocess.detect_indent_unit("\n".join(lines))
    lines = [_convert_unit(line, answer_unit, file_unit) for line in lines]
    base = min(_leading_width(line) for line in lines if line.strip())
    return "\n".join(
        base_indent + _strip_width(line, base) if line.strip() else "" for line in lines
    )


def _strip_width(line: str, width: int) -> str:
    """``line`` without ``width`` columns of its leading whitespace (tabs count 4)."""
    removed = 0
    index = 0
    while index < len(line) and removed < width and line[index] in " \t":
        removed += 4 - removed % 4 if line[index] == "\t" else 1
        index += 1
    return line[index:]


def _convert_unit(line: str, answer_unit: str, file_unit: str) -> str:
    if answer_unit == file_unit or not line.strip():
        return line
    indent = indent_of(line)
    width = len(indent.expandtabs(len(answer_unit) if answer_unit != "\t" else 4))
    step = 4 if answer_unit == "\t" else len(answer_unit)
    levels, extra = divmod(width, step)
    unit = file_unit
    return unit * levels + " " * extra + line[len(indent) :]


# --- placing it -----------------------------------------------------------------------------


def _refuse(message: str) -> ActionResult:
    return ActionResult(message=f"qwen-lsp: {message}; nothing was changed.")


def result_for_answer(action: ActionInput, answer: str, plan: PromptPlan) -> ActionResult:
    """Turn the model's raw answer into validated, minimal edits (or a refusal)."""
    spec, snapshot, target = action.spec, action.snapshot, action.target
    text = snapshot.text
    newline = newline_of(text)
    first_line = text[target.start : line_end(text, target.start)]
    indent = indent_of(first_line)
    language = snapshot.language
    if spec.answer == "text":
        prose = extract_text(answer)
        comment = languages.line_comment(language, snapshot.language_id)
        if prose is None:
            return _refuse("the model gave no explanation")
        if action.placement == "newFile":
            return _new_file(action, prose)
        if comment is None:
            return _refuse(f"no comment syntax is known for {snapshot.language_id}")
        block = comment_block(prose, comment, indent)
        return _placed(action, block, newline)
    if plan.reply == "doc" and re.search(r"[\w/]$", plan.assistant_prefix) and answer[:1].isalnum():
        answer = " " + answer  # "// name" or "///" went on without the space after it
    code = extract_code(answer, plan.assistant_prefix)
    if code is None or not code.strip():
        return _refuse("the model's answer contains no code")
    if action.placement == "replace" and language is not None:
        # The part asked for is put into the original code (reconcile.py); the code
        # itself is taken from the answer only for rewrites.
        if spec.check == "docstring":
            if plan.reply == "doc" and language != "python":
                code = _doc_comment_written_once(code)
            code = _without_copied_lines(code, plan.request)
            rebuilt = reconcile.with_docs(snapshot, target, code)
            if rebuilt is None:
                return _refuse("the model did not add a docstring")
            if why := _not_documentation(text[target.start : target.end], rebuilt, plan):
                return _refuse(why)
            return _placed(action, rebuilt, newline)
        if spec.check == "annotations":
            rebuilt = reconcile.with_signatures(snapshot, target, code)
            if rebuilt is not None:
                return _placed(action, rebuilt, newline, _imports_for(action, rebuilt, newline))
        elif spec.rewrite and spec.keep_names:
            whole = plan.reply == "lines" and (
                not linefix.is_lines(code) or _defines(language, code, target.names)
            )
            named = linefix.quoted_names(action.diagnostics)
            # A whole function (or most of it), though the corrected lines were asked for:
            # its version of the reported lines alone is taken, when it changed them.
            lines = (
                linefix.rewritten_lines(
                    text, target.start, target.end, reported_lines(action), code, named
                )
                if whole
                else code
            )
            if lines == "":
                return _refuse("the model's answer leaves the reported line as it was")
            if plan.reply == "lines" and lines is not None:
                # The corrected lines alone, as asked: they replace the reported ones.
                fixed = linefix.with_fixed_lines(
                    text, target.start, target.end, reported_lines(action), lines, named
                )
                if fixed is not None:
                    return _placed(action, fixed, newline)
                if not whole:  # lines of the body, found nowhere
                    return _refuse("the model's answer does not read like the reported lines")
            if plan.reply == "span":
                return _simplified(action, code, newline, _defines(language, code, target.names))
            trimmed = reconcile.trimmed_rewrite(snapshot, target, code)
            if trimmed is None:
                return _refuse("the model's answer cuts the function's body off")
            code = with_leading_comments(text[target.start : target.end], trimmed)
    if spec.check == "tests" and language is not None:
        code = complete_statements(testcut.cut_tests(dedent(code), language), language)
        if language == "python":
            code = testcut.python_that_parses(code)
        code = testcut.javascript_declared_once(code, language)
        code = testcut.without_private_tests(code, language)
        if private := testcut.private_member_outside_class(code, language):
            return _refuse(
                f"the model's tests use `{private}`, which is private to its class (a "
                "syntax error anywhere else)"
            )
    file_unit = postprocess.detect_indent_unit(text)
    placement = action.placement
    if placement == "newFile":
        body = reindent(code, "", file_unit)
        if spec.check == "tests" and language == "python":
            module = stem_and_ext(snapshot.uri)[0]
            existing = action.new_file_text or ""
            body = python_tests_use_real_code(
                body, module, target.top_names or target.names, existing
            )
            body = testimports.with_missing_imports(body, module, text, existing)
        return _new_file(action, body)
    if placement == "replace":
        new_code = reindent(code, indent, file_unit)
    elif spec.check == "tests":  # a test block at the end of the file, at the top level
        new_code = reindent(code, "", file_unit)
        if language == "python":
            new_code = python_tests_use_real_code(new_code, None, target.top_names or target.names)
            new_code = testimports.with_missing_imports(new_code, None, text)
    else:
        new_code = reindent(code, indent, file_unit)
    return _placed(action, new_code, newline)


def _doc_comment_written_once(code: str) -> str:
    """A doc comment answer up to where the model started over (the 0.5B model wrote six
    good lines about a Go function, then the same five again until its token limit), and
    without the empty comment lines it ended with."""
    lines = code.split("\n")
    leading = 0
    while leading < len(lines) and _COMMENT_LINE.match(lines[leading]):
        leading += 1
    repeat = first_repeated_comment(lines[:leading])
    if repeat is None:
        return code
    kept = lines[:repeat]
    while kept and not comment_content(kept[-1]):
        kept.pop()
    return "\n".join(kept)


def _without_copied_lines(code: str, request: str) -> str:
    """A documentation answer without its lines that copy the request (and the blank line
    each leaves behind), where other lines say something: the 0.5B model wrote good Args:
    and Returns: sections under "A one-line summary of __eq__.", or ended a good docstring
    with "If it already has some, complete it." Unchanged when nothing else would be left
    (the answer is then refused as a copy of the request)."""
    lines = code.split("\n")
    copied = [bool(comment_content(line)) and bool(copied_words(line, request)) for line in lines]
    if not any(copied):
        return code
    kept: list[str] = []
    dropped = False
    for line, copy in zip(lines, copied, strict=True):
        if copy:
            dropped = True
            continue
        if dropped and not line.strip() and (not kept or not _says_something(kept[-1])):
            continue  # the blank line after a dropped one, below a blank line or the quotes
        dropped = False
        kept.append(line)
    if not any(_says_something(line) for line in kept):
        return code
    return "\n".join(kept)


def _says_something(line: str) -> bool:
    """A documentation line with a word in it (not only quotes or comment marks)."""
    return re.search(r"\w", comment_content(line)) is not None


def _not_documentation(code: str, documented: str, plan: PromptPlan) -> str:
    """Why the documentation added to ``code`` documents nothing ("" when it may): the
    0.5B model, its answer started with "/// ", wrote on with the request's own words
    ("doc comments directly above it, ...") or one line over and over."""
    added = inserted_lines(code, documented)
    if copied_words(added, plan.request):
        return "the model's answer repeats the request instead of documenting the code"
    if looping_line(added):
        return "the model's answer repeats one line over and over"
    return ""


def _simplified(action: ActionInput, code: str, newline: str, whole: bool) -> ActionResult:
    """The lines of the simplification the server found, as the model wrote them, in the
    place of the ones they simplify (``whole``: the function rewritten with them): taken
    only when they are the simplification that was suggested (layout aside), which keeps
    the behaviour; the model's own variations might not (simplify_hints.py)."""
    snapshot, target = action.snapshot, action.target
    hint = simplify_hints.first_hint(snapshot, target)
    if hint is None or snapshot.language is None:
        return _refuse("there is nothing to simplify here")
    text = snapshot.text
    if whole:
        trimmed = reconcile.trimmed_rewrite(snapshot, target, code)
        new = None
        if trimmed is not None:
            rewritten = with_leading_comments(text[target.start : target.end], trimmed)
            new = reindent(
                rewritten,
                indent_of(text[target.start : line_end(text, target.start)]),
                postprocess.detect_indent_unit(text),
            )
    else:
        new = simplify_hints.with_span_replaced(text, target.start, target.end, hint, code)
    suggested = simplify_hints.with_span_replaced(
        text, target.start, target.end, hint, hint.replacement
    )
    if new is None or suggested is None:
        return _refuse("the model's answer is not the lines to simplify")
    if not simplify_hints.same_code(snapshot.language, new, suggested) and not whole:
        # Told that `} else {` and the lines it holds become `}` and those lines, the
        # 0.5B model wrote the lines alone (7 of 8 JavaScript answers): the `}` it left
        # out is put back, and the result must still be the suggested code.
        head = hint.replacement.split("\n", 1)[0]
        if head.strip() == "}" and not code.lstrip().startswith("}"):
            closed = head.strip() + "\n" + dedent(code.replace("\r\n", "\n"))
            new = simplify_hints.with_span_replaced(text, target.start, target.end, hint, closed)
    if new is None or not simplify_hints.same_code(snapshot.language, new, suggested):
        return _refuse("the model's answer is not the simplification it was asked for")
    return _placed(action, new, newline)


_COMMENT_START = ("#", "//", "/*", "*", "--")


def with_leading_comments(target_code: str, code: str) -> str:
    """A rewrite with the comment lines that stood above the target's code (its doc
    comment), when the model left them out: rewriting a function is no reason to drop
    its documentation."""
    lead = []
    for line in target_code.replace("\r\n", "\n").split("\n"):
        if not line.strip().startswith(_COMMENT_START):
            break
        lead.append(line)
    lines = code.strip("\n").split("\n")
    if not lead or not lines[0].strip() or lines[0].strip().startswith(_COMMENT_START):
        return code
    indent = indent_of(lines[0])
    kept = [indent + line for line in dedent("\n".join(lead)).split("\n")]
    return "\n".join(kept + lines)


def _defines(language: str, code: str, names: Sequence[str]) -> bool:
    """Whether ``code`` (an answer) defines one of ``names``: the whole target rewritten."""
    if not names:
        return False
    snapshot, root = parse(language, code)
    stack = [root]
    while stack:
        node = stack.pop()
        if is_definition(node, language) and definition_name(node, snapshot) in names:
            return True
        stack.extend(node.children)
    return False


def _imports_for(action: ActionInput, rebuilt: str, newline: str) -> tuple[OffsetEdit, ...]:
    """The import of the names the new annotations (the target's ``rebuilt`` text) use
    that the module binds nowhere, where the standard library offers them (``Iterable``,
    ``Any``): an insertion above the module's code. Names it does not offer are left to
    the checks, which refuse the edit."""
    snapshot, target = action.snapshot, action.target
    if snapshot.language != "python":
        return ()
    text = snapshot.text
    block = rebuilt.replace("\n", newline)
    new_text = text[: target.start] + block + text[target.end :]
    names = pytypes.unbound_names(text, new_text, target.start, target.start + len(block))
    found = pytypes.import_edit(text, names, newline)
    if found is None or found[0] > target.start:
        return ()
    return (OffsetEdit(found[0], found[0], found[1]),)


def _placed(
    action: ActionInput, block: str, newline: str, imports: tuple[OffsetEdit, ...] = ()
) -> ActionResult:
    """Edits putting ``block`` (text with "\\n" line ends) where the action says, with
    the ``imports`` it needs (insertions above the target)."""
    snapshot, target = action.snapshot, action.target
    text = snapshot.text
    block = block.replace("\n", newline)
    placement = action.placement
    if placement == "replace":
        edits = line_diff(text[target.start : target.end], block, target.start)
        if not edits:
            if action.spec.changes_code:  # Simplify: say so plainly, it is no failure
                return _refuse(
                    "the model found nothing to simplify here (it answered the code as it was)"
                )
            names = ", ".join(f"`{n}`" for n in target.names) or "this code"
            if action.spec.check == "docstring":  # its documentation, written again
                return _refuse(f"{names} is documented already; the model added nothing to it")
            if action.spec.check == "annotations":  # (TypeScript's are, mostly)
                return _refuse(
                    f"the model's answer adds no type annotations to {names} (it may have "
                    "them all already)"
                )
            return _refuse("the model's answer is the same as the code")
        edits = [*imports, *edits]
    elif placement == "above":
        edits = [OffsetEdit(target.start, target.start, block + newline)]
    elif action.spec.check == "tests" or action.spec.placement == "newFile":
        # Tests (or a new file the client cannot create) go to the end of the file.
        at = len(text.rstrip("\r\n"))
        blank_lines = 2 if snapshot.language == "python" else 1
        edits = [OffsetEdit(at, at, newline * (blank_lines + 1) + block)]
    else:
        edits = [OffsetEdit(target.end, target.end, newline + newline + block)]
    change = FileChange(
        snapshot.uri, text, tuple(edits), snapshot.version, language=snapshot.language
    )
    problem = check_change(action, change)
    if problem:
        return _refuse(problem)
    return ActionResult((change,))


def _new_file(action: ActionInput, body: str) -> ActionResult:
    # The new file's language decides how it is checked (tests: the document's).
    language = languages.language_for("", action.new_file_uri)
    existing = action.new_file_text
    if existing is None:
        change = FileChange(
            action.new_file_uri,
            "",
            (OffsetEdit(0, 0, body + "\n"),),
            create=True,
            language=language,
        )
    else:
        newline = newline_of(existing)
        at = len(existing.rstrip("\r\n"))
        sep = newline * 3 if at else ""
        change = FileChange(
            action.new_file_uri,
            existing,
            (OffsetEdit(at, len(existing), sep + body.replace("\n", newline) + newline),),
            action.new_file_version,
            language=language,
        )
    problem = check_change(action, change)
    if problem:
        return _refuse(problem)
    return ActionResult((change,))


# --- what small models get wrong ------------------------------------------------------------


def python_tests_use_real_code(
    code: str, module: str | None, names: Sequence[str], existing: str = ""
) -> str:
    """Tests must exercise the real code: small models like to paste a copy of it into the
    test file. Copies are dropped, and the code is imported from ``module`` (None: the
    tests live in the same file, nothing to import) unless the answer or the ``existing``
    test file it is appended to already imports it."""
    snapshot, root = parse("python", code)
    copies: list[tuple[int, int]] = []
    for child in root.children:
        node = child
        if child.type == "decorated_definition":
            node = child.child_by_field_name("definition") or child
        if node.type in ("function_definition", "class_definition") and (
            definition_name(node, snapshot) in names
        ):
            copies.append(
                (
                    snapshot.offset_from_byte(child.start_byte),
                    snapshot.offset_from_byte(child.end_byte),
                )
            )
    for start, end in reversed(copies):
        code = code[:start].rstrip("\n") + "\n\n\n" + code[end:].lstrip("\n")
    lines = code.strip("\n").split("\n")
    if module is None:
        # The tests live next to the code: importing it from a guessed module would fail.
        kept = []
        for line in lines:
            match = _FROM_IMPORT.match(line)
            from_names = _imported_names(match[2]) if match else set()
            if not (from_names and from_names <= set(names)):
                kept.append(line)
        return "\n".join(kept).strip("\n")
    if not names:
        return "\n".join(lines)
    imported = False
    for index, line in enumerate(lines):
        match = _FROM_IMPORT.match(line)
        if match is None:
            continue
        if _imported_names(match[2]) & set(names):
            # `from your_module import f`: the model guessed the module's name.
            lines[index] = f"from {module} import {match[2]}"
            imported = True
    escaped = re.escape(module)
    has_import = re.compile(rf"^(import\s+{escaped}\b|from\s+{escaped}\s+import\s)", re.M)
    if imported or has_import.search(code) or has_import.search(existing):
        return "\n".join(lines)
    at = 0
    for index, line in enumerate(lines):
        if re.match(r"^(import|from)\s", line):
            at = index + 1
    lines.insert(at, f"from {module} import {', '.join(names)}")
    if (
        at + 1 < len(lines)
        and lines[at + 1].strip()
        and not re.match(r"^(import|from)\s", lines[at + 1])
    ):
        lines[at + 1 : at + 1] = ["", ""]
    return "\n".join(lines)


def _imported_names(clause: str) -> set[str]:
    return {n.strip().split(" as ")[0].strip("() ") for n in clause.split(",")}


_FROM_IMPORT = re.compile(r"^from\s+([\w.]+)\s+import\s+(.+)$")
