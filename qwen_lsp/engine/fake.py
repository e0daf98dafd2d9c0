"""A deterministic stand-in model for fast protocol and unit tests.

It "knows" a few continuations by the last text of the prompt and otherwise answers
with a fixed marker, one character per token, honouring cancellation and limits exactly
like the real backend so tests of the request flow mean something.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from qwen_lsp.engine import (
    Generation,
    GenerationLimits,
    KeepGoing,
    KvReuse,
    PromptPart,
    Special,
    StopReason,
)
from qwen_lsp.engine.kv_pool import common_prefix

# The prompts the fake's "KV cache" holds (the real engine: its live state and its pool).
KEPT_PROMPTS = 8
# The calls recorded for tests to read (the last ones): a server on the fake backend typed
# at for hours (a soak, the fuzzer) must not keep every prompt and its limits (each holds
# the request's document snapshot through its cancel token).
RECORDED_CALLS = 1000


class FakeBackend:
    def __init__(
        self,
        answers: dict[str, str] | None = None,
        seconds_per_token: float = 0.0,
        contains: dict[str, str] | None = None,
        prompt_log: str = "",
    ):
        # Maps a suffix of the prompt's plain text to the answer generated after it.
        self.answers = answers or {}
        # Maps text the prompt contains ("a && b": all of them) to an answer, checked
        # first, longest key first: code-action prompts all end alike, so tests script
        # them by their content.
        self.contains = contains or {}
        self.seconds_per_token = seconds_per_token
        # A file every prompt is appended to (one JSON string a line): tests of what may
        # never reach a prompt read it from outside the server process.
        self.prompt_log = prompt_log
        self.calls: list[str] = []
        self.limits: list[GenerationLimits] = []
        # Prompt tokens per second, as the real engine measures them (tests set it).
        self.prompt_rate = 100.0
        self.keeps_states = True
        self.saved_state_bytes = 0
        # The token lists of the prompts read lately, most recent last, and the heads held.
        self.kept: list[list[int]] = []
        self.held: list[str] = []

    @classmethod
    def from_file(
        cls, path: str, seconds_per_token: float = 0.0, prompt_log: str = ""
    ) -> FakeBackend:
        """Answers scripted in a JSON file: {"contains": {...}, "suffix": {...}}."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data.get("suffix"), seconds_per_token, data.get("contains"), prompt_log)

    @property
    def chat_template(self) -> str | None:
        return None  # the ChatML fallback

    @property
    def description(self) -> str:
        return "fake backend (tests only)"

    def tokenize(self, text: str) -> list[int]:
        # Roughly four characters a token, like a real BPE vocabulary on code.
        return [ord(c) for c in text[::4]]

    @staticmethod
    def _text(prompt: Sequence[PromptPart]) -> str:
        return "".join(p.text if isinstance(p, Special) else p for p in prompt)

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        tokens = self.tokenize(self._text(prompt))
        kept = [*self.kept, *(self.tokenize(text) for text in self.held)]  # heads: pinned
        cached = max((common_prefix(state, tokens) for state in kept), default=0)
        return KvReuse(len(tokens), min(cached, max(0, len(tokens) - 1)))

    def _keep(self, prompt_text: str) -> None:
        self.kept.append(self.tokenize(prompt_text))
        del self.kept[:-KEPT_PROMPTS]

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        if limits.cancel.cancelled:
            return False
        text = self._text(prompt)
        if text in self.held:
            return True
        self.held.append(text)
        return True

    def _answer_for(self, prompt_text: str) -> str:
        for key in sorted(self.contains, key=len, reverse=True):
            # "a && b": the prompt must contain every part.
            if all(part in prompt_text for part in key.split(" && ")):
                return self.contains[key]
        for key in sorted(self.answers, key=len, reverse=True):
            if prompt_text.endswith(key):
                return self.answers[key]
        return "fake_completion()\n"

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        prompt_text = self._text(prompt)
        reused = self.kv_reuse(prompt).cached_tokens
        self._keep(prompt_text)
        self.calls.append(prompt_text)
        del self.calls[:-RECORDED_CALLS]
        if self.prompt_log:
            with open(self.prompt_log, "a", encoding="utf-8") as log:
                log.write(json.dumps(prompt_text) + "\n")
        self.limits.append(limits)
        del self.limits[:-RECORDED_CALLS]
        answer = self._answer_for(prompt_text)
        start = time.monotonic()
        text = ""
        reason: StopReason = "stop_token"
        for count, char in enumerate(answer):
            if limits.yield_point is not None:
                limits.yield_point(lambda: None)
            if limits.cancel.cancelled:
                reason = "cancelled"
                break
            if count >= limits.max_tokens:
                reason = "max_tokens"
                break
            if time.monotonic() > limits.deadline:
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
            reused_tokens=reused,
            generated_tokens=len(text),
            generate_seconds=time.monotonic() - start,
        )

    def close(self) -> None:
        pass
