"""The code-action use case on the model worker, with the fake model."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from qwen_lsp.actions.prompt import Diagnostic
from qwen_lsp.actions.service import ActionRequest, ActionService
from qwen_lsp.admission import ADMITTED, Verdict
from qwen_lsp.documents import DocumentStore, Snapshot
from qwen_lsp.engine import CancelToken, GenerationLimits, KeepGoing, PromptPart
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.settings import Settings

URI = "file:///w/calc.py"
TEXT = "def double(x):\n    return 2 * x\n"
# What the model writes after the prompt, which ends with '"""': the docstring alone.
DOCSTRING = 'Twice x."""\n```\n'
# A docstring that takes a while to write (the answer ends as soon as it is closed).
LONG_DOCSTRING = (
    "Twice x.\n\n" + "".join(f"    More about x, {i}.\n" for i in range(7)) + '    """\n```\n'
)
INSIDE = ((1, 4), (1, 4))


async def service(backend: Any, settings: Settings | None = None) -> ActionService:
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    return ActionService(worker, lambda: settings or Settings())


def snapshot(text: str = TEXT, version: int = 1) -> Snapshot:
    return DocumentStore().open(URI, "python", version, text).snapshot()


async def test_rewrites_use_prompt_lookup() -> None:
    backend = FakeBackend(contains={"Task: say what": DOCSTRING, "Task: explain": "Doubles."})
    svc = await service(backend)
    run = await svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    assert run.result.ok and run.generation is not None
    assert backend.limits[-1].prompt_lookup == Settings().promptLookup
    run = await svc.run(ActionRequest("explain", URI, 1, INSIDE), snapshot(), lambda: True)
    assert run.result.ok and backend.limits[-1].prompt_lookup == 0  # prose: nothing to copy
    svc2 = await service(backend, dataclasses.replace(Settings(), promptLookup=0))
    await svc2.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    assert backend.limits[-1].prompt_lookup == 0
    assert svc.stats.runs == 2 and svc.stats.applied == 2


async def test_stale_version_and_unknown_action() -> None:
    svc = await service(FakeBackend())
    run = await svc.run(
        ActionRequest("docstring", URI, 1, INSIDE), snapshot(version=2), lambda: True
    )
    assert "changed since the actions were listed" in run.result.message
    run = await svc.run(ActionRequest("nope", URI, 1, INSIDE), snapshot(), lambda: True)
    assert "unknown action" in run.result.message


async def test_user_cancel_and_newer_action() -> None:
    backend = FakeBackend(contains={"Task: say what": DOCSTRING}, seconds_per_token=0.02)
    svc = await service(backend)
    cancel = CancelToken()
    first = asyncio.ensure_future(
        svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True, cancel=cancel)
    )
    await asyncio.sleep(0.2)
    cancel.cancel("cancelled by the user")
    assert (await first).result.message == "qwen-lsp: cancelled; nothing was changed"
    first = asyncio.ensure_future(
        svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    )
    await asyncio.sleep(0.2)
    second = await svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    assert "newer code action" in (await first).result.message
    assert second.result.ok


async def test_document_change_stops_generation() -> None:
    backend = FakeBackend(contains={"Task: say what": DOCSTRING}, seconds_per_token=0.02)
    svc = await service(backend)
    current = True
    running = asyncio.ensure_future(
        svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: current)
    )
    await asyncio.sleep(0.2)
    current = False
    run = await running
    assert "document changed" in run.result.message
    assert run.generation is not None and run.generation.generated_tokens < len(DOCSTRING)


async def test_progress_is_reported_on_the_event_loop() -> None:
    backend = FakeBackend(contains={"Task: say what": LONG_DOCSTRING}, seconds_per_token=0.03)
    svc = await service(backend)
    seen: list[tuple[str, int | None]] = []
    loop = asyncio.get_running_loop()

    def progress(message: str, percentage: int | None) -> None:
        assert asyncio.get_running_loop() is loop
        seen.append((message, percentage))

    run = await svc.run(
        ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True, progress=progress
    )
    await asyncio.sleep(0)
    assert run.result.ok
    assert seen[0][0].startswith("reading the code") and any("writing" in m for m, _ in seen)


class _Broken(FakeBackend):
    def generate(
        self, prompt: list[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Any:
        raise RuntimeError("engine exploded")


async def test_engine_failure_is_a_message() -> None:
    svc = await service(_Broken())
    run = await svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    assert "the action failed (engine exploded)" in run.result.message


async def test_offers_are_computed_without_the_model() -> None:
    backend = FakeBackend()
    svc = await service(backend)
    offers = svc.offers(snapshot(), INSIDE, None, [])
    assert [o.spec.id for o in offers] == [
        "fix",
        "explain",
        "docstring",
        "annotate",
        "tests",
    ]  # (nothing for Simplify to find in it)
    assert backend.calls == []


async def test_completions_are_answered_while_an_action_runs() -> None:
    from qwen_lsp.completion import CompletionService
    from qwen_lsp.engine import FimTokens

    backend = FakeBackend(
        {"return ": "x + 1\n"},
        seconds_per_token=0.01,
        contains={"Task: say what": LONG_DOCSTRING},
    )
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    actions = ActionService(worker, Settings)
    completions = CompletionService(worker, Settings, FimTokens)
    action = asyncio.ensure_future(
        actions.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    )
    await asyncio.sleep(0.2)  # the action is generating (about 3 s of fake tokens)
    other = DocumentStore().open("file:///w/other.py", "python", 1, "def f(x):\n    return ")
    suggestion = await completions.complete(other.snapshot(), 1, 11, lambda: True)
    assert suggestion is not None and suggestion.text == "x + 1"
    assert not action.done()  # answered in the middle of the action, not after it
    run = await action
    assert run.result.ok


async def test_a_refused_document_gets_no_action_and_its_text_no_prompt() -> None:
    """Private or too large (admission.py): the target itself, or the existing file a
    generated test would go into (its text is part of the prompt)."""
    backend = FakeBackend(contains={"Task: say what": DOCSTRING})
    worker = ModelWorker()
    await worker.load_async(lambda: backend)
    refused: set[str] = set()

    def admission(uri: str, text: str | None) -> Verdict:
        return Verdict("excluded", "*.py") if uri in refused else ADMITTED

    svc = ActionService(worker, Settings, lambda uri: "SECRET = 1\n", admission)
    assert svc.offers(snapshot(), INSIDE, None, ())
    refused.add(URI)
    assert svc.offers(snapshot(), INSIDE, None, ()) == []
    run = await svc.run(ActionRequest("docstring", URI, 1, INSIDE), snapshot(), lambda: True)
    assert not run.result.ok and "calc.py" in run.result.message
    assert "qwenLsp.excludeFiles" in run.result.message
    refused.clear()
    refused.add("file:///w/test_calc.py")
    run = await svc.run(ActionRequest("tests", URI, 1, INSIDE), snapshot(), lambda: True)
    assert not run.result.ok and "test_calc.py" in run.result.message
    assert backend.calls == []
    await worker.close()


# Simplify finds `y = 2 * x; return y` (simplify_hints.py) and asks for `return 2 * x`.
TEMPORARY = "def double(x):\n    y = 2 * x\n    return y\n"


async def test_a_rewrite_cut_off_by_its_token_limit_is_refused() -> None:
    # The model goes on past its budget: what it wrote parses, but its end is missing.
    rewrite = "def double(x):\n    return 2 * x\n" + "    # and so on\n" * 400
    svc = await service(FakeBackend(contains={"Task: simplify": rewrite}))
    request = ActionRequest("simplify", URI, 1, INSIDE)
    run = await svc.run(request, snapshot(TEMPORARY), lambda: True)
    assert run.generation is not None and run.generation.stop_reason == "max_tokens"
    assert not run.result.ok and "cut off" in run.result.message
    whole = "def double(x):\n    return 2 * x\n```\n"
    svc = await service(FakeBackend(contains={"Task: simplify": whole}))
    run = await svc.run(request, snapshot(TEMPORARY), lambda: True)
    assert run.result.ok


async def test_simplify_asks_for_the_change_found_and_takes_those_lines() -> None:
    backend = FakeBackend(contains={"Task: simplify these lines": "return 2 * x\n```\n"})
    svc = await service(backend)
    run = await svc.run(
        ActionRequest("simplify", URI, 1, INSIDE), snapshot(TEMPORARY), lambda: True
    )
    assert run.result.ok, run.result.message
    [change] = run.result.changes
    assert change.new_text() == "def double(x):\n    return 2 * x\n"


async def test_a_simplification_copied_back_is_asked_again_with_its_first_line() -> None:
    # Recorded from the 0.5B model told `elif c:` becomes `if c:`: it wrote `elif c:`.
    backend = FakeBackend(
        answers={
            "```python\n": "y = 2 * x\nreturn y\n```\n",
            "```python\nreturn 2 * x\n": "```\n",
        }
    )
    svc = await service(backend)
    request = ActionRequest("simplify", URI, 1, INSIDE)
    run = await svc.run(request, snapshot(TEMPORARY), lambda: True)
    assert run.result.ok, run.result.message
    assert len(backend.calls) == 2
    [change] = run.result.changes
    assert change.new_text() == "def double(x):\n    return 2 * x\n"


async def test_simplify_with_nothing_found_says_so_at_once_without_the_model() -> None:
    # `return 2 * x` has nothing the finder knows to simplify: the 0.5B model asked
    # anyway copied such code back (or changed what it does).
    backend = FakeBackend(contains={"Task: simplify": "def double(x):\n    return x + x\n```\n"})
    svc = await service(backend)
    run = await svc.run(ActionRequest("simplify", URI, 1, INSIDE), snapshot(), lambda: True)
    assert not run.result.ok
    assert run.result.message == (
        "qwen-lsp: nothing to simplify found in `double`; nothing was changed"
    )
    assert backend.calls == [] and run.generation is None
    assert svc.stats.refused == 1 and svc.stats.last is not None
    assert svc.stats.last.message == run.result.message


LOOKUP = (
    "def lookup(self, fileobj):\n"
    "    for key in self.keys:\n"
    "        if key.fileobj is fileobj:\n"
    "            return eky.fd\n"
)


async def test_a_fix_that_kept_its_problem_is_asked_again_with_its_answer_started() -> None:
    # Recorded from the 0.5B model (selectors' _fileobj_lookup, `key` misspelled): the
    # reported line copied back as it was. Asked again with the answer started up to the
    # undefined name, the model writes a name there.
    backend = FakeBackend(
        {"```python\n": "return eky.fd\n```\n", "```python\nreturn ": "key.fd\n```\n"}
    )
    svc = await service(backend)
    found = (Diagnostic(3, "Undefined name `eky`", "ruff", "F821", 19),)
    request = ActionRequest("fix", URI, 1, ((3, 19), (3, 22)), found)
    assert ActionRequest.from_json(request.to_json()) == request  # the column kept
    run = await svc.run(request, snapshot(LOOKUP), lambda: True)
    assert run.result.ok, run.result.message
    [change] = run.result.changes
    assert change.new_text() == LOOKUP.replace("eky", "key")
    assert run.generation is not None and run.generation.text == "return key.fd\n```\n"
    assert len(backend.limits) == 2
    # An answer that fixes the line at once is not asked again.
    backend = FakeBackend({"```python\n": "return key.fd\n```\n"})
    svc = await service(backend)
    assert (await svc.run(request, snapshot(LOOKUP), lambda: True)).result.ok
    assert len(backend.limits) == 1
