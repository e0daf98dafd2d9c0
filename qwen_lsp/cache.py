"""Suggestion cache: the same context gets the same suggestion without the model, and a
user typing through a shown suggestion keeps seeing the rest of it.

Keys are hashes of the text around the cursor (a bounded tail of the prefix and head of
the suffix), so a change far away from the cursor does not throw suggestions away, and a
change near it always does.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

# How much text around the cursor decides whether a stored suggestion still applies.
PREFIX_CHARS = 2000
SUFFIX_CHARS = 400
# How far back a typed-through lookup searches for the suggestion being typed.
MAX_TYPED_THROUGH = 256


def context_key(uri: str, prefix: str, suffix: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in (uri, prefix[-PREFIX_CHARS:], suffix[:SUFFIX_CHARS]):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedSuggestion:
    text: str  # "" = the model had nothing to add here
    kind: str


class SuggestionCache:
    def __init__(self, capacity: int = 512) -> None:
        self._entries: OrderedDict[str, CachedSuggestion] = OrderedDict()
        self._capacity = capacity

    def put(self, uri: str, prefix: str, suffix: str, suggestion: CachedSuggestion) -> None:
        key = context_key(uri, prefix, suffix)
        self._entries[key] = suggestion
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, uri: str, prefix: str, suffix: str) -> CachedSuggestion | None:
        """The suggestion for exactly this context, or the rest of one being typed through."""
        found = self.lookup(uri, prefix, suffix)
        return found[0] if found is not None else None

    def lookup(self, uri: str, prefix: str, suffix: str) -> tuple[CachedSuggestion, int] | None:
        """Like :meth:`get`, with how many characters of the suggestion were typed through
        (0: it was stored for exactly this context). The nearest earlier context is tried
        first, so an answer stored while the user typed (a refresh) wins over an older one."""
        found = self._entries.get(context_key(uri, prefix, suffix))
        if found is not None:
            return found, 0
        # The user typed the first `typed` characters of a suggestion shown at an earlier
        # cursor: show what remains of it instead of asking the model again. Only the tail
        # of the prefix matters to a key, so slicing it avoids copying a huge document.
        tail = prefix[-(PREFIX_CHARS + MAX_TYPED_THROUGH) :]
        for typed in range(1, min(MAX_TYPED_THROUGH, len(tail)) + 1):
            earlier = self._entries.get(context_key(uri, tail[:-typed], suffix))
            if earlier is None:
                continue
            if len(earlier.text) > typed and earlier.text.startswith(tail[-typed:]):
                return CachedSuggestion(earlier.text[typed:], earlier.kind), typed
        return None

    def clear(self) -> None:
        self._entries.clear()
