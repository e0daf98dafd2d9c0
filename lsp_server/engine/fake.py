"""A deterministic stand-in model for fast protocol and unit tests.

It "knows" a few continuations by the last text of the prompt and otherwise answers
with a fixed marker, one character per token, honouring cancellation and limits exactly
like the real backend so tests of the request flow mean something.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from lsp_server.engine import (
    Generation,
    GenerationLimits,
    KeepGoing,
    PromptPart,
    Special,
    StopReason,
)


class FakeBackend:
    def __init__(self, answers: dict[str, str] | None = None, seconds_per_token: float = 0.0):
        # Maps a suffix of the prompt's plain text to the answer generated after it.
        self.answers = answers or {}
        self.seconds_per_token = seconds_per_token
        self.calls: list[str] = []

    @property
    def description(self) -> str:
        return "fake backend (tests only)"

    def tokenize(self, text: str) -> list[int]:
        # Roughly four characters a token, like a real BPE vocabulary on code.
        return [ord(c) for c in text[::4]]

    def _answer_for(self, prompt_text: str) -> str:
        for key in sorted(self.answers, key=len, reverse=True):
            if prompt_text.endswith(key):
                return self.answers[key]
        return "fake_completion()\n"

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        prompt_text = "".join(p.text if isinstance(p, Special) else p for p in prompt)
        self.calls.append(prompt_text)
        answer = self._answer_for(prompt_text)
        start = time.monotonic()
        text = ""
        reason: StopReason = "stop_token"
        for count, char in enumerate(answer):
            if limits.cancel.cancelled:
                reason = "cancelled"
                break
            if count >= limits.max_tokens:
                reason = "max_tokens"
                break
            if time.monotonic() - start > limits.max_seconds:
                reason = "time_cap"
                break
            if self.seconds_per_token:
                time.sleep(self.seconds_per_token)
            text += char
            if not keep_going(text):
                reason = "cancelled" if limits.cancel.cancelled else "done"
                break
        return Generation(
            text=text,
            stop_reason=reason,
            prompt_tokens=len(self.tokenize(prompt_text)),
            generated_tokens=len(text),
            generate_seconds=time.monotonic() - start,
        )

    def close(self) -> None:
        pass
