"""What a user typed while a generation runs: waited for when it is what the model writes."""

from __future__ import annotations

from qwen_lsp.inflight import Writing

PREFIX, SUFFIX = "primes = [", "]\n"


def test_typing_what_the_model_writes_is_followed() -> None:
    writing = Writing("file:///p.py", PREFIX, SUFFIX)
    writing.written = "2, 3, 5"
    assert writing.typed_since(PREFIX + "2, " + SUFFIX) == "2, "
    assert writing.typed_since(PREFIX + "2, 4" + SUFFIX) is None  # not what it wrote
    assert writing.typed_since("other" + SUFFIX) is None  # not an insertion at the cursor
    assert writing.typed_since(None) is None


def test_text_typed_before_the_model_wrote_anything_is_judged_again_as_it_writes() -> None:
    # The edit comes while the prompt is still being read (a busy machine): nothing is
    # written yet, so "x" may still be what the model writes...
    writing = Writing("file:///p.py", PREFIX, SUFFIX)
    now = PREFIX + "x" + SUFFIX
    assert writing.typed_since(now) == "x"
    # ...until it writes something else: the same document text is then stale work.
    writing.written = "2"
    assert writing.typed_since(now) is None
    writing.written = ""
    assert writing.typed_since(now) == "x"
