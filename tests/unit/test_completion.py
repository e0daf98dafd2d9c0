"""The completion use case with the fake model: caching, typing through, speculation."""

from __future__ import annotations

import asyncio
import dataclasses

from qwen_lsp.completion import CompletionService
from qwen_lsp.documents import Document, DocumentStore, Snapshot
from qwen_lsp.engine import FimTokens
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.settings import Settings

URI = "file:///t/example.py"


async def service(settings: Settings, backend: FakeBackend) -> CompletionService:
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    return CompletionService(worker, lambda: settings, FimTokens)


def no_speculation() -> Settings:
    return dataclasses.replace(Settings(), speculation=False)


def type_text(store: DocumentStore, text: str) -> tuple[Document, Snapshot, int, int]:
    """Set the document to `text`: it, its snapshot and the (line, UTF-16 column) of its end."""
    document = store.get(URI)
    if document is None:
        document = store.open(URI, "python", 1, text)
    else:
        store.change(URI, document.version + 1, [(text, None)])
    snapshot = document.snapshot()
    line = snapshot.line_count() - 1
    return document, snapshot, line, len(snapshot.line_at(line).encode("utf-16-le")) // 2


async def complete(svc: CompletionService, store: DocumentStore, text: str) -> str | None:
    """Set the document to `text` and ask for a suggestion at its end."""
    _, snapshot, line, utf16_col = type_text(store, text)
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
    backend = FakeBackend({"<|fim_middle|>x = 1": "\n", "<|fim_middle|>x = 1\n    ": "y = 2\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "def f():\n    x = 1") == "\n    y = 2"
    assert len(backend.calls) == 2
    # The second prompt is the first plus the line break: the KV cache holds all the rest.
    assert backend.calls[1] == backend.calls[0] + "\n    "
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


async def test_an_edit_stops_the_generation_before_its_first_token() -> None:
    """The engine polls the document's version itself (between prompt chunks, after each
    token): an edit with no new request behind it still stops the work at once."""
    backend = FakeBackend({"total = ": "compute(values)\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    snapshot = store.open(URI, "python", 1, "total = ").snapshot()
    assert await svc.complete(snapshot, 0, 8, lambda: False) is None
    last = svc.stats.last
    assert last is not None and last.stop_reason == "cancelled"
    assert last.generated_tokens == 0  # keep_going (after a token) would have let one through
    assert backend.limits[0].cancel.why() == "document changed"


async def request(svc: CompletionService, store: DocumentStore, text: str) -> str | None:
    """Like `complete`, but wired like the server: the suggestion is stale once the document
    changes, unless the change types what the model is writing."""
    document, snapshot, line, utf16_col = type_text(store, text)
    suggestion = await svc.complete(
        snapshot,
        line,
        utf16_col,
        is_current=lambda: document.version == snapshot.version,
        latest=lambda: document.snapshot().text,
    )
    return suggestion.text if suggestion else None


async def type_during_generation(
    settings: Settings, typed: str, start: str = "total = "
) -> tuple[FakeBackend, str | None]:
    """Ask at `start`, type `typed` while the model writes (the editor cancels the first
    request, as VS Code does), then ask again."""
    backend = FakeBackend(
        {
            "total = ": "compute(values)\n",
            "total = x": "1\n",
            "def f(x):\n    <|fim_suffix|><|fim_middle|>": "return x + 1\n",
            "<|fim_middle|>ret": "urn x\n",
        },
        seconds_per_token=0.03,
    )
    svc, store = await service(settings, backend), DocumentStore()
    first = asyncio.ensure_future(request(svc, store, start))
    await asyncio.sleep(0.15)  # a few tokens written
    first.cancel()
    shown = await request(svc, store, start + typed)
    return backend, shown


async def test_typing_what_the_model_writes_waits_for_its_answer() -> None:
    backend, shown = await type_during_generation(no_speculation(), "co")
    assert shown == "mpute(values)"
    assert len(backend.calls) == 1  # followed, not restarted


async def test_typing_something_else_stops_the_generation_and_starts_over() -> None:
    backend, shown = await type_during_generation(no_speculation(), "x")
    assert shown == "1"
    assert len(backend.calls) == 2
    assert backend.limits[0].cancel.why() == "document changed"


async def test_without_following_every_keystroke_restarts_the_model() -> None:
    settings = dataclasses.replace(no_speculation(), followTyping=False)
    backend, _ = await type_during_generation(settings, "co")
    assert len(backend.calls) == 2 and backend.calls[1].endswith("total = co")


async def test_a_block_generation_is_not_followed_where_a_line_is_wanted() -> None:
    # At the start of an empty body the model writes a block; one character later a line
    # is wanted, and a line is quicker to write afresh than the rest of a block is to wait for.
    settings = dataclasses.replace(no_speculation(), blockPrompt="fim")
    backend, shown = await type_during_generation(settings, "ret", "def f(x):\n    ")
    assert shown == "urn x"
    assert len(backend.calls) == 2


async def test_a_cancelled_request_without_an_edit_stops_its_generation() -> None:
    backend = FakeBackend({"total = ": "compute(values) + adjustment(values)\n"}, 0.03)
    svc, store = await service(no_speculation(), backend), DocumentStore()
    first = asyncio.ensure_future(request(svc, store, "total = "))
    await asyncio.sleep(0.15)
    first.cancel()  # the user pressed Escape: no keystroke follows
    await asyncio.sleep(0.3)
    last = svc.stats.last
    assert last is not None and last.stop_reason == "cancelled"
    assert last.generated_tokens < 10  # of 36: stopped within the grace for a keystroke


async def test_a_block_is_asked_through_the_chat_template_and_a_line_through_fim() -> None:
    backend = FakeBackend({"def f(xs):\n    ": "return sum(xs)\n```\nDone.", "total = ": "1\n"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "return sum(xs)"
    assert "<|im_start|>assistant\n```python\ndef f(xs):\n    " in backend.calls[-1]
    assert "<|fim_middle|>" not in backend.calls[-1]
    assert await complete(svc, store, "total = ") == "1"
    assert backend.calls[-1].startswith("<|fim_prefix|>")


async def test_a_line_the_token_limit_cut_off_is_not_shown() -> None:
    """Half a statement is not suggested, nor closed with brackets the model never wrote."""
    answer = "total = sum(xs)\n    return compute(total, xs, 1, 2, 3)\n"
    backend = FakeBackend({"def f(xs):\n    ": answer})
    settings = dataclasses.replace(no_speculation(), maxTokensLine=20, maxTokensBlock=30)
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "total = sum(xs)"
    # Within the limit the whole block is shown; a first line cut off is all there is.
    roomy = dataclasses.replace(settings, maxTokensBlock=80)
    svc, store = await service(roomy, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == answer.rstrip("\n")
    backend = FakeBackend({"def f(xs):\n    ": "return compute(total, xs, 1, 2, 3, 4, 5, 6)\n"})
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "return compute(total, xs, 1, 2)"
    # A line left open above the cut (its body never written) goes with it.
    answer = "total = 0\n    for x in xs:\n        total += compute(x, 1, 2, 3)\n"
    backend = FakeBackend({"def f(xs):\n    ": answer})
    capped = dataclasses.replace(settings, maxTokensBlock=40)
    svc, store = await service(capped, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "total = 0"


async def test_a_stand_in_answer_to_the_chat_prompt_is_asked_again_through_fim() -> None:
    """The 1.5B model, asked to continue a file whose function body is empty, answers
    "# Your code here" then "pass" (shows nothing); through FIM it writes the body."""
    backend = FakeBackend(
        contains={
            "<|im_start|>": "# Your code here\n    pass\n```",
            "<|fim_middle|>": "return a * b\n",
        }
    )
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, "def mul(a, b):\n    ") == "return a * b"
    assert "<|im_start|>" in backend.calls[-2] and "<|fim_middle|>" in backend.calls[-1]


async def test_a_chat_answer_closed_inside_its_docstring_is_asked_again_through_fim() -> None:
    """The 1.5B, asked for `execlp`'s body, wrote the docstring's first line and closed its
    code block (issue 17, os.py); through FIM it wrote the docstring and the call."""
    q = '"' * 3
    document = "def execlp(file, *args):\n    "
    whole = f"{q}execlp(file, *args)\n\n    Execute the file.{q}\n    execvp(file, args)\n"
    backend = FakeBackend(
        contains={"<|im_start|>": f"{q}execlp(file, *args)\n```", "<|fim_middle|>": whole}
    )
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, document) == whole.rstrip("\n")
    assert "<|im_start|>" in backend.calls[-2] and "<|fim_middle|>" in backend.calls[-1]
    # Nothing through FIM: the chat answer, its docstring closed, is shown.
    backend = FakeBackend(
        contains={"<|im_start|>": f"{q}execlp(file, *args)\n```", "<|fim_middle|>": "\n\n\n"}
    )
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, document) == f"{q}execlp(file, *args){q}"
    # A chat answer that closes its docstring is not asked again.
    backend = FakeBackend(contains={"<|im_start|>": f"{q}Run it.{q}\n    run(file)\n```"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    assert await complete(svc, store, document) == f"{q}Run it.{q}\n    run(file)"
    assert not any("<|fim_middle|>" in call for call in backend.calls)


async def test_a_model_not_trained_on_fim_is_not_asked_through_fim_again() -> None:
    backend = FakeBackend(
        contains={"<|im_start|>": "# Your code here\n    pass\n```", "<|fim_middle|>": "x\n"}
    )
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    untrained = FimTokens(trained=False)
    svc = CompletionService(worker, lambda: no_speculation(), lambda: untrained)
    assert not await complete(svc, DocumentStore(), "def mul(a, b):\n    ")
    assert not any("<|fim_middle|>" in call for call in backend.calls)


async def test_a_model_that_writes_function_bodies_through_fim_is_asked_that_way_there() -> None:
    """The registry's function_body_prompt "fim" (the 1.5B): a block that begins a
    function's body goes through the FIM prompt; other blocks keep the chat prompt, and
    blockPrompt `chat` keeps every block there."""
    backend = FakeBackend(
        contains={
            "<|fim_middle|>": "return a * b\n",
            "<|im_start|>": "return b\n```",
        }
    )
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    markers = FimTokens(function_bodies=True)
    settings = no_speculation()
    svc, store = CompletionService(worker, lambda: settings, lambda: markers), DocumentStore()
    assert await complete(svc, store, "def mul(a, b):\n    ") == "return a * b"
    assert "<|fim_middle|>" in backend.calls[-1]
    assert await complete(svc, store, "def mul(a, b):\n    if a:\n        ") == "return b"
    assert "<|im_start|>" in backend.calls[-1]
    settings = dataclasses.replace(no_speculation(), blockPrompt="chat")
    svc, store = CompletionService(worker, lambda: settings, lambda: markers), DocumentStore()
    assert await complete(svc, store, "def mul(a, b):\n    ") == "return b"
    assert "<|im_start|>" in backend.calls[-1]


async def test_block_prompt_fim_keeps_blocks_on_the_fim_prompt() -> None:
    backend = FakeBackend({"def f(xs):\n    <|fim_suffix|><|fim_middle|>": "return sum(xs)\n"})
    settings = dataclasses.replace(no_speculation(), blockPrompt="fim")
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "return sum(xs)"
    assert "<|im_start|>" not in backend.calls[-1]


async def test_the_disable_rules_setting_reaches_the_prompt_and_the_rules() -> None:
    """The ablation switch (the internal setting disableRules) goes from the settings to
    the prompt layout and to the post-processing rules."""
    backend = FakeBackend(contains={"<|fim_middle|>": "# Your code here\n"})
    settings = dataclasses.replace(no_speculation(), blockPrompt="fim")
    svc, store = await service(settings, backend), DocumentStore()
    assert not await complete(svc, store, "def f(xs):\n    ")  # a placeholder: nothing
    assert backend.calls[-1].endswith("def f(xs):\n    <|fim_suffix|><|fim_middle|>")
    rules = ("indent-in-prefix", "placeholder", "reparse")
    settings = dataclasses.replace(settings, disableRules=rules)
    svc, store = await service(settings, backend), DocumentStore()
    assert await complete(svc, store, "def f(xs):\n    ") == "# Your code here"
    assert backend.calls[-1].endswith("def f(xs):\n<|fim_suffix|><|fim_middle|>    ")


async def test_a_model_not_trained_on_fim_gets_even_lines_through_the_chat_prompt() -> None:
    """Completion style "chat" (Qwen3.5 / Qwen3.6): the FIM tokens are in its vocabulary but
    it was not trained on them, so a single line is asked through the chat template too,
    even with blockPrompt fim."""
    backend = FakeBackend({"total = ": "sum(values)\n```"})
    settings = dataclasses.replace(no_speculation(), blockPrompt="fim")
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    untrained = FimTokens(trained=False)
    svc, store = CompletionService(worker, lambda: settings, lambda: untrained), DocumentStore()
    assert await complete(svc, store, "total = ") == "sum(values)"
    assert "<|im_start|>assistant\n```python\ntotal = " in backend.calls[-1]
    assert "<|fim_prefix|>" not in backend.calls[-1]


async def test_at_column_0_between_statements_the_model_is_asked_after_their_indentation() -> None:
    """The cursor at column 0 of a bare line inside a body (an editor that strips trailing
    whitespace): asked as if the indentation were typed, answered with it."""
    text = "class A:\n    def __init__(self):\n        self.a = 1\n\n        self.c = 3\n"
    backend = FakeBackend(contains={"self.a = 1\n        ": "self.b = 2\n```"})
    svc, store = await service(no_speculation(), backend), DocumentStore()
    snapshot = store.open(URI, "python", 1, text).snapshot()
    suggestion = await svc.complete(snapshot, 3, 0, lambda: True)
    assert suggestion is not None and suggestion.text == "        self.b = 2"
    assert (
        "```python\nclass A:\n    def __init__(self):\n        self.a = 1\n        "
        in (backend.calls[-1])
    )
    # Switched off (the evaluation's ablation), the prompt ends at column 0.
    settings = dataclasses.replace(no_speculation(), disableRules=("implied-indent",))
    svc, store = await service(settings, backend), DocumentStore()
    snapshot = store.open(URI, "python", 1, text).snapshot()
    await svc.complete(snapshot, 3, 0, lambda: True)
    assert "        self.a = 1\n        " not in backend.calls[-1]
