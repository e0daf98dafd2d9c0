"""Line arithmetic on plain text, shared by the target, the prompt and the answer.

Offsets are code points; both "\n" and "\r" end a line, as in the editor.
"""

from __future__ import annotations

import difflib
import re
import textwrap


def line_start(text: str, offset: int) -> int:
    return max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1


def line_end(text: str, offset: int) -> int:
    ends = [i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0]
    return min(ends) if ends else len(text)


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def dedent(code: str) -> str:
    return textwrap.dedent(code.expandtabs(8) if _mixed_indent(code) else code)


def _mixed_indent(code: str) -> bool:
    indents = {line[: len(line) - len(line.lstrip())] for line in code.splitlines()}
    return any("\t" in i for i in indents) and any(" " in i for i in indents)


def indent_lines(text: str, indent: str) -> str:
    """``text`` with ``indent`` put before each of its lines but the blank ones (left empty)."""
    return "\n".join(indent + line if line.strip() else "" for line in text.split("\n"))


def newline_of(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"


def _words(text: str) -> list[str]:
    # (a name is one word: documentation may name the function the request names)
    return re.findall(r"[a-z0-9@#_]+", text.lower())


# Words in a row an answer may share with its request by chance ("the name of").
COPIED_RUN = 4


def copied_words(written: str, request: str, run: int = COPIED_RUN) -> str:
    """The first ``run`` words in a row that ``written`` copies from ``request`` ("" when
    none): a small model asked for documentation sometimes writes the request's words
    ("doc comments directly above it, ...") instead of documenting the code."""
    asked = _words(request)
    runs = {tuple(asked[i : i + run]) for i in range(len(asked) - run + 1)}
    words = _words(written)
    for i in range(len(words) - run + 1):
        if tuple(words[i : i + run]) in runs:
            return " ".join(words[i : i + run])
    return ""


def looping_line(written: str, times: int = 4) -> str:
    """A line that ``written`` has ``times`` times or more, its comment marker aside (at
    least 8 characters: not "```" or "*"): a model stuck in a loop ("" when none)."""
    counts: dict[str, int] = {}
    for line in written.split("\n"):
        key = comment_content(line)
        if len(key) >= 8:
            counts[key] = counts.get(key, 0) + 1
            if counts[key] >= times:
                return key
    return ""


_COMMENT_MARK = re.compile(r"^\s*(?://+!?|/\*+|\*+/?|#+|--+)?\s*")


def comment_content(line: str) -> str:
    """A comment line's words, without its marker ("/// Reads x." -> "Reads x.")."""
    marker = _COMMENT_MARK.match(line)
    return line[marker.end() if marker else 0 :].strip()


def first_repeated_comment(lines: list[str]) -> int | None:
    """The index of the first comment line that says again what an earlier one said (at
    least 8 characters: not "```", "*" or an empty line): where a small model writing
    documentation started over. None when none does."""
    seen: set[str] = set()
    for index, line in enumerate(lines):
        content = comment_content(line)
        if len(content) >= 8:
            if content in seen:
                return index
            seen.add(content)
    return None


def inserted_lines(old: str, new: str) -> str:
    """The lines ``new`` has that ``old`` has not (inserted or replacing), "\n"-joined."""
    old_lines = old.replace("\r\n", "\n").split("\n")
    new_lines = new.replace("\r\n", "\n").split("\n")
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    return "\n".join(
        line
        for tag, _, _, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
        for line in new_lines[j1:j2]
    )
