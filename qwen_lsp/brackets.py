"""The brackets and the quote a piece of code leaves open.

Three places need it (closing what a suggestion's last line opened, what a fix's line
leaves open, the lines a cut test file still needs): one scan, strings and line comments
skipped, so they cannot drift apart. Pure text, no parser: it runs on fragments that do
not parse yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLOSER_OF = {"(": ")", "[": "]", "{": "}"}
_QUOTES = "\"'`"
_TRIPLE_QUOTES = ('"""', "'''")


@dataclass
class OpenCode:
    # (opener, its offset) of each bracket still open at the end, outermost first.
    brackets: list[tuple[str, int]] = field(default_factory=list)
    quote: str = ""  # the quote of a string still open at the end ("" when none)
    quote_at: int = 0  # that string's offset
    # A triple quote, or a '...' / "..." string running past a line end: the scan of what
    # follows is a guess (its quotes are counted one by one).
    unsure_strings: bool = False

    def closers(self) -> str:
        """The closing brackets, innermost first."""
        return "".join(CLOSER_OF[opener] for opener, _ in reversed(self.brackets))


def scan(code: str, comment: str) -> OpenCode:
    """What ``code`` leaves open. A closing bracket closes the innermost open one only
    when they match (a stray one is ignored); a backslash escapes the next character in
    a string; ``comment`` starts a comment to the end of the line ("" for none)."""
    found = OpenCode()
    index = 0
    while index < len(code):
        char = code[index]
        if found.quote:
            if char == "\\":
                index += 1
            elif char == found.quote:
                found.quote = ""
            elif char == "\n" and found.quote != "`":
                found.unsure_strings = True
        elif code.startswith(_TRIPLE_QUOTES, index):
            found.unsure_strings = True
            found.quote, found.quote_at = char, index
        elif comment and code.startswith(comment, index):
            end = code.find("\n", index)
            index = len(code) if end < 0 else end
            continue
        elif char in _QUOTES:
            found.quote, found.quote_at = char, index
        elif char in CLOSER_OF:
            found.brackets.append((char, index))
        elif found.brackets and char == CLOSER_OF[found.brackets[-1][0]]:
            found.brackets.pop()
        index += 1
    return found
