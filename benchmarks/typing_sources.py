"""The files the typing-replay benchmark (benchmarks/bench_typing.py) retypes.

Real files of this machine, several languages and sizes, none written for the benchmark:
the Python standard library, npm's own sources, a zlib or X11 C example, Go and Rust files
from git's contrib and rustup's docs (each source lists the places it may be, the first
one present is used; a source absent from this machine is skipped and said so). Each file
gets its span to retype and its keystrokes from benchmarks/typing_plan.py. Also the cold
file: the first 300 lines of the standard library's queue.py, asked once mid-file.
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.typing_plan import Keystroke, choose_span, cursor_at, plan_keystrokes
from qwen_lsp import languages


@dataclass(frozen=True)
class SourceSpec:
    name: str
    language_id: str
    note: str
    candidates: Callable[[], list[Path]]


def _stdlib(name: str) -> Callable[[], list[Path]]:
    return lambda: [Path(sysconfig.get_paths()["stdlib"]) / name]


def _npm(relative: str) -> Callable[[], list[Path]]:
    def find() -> list[Path]:
        roots = [Path("/usr/lib/node_modules/npm"), Path("/usr/local/lib/node_modules/npm")]
        npm = shutil.which("npm")
        if npm:  # bin/npm -> .../node_modules/npm/bin/npm-cli.js
            roots.insert(0, Path(npm).resolve().parent.parent)
        return [root / relative for root in roots]

    return find


def _paths(*patterns: str) -> Callable[[], list[Path]]:
    def find() -> list[Path]:
        found: list[Path] = []
        for pattern in patterns:
            path = Path(pattern).expanduser()
            anchor = Path(path.anchor)
            found.extend(sorted(anchor.glob(str(path.relative_to(anchor)))))
        return found

    return find


SOURCES: list[SourceSpec] = [
    SourceSpec(
        "textwrap.py", "python", "stdlib, ~500 lines (the reference)", _stdlib("textwrap.py")
    ),
    SourceSpec("copy.py", "python", "stdlib, ~300 lines", _stdlib("copy.py")),
    SourceSpec(
        "shlex.py", "python", "stdlib, ~350 lines (issue 12's second file)", _stdlib("shlex.py")
    ),
    SourceSpec("difflib.py", "python", "stdlib, ~2000 lines", _stdlib("difflib.py")),
    SourceSpec("cache.js", "javascript", "npm's own lib/commands", _npm("lib/commands/cache.js")),
    SourceSpec(
        "zpipe.c",
        "c",
        "zlib example",
        _paths(
            "/usr/share/doc/zlib1g-dev/examples/zpipe.c",
            "/usr/share/doc/*/examples/*.c",
            "/usr/include/X11/Xtrans/Xtransutil.c",
        ),
    ),
    SourceSpec(
        "client.go",
        "go",
        "git contrib",
        _paths(
            "/usr/share/doc/git/contrib/persistent-https/client.go",
            "/usr/lib/go*/src/strings/strings.go",
            "/usr/local/go/src/strings/strings.go",
        ),
    ),
    SourceSpec(
        "main.rs",
        "rust",
        "rustup docs",
        _paths(
            "~/.rustup/toolchains/*/share/doc/rust/html/error_codes/main.rs",
            "~/.rustup/toolchains/*/lib/rustlib/src/rust/library/core/src/str/mod.rs",
        ),
    ),
]

COLD_FILE = "queue.py"  # first 300 lines, the cursor after 20 characters of line 199
COLD_LINE, COLD_COL, COLD_LINES = 198, 20, 300


@dataclass
class Source:
    name: str
    language_id: str
    path: Path
    text: str
    start: int
    end: int
    keystrokes: list[Keystroke]

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    @property
    def span(self) -> str:
        return self.text[self.start : self.end]

    @property
    def initial_text(self) -> str:
        return self.text[: self.start] + self.text[self.end :]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language_id,
            "path": str(self.path),
            "lines": self.text.count("\n") + 1,
            "span_lines": [
                cursor_at(self.text, self.start)[0] + 1,
                cursor_at(self.text, self.end)[0] + 1,
            ],
            "span_chars": self.end - self.start,
            "keystrokes": len(self.keystrokes),
            "typed_chars": self.keystrokes[-1].typed if self.keystrokes else 0,
        }


def load_sources(
    names: Sequence[str] | None, seed: int, max_keystrokes: int | None
) -> tuple[list[Source], list[str]]:
    """The named sources present on this machine, and why the others were skipped."""
    sources: list[Source] = []
    skipped: list[str] = []
    for spec in SOURCES:
        if names and spec.name not in names:
            continue
        path = next((p for p in spec.candidates() if p.is_file()), None)
        if path is None:
            skipped.append(f"{spec.name} ({spec.language_id}): no such file on this machine")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        language = languages.language_for(spec.language_id, path.as_uri())
        try:
            start, end = choose_span(text, language or spec.language_id, f"{seed}:{spec.name}")
        except ValueError as exc:
            skipped.append(f"{spec.name} ({spec.language_id}): {exc}")
            continue
        strokes = plan_keystrokes(text, start, end, f"{seed}:{spec.name}", max_keystrokes)
        sources.append(Source(spec.name, spec.language_id, path, text, start, end, strokes))
    return sources, skipped
