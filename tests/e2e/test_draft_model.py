"""Draft-model speculation (draftModel): a small model of the same vocabulary guesses, the
model checks each guess in one batch, and greedy output stays the model's own.

The default 0.5B model is the one checked; its drafts come from the tiny random-weight
hybrid model (its tokenizer: guesses mostly wrong, and a hybrid draft model must come back
from every rejected guess) and from the 0.5B itself (guesses nearly all right).

Identical up to llama.cpp's numerics: on this CPU build a position's logits read in a batch
of 7 differ from the same position read alone by up to 0.4 (measured: the kernels depend on
the batch's shape), which flips a near-tie between the top two tokens. The prompts here have
none in their first 40 tokens; "def circle_area(radius): return " has one (``{area}`` or
``{area:.2f}``), taken differently with and without drafts (prompt lookup has the same
limit, as has llama.cpp's own speculative decoding). Which prompts have one depends on the
CPU: "def fibonacci(n):" had none on the Intel machines these tests were written on and one
on an AMD EPYC with AVX-512 ("return 0" or a message for n <= 0), so the first prompt is
one whose every next token is far ahead of the second (the months in order).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.engine import GenerationLimits, PromptPart, Special
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings_resolve import resolve_settings
from tests.e2e.conftest import RUNS_MODEL

pytestmark = RUNS_MODEL

FIM = (Special("<|fim_prefix|>"), Special("<|fim_suffix|>"), Special("<|fim_middle|>"))
PROMPTS: list[list[PromptPart]] = [
    [FIM[0], 'MONTHS = [\n    "January",\n    "February",\n    ', FIM[1], "\n]\n", FIM[2]],
    [FIM[0], "class Stack:\n    def __init__(self):\n        ", FIM[1], "\n", FIM[2]],
]
CHAT = [
    Special("<|im_start|>"),
    "user\nWrite a Python function that checks whether a string is a palindrome.",
    Special("<|im_end|>"),
    "\n",
    Special("<|im_start|>"),
    "assistant\n",
]


def _default_model() -> Path:
    return resolve(None, StoreConfig.from_settings(resolve_settings(os.environ).settings)).path


def _backend(draft: Path | None) -> Any:
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions

    options = LlamaOptions(n_ctx=1024, draft_model=draft, draft_tokens=6)
    return LlamaBackend(_default_model(), DEFAULT_STOP, options)


def _answers(backend: Any, plain: bool) -> list[tuple[str, int, int]]:
    """(text, drafted, accepted) for each prompt; ``plain``: without the draft model."""
    draft = backend.draft
    if plain:
        backend.draft = None
    try:
        out = []
        for prompt in PROMPTS:
            limits = GenerationLimits(max_tokens=40, max_seconds=600)
            done = backend.generate(prompt, limits, lambda _: True)
            assert done.stop_reason in ("max_tokens", "stop_token")
            out.append((done.text, done.drafted_tokens, done.accepted_tokens))
        return out
    finally:
        backend.draft = draft


@pytest.fixture(scope="module")
def random_drafted(tiny_hybrid_model: Path) -> Iterator[Any]:
    backend = _backend(tiny_hybrid_model)
    yield backend
    backend.close()


def test_a_draft_model_that_guesses_wrong_changes_nothing(random_drafted: Any) -> None:
    assert random_drafted.draft is not None, random_drafted.draft_refusal
    plain = _answers(random_drafted, plain=True)
    drafted = _answers(random_drafted, plain=False)
    assert [text for text, _, _ in drafted] == [text for text, _, _ in plain]
    assert all(text.strip() for text, _, _ in plain)
    guessed = sum(d for _, d, _ in drafted)
    kept = sum(a for _, _, a in drafted)
    assert guessed >= len(PROMPTS) * 20  # every step guessed
    assert kept < guessed / 2  # random weights: mostly rejected
    assert sum(d for _, d, _ in plain) == 0


def test_the_draft_model_reads_the_prompt_once(random_drafted: Any) -> None:
    """Its KV cache keeps in step with the accepted tokens: each step reads the new token
    and its own guesses, never the prompt again."""
    draft = random_drafted.draft
    assert draft is not None
    before = draft.read_tokens
    limits = GenerationLimits(max_tokens=40, max_seconds=600)
    code = "".join(f"def f_{i}(x):\n    return x * {i}\n\n" for i in range(30))
    prompt = [*CHAT[:1], f"user\nWhat does f_7 return for 3?\n\n{code}", *CHAT[2:]]
    done = random_drafted.generate(prompt, limits, lambda _: True)
    read = draft.read_tokens - before
    assert done.prompt_tokens > 300 and done.generated_tokens >= 15
    assert read <= done.prompt_tokens + draft.max_draft * (done.generated_tokens + 1)
    assert read < 2 * done.prompt_tokens  # at every step again it would be 15 times or more


def test_the_model_drafting_for_itself_is_nearly_always_right() -> None:
    backend = _backend(_default_model())
    try:
        assert backend.draft is not None, backend.draft_refusal
        plain = _answers(backend, plain=True)
        drafted = _answers(backend, plain=False)
    finally:
        backend.close()
    assert [text for text, _, _ in drafted] == [text for text, _, _ in plain]
    guessed = sum(d for _, d, _ in drafted)
    kept = sum(a for _, _, a in drafted)
    assert guessed >= len(PROMPTS) * 20
    assert kept >= 0.8 * guessed, (kept, guessed)


def test_a_draft_model_of_another_vocabulary_is_refused(
    tiny_hybrid_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.fixtures.tiny_hybrid import build

    other = build(tmp_path / "other-vocabulary.gguf", _default_model(), shift_vocab=1)
    with caplog.at_level(logging.WARNING):
        backend = _backend(other)
    try:
        assert backend.draft is None
        assert "vocabulary differs" in backend.draft_refusal
        assert "other-vocabulary.gguf" in backend.draft_refusal
        assert backend.draft_refusal in caplog.text
        done = backend.generate(PROMPTS[0], GenerationLimits(8, 600), lambda _: True)
        assert done.text.strip() and done.drafted_tokens == 0  # serving without a draft
    finally:
        backend.close()
