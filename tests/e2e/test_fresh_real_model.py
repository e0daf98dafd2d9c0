"""The first suggestion in a freshly opened file, with the real model and the default
cold-file settings (issue 12, item 3): the prompt the KV cache does not hold is cut to
about a second of work and a slow block is answered by its first lines. Whatever the
machine's load, the suggestion must come and be sensible: non-empty, and fitting the hole
(the file still parses, the code after the cursor is not repeated)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from qwen_lsp import syntax
from tests.e2e.conftest import RUNS_MODEL, finish, inline, items_of, open_doc, server_config, start

pytestmark = RUNS_MODEL

# The time cap is not what is tested: a busy machine must not turn the answer into none.
OPTIONS = {"maxSeconds": 120}
# A real file of this machine (the typing benchmark's cold file), its first 300 lines.
SOURCE = Path(sysconfig.get_paths()["stdlib"]) / "queue.py"


def _errors(text: str) -> int:
    parser = syntax.get_parser("python")
    return syntax.count_errors(parser.parse(text.encode()).root_node)


def _line_site() -> tuple[str, int, int]:
    """The benchmark's cold request: mid-file, after `        return self.` (a line)."""
    lines = SOURCE.read_text().splitlines(keepends=True)[:300]
    row = next(i for i, line in enumerate(lines) if line.startswith("        return self.get("))
    lines[row] = "        return self.\n"
    return "".join(lines), row, len("        return self.")


def _block_site() -> tuple[str, int, int]:
    """A method's body taken out, the cursor where it starts (a block)."""
    lines = SOURCE.read_text().splitlines(keepends=True)[:300]
    row = next(i for i, line in enumerate(lines) if line.startswith("    def put_nowait("))
    end = row + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith("        ")):
        end += 1
    lines[row + 1 : end] = ["        \n", "\n"]
    return "".join(lines), row + 1, 8


@pytest.mark.parametrize("site", ["line", "block"])
async def test_the_first_suggestion_in_a_cold_file_is_sensible(tmp_path: Path, site: str) -> None:
    text, row, col = _line_site() if site == "line" else _block_site()
    client = await server_config().start()
    assert isinstance(client, LanguageClient)
    try:
        await start(client, "visual-studio-code", OPTIONS)
        uri = (tmp_path / "queue.py").as_uri()
        open_doc(client, uri, "python", text)
        items = items_of(await inline(client, uri, types.Position(line=row, character=col)))
        assert items, "no suggestion in a cold file"
        suggestion = items[0].insert_text
        assert isinstance(suggestion, str) and suggestion.strip()
        lines = text.splitlines(keepends=True)
        offset = sum(len(line) for line in lines[:row]) + col
        prefix, suffix = text[:offset], text[offset:]
        # It fits: no more parse errors than the file had with the hole (none for a body).
        assert _errors(prefix + suggestion + suffix) <= _errors(text), suggestion
        next_line = next(line.strip() for line in suffix.splitlines() if line.strip())
        assert next_line not in [line.strip() for line in suggestion.splitlines()]
    finally:
        await finish(client)
