"""The bookkeeping of hybrid models' state checkpoints (engine/checkpoints.py), without a
model: which checkpoint serves a prompt, what the byte budget keeps, where they are taken."""

from __future__ import annotations

from qwen_lsp.engine.checkpoints import (
    CHECKPOINT_EVERY,
    KEPT_TAILS,
    CheckpointStore,
    checkpoint_marks,
)


def test_best_is_the_longest_checkpoint_within_the_limit_that_the_live_tokens_start_with() -> None:
    store = CheckpointStore(1000)
    store.put([1, 2], b"ab")
    store.put([1, 2, 3, 4], b"abcd")
    store.put([1, 9, 9], b"xyz")  # another prompt: not a prefix of the live tokens
    live = [1, 2, 3, 4, 5, 6]
    found = store.best(live, 5)
    assert found is not None and found.tokens == (1, 2, 3, 4)
    found = store.best(live, 3)  # the cut goes below the longer one
    assert found is not None and found.tokens == (1, 2)
    assert store.best([7, 7, 7], 3) is None


def test_the_byte_budget_drops_the_least_recently_used() -> None:
    store = CheckpointStore(10)
    store.put([1], b"aaaa")
    store.put([1, 2], b"bbbb")
    assert store.best([1, 2, 3], 1) is not None  # [1] used again: now the most recent
    store.put([1, 2, 3], b"cccc")
    assert store.bytes == 8 and len(store) == 2
    store.put([1, 2, 3], b"cc")  # replaces the checkpoint of the same tokens
    assert store.bytes == 6
    assert not store.has([1, 2]) and store.has([1]) and store.has([1, 2, 3])
    assert not store.put([5], b"x" * 11)  # bigger than the whole budget
    assert store.bytes == 6
    store.clear()
    assert store.bytes == 0


def test_tails_do_not_push_stable_checkpoints_out() -> None:
    store = CheckpointStore(1 << 20)
    store.put([1, 2], b"header")
    for n in range(4, 30):  # a checkpoint at the end of every keystroke's prompt
        store.put(list(range(1, n)), b"tail", tail=True)
    assert store.has([1, 2])
    assert len(store) == 1 + KEPT_TAILS


def test_marks_after_special_tokens_every_stretch_and_before_the_end() -> None:
    assert checkpoint_marks([1, 40, 45], 60) == [1, 40, 45, 59]
    long = checkpoint_marks([1, 900], 1000)
    assert long == [
        1,
        1 + CHECKPOINT_EVERY,
        1 + 2 * CHECKPOINT_EVERY,
        1 + 3 * CHECKPOINT_EVERY,
        900,
        999,
    ]
    assert checkpoint_marks([], 1) == []  # the last token is always read again anyway
