"""The completion use case with the fake model: caching, typing through, speculation."""

from __future__ import annotations

import asyncio
import dataclasses

from lsp_server.completion import CompletionService
from lsp_server.context import FimMarkers
from lsp_server.documents import DocumentStore
from lsp_server.engine.fake import FakeBackend
from lsp_server.engine.worker import ModelWorker
from lsp_server.settings import Settings

URI = "file:///t/example.py"


async def service(settings: Settings, backend: FakeBackend) -> CompletionService:
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    return CompletionService(worker, lambda: settings, FimMarkers)


def no_speculation() -> Settings:
    return dataclasses.replace(Settings(), speculation=False)


async def complete(svc: CompletionService, store: DocumentStore, text: str) -> str | None:
    """Set the document to `text` and ask for a suggestion at its end."""
    document = store.get(URI)
    if document is None:
        document = store.open(URI, "python", 1, text)
    else:
        store.change(URI, document.version + 1, [(text, None)])
    snapshot = document.snapshot()
    line = snapshot.line_count() - 1
    utf16_col = len(snapshot.line_at(line).encode("utf-16-le")) // 2
    suggestion = await svc.complete(snapshot, line, utf16_col, lambda: True)
    return suggestion.text if suggestion else None


async def test_same_context_is_served_from_the_cache() -> None:
    backend = FakeBackend({"total = ": "compute(values)\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values)"
    assert await complete(svc, store, "total = ") == "compute(values)"
    assert len(backend.calls) == 1
    assert svc.stats.cache_hits == 1


async def test_typing_through_shows_the_rest_without_the_model() -> None:
    backend = FakeBackend({"total = ": "compute(values)\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values)"
    assert await complete(svc, store, "total = comp") == "ute(values)"
    assert await complete(svc, store, "total = compute(") == "values)"
    assert len(backend.calls) == 1
    # Typing something else asks the model again.
    await complete(svc, store, "total = x")
    assert len(backend.calls) == 2


async def test_without_the_cache_every_request_runs_the_model() -> None:
    backend = FakeBackend({"total = ": "compute(values)\n"})
    settings = dataclasses.replace(no_speculation(), suggestionCache=False)
    svc, store = await service(settings, backend), DocumentStore()
    await complete(svc, store, "total = ")
    await complete(svc, store, "total = ")
    await complete(svc, store, "total = comp")
    assert len(backend.calls) == 3


async def test_speculation_prepares_the_next_suggestion() -> None:
    backend = FakeBackend({"total = ": "compute(values)\n", "compute(values)": " + 1\n"})
    svc, store = await service(Settings(), backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values)"
    for _ in range(100):  # the speculative job runs in the background
        if svc.stats.speculations:
            break
        await asyncio.sleep(0.01)
    assert len(backend.calls) == 2 and backend.calls[1].endswith("total = compute(values)")
    # The user accepts the suggestion: the next one is already there.
    assert await complete(svc, store, "total = compute(values)") == " + 1"
    assert len(backend.calls) == 2


async def test_a_real_request_preempts_speculation() -> None:
    backend = FakeBackend(
        {"a = ": "first()\n", "first()": "x" * 100 + "\n", "b = ": "second()\n"},
        seconds_per_token=0.01,
    )
    svc, store = await service(Settings(), backend), DocumentStore()
    assert await complete(svc, store, "a = ") == "first()"
    await asyncio.sleep(0.1)  # speculation for "a = first()" is generating its 100 x's
    started = asyncio.get_running_loop().time()
    assert await complete(svc, store, "b = ") == "second()"
    assert asyncio.get_running_loop().time() - started < 0.8
    assert svc.stats.speculations == 0 or svc.stats.cancelled_generations >= 1


async def test_a_finished_line_gets_the_next_line() -> None:
    # The model ends the cursor line at once; the suggestion is then the next line, asked
    # for where Enter would put the cursor (the indentation kept).
    backend = FakeBackend(
        {"<|fim_middle|>    x = 1": "\n", "    x = 1\n    <|fim_suffix|><|fim_middle|>": "y = 2\n"}
    )
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "def f():\n    x = 1") == "\n    y = 2"
    assert len(backend.calls) == 2
    # The same answer after Enter, from the cache (typing through it).
    assert await complete(svc, store, "def f():\n    x = 1\n    ") == "y = 2"
    assert len(backend.calls) == 2


async def test_only_a_line_the_model_ended_is_continued_below() -> None:
    backend = FakeBackend({"<|fim_middle|>x = ": "1\n", "<|fim_middle|>y = 2": "  # two\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "x = ") == "1"
    assert await complete(svc, store, "y = 2") == "  # two"
    assert len(backend.calls) == 2  # one model call each: the lines were not finished


async def test_typing_through_does_not_restart_the_speculation() -> None:
    backend = FakeBackend(
        {"total = ": "compute(values)\n", "compute(values)": " + 1\n"}, seconds_per_token=0.02
    )
    svc, store = await service(Settings(), backend), DocumentStore()
    assert await complete(svc, store, "total = ") == "compute(values)"
    for typed in ("c", "co", "com", "comp"):
        await asyncio.sleep(0.05)  # a keystroke while the speculation runs
        assert await complete(svc, store, "total = " + typed) == "compute(values)"[len(typed) :]
    for _ in range(200):
        if svc.stats.speculations:
            break
        await asyncio.sleep(0.01)
    speculative = [c for c in backend.calls if c.endswith("total = compute(values)")]
    assert len(speculative) == 1 and svc.stats.speculations == 1


async def test_a_block_is_asked_through_the_chat_template_and_a_line_through_fim() -> None:
    backend = FakeBackend({"def f(xs):\n    ": "return sum(xs)\n```\nDone.", "total = ": "1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "return sum(xs)"
    assert "<|im_start|>assistant\n```python\ndef f(xs):\n    " in backend.calls[-1]
    assert "<|fim_middle|>" not in backend.calls[-1]
    assert await complete(svc, store, "total = ") == "1"
    assert backend.calls[-1].startswith("<|fim_prefix|>")


async def test_block_prompt_fim_keeps_blocks_on_the_fim_prompt() -> None:
    backend = FakeBackend({"def f(xs):\n    <|fim_suffix|><|fim_middle|>": "return sum(xs)\n"})
    settings = dataclasses.replace(no_speculation(), blockPrompt="fim")
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "return sum(xs)"
    assert "<|im_start|>" not in backend.calls[-1]
