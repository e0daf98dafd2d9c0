"""The peer of the typing benchmark (benchmarks/peer_client.py), against hand-made cases:
prompt layout, cache keys, LRU, typed-through reuse, rendering, the ring, and the client's
request pattern (one at a time, speculation, no request for a cached context) with a fake
server. Also the CPU flags of the peer's build (benchmarks/peer_llama_server.py). No model."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from benchmarks import peer_client as pc
from benchmarks import peer_llama_server as pls
from benchmarks.typing_load import hog_count

CONFIG = pc.PeerConfig(n_prefix=2, n_suffix=1)
LINES = ["import os", "", "def f(x):", "    return os.pa", "", "print(f(1))"]


def test_layout_puts_the_cursor_line_after_the_middle_token() -> None:
    context = pc.local_context(LINES, 3, 16, CONFIG)
    assert context.prefix == "\ndef f(x):\n"  # two lines before
    assert context.middle == "    return os.pa"
    assert context.suffix == "\n\n"  # rest of the line "", then one line after ("")
    assert context.indent == 4
    body = pc.infill_request(context, [], CONFIG, speculative=False, seed=3)
    assert body["input_prefix"] == context.prefix
    assert body["prompt"] == context.middle
    assert body["input_suffix"] == context.suffix
    assert body["n_indent"] == 4
    assert body["t_max_predict_ms"] == CONFIG.t_first_predict_ms
    assert body["samplers"] == ["top_k", "top_p", "infill"]
    assert body["cache_prompt"] is True and body["seed"] == 3
    assert pc.infill_request(context, [], CONFIG, True)["t_max_predict_ms"] == 1000


def test_layout_mid_line_and_whitespace_only_line() -> None:
    context = pc.local_context(LINES, 5, 6, CONFIG)
    assert (context.middle, context.line_cur_suffix) == ("print(", "f(1))")
    assert context.suffix == "f(1))\n"  # no line after the last one
    blank = pc.local_context(["def g():", "    ", "x"], 1, 4, CONFIG)
    # A whitespace-only line is sent empty: the model writes the indentation.
    assert (blank.middle, blank.suffix, blank.indent) == ("", "\nx\n", 0)


def test_layout_as_if_a_suggestion_were_accepted() -> None:
    lines = ["a", "b", "    if x:", "z"]
    one = pc.local_context(lines, 2, 9, CONFIG, accepted=[" return"], indent_last=4)
    assert (one.prefix, one.middle, one.indent) == ("a\nb\n", "    if x: return", 4)
    many = pc.local_context(lines, 2, 9, CONFIG, accepted=["", "        y = 1", "        z"])
    # n_prefix lines of the file shrink by the accepted lines; the cursor ends on the last.
    assert many.prefix == "    if x:\n        y = 1\n"
    assert many.middle == "        z"
    assert many.suffix == "\nz\n"


def test_keys_cover_the_context_and_shorter_windows_of_it() -> None:
    context = pc.Context("l1\nl2\nl3\nl4\n", "mid", "\nafter\n", 0, "mid", "")
    keys = pc.request_keys(context)
    assert len(keys) == 4 and len(set(keys)) == 4
    assert keys[0] == pc.context_key("l1\nl2\nl3\nl4\nmid", "\nafter\n")
    assert keys[3] == pc.context_key("l4\nmid", "\nafter\n")
    short = pc.Context("l1\n", "m", "\n", 0, "m", "")
    assert len(pc.request_keys(short)) == 1  # nothing left to drop


def test_cache_is_lru_with_a_capacity() -> None:
    cache = pc.SuggestionCache(capacity=2)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # a is now the most recent
    cache.put("c", "3")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert pc.SuggestionCache().capacity == 250


def test_lookup_exact_and_typed_through() -> None:
    cache = pc.SuggestionCache()
    asked = pc.Context("p\n", "    x = fo", "\n", 4, "    x = fo", "")
    cache.put(pc.context_key(asked.prefix + asked.middle, asked.suffix), "o(1)\n    y")
    assert pc.lookup(cache, asked) == "o(1)\n    y"
    typed = pc.Context("p\n", "    x = foo(", "\n", 4, "    x = foo(", "")
    assert pc.lookup(cache, typed) == "1)\n    y"  # "o(" typed through
    wrong = pc.Context("p\n", "    x = fox", "\n", 4, "    x = fox", "")
    assert pc.lookup(cache, wrong) is None  # typed something else
    other_suffix = pc.Context("p\n", "    x = foo(", "\nq\n", 4, "    x = foo(", "")
    assert pc.lookup(cache, other_suffix) is None
    whole = pc.Context("p\n", "    x = foo(1)\n    y", "\n", 4, "", "")
    assert pc.lookup(cache, whole) is None  # typed all of it: nothing left to show
    assert pc.lookup(cache, typed, typed_back=1) is None  # looks back 1 character only


def test_lookup_prefers_the_longest_remainder() -> None:
    cache = pc.SuggestionCache()
    cache.put(pc.context_key("ab", "\n"), "cd")
    cache.put(pc.context_key("a", "\n"), "bcdef")
    assert pc.lookup(pc.SuggestionCache(), pc.Context("", "abc", "\n", 0, "", "")) is None
    assert pc.lookup(cache, pc.Context("", "abc", "\n", 0, "", "")) == "def"


def test_render_trims_indentation_and_drops_repeats() -> None:
    lines = ["def f():", "    ", "    return 1"]
    hint = pc.render("    x = 1\n    y = 2\n\n", lines, 1, 4)
    assert hint.lines == ["x = 1", "    y = 2"] and hint.text == "x = 1\n    y = 2"
    # Repeats the next line of the file: not shown.
    assert not pc.render("    return 1", lines, 1, 4).can_accept
    assert not pc.render("x)", ["print(x)"], 0, 6).can_accept  # the rest of the line
    assert not pc.render("\n\n", lines, 1, 4).can_accept
    assert not pc.render("  \n ", ["a"], 0, 1).can_accept
    assert pc.render("x", ["print(x)"], 0, 6).text == "x"


def test_ring_similarity_pick_promote_and_evict() -> None:
    assert pc.similarity(["a b c"], ["a b c"]) == 1.0
    assert pc.similarity([], []) == 1.0
    assert pc.similarity(["a b"], ["c d"]) == 0.0
    ring = pc.Ring(pc.PeerConfig(ring_n_chunks=2, ring_chunk_size=8), random.Random(1))
    ring.pick(["x = 1", "y = 2"], "f.py", evict=True)  # fewer than 3 lines: ignored
    assert not ring.queued
    ring.pick(["alpha = 1", "beta = 2", "gamma = 3"], "f.py", evict=True)
    ring.pick(["alpha = 1", "beta = 2", "gamma = 3"], "f.py", evict=True)  # duplicate
    assert len(ring.queued) == 1 and not ring.extra()
    assert ring.promote() and not ring.queued
    assert ring.extra() == [{"text": "alpha = 1\nbeta = 2\ngamma = 3\n", "filename": "f.py"}]
    ring.evict_like(["gamma = 3", "alpha = 1"])
    assert not ring.chunks and ring.evicted == 1
    long = [f"line_{i} = {i}" for i in range(40)]
    assert len(ring.sample(long)) == 5  # half a chunk (+1 line, inclusive end)


def test_cpu_flags_follow_setup_sh() -> None:
    epyc = "flags\t\t: fpu sse avx f16c fma bmi2 avx2 sha_ni\n"
    flags = pls.cpu_flags(epyc)
    assert flags.startswith("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON")
    assert "-DGGML_AVX512=OFF" in flags and "-DGGML_AVX512_VNNI=OFF" in flags
    assert "AMX" not in flags and flags.endswith("-DLLAVA_BUILD=OFF")
    assert "-DGGML_AVX512=ON" in pls.cpu_flags("flags : avx avx2 avx512f\n")
    assert pls.build_key("0.3.36", flags) != pls.build_key("0.3.37", flags)


def test_busy_load_is_one_hog_per_core_but_one() -> None:
    assert hog_count("idle", 8) == 0
    assert hog_count("busy", 2) == 1
    assert hog_count("busy", 1) == 1
    assert hog_count("busy", 8) == 7


class _FakeServer:
    """Answers /infill with a fixed text after ``delay`` seconds; records the bodies."""

    def __init__(self, content: str, delay: float = 0.05) -> None:
        self.content, self.delay = content, delay
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        import time

        self.bodies.append(body)
        time.sleep(self.delay)
        return {"content": "" if body["n_predict"] == 0 else self.content}


def _client(server: _FakeServer) -> tuple[pc.PeerClient, list[str]]:
    client = pc.PeerClient("http://fake", pc.PeerConfig(retry_s=0.02), post=server)
    shown: list[str] = []
    client.on_show = shown.append
    return client, shown


def test_client_shows_speculates_and_reuses_typed_through() -> None:
    async def scenario() -> tuple[_FakeServer, list[str], pc.PeerClient]:
        # The cursor line is blank, so it is sent empty: the model writes the indentation.
        server = _FakeServer("    return a + b\n")
        client, shown = _client(server)
        client.open("def add(a, b):\n    \n", "m.py", 1, 4)
        client.ask()
        await asyncio.sleep(0.15)
        # Shown when the answer came; then a speculative request (as if accepted).
        assert shown == ["return a + b"]
        await client.settle(1)
        assert [b["t_max_predict_ms"] for b in server.bodies] == [250, 1000]
        assert server.bodies[1]["prompt"] == "    return a + b"
        before = len(server.bodies)
        client.keystroke("r", 1, 4, 1, 5)  # typed the suggestion's first character
        assert shown[-1] == "eturn a + b"  # at once, from the cache
        await client.settle(1)
        await client.shutdown()
        # The typed-through hit asks for the current context (its own key is not cached).
        assert len(server.bodies) > before
        return server, shown, client

    server, shown, client = asyncio.run(scenario())
    assert client.stats["typed_through"] >= 1


def test_client_sends_one_request_at_a_time_and_none_for_cached_contexts() -> None:
    async def scenario() -> tuple[_FakeServer, pc.PeerClient]:
        server = _FakeServer("x\n", delay=0.2)
        client, _ = _client(server)
        client.open("a = [\n    \n", "m.py", 1, 4)
        client.insert_mode = True
        for i, char in enumerate("abc"):
            client.keystroke(char, 1, 4 + i, 1, 5 + i)
            await asyncio.sleep(0.03)
        # The first request is in flight; the others wait (only the newest is kept).
        assert len(server.bodies) == 1
        await asyncio.sleep(0.6)
        await client.settle(1)
        sent = len(server.bodies)
        client.keystroke("", 1, 7, 1, 7)  # the same context again: answered from the cache
        await client.settle(1)
        assert client.stats["cache_hits"] >= 1
        assert all(b["prompt"] != "    abc" for b in server.bodies[sent:])
        await client.shutdown()
        return server, client

    server, client = asyncio.run(scenario())
    prompts = [b["prompt"] for b in server.bodies]
    assert prompts[0] == "    a" and "    ab" not in prompts  # the waiting one was replaced
    assert client.stats["errors"] == 0


def test_replay_converts_utf16_columns_to_code_points() -> None:
    from benchmarks.peer_replay import code_points

    assert code_points("abc", 2) == 2
    assert code_points("🎉x", 2) == 1  # the emoji is two UTF-16 units
    assert code_points("🎉x", 3) == 2
    assert code_points("ab", 9) == 2
