"""Prompt-lookup drafting: guess the next tokens by finding the latest tokens earlier on.

A rewrite of code repeats most of the code it was given, so the tokens that followed the
same few tokens in the prompt are a good guess for what comes next. The model checks a
whole guess in one batch (about the cost of two or three single steps on a CPU) and keeps
the part it agrees with, so a good guess yields many tokens per step and a bad one costs
little. This is LlamaPromptLookupDecoding's idea (n-gram match, copy what follows) with
two changes for copying long stretches: the search prefers the first match after the place
the previous guess was copied from, so consecutive guesses walk along the source in order
instead of jumping back to the first occurrence of a common n-gram; and the guess length
adapts, shrinking after a rejected guess (a wasted batch) and growing back after a taken one.
When even the shortest guesses keep failing (the model writes new text: a comment, a
docstring), guessing pauses for a few tokens, so such stretches cost what plain decoding
costs.
"""

from __future__ import annotations

from collections.abc import Sequence

# Shortest guess, and how many tokens guessing pauses after one of them fails.
MIN_DRAFT = 2
PAUSE_TOKENS = 8


class PromptLookup:
    def __init__(self, max_draft: int, max_ngram: int = 3, min_ngram: int = 1) -> None:
        self.max_draft = max_draft
        self.max_ngram = max_ngram
        self.min_ngram = min_ngram
        self._draft_len = max_draft
        self._source = 0  # where the previous guess was copied from (its end)
        self.drafted = 0
        self.accepted = 0
        self._pause = 0

    def draft(self, history: Sequence[int]) -> list[int]:
        """Up to ``max_draft`` tokens expected after ``history`` (prompt + output)."""
        if self.max_draft <= 0 or len(history) < 2:
            return []
        if self._pause > 0:
            self._pause -= 1
            return []
        for size in range(min(self.max_ngram, len(history) - 1), self.min_ngram - 1, -1):
            tail = list(history[-size:])
            first = tail[0]
            fallback = -1
            # candidates: i such that history[i:i+size] == tail and something follows
            limit = len(history) - size
            start = history.index(first) if first in history[:limit] else limit
            i = start
            chosen = -1
            while i < limit:
                if history[i] == first and list(history[i : i + size]) == tail:
                    if i + size >= self._source:
                        chosen = i
                        break
                    if fallback < 0:
                        fallback = i
                i += 1
            if chosen < 0:
                chosen = fallback
            if chosen >= 0:
                begin = chosen + size
                guess = list(history[begin : begin + self._draft_len])
                if guess:
                    self._source = begin
                    return guess
        return []

    def feedback(self, drafted: int, accepted: int) -> None:
        """How much of the last guess the model kept: adapts the next guess's length."""
        self.drafted += drafted
        self.accepted += accepted
        self._source += accepted + 1
        if drafted == 0:
            return
        if accepted == 0:
            if self._draft_len <= MIN_DRAFT:
                self._pause = PAUSE_TOKENS
            self._draft_len = max(MIN_DRAFT, self._draft_len // 2)
        elif accepted == drafted:
            self._draft_len = min(self.max_draft, self._draft_len * 2)
