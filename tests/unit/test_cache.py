from __future__ import annotations

from qwen_lsp.cache import PREFIX_CHARS, CachedSuggestion, SuggestionCache

URI = "file:///a.py"


def test_exact_context_hit_and_miss() -> None:
    cache = SuggestionCache()
    cache.put(URI, "x = ", "\n", CachedSuggestion("compute()", "line"))
    assert cache.get(URI, "x = ", "\n") == CachedSuggestion("compute()", "line")
    assert cache.get(URI, "x = ", "\ny = 2\n") is None  # different text after the cursor
    assert cache.get("file:///b.py", "x = ", "\n") is None


def test_typing_through_a_suggestion_shows_the_rest() -> None:
    cache = SuggestionCache()
    cache.put(URI, "def f():\n    ", "\n", CachedSuggestion("return 1\n    x", "block"))
    assert cache.get(URI, "def f():\n    ret", "\n") == CachedSuggestion("urn 1\n    x", "block")
    assert cache.get(URI, "def f():\n    return 1\n    ", "\n") == CachedSuggestion("x", "block")
    # Typed something else: no reuse.
    assert cache.get(URI, "def f():\n    rex", "\n") is None
    # Typed all of it: nothing left to show from this entry.
    assert cache.get(URI, "def f():\n    return 1\n    x", "\n") is None


def test_empty_answers_are_remembered_but_not_typed_through() -> None:
    cache = SuggestionCache()
    cache.put(URI, "abc", "", CachedSuggestion("", "line"))
    assert cache.get(URI, "abc", "") == CachedSuggestion("", "line")
    assert cache.get(URI, "abcd", "") is None


def test_far_away_changes_keep_entries() -> None:
    cache = SuggestionCache()
    head = "#" * PREFIX_CHARS
    cache.put(URI, "old header\n" + head + "x = ", "", CachedSuggestion("1", "line"))
    assert cache.get(URI, "new header\n" + head + "x = ", "") == CachedSuggestion("1", "line")


def test_capacity_evicts_least_recently_used() -> None:
    cache = SuggestionCache(capacity=2)
    for name in "abc":
        cache.put(URI, name, "", CachedSuggestion(name.upper(), "line"))
    assert cache.get(URI, "a", "") is None
    assert cache.get(URI, "c", "") == CachedSuggestion("C", "line")
