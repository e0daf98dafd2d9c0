from qwen_lsp.engine.kv_pool import KvPool, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5], [6]) == 0


def test_best_is_the_state_sharing_the_longest_prefix() -> None:
    pool: KvPool[str] = KvPool(1000, len, max_states=4)
    assert pool.best([1, 2]) == (-1, 0)
    pool.put([1, 2, 3, 4], "doc-a")
    pool.put([9, 8, 7], "doc-b")
    pool.put([1, 2, 5, 6, 7], "doc-a-next-line")
    index, shared = pool.best([1, 2, 3, 4, 10])
    assert shared == 4 and pool.take(index).state == "doc-a"
    assert len(pool) == 2
    index, shared = pool.best([9, 8, 0])
    assert shared == 2 and pool.take(index).state == "doc-b"


def test_a_state_that_extends_another_replaces_it() -> None:
    pool: KvPool[str] = KvPool(1000, len, max_states=4)
    pool.put([1, 2, 3], "short")
    pool.put([1, 2, 3, 4, 5], "longer")
    assert len(pool) == 1
    index, _ = pool.best([1, 2, 3])
    assert pool.take(index).state == "longer"
    # A diverging state is kept beside the one it diverges from.
    pool.put([1, 2, 3, 4], "a")
    pool.put([1, 2, 9], "b")
    assert len(pool) == 2


def test_the_least_recently_saved_state_goes_first() -> None:
    pool: KvPool[int] = KvPool(1000, lambda _: 1, max_states=2)
    for i in range(3):
        pool.put([i, i], i)
    assert len(pool) == 2
    assert pool.best([0, 0])[1] == 0
    assert pool.best([2, 2])[1] == 2 and pool.best([1, 1])[1] == 2


def test_the_pool_keeps_to_its_byte_budget_dropping_the_oldest() -> None:
    pool: KvPool[bytes] = KvPool(100, len)
    assert pool.put([1], b"a" * 40) and pool.put([2], b"b" * 40)
    assert pool.bytes == 80
    assert pool.put([3], b"c" * 40)  # over budget: the oldest state goes
    assert len(pool) == 2 and pool.bytes == 80
    assert pool.best([1])[1] == 0 and pool.best([2])[1] == 1 and pool.best([3])[1] == 1


def test_a_state_bigger_than_the_budget_is_not_kept() -> None:
    pool: KvPool[bytes] = KvPool(100, len)
    pool.put([1], b"a" * 10)
    assert not pool.put([2], b"b" * 101)
    assert len(pool) == 1 and pool.bytes == 10
    assert not KvPool(0, len).put([1], b"a")  # a budget of 0 keeps nothing


def test_clear_gives_everything_back() -> None:
    pool: KvPool[bytes] = KvPool(100, len)
    pool.put([1], b"a" * 10)
    pool.put([2], b"b" * 10)
    pool.clear()
    assert len(pool) == 0 and pool.bytes == 0


def test_the_byte_figure_follows_every_change() -> None:
    """``bytes`` is read by the status from another thread: it must be right after each
    put, take and replacement, not only after evictions."""
    pool: KvPool[bytes] = KvPool(1000, len)
    pool.put([1, 2], b"a" * 30)
    pool.put([1, 2, 3], b"b" * 50)  # extends the first: replaces it
    assert pool.bytes == 50
    pool.put([7], b"h" * 5, pinned=True)
    assert pool.bytes == 55
    pool.take(pool.best([1, 2, 3])[0])
    assert pool.bytes == 5
    pool.take(pool.best([7], pinned=True)[0])  # a pinned state stays
    assert pool.bytes == 5 and len(pool) == 1
