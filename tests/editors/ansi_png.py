"""Render a terminal screen (tmux capture-pane -e output) to a PNG through headless Chromium.

Small on purpose: SGR colours (16, 256 and 24-bit), bold, italic, underline, reverse, and
a block cursor; one HTML page, one `chromium --screenshot`.
"""

from __future__ import annotations

import html
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_FG = "#e0e2ea"
DEFAULT_BG = "#14161b"
BASE16 = [
    "#07080d", "#ffc0b9", "#b3f6c0", "#fce094", "#a6dbff", "#ffcaff", "#8cf8f7", "#eef1f8",
    "#4f5258", "#ffc0b9", "#b3f6c0", "#fce094", "#a6dbff", "#ffcaff", "#8cf8f7", "#ffffff",
]  # fmt: skip
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Z0-9])")


@dataclass(frozen=True)
class Style:
    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False


def _color256(n: int) -> str:
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return f"#{levels[n // 36]:02x}{levels[(n // 6) % 6]:02x}{levels[n % 6]:02x}"
    grey = 8 + (n - 232) * 10
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def _apply_sgr(style: Style, params: str) -> Style:
    codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")] or [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            style = Style()
        elif c == 1:
            style = replace(style, bold=True)
        elif c == 3:
            style = replace(style, italic=True)
        elif c == 4:
            style = replace(style, underline=True)
        elif c == 7:
            style = replace(style, reverse=True)
        elif c == 22:
            style = replace(style, bold=False)
        elif c == 23:
            style = replace(style, italic=False)
        elif c == 24:
            style = replace(style, underline=False)
        elif c == 27:
            style = replace(style, reverse=False)
        elif 30 <= c <= 37:
            style = replace(style, fg=BASE16[c - 30])
        elif 90 <= c <= 97:
            style = replace(style, fg=BASE16[c - 90 + 8])
        elif 40 <= c <= 47:
            style = replace(style, bg=BASE16[c - 40])
        elif 100 <= c <= 107:
            style = replace(style, bg=BASE16[c - 100 + 8])
        elif c == 39:
            style = replace(style, fg=None)
        elif c == 49:
            style = replace(style, bg=None)
        elif c in (38, 48) and i + 1 < len(codes):
            color = None
            if codes[i + 1] == 5 and i + 2 < len(codes):
                color = _color256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = codes[i + 2 : i + 5]
                color = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            style = replace(style, fg=color) if c == 38 else replace(style, bg=color)
        i += 1
    return style


def parse_screen(text: str) -> list[list[tuple[str, Style]]]:
    """One list of (character, style) cells per line."""
    rows: list[list[tuple[str, Style]]] = []
    style = Style()
    for line in text.split("\n"):
        cells: list[tuple[str, Style]] = []
        pos = 0
        for m in SGR.finditer(line):
            chunk = OTHER_ESCAPE.sub("", line[pos : m.start()])
            cells.extend((ch, style) for ch in chunk)
            style = _apply_sgr(style, m.group(1))
            pos = m.end()
        cells.extend((ch, style) for ch in OTHER_ESCAPE.sub("", line[pos:]))
        rows.append(cells)
    return rows


def to_html(text: str, cols: int, cursor: tuple[int, int] | None = None) -> str:
    rows = parse_screen(text)
    out: list[str] = []
    for y, cells in enumerate(rows):
        if len(cells) < cols:
            cells = cells + [(" ", Style())] * (cols - len(cells))
        if cursor is not None and cursor[1] == y and cursor[0] < len(cells):
            ch, st = cells[cursor[0]]
            cells[cursor[0]] = (ch, replace(st, reverse=not st.reverse))
        spans: list[str] = []
        for ch, st in cells:
            fg, bg = st.fg or DEFAULT_FG, st.bg or DEFAULT_BG
            if st.reverse:
                fg, bg = bg, fg
            css = f"color:{fg};background:{bg}"
            if st.bold:
                css += ";font-weight:bold"
            if st.italic:
                css += ";font-style:italic"
            if st.underline:
                css += ";text-decoration:underline"
            spans.append(f'<span style="{css}">{html.escape(ch)}</span>')
        out.append("".join(spans))
    body = "\n".join(out)
    return (
        "<!doctype html><meta charset='utf-8'><style>"
        f"html,body{{margin:0;background:{DEFAULT_BG}}}"
        "pre{margin:12px;font:15px/19px 'DejaVu Sans Mono',monospace;white-space:pre}"
        f"</style><pre>{body}</pre>"
    )


def render_png(
    text: str,
    png: Path,
    cols: int,
    rows: int,
    cursor: tuple[int, int] | None = None,
    chromium: str = "/usr/bin/chromium",
) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "screen.html"
        page.write_text(to_html(text, cols, cursor), encoding="utf-8")
        width, height = int(cols * 9.05) + 24, rows * 19 + 24
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
