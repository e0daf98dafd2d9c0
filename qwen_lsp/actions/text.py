"""Line arithmetic on plain text, shared by the target, the prompt and the answer.

Offsets are code points; both "\n" and "\r" end a line, as in the editor.
"""

from __future__ import annotations

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


def newline_of(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"
