from qwen_lsp.engine.kv_pool import KvPool, common_prefix


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5], [6]) == 0


def test_best_is_the_state_sharing_the_longest_prefix() -> None:
    pool: KvPool[str] = KvPool(4)
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
    pool: KvPool[str] = KvPool(4)
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
    pool: KvPool[int] = KvPool(2)
    for i in range(3):
        pool.put([i, i], i)
    assert len(pool) == 2
    assert pool.best([0, 0])[1] == 0
    assert pool.best([2, 2])[1] == 2 and pool.best([1, 1])[1] == 2
