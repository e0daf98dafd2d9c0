"""A cold prompt sized by what the engine knows (issue 12, item 3), with the fake model: its
measured prompt rate, what its KV cache holds of a prompt, the chat prompt's head held for
a language's first block and read when a document is opened."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

from qwen_lsp.background import PromptWindows, WindowChoice
from qwen_lsp.completion import CompletionService
from qwen_lsp.context import CHAT_SYSTEM, FimWindow, fim_window
from qwen_lsp.documents import DocumentStore
from qwen_lsp.engine import GenerationLimits, KvReuse, Special
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.kv_pool import KvPool
from qwen_lsp.engine.threads import MIN_RATE_UNITS, PromptSpeed
from qwen_lsp.settings import Settings
from tests.unit.test_completion import URI, complete, no_speculation, service
from tests.unit.test_completion_fresh import WARMED, long_file, until


def prompt_tokens(backend: FakeBackend, call: int) -> int:
    return len(backend.tokenize(backend.calls[call]))


async def first_prompt_tokens(rate: float, text: str, settings: Settings | None = None) -> int:
    """The tokens of the first prompt asked at the end of ``text`` in a fresh service whose
    engine reads ``rate`` prompt tokens a second."""
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    backend.prompt_rate = rate
    svc, store = await service(settings or no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, text)
    return prompt_tokens(backend, 0)


def test_the_prompt_speed_is_measured_on_calls_long_enough_to_tell() -> None:
    speed = PromptSpeed()
    assert speed.tokens_per_second == 0  # nothing known yet
    speed.record(32, 0.4)
    assert speed.tokens_per_second == 80
    # A keystroke's few tokens cost about a decoding step each: no figure for a prompt.
    speed.record(MIN_RATE_UNITS - 1, 1.0)
    assert speed.tokens_per_second == 80
    speed.record(64, 0.4)  # the machine got faster (or less busy): followed at once
    assert speed.tokens_per_second == 120


def short_lines(lines: int = 600) -> str:
    """Lines of two (fake) tokens: a window cut at a 16-line boundary moves in small steps."""
    return "".join(f"v{i % 100:02} = 1\n" for i in range(lines))


async def test_the_cut_of_a_cold_window_follows_the_engines_measured_rate() -> None:
    text = short_lines() + "result = "
    whole = await first_prompt_tokens(
        100.0, text, dataclasses.replace(no_speculation(), coldPromptSeconds=0)
    )
    # A fast machine reads the whole window within coldPromptSeconds: no cut.
    assert await first_prompt_tokens(2.0 * whole, text) == whole
    # Else the window is cut to what the engine reads in that time (less the suffix's share
    # of the budget, unused at the end of a file, and a 16-line step) ...
    assert 150 <= await first_prompt_tokens(250.0, text) <= 250
    # ... and never below coldPromptMinTokens of budget, however slow the machine.
    assert (
        Settings().coldPromptMinTokens // 2
        <= await first_prompt_tokens(20.0, text)
        <= Settings().coldPromptMinTokens
    )


async def test_a_fast_engine_leaves_nothing_to_warm_behind_the_answer() -> None:
    backend = FakeBackend()
    backend.prompt_rate = 10_000.0
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, long_file() + "result = ")
    await asyncio.sleep(0.1)
    assert len(backend.calls) == 1  # nothing cut, so nothing to read again


async def test_a_window_the_engine_holds_is_read_whole_whatever_document_asked_first() -> None:
    backend = FakeBackend()
    settings = dataclasses.replace(no_speculation(), coldPromptSeconds=0.5)
    svc, store = await service(settings, backend), DocumentStore()
    text = long_file() + "result = "
    # The same prompt read (as the whole window) for another document: the KV cache has it.
    assert await complete(svc, store, text)
    await until(lambda: len(backend.calls) == WARMED)  # the cut answer, then the warm-ups
    other = DocumentStore()
    other.open("file:///t/copy.py", "python", 1, text + "x")
    snapshot = other.get("file:///t/copy.py")
    assert snapshot is not None
    copy = snapshot.snapshot()
    line = copy.line_count() - 1
    assert await svc.complete(copy, line, len(copy.line_at(line)), lambda: True)
    assert backend.calls[-1] == backend.calls[2] + "x"  # wide, and no cut


async def test_a_window_the_engine_no_longer_holds_is_cut_again() -> None:
    backend = FakeBackend()
    svc, store = await service(no_speculation(), backend), DocumentStore()
    text = long_file() + "result = "
    assert await complete(svc, store, text)
    await until(lambda: len(backend.calls) == WARMED)
    assert await complete(svc, store, text + "x")
    assert backend.calls[3] == backend.calls[2] + "x"  # warm: wide
    backend.kept.clear()  # its states went (other files, a reload, the pool's budget)
    assert await complete(svc, store, text + "xy")
    settings = Settings()  # cold again: cut to what a second reads, or the floor
    cut = max(settings.coldPromptMinTokens, backend.prompt_rate * settings.coldPromptSeconds)
    assert prompt_tokens(backend, 4) <= cut < prompt_tokens(backend, 1)


BLOCK_AFTER = "\n\nprint(f([1, 2]))\n"


async def complete_block(svc: CompletionService, store: DocumentStore, text: str) -> str | None:
    """A block asked at the end of ``text``, with code after it (the usual case)."""
    document = store.open(URI, "python", 1, text + BLOCK_AFTER)
    line = text.count("\n")
    suggestion = await svc.complete(document.snapshot(), line, 4, lambda: True)
    return suggestion.text if suggestion else None


def block_file() -> str:
    return short_lines() + "def f(xs):\n    "


def is_head(text: str) -> bool:
    return text.startswith("<|im_start|>system\n" + CHAT_SYSTEM) and text.endswith("```python\n")


async def test_an_opened_document_warms_its_languages_block_head() -> None:
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    document = store.open(URI, "python", 1, block_file() + BLOCK_AFTER)
    svc.opened(document.snapshot())
    await until(lambda: len(backend.held) == 1)
    assert is_head(backend.held[0]) and not backend.calls  # no request asked for it
    # The first block starts with it: its prompt's uncached part is the code only.
    assert await complete_block(svc, store, block_file()) == "return 1"
    assert backend.calls[0].startswith(backend.held[0])


async def test_a_held_head_leaves_more_of_a_cut_block_window_for_code() -> None:
    lengths = []
    for warm in (False, True):
        backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
        backend.prompt_rate = 250.0
        svc, store = await service(no_speculation(), backend), DocumentStore()
        if warm:
            head = svc._tools.chat_head(backend, "python")  # what opened() reads
            backend.hold(head, GenerationLimits(0, 10.0))
        assert await complete_block(svc, store, block_file()) == "return 1"
        lengths.append(prompt_tokens(backend, 0))
    overhead = len(backend.tokenize(backend.held[0]))
    assert lengths[1] >= lengths[0] + overhead // 2


async def test_the_first_block_holds_its_head_for_the_next_files() -> None:
    backend = FakeBackend(contains={"<|im_start|>": "return 1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete_block(svc, store, block_file()) == "return 1"
    assert len(backend.held) == 1 and is_head(backend.held[0])


async def test_without_cold_handling_an_opened_document_warms_nothing() -> None:
    backend = FakeBackend()
    settings = dataclasses.replace(no_speculation(), coldPromptSeconds=0.0)
    svc, store = await service(settings, backend), DocumentStore()
    svc.opened(store.open(URI, "python", 1, block_file()).snapshot())
    await asyncio.sleep(0.2)
    assert not backend.held and not backend.calls


def test_a_pinned_state_outlives_the_states_that_extend_or_follow_it() -> None:
    pool: KvPool[bytes] = KvPool(1 << 20, len, max_states=4)
    head = [1, 2, 3]
    pool.put(head, b"head", pinned=True)
    assert pool.holds(head) and not pool.holds([1, 2])
    pool.put([1, 2, 3, 4], b"extends")  # would replace an unpinned state
    for i in range(10):
        pool.put([9, i], b"other")
    assert pool.holds(head) and len(pool) == 4
    index, shared = pool.best([1, 2, 3, 7])
    assert shared == 3 and pool.take(index).state == b"head"
    assert pool.holds(head)  # restored, and still held for the next prompt
    pool.put(head, b"again")  # the live state saved again is not kept twice
    assert sum(pool.best(head)[1] == 3 for _ in range(1)) and len(pool) == 4


def test_the_fake_engine_tells_what_it_holds_of_a_prompt() -> None:
    backend = FakeBackend()
    first = ["x" * 400, Special("<|fim_middle|>")]
    assert backend.kv_reuse(first).cached_tokens == 0
    backend.generate(first, GenerationLimits(1, 10.0), lambda _: True)
    reuse = backend.kv_reuse([*first, "more text"])
    assert reuse.cached_tokens == len(backend.tokenize("".join(["x" * 400, "<|fim_middle|>"])))
    assert reuse.uncached == reuse.prompt_tokens - reuse.cached_tokens > 0


def choose(reused: dict[str, int], may_cut: bool = True, warming: bool = False) -> WindowChoice:
    """The window chosen for the end of a long file when the KV cache holds ``reused`` of
    the whole (``"whole"``) and wide (``"wide"``) windows' tokens, at 100 tokens a second."""
    text = long_file() + "result = "
    settings = no_speculation()

    def count(part: str) -> int:
        return len(FakeBackend().tokenize(part))

    def window_tokens(window: FimWindow) -> int:
        return count(window.prefix + window.line_prefix + window.suffix)

    whole = window_tokens(fim_window(text, len(text), count, settings.prefixTokens, 96))

    def reuse(window: FimWindow) -> KvReuse:
        tokens = window_tokens(window)
        return KvReuse(tokens, reused["whole" if tokens <= whole else "wide"])

    windows = PromptWindows(cast(Any, None), cast(Any, None))
    return windows.choose(
        URI, text, len(text), count, settings, False, reuse, 100.0, may_cut=may_cut, warming=warming
    )


def test_the_wide_window_is_taken_when_the_cache_holds_it() -> None:
    assert choose({"whole": 0, "wide": 2000}).wide
    wide_cold = choose({"whole": 2000, "wide": 0})
    assert not wide_cold.wide and not wide_cold.cut and wide_cold.wider
    all_cold = choose({"whole": 0, "wide": 0})
    assert all_cold.cut and all_cold.wider


def test_background_work_never_starts_on_a_cold_wide_window() -> None:
    # A speculation or a refresh: the whole window, uncut, whatever the cache holds ...
    for reused in ({"whole": 0, "wide": 0}, {"whole": 2000, "wide": 0}):
        choice = choose(reused, may_cut=False)
        assert not choice.wide and not choice.cut
    # ... the warm-up: the whole window first, then the wide one.
    assert not choose({"whole": 0, "wide": 0}, may_cut=False, warming=True).wide
    assert choose({"whole": 2000, "wide": 0}, may_cut=False, warming=True).wide
