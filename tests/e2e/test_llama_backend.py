"""The llama-cpp-python backend itself, with the real default model.

A long generation interrupted by other work (a completion in the middle of a code action)
must go on exactly as if nothing had happened: greedy decoding makes that checkable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from qwen_lsp.engine import GenerationLimits, Special
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings import resolve_settings
from tests.e2e.conftest import RUNS_MODEL

pytestmark = RUNS_MODEL

ACTION = [
    Special("<|im_start|>"),
    "user\nWrite a Python function that returns the n-th prime number, with a docstring.",
    Special("<|im_end|>"),
    "\n",
    Special("<|im_start|>"),
    "assistant\n",
]
COMPLETION = [
    Special("<|fim_prefix|>"),
    "def circle_area(radius):\n    return ",
    Special("<|fim_suffix|>"),
    "\n",
    Special("<|fim_middle|>"),
]


@pytest.fixture(scope="module")
def backend() -> Iterator[object]:
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions

    loaded = LlamaBackend(
        resolve(None, StoreConfig.from_settings(resolve_settings(os.environ).settings)).path,
        DEFAULT_STOP,
        LlamaOptions(n_ctx=2048),
    )
    yield loaded
    loaded.close()


def _limits(**kwargs: object) -> GenerationLimits:
    return GenerationLimits(max_tokens=60, max_seconds=600, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("lookup", [0, 8])
def test_interrupted_generation_goes_on_unchanged(backend: object, lookup: int) -> None:
    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    alone = backend.generate(ACTION, _limits(prompt_lookup=lookup), lambda _: True)
    assert alone.generated_tokens >= 30

    interruptions: list[str] = []
    steps = 0

    def other_work(before: Callable[[], None]) -> bool:
        nonlocal steps
        steps += 1
        if steps % 5 != 2:
            return False
        before()
        done = backend.generate(COMPLETION, _limits(), lambda text: "\n" not in text)
        interruptions.append(done.text)
        return True

    interrupted = backend.generate(
        ACTION, _limits(prompt_lookup=lookup, yield_point=other_work), lambda _: True
    )
    assert len(interruptions) >= 2 and all(t.strip() for t in interruptions)
    assert interrupted.text == alone.text


def test_a_long_prompt_interrupted_while_read_gives_the_same_answer(backend: object) -> None:
    """Completions run between the prompt chunks of a long prompt; the prompt is read once,
    and the answer is the one it gets alone."""
    from qwen_lsp.engine.llama_backend import PREFILL_CHUNK, LlamaBackend

    assert isinstance(backend, LlamaBackend)
    code = "".join(f"def f_{i}(x):\n    return x * {i}\n\n" for i in range(60))
    long_action = [*ACTION[:1], f"user\nWhat does f_7 return for 3?\n\n{code}", *ACTION[2:]]
    alone = backend.generate(long_action, _limits(), lambda _: True)
    assert alone.prompt_tokens > 20 * PREFILL_CHUNK
    backend.generate(COMPLETION, _limits(), lambda text: "\n" not in text)  # another state

    calls, answers = 0, []

    def completions(before: Callable[[], None]) -> bool:
        nonlocal calls
        calls += 1
        if calls % 6 != 3:
            return False
        before()
        answers.append(backend.generate(COMPLETION, _limits(), lambda t: "\n" not in t).text)
        return True

    interrupted = backend.generate(
        long_action, _limits(yield_point=completions, reuse_kv=False), lambda _: True
    )
    assert interrupted.text == alone.text
    assert len(answers) >= 3 and len(set(answers)) == 1 and answers[0].strip()
