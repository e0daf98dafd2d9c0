"""Two language servers (two editors) on one engine, typing interleaved (issue 14): each
gets the answer to its own prompt, never the other's, and each keeps at most one stream
open. The real servers over stdio, backend openai, against the scripted engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import finish, inline, insert_text, items_of, open_doc, server_config, start
from tests.scripted_engine import ScriptedEngine

BOUND = 60.0


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine()
    scripted.answers = {"alpha_total": "alpha_value()\n", "beta_total": "beta_value()\n"}
    scripted.piece_delay = 0.01
    yield scripted
    scripted.stop()


async def type_and_ask(client: LanguageClient, name: str, lines: int) -> list[list[str]]:
    """Write ``lines`` lines ``{name}_total_N = `` one after the other, asking at the end of
    each; the suggestions of each request."""
    uri = f"file:///tmp/qwen-lsp-test/{name}.py"
    open_doc(client, uri, "python", "")
    answers: list[list[str]] = []
    previous = ""  # the line before, where the new one is inserted
    for line in range(lines):
        current = f"{name}_total_{line} = "
        at_line, at_col = max(0, line - 1), len(previous)
        insert_text(client, uri, line + 2, at_line, ("\n" if line else "") + current, at_col)
        previous = current
        position = types.Position(line=line, character=len(current))
        found = items_of(await inline(client, uri, position, BOUND))
        answers.append([str(i.insert_text) for i in found])
        await asyncio.sleep(0.02)
    return answers


async def test_two_editors_on_one_engine_each_get_their_own_answers(
    engine: ScriptedEngine,
) -> None:
    env = {"QWEN_LSP_BACKEND": "openai", "QWEN_LSP_ENGINE_URL": engine.url}
    first = await server_config(**env).start()
    second = await server_config(**env).start()
    assert isinstance(first, LanguageClient) and isinstance(second, LanguageClient)
    try:
        await asyncio.gather(start(first, "neovim"), start(second, "visual-studio-code"))
        alpha, beta = await asyncio.gather(
            type_and_ask(first, "alpha", 6), type_and_ask(second, "beta", 6)
        )
        assert alpha == [["alpha_value()"]] * 6
        assert beta == [["beta_value()"]] * 6
        prompts = [body["prompt"] for body in engine.completions()]
        assert any("alpha_total" in p for p in prompts) and any("beta_total" in p for p in prompts)
        assert engine.most_overlap <= 1  # two editors: at most one open stream each
        assert engine.wait_for(lambda e: e.in_flight == 0, BOUND)
    finally:
        await asyncio.gather(finish(first), finish(second))
