"""Suggestions that stay right and come soon (issue 12, items 2 and 3), with the fake model:
a typed-through suggestion asked again in the background, a slow block shown by its first
lines, a cold prompt cut to a second of work and warmed behind it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from qwen_lsp.background import cold_budgets, first_lines
from qwen_lsp.cache import CachedSuggestion, SuggestionCache
from qwen_lsp.documents import DocumentStore
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.postprocess import CompletionSite
from qwen_lsp.settings import Settings
from tests.unit.test_completion import URI, complete, no_speculation, service


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for background work (generous: the machine may be busy)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the background work did not finish")


def test_the_nearest_earlier_context_is_typed_through_first() -> None:
    cache = SuggestionCache()
    cache.put("u", "x = a.", "", CachedSuggestion("pop()", "line"))
    cache.put("u", "x = a.p", "", CachedSuggestion("opleft()", "line"))
    assert cache.lookup("u", "x = a.po", "") == (CachedSuggestion("pleft()", "line"), 1)
    assert cache.lookup("u", "x = a.p", "") == (CachedSuggestion("opleft()", "line"), 0)


async def test_a_typed_through_suggestion_is_refreshed_when_the_model_changes_its_mind() -> None:
    # shlex.py in issue 12: `pop()` shown forty keystrokes earlier, `popleft()` now.
    backend = FakeBackend({"self.filestack.": "pop()\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "x = self.filestack.") == "pop()"
    backend.answers = {"self.filestack.": "popleft()\n", "self.filestack.p": "opleft()\n"}
    # Typed through: answered from the cache at once (the earlier answer), and asked again.
    assert await complete(svc, store, "x = self.filestack.p") == "op()"
    await until(lambda: svc.stats.refreshes == 1)
    assert backend.calls[-1].endswith("x = self.filestack.p")
    assert svc.stats.refreshes_changed == 1
    # From the next keystroke on, the fresher answer.
    assert await complete(svc, store, "x = self.filestack.po") == "pleft()"


async def test_a_refresh_that_agrees_keeps_the_longer_suggestion() -> None:
    backend = FakeBackend({"total = ": "compute(values) + 1\n", "comp": "ute(values)\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values) + 1"
    assert await complete(svc, store, "total = comp") == "ute(values) + 1"
    await until(lambda: svc.stats.refreshes == 1)
    assert svc.stats.refreshes_changed == 0
    assert await complete(svc, store, "total = compu") == "te(values) + 1"


async def test_without_the_refresh_typing_through_asks_nothing() -> None:
    backend = FakeBackend({"total = ": "compute(values)\n"})
    settings = dataclasses.replace(no_speculation(), refreshTypedThrough=False)
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values)"
    assert await complete(svc, store, "total = comp") == "ute(values)"
    await asyncio.sleep(0.2)
    assert len(backend.calls) == 1 and svc.stats.refreshes == 0


BLOCK = "total = 0\nfor x in xs:\n    total += x\n" + "# " + "y" * 60 + "\n"


async def test_a_slow_block_shows_its_first_lines_and_caches_the_whole() -> None:
    backend = FakeBackend({"def f(xs):\n    ": BLOCK.replace("\n", "\n    ")}, 0.02)
    settings = dataclasses.replace(no_speculation(), blockShowAfterSeconds=0.05)
    svc, store = await service(settings, backend), DocumentStore()
    shown = await complete(svc, store, "def f(xs):\n    ")
    assert shown is not None and shown.startswith("total = 0")
    assert "y" * 60 not in shown  # shown before the block was written

    # The generation goes on and caches the whole block (the cache is keyed by context).
    def cached() -> str:
        found = svc.cache.get(URI, "def f(xs):\n    ", "")
        return found.text if found else ""

    await until(lambda: "y" * 60 in cached())
    whole = await complete(svc, store, "def f(xs):\n    ")
    assert whole is not None and "y" * 60 in whole and whole.startswith(shown)
    assert len(backend.calls) == 1  # the rest came from the same generation


async def test_a_slow_block_at_column_0_shows_its_first_lines_at_the_implied_indentation() -> None:
    """Early lines come with the indentation the request was asked after, as the whole
    answer does: without it the first line would land at column 0."""
    text = "def f(xs):\n    xs = list(xs)\n\n    return total\n"
    backend = FakeBackend({"xs = list(xs)\n    ": BLOCK.replace("\n", "\n    ")}, 0.02)
    settings = dataclasses.replace(no_speculation(), blockShowAfterSeconds=0.05)
    svc, store = await service(settings, backend), DocumentStore()
    snapshot = store.open(URI, "python", 1, text).snapshot()
    suggestion = await svc.complete(snapshot, 2, 0, lambda: True)
    assert suggestion is not None and suggestion.text.startswith("    total = 0")
    assert "y" * 60 not in suggestion.text  # shown before the block was written


async def test_a_block_written_in_time_is_shown_whole() -> None:
    backend = FakeBackend({"def f(xs):\n    ": BLOCK.replace("\n", "\n    ")})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    shown = await complete(svc, store, "def f(xs):\n    ")
    assert shown is not None and "y" * 60 in shown


# Model calls of a cold prompt's first answer: the answer from a cut window, then the
# whole window read behind it, then the wide one (widePrefixTokens).
WARMED = 3


def long_file(lines: int = 300) -> str:
    return "".join(f"value_{i} = compute_{i}(argument_{i})\n" for i in range(lines))


async def test_a_cold_prompt_is_cut_then_warmed_for_the_next_keystroke() -> None:
    backend = FakeBackend()
    svc, store = await service(no_speculation(), backend), DocumentStore()
    text = long_file()
    assert await complete(svc, store, text + "result = ")
    cold = backend.calls[0]
    assert len(backend.tokenize(cold)) < (Settings().coldPromptMinTokens + Settings().suffixTokens)
    # Behind the answer, the whole window at this cursor is read (the warm-up), then the
    # wide one (widePrefixTokens) ...
    await until(lambda: svc.stats.generations == WARMED)
    whole, wide = backend.calls[1], backend.calls[2]
    assert len(whole) > 2 * len(cold) and whole.endswith("result = ")
    assert len(wide) > 2 * len(whole) and wide.endswith(whole[-len(whole) // 2 :])
    # ... and the next keystroke gets the wide window, which the KV cache now holds.
    assert await complete(svc, store, text + "result = x")
    assert backend.calls[3] == wide + "x"


@pytest.mark.parametrize(
    ("settings", "keeps_states"),
    [
        (dataclasses.replace(no_speculation(), widePrefixTokens=0), True),
        # A remote engine's slot holds one prompt: reading the wide one behind the
        # keystrokes would throw out the one they use.
        (no_speculation(), False),
    ],
    ids=["no wide budget", "an engine without saved states"],
)
async def test_the_warm_up_stops_at_the_whole_window(
    settings: Settings, keeps_states: bool
) -> None:
    backend = FakeBackend()
    backend.keeps_states = keeps_states
    svc, store = await service(settings, backend), DocumentStore()
    text = long_file()
    assert await complete(svc, store, text + "result = ")
    await until(lambda: svc.stats.generations == 2)
    await asyncio.sleep(0.2)
    assert svc.stats.generations == 2
    assert await complete(svc, store, text + "result = x")
    assert backend.calls[2] == backend.calls[1] + "x"


async def test_a_fast_engine_reads_the_wide_window_at_once() -> None:
    backend = FakeBackend()
    backend.prompt_rate = 10_000.0  # a GPU: the wide window reads in a fraction of a second
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, long_file() + "result = ")
    await asyncio.sleep(0.1)
    assert len(backend.calls) == 1  # nothing to read behind it
    tokens = len(backend.tokenize(backend.calls[0]))
    assert tokens > Settings().prefixTokens + Settings().suffixTokens + Settings().crossFileTokens


async def test_without_a_cold_budget_the_whole_window_is_asked_at_once() -> None:
    backend = FakeBackend()
    settings = dataclasses.replace(no_speculation(), coldPromptSeconds=0.0)
    svc, store = await service(settings, backend), DocumentStore()
    text = long_file()
    assert await complete(svc, store, text + "result = ")
    await asyncio.sleep(0.2)
    assert len(backend.calls) == 1
    assert (
        len(backend.tokenize(backend.calls[0]))
        > Settings().coldPromptMinTokens + Settings().suffixTokens
    )


def test_cold_budgets_share_the_cut_as_the_settings_share_the_window() -> None:
    assert cold_budgets(1000, 384, 96) == (384, 96)
    assert cold_budgets(240, 384, 96) == (192, 48)


async def test_a_cold_block_prompt_is_cut_too_leaving_room_for_the_template() -> None:
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, long_file() + "def f(xs):\n    ") == "return 1"
    cold = backend.calls[0]
    assert "<|im_start|>assistant" in cold  # the chat prompt of a block
    assert (
        len(backend.tokenize(cold)) < Settings().coldPromptMinTokens + 2 * Settings().suffixTokens
    )


async def test_a_cold_block_is_asked_through_the_warm_fim_prompt_of_the_lines() -> None:
    # issue 12: a block through a cold chat prompt read a cut window, then the next line
    # re-read hundreds of tokens the block had thrown out of the KV cache.
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    text = long_file()
    assert await complete(svc, store, text + "result = ")
    await until(lambda: svc.stats.generations == WARMED)  # the windows, read behind it
    assert await complete(svc, store, text + "def f(xs):\n    ")
    block = next(call for call in backend.calls if "def f(xs):" in call)
    assert "<|im_start|>" not in block  # the FIM prompt ...
    whole = Settings().coldPromptMinTokens + 2 * Settings().suffixTokens
    assert len(backend.tokenize(block)) > whole  # ... of the whole window, uncut


async def test_blockprompt_chat_keeps_the_chat_prompt_even_when_it_is_cold() -> None:
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    settings = dataclasses.replace(no_speculation(), blockPrompt="chat")
    svc, store = await service(settings, backend), DocumentStore()
    text = long_file()
    assert await complete(svc, store, text + "result = ")
    await until(lambda: svc.stats.generations == WARMED)
    assert await complete(svc, store, text + "def f(xs):\n    ") == "return 1"
    # (the first prompt at the block: the whole window is read behind a cut one)
    assert "<|im_start|>assistant" in next(c for c in backend.calls if "def f(xs):" in c)


OPENER = "def f(chunks):\n    i = 0\n    while i < l"
# (the prompt's end: the code typed on the line follows the middle token)
OPENER_KEY = "<|fim_middle|>while i < l"
# A line that opens a block: the model goes on into the body, a long one.
OPENER_ANSWER = "en(chunks):\n        i += 1\n        # " + "z" * 60 + "\n    return i\n"


async def test_a_line_that_opens_a_block_shows_its_first_line_before_the_body_is_written() -> None:
    # textwrap.py in the issue-12 replay: `while i < len(` kept the pause waiting ~3 s for the
    # loop's body the model wrote behind it; the line alone is what the pause needs.
    backend = FakeBackend({OPENER_KEY: OPENER_ANSWER}, 0.02)
    settings = dataclasses.replace(no_speculation(), blockShowAfterSeconds=0.05)
    svc, store = await service(settings, backend), DocumentStore()
    shown = await complete(svc, store, OPENER)
    assert shown is not None and shown.startswith("en(chunks)")
    assert "z" * 60 not in shown
    await until(lambda: svc.stats.last is not None and svc.stats.last.generated_tokens > 60)
    assert len(backend.calls) == 1


# The same line, whose body starts with a line that opens a block itself.
NESTED_ANSWER = (
    "en(chunks):\n        if chunks[i]:\n            i += 1  # " + "z" * 60 + "\n    return i\n"
)


async def test_a_line_that_opens_a_block_is_shown_alone_while_its_body_is_written() -> None:
    # The issue-12 replay waited 0.8 s at `while i < len(` for `if ...:` and the body under
    # it: a Python opener without a body is no answer, but here its body is on its way.
    backend = FakeBackend({OPENER_KEY: NESTED_ANSWER}, 0.02)
    settings = dataclasses.replace(no_speculation(), blockShowAfterSeconds=0.05)
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, OPENER) == "en(chunks):"
    # The whole block lands in the cache for the keystrokes that type the line through
    # (after the generation's figures: waiting for those raced the cache under load).
    await until(lambda: "i += 1" in getattr(svc.cache.get(URI, OPENER, ""), "text", ""))
    rest = await complete(svc, store, OPENER + "en(chunks):")
    assert rest is not None and rest.startswith("\n        if chunks[i]:\n            i += 1")
    assert len(backend.calls) == 1


@pytest.mark.parametrize(
    ("partial", "shown"),
    [
        ("hile i < n:\n", "hile i < n:"),  # the opener alone
        ("hile i < n:\r\n        if x:\r\n", "hile i < n:"),  # its body an opener too
        ("hile i < n:\n        i += 1\n", "hile i < n:\n        i += 1"),  # a body line
        ("hile i < n\n", ""),  # no opener: no exception to the rules
        ("hile i < n:", ""),  # the line is not complete
    ],
)
def test_first_lines_of_a_python_line_that_opens_a_block(partial: str, shown: str) -> None:
    site = CompletionSite(
        prefix="def f(n):\n    i = 0\n    w",
        suffix="\n    return i\n",
        kind="line",
        language="python",
    )
    assert first_lines(partial, site) == shown


async def test_a_follower_takes_the_first_lines_of_the_generation_it_typed_along_with() -> None:
    backend = FakeBackend({OPENER_KEY: OPENER_ANSWER}, 0.03)
    settings = dataclasses.replace(no_speculation(), blockShowAfterSeconds=0.4)
    svc, store = await service(settings, backend), DocumentStore()
    first = asyncio.ensure_future(complete(svc, store, OPENER))
    await asyncio.sleep(0.1)  # a few tokens written
    first.cancel()
    started = asyncio.get_running_loop().time()
    shown = await complete(svc, store, OPENER + "en(")
    waited = asyncio.get_running_loop().time() - started
    assert shown is not None and shown.startswith("chunks)")
    assert "z" * 60 not in shown  # the first lines, not the whole body
    assert waited < 0.03 * len(OPENER_ANSWER)  # before the whole answer was written
    assert len(backend.calls) == 1 and svc.stats.followed == 1
