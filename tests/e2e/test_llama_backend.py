"""The llama-cpp-python backend itself, with the real default model.

A long generation interrupted by other work (a completion in the middle of a code action)
must go on exactly as if nothing had happened: greedy decoding makes that checkable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from qwen_lsp.engine import GenerationLimits, PromptPart, Special
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings_resolve import resolve_settings
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
    # The same answer, up to llama.cpp's numerics: read in other batches (completions ran
    # between its chunks), a position's logits can differ slightly and a near-tie go the
    # other way (seen on an AMD EPYC with AVX-512: "returns the value of `x * 7`" against
    # "returns the product of `x` and `7`"). A state restored wrong would lose the question
    # or the code: the answer must still start alike and get f_7(3) right.
    if interrupted.text != alone.text:
        assert interrupted.text.split()[:4] == alone.text.split()[:4], interrupted.text
        assert "21" in interrupted.text and "21" in alone.text, interrupted.text
    assert len(answers) >= 3 and len(set(answers)) == 1 and answers[0].strip()


# -- issue 12: threads that follow the load, stops in the middle of a call -----------------


def _fim(code: str) -> list[PromptPart]:
    """A FIM prompt for a completion after ``code``."""
    markers = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
    return [Special(markers[0]), code, Special(markers[1]), "\n", Special(markers[2])]


LONG_PROMPT = _fim(
    "".join(f"def helper_{i}(x):\n    return x * {i} + {i % 7}\n\n\n" for i in range(20))
)


def test_under_a_busy_cpu_the_adapted_threads_run_as_fast_as_one_thread(backend: object) -> None:
    """What the governor is for: llama.cpp's threads spin-wait for a descheduled one, so
    with every core but one busy, all the threads can run many times slower than one
    (about 20 times for prompts on these machines). Whatever count the governor settles on,
    it must not be slower than one thread measured under the same load in the same run.
    How much the busy processes hurt two threads varies with the machine's moment (once
    hardly at all), so the count it picks is not asserted; the speed is."""
    from benchmarks.typing_load import CpuHogs, hog_count
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions
    from qwen_lsp.engine.threads import STALL_FACTOR

    assert isinstance(backend, LlamaBackend)
    most = backend._prefill_threads.most
    if most < 2:
        pytest.skip("one usable core: nothing to adapt")
    one_thread = LlamaBackend(
        backend._path, DEFAULT_STOP, LlamaOptions(n_ctx=2048, n_threads=1, adapt_threads=False)
    )

    def seconds(engine: LlamaBackend) -> float:
        result = engine.generate(LONG_PROMPT, _limits(reuse_kv=False), lambda _: True)
        assert result.stop_reason in ("stop_token", "max_tokens", "done"), result
        assert result.text.strip()
        return result.prompt_seconds + result.generate_seconds

    try:
        with CpuHogs(hog_count("busy")):
            seconds(backend)  # the governor meets the load (a stall, a probe)
            alone = min(seconds(one_thread), seconds(one_thread))
            adapted = seconds(backend)
    finally:
        one_thread.close()
    # 2x: room for a probe of the higher count and for the load's own noise; a governor
    # stuck at the most threads while they spin runs far slower than that.
    assert adapted <= 2 * alone, (adapted, alone, backend.last_threads)
    # And where this run did see the most threads stall, they were left.
    prefill = backend._prefill_threads
    at_most, at_one = prefill.rate(most), prefill.rate(1)
    if at_most is not None and at_one is not None and at_most >= STALL_FACTOR * at_one:
        assert prefill.current < most, (at_most, at_one)


def test_a_cancel_stops_a_call_in_the_middle_and_the_cache_stays_right(backend: object) -> None:
    import functools
    import threading
    import time

    from qwen_lsp.engine import CancelToken
    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    llm = backend._llm
    tokens = backend.prompt_tokens(LONG_PROMPT)
    # One model call over the whole prompt (generate() cuts it into chunks), timed whole ...
    llm.n_tokens = 0
    started = time.monotonic()
    assert backend._call(functools.partial(llm.eval, tokens), len(tokens), False, _limits()) is None
    whole = time.monotonic() - started
    # ... and cancelled soon after it starts: llama.cpp stops between two graph nodes.
    llm.n_tokens = 0
    cancel = CancelToken()
    threading.Timer(0.05, cancel.cancel).start()
    started = time.monotonic()
    stopped = backend._call(
        functools.partial(llm.eval, tokens), len(tokens), False, _limits(cancel=cancel)
    )
    assert stopped == "cancelled"
    assert time.monotonic() - started < whole / 2, whole
    assert llm.n_tokens == 0
    # A call stopped after a cached prefix leaves exactly that prefix: reused, it gives the
    # answer a fresh evaluation gives.
    fresh = backend.generate(LONG_PROMPT, _limits(reuse_kv=False), lambda _: True)
    llm.n_tokens = 0
    llm.eval(tokens[:64])
    rest = tokens[64:]
    stopped = backend._call(
        functools.partial(llm.eval, rest), len(rest), False, _limits(cancel=cancel)
    )
    assert stopped == "cancelled" and llm.n_tokens == 64
    again = backend.generate(LONG_PROMPT, _limits(), lambda _: True)
    assert again.reused_tokens >= 64 and again.text == fresh.text


def test_the_time_cap_covers_the_prompt(backend: object) -> None:
    import time

    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    started = time.monotonic()
    limits = GenerationLimits(max_tokens=60, max_seconds=0.3, reuse_kv=False)
    result = backend.generate(LONG_PROMPT, limits, lambda _: True)
    took = time.monotonic() - started
    assert result.stop_reason == "time_cap" and not result.text, result
    assert took < 0.3 + 5, took  # the cap, plus a generous margin for a loaded machine


# -- issue 12: what the engine knows about a cold prompt ------------------------------------

CODE_PROMPT = _fim(
    "".join(f"def scale_{i}(values):\n    return [v * {i} for v in values]\n\n" for i in range(8))
)


def test_the_engine_says_how_many_tokens_of_a_prompt_its_kv_cache_holds(backend: object) -> None:
    from qwen_lsp.engine.kv_pool import common_prefix
    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    read_only = GenerationLimits(max_tokens=1, max_seconds=600)  # the prompt, no answer
    backend.generate(CODE_PROMPT, read_only, lambda _: True)
    more = [*CODE_PROMPT, "def scale_8(values):\n    return"]  # the same prompt and more
    shared = common_prefix(backend.prompt_tokens(CODE_PROMPT), backend.prompt_tokens(more))
    assert shared == len(backend.prompt_tokens(CODE_PROMPT)) > 100
    assert backend.kv_reuse(more).cached_tokens == shared  # from the live state
    # Another prompt takes the live state; the first one is then in the pool of saved ones.
    backend.generate(ACTION, read_only, lambda _: True)
    assert backend.kv_reuse(more).cached_tokens == shared
    # And that is what generating from it really reuses.
    assert backend.generate(more, read_only, lambda _: True).reused_tokens == shared


def test_a_held_head_outlives_other_prompts(backend: object) -> None:
    from qwen_lsp.engine.llama_backend import KEPT_STATES, LlamaBackend

    assert isinstance(backend, LlamaBackend)
    head: list[PromptPart] = [*ACTION[:1], "system\nYou help with code.\n" * 5]
    assert backend.hold(head, GenerationLimits(max_tokens=0, max_seconds=600, background=True))
    held = len(backend.prompt_tokens(head))
    for i in range(KEPT_STATES + 2):  # more other states than the pool keeps
        other = [*CODE_PROMPT[:1], f"# file {i}\n", *CODE_PROMPT[1:]]
        backend.generate(other, GenerationLimits(max_tokens=1, max_seconds=600), lambda _: True)
    assert backend.kv_reuse([*head, "Continue."]).cached_tokens >= held - 1


def test_the_engine_knows_its_prompt_rate_from_load_on(backend: object) -> None:
    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    assert backend.prompt_rate > 0  # calibrated at load
    once = GenerationLimits(max_tokens=1, max_seconds=600, reuse_kv=False)
    cold = backend.generate(LONG_PROMPT, once, lambda _: True)
    measured = cold.prompt_tokens / cold.prompt_seconds
    # It follows what long prompts cost (generously: the machine's load may change).
    assert measured / 4 <= backend.prompt_rate <= measured * 4, (measured, backend.prompt_rate)


def test_each_token_comes_with_where_it_ends_and_its_probability(backend: object) -> None:
    """The figures the unsure-insert cut reads (postprocess/chances.py): one per token,
    the same whether the token was picked alone or checked in a batch of guesses."""
    from qwen_lsp.engine.llama_backend import LlamaBackend

    assert isinstance(backend, LlamaBackend)
    answers = {}
    for lookup in (0, 8):  # 8: prompt lookup guesses, checked in batches
        result = backend.generate(ACTION, _limits(prompt_lookup=lookup), lambda _: True)
        assert len(result.token_ends) == len(result.token_chances) == result.generated_tokens
        assert result.token_ends == sorted(result.token_ends)
        assert result.token_ends[-1] == len(result.text)
        assert all(0.0 < chance <= 1.0 for chance in result.token_chances)
        answers[lookup] = result
    alone, guessed = answers[0], answers[8]
    assert guessed.accepted_tokens > 0, "no guess was accepted: the batch path went untested"
    assert guessed.text == alone.text
    # A batch's arithmetic differs a little from one token's (up to 0.043 seen here).
    assert guessed.token_chances == pytest.approx(alone.token_chances, abs=0.1)
    pairs = zip(guessed.token_chances, alone.token_chances, strict=True)
    differences = sorted(abs(a - b) for a, b in pairs)
    assert differences[len(differences) // 2] < 0.01
    # Greedy picks the likeliest token, which a 0.5B model is far from sure of everywhere.
    assert min(alone.token_chances) < 0.9 < max(alone.token_chances)
