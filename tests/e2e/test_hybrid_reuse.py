"""KV reuse on a hybrid model (Qwen3.5 / Qwen3.6: recurrent layers that cannot be cut
back) is exact and cheap: over a typing replay, greedy output with reuse is what a full
evaluation of every prompt gives (on its first tokens always; a near-tie of the random
weights may flip a later one, see FIRST_TOKENS_EXACT), and a keystroke evaluates about the
cursor line, not the prompt.

Runs the tiny random-weight qwen35 model (cheap, no model mark). The same replay on the
attention-only default model is marked ``model``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.context import TokenCounter, fim_prompt, fim_window
from qwen_lsp.engine import FimTokens, Generation, GenerationLimits, PromptPart, Special
from qwen_lsp.modelstore import DEFAULT_STOP
from tests.e2e.conftest import needs_default_model

MARKERS = FimTokens()
OTHER_FILE = "def scale(values, factor):\n    return [v * factor for v in values]\n\n" * 6
BASE = (
    "import math\n\n\n"
    + "".join(f"def helper_{i}(x):\n    return x * {i} + math.pi\n\n\n" for i in range(14))
    + "def area(radius):\n    ‸\n\n\ndef main():\n    print(area(2.0))\n"
)
SECOND = "class Point:\n    def __init__(self, x, y):\n        ‸\n"
TYPED_LINE = "return math.pi * radius ** 2 if radius > 0 else 0.0"
NEXT_LINE = "    # the area of a circle of that radius"


def _header(path: str) -> list[PromptPart]:
    """A cross-file header in the repository-level layout, as crossfile/header.py makes."""
    return [
        Special(MARKERS.repo_name),
        "project\n",
        Special(MARKERS.file_sep),
        "geometry/util.py\n" + OTHER_FILE,
        Special(MARKERS.file_sep),
        path + "\n",
    ]


class Replay:
    """The prompts completion.py would build while a user types: FIM windows (prefix,
    suffix budgets, 16-line snapping) over documents edited one character at a time."""

    def __init__(self, tokenize: Any) -> None:
        self.counter = TokenCounter(tokenize)
        self.docs = {"geometry/area.py": BASE, "geometry/point.py": SECOND}

    def prompt(self, path: str) -> list[PromptPart]:
        text = self.docs[path]
        offset = text.index("‸")
        window = fim_window(text.replace("‸", ""), offset, self.counter, 600, 120)
        return fim_prompt(window, MARKERS, _header(path))

    def type(self, path: str, chars: str) -> None:
        self.docs[path] = self.docs[path].replace("‸", chars + "‸")


def _steps(replay: Replay, keystrokes: int) -> Iterator[tuple[str, list[PromptPart]]]:
    """(what happened, the prompt asked after it): typing a line, Enter and a comment,
    switches to another file and back, and a chat prompt (a code action) in between."""
    area, point = "geometry/area.py", "geometry/point.py"
    typed = 0
    for i, char in enumerate(TYPED_LINE):
        replay.type(area, char)
        typed += 1
        yield f"type {char!r}", replay.prompt(area)
        if i == 20:
            yield "switch", replay.prompt(point)
            replay.type(point, "self.x")
            yield "type in the other file", replay.prompt(point)
            yield "switch back", replay.prompt(area)
        if i == 30:
            yield "code action", ACTION
            yield "after the action", replay.prompt(area)
    replay.type(area, "\n")
    for char in NEXT_LINE:
        if typed >= keystrokes:
            break
        replay.type(area, char)
        typed += 1
        yield f"type {char!r}", replay.prompt(area)


ACTION: list[PromptPart] = [
    Special("<|im_start|>"),
    "user\nAdd type hints to this function:\n" + SECOND.replace("‸", "self.x = x"),
    Special("<|im_end|>"),
    "\n",
    Special("<|im_start|>"),
    "assistant\n",
]


def _limits(reuse: bool, lookup: int, answer: int = 12) -> GenerationLimits:
    return GenerationLimits(
        max_tokens=answer, max_seconds=600, reuse_kv=reuse, prompt_lookup=lookup
    )


def _replay(
    model: Path, keystrokes: int, lookup: int, compare: bool = True, answer: int = 12
) -> dict[str, Any]:
    """The replay with KV reuse; with ``compare`` every prompt is also evaluated whole by a
    second instance of the model, and the outputs compared."""
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions

    options = LlamaOptions(n_ctx=2048, n_threads=1, adapt_threads=False)
    reusing = LlamaBackend(model, DEFAULT_STOP, options)
    fresh = LlamaBackend(model, DEFAULT_STOP, options) if compare else None
    try:
        replay = Replay(reusing.tokenize)
        evaluated: list[int] = []
        full: list[int] = []
        line_tokens: list[int] = []
        differences: list[tuple[int, str]] = []  # (tokens in common, what differed)
        typed = rejected = 0
        for what, prompt in _steps(replay, keystrokes):
            reused = reusing.generate(prompt, _limits(True, lookup, answer), lambda _: True)
            rejected += reused.drafted_tokens - reused.accepted_tokens
            if fresh is not None:
                alone = fresh.generate(prompt, _limits(False, 0, answer), lambda _: True)
                if reused.text != alone.text:
                    same = _tokens_in_common(reused, alone)
                    differences.append((same, f"{what}: {reused.text!r} != {alone.text!r}"))
            if what.startswith("type ") and prompt is not ACTION:
                typed += 1
                evaluated.append(reused.prompt_tokens - reused.reused_tokens)
                full.append(reused.prompt_tokens)
                last = prompt[-1]
                line_tokens.append(len(reusing.tokenize(last)) if isinstance(last, str) else 0)
        return {
            "typed": typed,
            "differences": differences,
            "evaluated": evaluated,
            "full": full,
            "line_tokens": line_tokens,
            "restores": reusing.memory.restores,
            "rejected": rejected,
            "checkpoint_bytes": reusing.memory.store.bytes,
            "full_clears": reusing.memory.full_clears,
            "hybrid": reusing.memory.hybrid,
            "compared": compare,
        }
    finally:
        reusing.close()
        if fresh is not None:
            fresh.close()


def _tokens_in_common(a: Generation, b: Generation) -> int:
    """How many generated tokens two answers share from their start."""
    same = 0
    for end_a, end_b in zip(a.token_ends, b.token_ends, strict=False):
        if end_a != end_b or a.text[:end_a] != b.text[:end_b]:
            break
        same += 1
    return same


def _report(name: str, figures: dict[str, Any]) -> None:
    evaluated: Sequence[int] = figures["evaluated"]
    full: Sequence[int] = figures["full"]
    lines: Sequence[int] = figures["line_tokens"]
    print(
        f"\n{name}: {figures['typed']} keystrokes; prompt tokens evaluated per keystroke "
        f"with reuse: median {sorted(evaluated)[len(evaluated) // 2]}, mean after the first "
        f"{sum(evaluated[1:]) / (len(evaluated) - 1):.1f}, max {max(evaluated)}; "
        f"full evaluation: mean {sum(full) / len(full):.1f}; cursor line: mean "
        f"{sum(lines) / len(lines):.1f} tokens; checkpoints held "
        f"{figures['checkpoint_bytes']} bytes; whole-sequence restarts "
        f"{figures['full_clears']}, checkpoint restores {figures['restores']}, drafted "
        f"tokens rejected {figures['rejected']}; answers unlike whole evaluations' "
        f"(tokens in common): "
        f"{[same for same, _ in figures['differences']] if figures['compared'] else 'not compared'}"
    )


# Whole evaluations and reuse read the same tokens in batches of other sizes, so the sums
# in the matrix products run in another order; on some CPUs (an AMD EPYC with AVX2 only,
# 2026-12-07) a near-tie of the random-weight model then flips a later token: 1 answer of
# 56 went its own way after 7 tokens in common. A state restored wrong changes the answer
# from its first token.
FIRST_TOKENS_EXACT = 4
FLIPS_ALLOWED = 2


def _check(figures: dict[str, Any]) -> None:
    differences = figures["differences"]
    assert all(same >= FIRST_TOKENS_EXACT for same, _ in differences), differences
    assert len(differences) <= FLIPS_ALLOWED, differences
    assert figures["typed"] >= 50
    evaluated, full, lines = figures["evaluated"], figures["full"], figures["line_tokens"]
    # About the cursor line, not the prompt: generous bounds (the line's tokens, the one
    # token healing takes back, a few more where Enter moved the windows).
    assert sorted(evaluated)[len(evaluated) // 2] <= max(lines) + 4
    assert sum(evaluated) * 10 < sum(full)


@pytest.mark.parametrize("lookup", [0, 6])
def test_hybrid_reuse_is_exact_and_evaluates_the_cursor_line(
    tiny_hybrid_model: Path, lookup: int
) -> None:
    figures = _replay(tiny_hybrid_model, 50, lookup)
    _report(f"tiny qwen35, prompt lookup {lookup}", figures)
    assert figures["hybrid"]
    _check(figures)


@pytest.mark.model
@needs_default_model
def test_attention_model_reuse_is_unchanged() -> None:
    """The same replay on the attention-only default model: still about the cursor line a
    keystroke, never a restart. Not compared token for token with whole evaluations: on
    this model they differ in a few answers of 50 (prompts read in 32-token chunks and a
    1-token tail are summed in another order; near-ties flip), and a whole evaluation per
    keystroke would cost minutes. Its exactness under interruptions is
    test_llama_backend.py's."""
    from qwen_lsp.modelstore import StoreConfig, resolve
    from qwen_lsp.settings_resolve import resolve_settings

    path = resolve(None, StoreConfig.from_settings(resolve_settings(os.environ).settings)).path
    figures = _replay(path, 50, 6, compare=False, answer=4)
    _report("Qwen2.5-Coder-0.5B", figures)
    assert not figures["hybrid"] and figures["full_clears"] == 0
    _check(figures)


def test_a_call_stopped_in_the_middle_leaves_a_hybrid_model_sound(tiny_hybrid_model: Path) -> None:
    """A cancel or the time cap stops llama.cpp within a call; it then takes the call's
    tokens back with a cut that a recurrent state refuses, leaving that state ahead of the
    tokens the engine counts. Simulated here: a prompt read halfway, then a decode the
    engine does not count. After ``repair`` the prompt read again gives what a fresh model
    gives, and starts from a checkpoint."""
    from qwen_lsp.engine.checkpoints import checkpoint_marks
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions

    options = LlamaOptions(n_ctx=2048, n_threads=1, adapt_threads=False)
    backend = LlamaBackend(tiny_hybrid_model, DEFAULT_STOP, options)
    fresh = LlamaBackend(tiny_hybrid_model, DEFAULT_STOP, options)
    try:
        prompt = Replay(backend.tokenize).prompt("geometry/area.py")
        ends: list[int] = []
        tokens = backend.prompt_tokens(prompt, ends)
        expected = fresh.generate(prompt, _limits(False, 0), lambda _: True).text

        def read_halfway_then_stop() -> None:
            backend.memory.clear()
            half = tokens[:200]
            backend._prefill(half, _limits(True, 0), checkpoint_marks(ends, len(half) + 1))
            llm = backend._llm  # the stopped call: the state moves on, the count does not
            llm._batch.set_batch(batch=[11, 12, 13], n_past=llm.n_tokens, logits_all=False)
            llm._ctx.decode(llm._batch)

        read_halfway_then_stop()
        with pytest.raises(RuntimeError):  # what the engine met without repair()
            backend.generate(prompt, _limits(True, 0), lambda _: True)
        read_halfway_then_stop()
        backend.memory.repair()
        again = backend.generate(prompt, _limits(True, 0), lambda _: True)
        assert again.text == expected
        assert again.reused_tokens > 100  # from a checkpoint, not from nothing
    finally:
        backend.close()
        fresh.close()
