"""Which documents take part: get suggestions and code actions, and may enter a prompt.

A document is refused when it is too large (``maxDocumentBytes``: per-keystroke work must
stay bounded) or private: it matches the built-in deny list
(:data:`~qwen_lsp.settings.DEFAULT_EXCLUDES`: ``.env`` files, keys, credentials), the
user's ``excludeFiles``, or, with ``excludeGitignored``, the workspace's ``.gitignore``
files. A refused document gets no suggestion and no action, and its text never enters a
prompt for another file (the recent-edit ring, the definitions index, the cross-file
header, a code action's existing test file). ``allowFiles`` lifts the deny list and
``.gitignore`` for the files it names (a ``credentials.py`` that holds code), never the
user's own ``excludeFiles`` nor the size limit.

A document belongs to the deepest workspace folder that contains it, and only that
folder's ``.gitignore`` files apply to it (as git treats a nested repository); a document
outside every folder gets no ``.gitignore`` rules. A document is judged twice when its
path leads through a symlink: as opened and by its real path (``notes.txt -> .env``, a
linked ``secrets/`` folder, a workspace folder opened through a link), refused when
either is.

Patterns are written as in ``.gitignore``: ``*``, ``?``, ``[...]``, ``**``; a pattern
without a ``/`` matches a file or folder name at any depth (``.env*`` also covers a
virtualenv folder named ``.env``), one with a ``/`` the path from the workspace folder. A
file outside every workspace folder is matched by its name, and by the patterns that start
with ``**/`` ("at any depth", such as ``**/.ssh/**``) by its whole path: the folders above
a workspace say nothing about its files, while a key store is one wherever it is. Names
are compared without case for the deny lists (a deny list should fail closed on
case-insensitive file systems); ``.gitignore`` rules are compared as git does on Linux,
with case.

Pure but for small caches: the ``.gitignore`` files are read and symlinks resolved through
the callables the composition root passes in, and nothing here reads the environment.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from qwen_lsp import uris
from qwen_lsp.settings import DEFAULT_EXCLUDES, Settings

Reason = Literal["", "too large", "private", "excluded", "gitignored"]
Notice = tuple[Literal["show", "log"], str]

# A .gitignore edited while the server runs applies within this many seconds.
GITIGNORE_RECHECK_S = 2.0
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Verdict:
    """Whether a document takes part; when not, why (the pattern or the size)."""

    reason: Reason = ""
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return not self.reason

    def explain(self, name: str) -> str:
        """For the user: what ``name`` does not get, why, and the setting that changes it."""
        if self.reason == "too large":
            return (
                f"qwen-lsp: {name} is {self.detail}: it gets no suggestions or code actions "
                "and is not used as context for other files (raise qwenLsp.maxDocumentBytes "
                "to change this)."
            )
        if self.reason == "gitignored":
            why = f"is ignored by .gitignore ({self.detail}) and excludeGitignored is on"
            change = "turn qwenLsp.excludeGitignored off or add it to qwenLsp.allowFiles"
        elif self.reason == "private":
            why = f"matches the built-in deny list of private files ({self.detail})"
            change = "add it to qwenLsp.allowFiles if it holds no secrets"
        else:
            why = f"matches qwenLsp.excludeFiles ({self.detail})"
            change = "edit qwenLsp.excludeFiles"
        return (
            f"qwen-lsp: {name} {why}: it gets no suggestions or code actions and its text is "
            f"never sent to the model ({change})."
        )


ADMITTED = Verdict()
Admission = Callable[[str, str | None], Verdict]


def admit_all(uri: str, text: str | None) -> Verdict:
    """The admission of a service built without a gate (unit tests): everything."""
    return ADMITTED


# -- patterns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One glob of a deny list or one rule of a ``.gitignore``."""

    source: str
    regex: re.Pattern[str]
    negated: bool = False
    dir_only: bool = False  # written with a trailing "/": folders only
    anchored: bool = False  # has a "/": matched against the path, else against the name
    anywhere: bool = False  # starts with "**/": also matched against a whole outside path

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether the pattern matches ``path`` (relative to the pattern's folder)."""
        if self.dir_only and not is_dir:
            return False
        target = path if self.anchored else path.rpartition("/")[2]
        return self.regex.fullmatch(target) is not None


def glob_regex(glob: str) -> str:
    """A regular expression for a ``.gitignore`` glob (without its "!" and trailing "/")."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        char = glob[i]
        if glob.startswith("**", i) and (i == 0 or glob[i - 1] == "/"):
            if glob.startswith("**/", i):  # any number of folders, none included
                out.append("(?:.*/)?")
                i += 3
                continue
            if i + 2 == n:  # a trailing "/**": everything inside
                out.append(".*")
                i += 2
                continue
        if char == "*":
            while i + 1 < n and glob[i + 1] == "*":  # "**" elsewhere is a plain "*"
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := _class_end(glob, i)) > 0:
            body = glob[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end
        elif char == "\\" and i + 1 < n:  # an escaped character is itself
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _class_end(glob: str, start: int) -> int:
    """The index of the "]" closing the class opened at ``start``; 0 when unclosed."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":  # a "]" first is a member
        i += 1
    end = glob.find("]", i)
    return end if end > 0 else 0


def parse_pattern(line: str, *, ignore_case: bool = False) -> Pattern | None:
    """A ``.gitignore`` line as a :class:`Pattern`; None for a blank line or a comment."""
    text = line.rstrip("\r\n")
    if not text or text.startswith("#"):
        return None
    stripped = text.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(text):
        stripped += " "  # "\ " keeps the space it escapes
    negated = stripped.startswith("!")
    if negated:
        stripped = stripped[1:]
    dir_only = stripped.endswith("/") and not stripped.endswith("\\/")
    if dir_only:
        stripped = stripped[:-1]
    anchored = "/" in stripped
    stripped = stripped.removeprefix("/")
    anywhere = stripped.startswith("**/")
    if not stripped:
        return None
    flags = re.IGNORECASE if ignore_case else 0
    try:
        regex = re.compile(glob_regex(stripped), flags)
    except re.error:
        return None  # a glob git would not understand either: ignored, like git does
    return Pattern(text.strip(), regex, negated, dir_only, anchored, anywhere)


def parse_patterns(lines: Sequence[str], *, ignore_case: bool = False) -> tuple[Pattern, ...]:
    found = (parse_pattern(line, ignore_case=ignore_case) for line in lines)
    return tuple(p for p in found if p is not None)


def first_match(patterns: Sequence[Pattern], path: str) -> Pattern | None:
    """The first pattern (a deny list: "!" means nothing) matching ``path`` or one of the
    folders it is in."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        for pattern in patterns:
            if pattern.matches(sub, depth < len(parts)):
                return pattern
    return None


def gitignored(path: str, rules_of: Callable[[str], Sequence[Pattern]]) -> Pattern | None:
    """The ``.gitignore`` rule that ignores ``path`` (relative to the workspace folder), as
    git decides: for the path and each folder above it, the last matching rule wins, the
    rules of a deeper ``.gitignore`` after those above it; a file in an ignored folder is
    ignored whatever its own rules say. ``rules_of(folder)`` gives the rules of the
    ``.gitignore`` in ``folder`` ("" for the workspace folder)."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        last: Pattern | None = None
        for base_depth in range(depth):
            base = "/".join(parts[:base_depth])
            relative = "/".join(parts[base_depth:depth])
            for rule in rules_of(base):
                if rule.matches(relative, depth < len(parts)):
                    last = rule
        if last is not None and not last.negated:
            return last
    return None


# -- where a document is -----------------------------------------------------------------------


def locate(path: str, folders: Sequence[str]) -> tuple[str, str]:
    """(the deepest of ``folders`` that contains ``path``, the path relative to it); ("",
    ``path``) when none does. Folders and path are absolute, with ``/`` separators."""
    best, relative = "", path
    for folder in folders:
        prefix = folder if folder.endswith("/") else folder + "/"
        if folder and path.startswith(prefix) and len(folder) > len(best):
            best, relative = folder, path[len(prefix) :]
    return best, relative


def display_name(uri: str, folders: Sequence[str] = ()) -> str:
    """The document's path in its workspace folder, else its file name."""
    path = uris.path_part(uri)
    folder, relative = locate(path, folders)
    return relative if folder else posixpath.basename(path) or path


def match_path(patterns: Sequence[Pattern], path: str, folder: str) -> Pattern | None:
    """The first deny-list pattern that matches ``path``: relative to its workspace folder
    when ``folder`` is one (``path`` is then relative), else by its name and, for the
    "at any depth" patterns, by its whole path."""
    if folder:
        return first_match(patterns, path)
    name = posixpath.basename(path.rstrip("/")) or path
    found = first_match(patterns, name)
    if found is None:
        found = first_match([p for p in patterns if p.anywhere], path.strip("/"))
    return found


def utf8_size_over(text: str, limit: int) -> bool:
    """Whether ``text`` takes more than ``limit`` UTF-8 bytes, encoding it only when its
    length in code points cannot tell (a code point is one to four bytes)."""
    if len(text) > limit:
        return True
    if text.isascii() or 4 * len(text) <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


# -- the gate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lists:
    exclude: tuple[Pattern, ...]  # the user's excludeFiles
    defaults: tuple[Pattern, ...]
    allow: tuple[Pattern, ...]


class Gate:
    """Decides per document, from the settings of the moment (a changed setting applies at
    the next request). ``folders`` gives the workspace folders (local paths, none when
    unknown), ``read_text(path)`` the text of a ``.gitignore`` (None when there is none)
    and ``resolve(path)`` the path with its symlinks resolved: the only file system access,
    done by the caller's functions. ``utf8_size(uri, text)`` may know the size of an open
    document's text without encoding it (None: it does not).

    Called from the event loop and from the model worker: the caches are plain dicts whose
    entries are replaced whole, so a race only computes a verdict twice.
    """

    def __init__(
        self,
        settings: Callable[[], Settings],
        folders: Callable[[], Sequence[str]] = lambda: (),
        read_text: Callable[[str], str | None] = lambda path: None,
        resolve: Callable[[str], str] = lambda path: path,
        clock: Callable[[], float] = time.monotonic,
        utf8_size: Callable[[str, str], int | None] = lambda uri, text: None,
    ) -> None:
        self._settings = settings
        self._folders = folders
        self._read_text = read_text
        self._resolve = resolve
        self._utf8_size = utf8_size
        self._clock = clock
        self._lists: dict[tuple[tuple[str, ...], tuple[str, ...]], _Lists] = {}
        self._paths: dict[tuple[object, ...], tuple[Verdict, float]] = {}
        self._ignore_files: dict[str, tuple[str | None, tuple[Pattern, ...], float]] = {}
        self._sizes: dict[str, tuple[str, bool]] = {}  # mid-sized non-ASCII texts only
        self._noticed: set[str] = set()

    def verdict(self, uri: str, text: str | None = None) -> Verdict:
        """Whether the document ``uri`` (with ``text``; None: its size is not known) takes
        part. Cheap enough to ask per keystroke and per open document per prompt."""
        settings = self._settings()
        limit = settings.maxDocumentBytes
        if text is not None and self._too_large(uri, text, limit):
            # (encoding a huge text to give its exact size is not worth its time)
            size = _megabytes(len(text)) if text.isascii() else f"{len(text):,} characters"
            return Verdict(
                "too large", f"{size}, over the maxDocumentBytes limit ({limit:,} bytes)"
            )
        return self._path_verdict(uri, settings)

    def notice(self, uri: str, text: str) -> Notice | None:
        """What to tell the user, once per open document, when it is refused: a message
        shown for a too-large one (the user expects suggestions there), a log line for a
        private one (opening a .env file is routine; a pop-up each time would nag)."""
        if uri in self._noticed:
            return None
        verdict = self.verdict(uri, text)
        if verdict.admitted:
            return None
        self._noticed.add(uri)
        name = display_name(uri, self._folders())
        return ("show" if verdict.reason == "too large" else "log"), verdict.explain(name)

    def forget(self, uri: str) -> None:
        """The document was closed: tell again if it is opened again."""
        self._noticed.discard(uri)
        self._sizes.pop(uri, None)

    def _too_large(self, uri: str, text: str, limit: int) -> bool:
        if len(text) > limit or text.isascii() or 4 * len(text) <= limit:
            return utf8_size_over(text, limit)  # no encoding needed
        cached = self._sizes.get(uri)
        if cached is not None and cached[0] is text:
            return cached[1]
        # (per keystroke a new text: encoding a mid-sized one took 12 ms at 9 MB)
        known = self._utf8_size(uri, text)
        over = known > limit if known is not None else utf8_size_over(text, limit)
        self._sizes[uri] = (text, over)
        return over

    def _path_verdict(self, uri: str, settings: Settings) -> Verdict:
        folders = tuple(self._folders())
        key = (uri, folders, settings.excludeFiles, settings.allowFiles, settings.excludeGitignored)
        now = self._clock()
        cached = self._paths.get(key)
        # Rechecked after a while even without .gitignore rules: a symlink may be re-aimed.
        if cached is not None and now - cached[1] < GITIGNORE_RECHECK_S:
            return cached[0]
        verdict = self._decide(uri, folders, settings)
        if len(self._paths) >= _CACHE_LIMIT:
            self._paths.clear()
        self._paths[key] = (verdict, now)
        return verdict

    def _decide(self, uri: str, folders: tuple[str, ...], settings: Settings) -> Verdict:
        """The verdict on the path as opened and, when a symlink leads elsewhere, on the
        real path (with the folders' real paths): refused when either is."""
        path = uris.path_part(uri)
        verdict = self._judge(path, folders, settings)
        if not verdict.admitted or uris.to_path(uri) is None:
            return verdict
        real = self._resolve(path)
        real_folders = tuple(self._resolve(folder) for folder in folders)
        if real == path and real_folders == folders:
            return verdict
        return self._judge(real, real_folders, settings)

    def _judge(self, path: str, folders: Sequence[str], settings: Settings) -> Verdict:
        lists = self._compiled(settings.excludeFiles, settings.allowFiles)
        folder, relative = locate(path, folders)
        mine = match_path(lists.exclude, relative, folder)
        if mine is not None:
            return Verdict("excluded", mine.source)
        allowed = match_path(lists.allow, relative, folder) is not None
        if allowed:
            return ADMITTED
        default = match_path(lists.defaults, relative, folder)
        if default is not None:
            return Verdict("private", default.source)
        if settings.excludeGitignored and folder:
            rule = gitignored(relative, lambda sub: self._ignore_rules(folder, sub))
            if rule is not None:
                return Verdict("gitignored", rule.source)
        return ADMITTED

    def _compiled(self, exclude: tuple[str, ...], allow: tuple[str, ...]) -> _Lists:
        lists = self._lists.get((exclude, allow))
        if lists is None:
            lists = _Lists(
                parse_patterns(exclude, ignore_case=True),
                parse_patterns(DEFAULT_EXCLUDES, ignore_case=True),
                parse_patterns(allow, ignore_case=True),
            )
            self._lists = {(exclude, allow): lists}
        return lists

    def _ignore_rules(self, root: str, folder: str) -> tuple[Pattern, ...]:
        """The rules of ``folder``'s .gitignore (the workspace folder's: after those of
        .git/info/exclude, which rank lowest), re-read at most every GITIGNORE_RECHECK_S."""
        base = posixpath.join(root, folder) if folder else root
        files = [posixpath.join(base, ".gitignore")]
        if not folder:
            files.insert(0, posixpath.join(root, ".git", "info", "exclude"))
        rules: list[Pattern] = []
        now = self._clock()
        for path in files:
            cached = self._ignore_files.get(path)
            if cached is None or now - cached[2] >= GITIGNORE_RECHECK_S:
                text = self._read_text(path)
                same = cached is not None and cached[0] == text
                parsed = cached[1] if same and cached else parse_patterns(_lines(text))
                cached = (text, parsed, now)
                self._ignore_files[path] = cached
            rules.extend(cached[1])
        return tuple(rules)


def _lines(text: str | None) -> list[str]:
    return text.splitlines() if text else []
