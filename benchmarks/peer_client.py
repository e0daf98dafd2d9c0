"""A llama.vim-style client for llama.cpp's ``/infill``: the peer of the typing benchmark.

Written for this benchmark from the published description of llama.vim's completion
algorithm (its README, its help file and its configuration's documented defaults), not
from its code. What the algorithm does, in our words:

* **Prompt layout.** A request carries the whole lines before the cursor line (at most
  ``n_prefix`` of them) as ``input_prefix``, the rest of the cursor line plus the lines
  after it (at most ``n_suffix``) as ``input_suffix``, and the cursor line's text before the
  cursor as ``prompt``; the server puts ``prompt`` after the FIM middle token, so typing on
  one line changes only the end of the prompt and the server's KV cache keeps the rest.
  A cursor line holding only whitespace is sent as empty (the model writes the
  indentation) and rendered with that whitespace trimmed from the suggestion.
* **Extra context.** A ring of up to ``ring_n_chunks`` chunks of at most
  ``ring_chunk_size / 2`` lines goes along as ``input_extra``. Chunks are queued when a
  file is entered or left and when the cursor has moved far from where chunks were last
  picked; a queued chunk moves into the ring only while the user is idle (no cursor move
  for 3 s, or not typing), once per ``ring_update_ms``, with a request that only evaluates
  the new extra context. A request first drops ring chunks that resemble the text around
  the cursor (they make the model repeat what is already there).
* **Cache.** Each answer is stored (LRU, ``max_cache_keys`` = 250 entries) under a hash of
  its context, and also under the hashes of the same context with the first one, two and
  three prefix lines dropped. No request is sent for a context already in the cache.
* **Typed-through reuse.** On every cursor move the client looks up the current context;
  failing that, it takes back the last 1..128 characters typed: a cached answer for such
  an earlier context whose text starts with exactly those characters is shown minus them
  (the longest remainder wins).
* **Speculation.** Whenever a suggestion is shown, the client asks at once for the context
  as if the suggestion had been accepted, so that accepting and typing on find a cached
  answer.
* **One request at a time.** While a request is in flight, a new one waits: it is
  re-tried 100 ms later (a newer call replaces the waiting one); requests in flight are
  not cancelled. The first request at a position gets ``t_max_predict_ms`` = 250, the
  speculative ones the configured 1000; ``n_indent`` is the cursor line's indentation,
  so that the server stops a block at its end. Sampling: top-k 40, top-p 0.90 and the
  server's ``infill`` sampler, ``n_predict`` 128 tokens.
* **Rendering.** Trailing blank lines go; a suggestion that only repeats the rest of the
  line or the next lines of the file is not shown.

The pure parts (context, keys, cache, lookup, rendering, the ring) are unit-tested in
tests/unit/test_peer_client.py. `PeerClient` plays them against a server over HTTP;
benchmarks/peer_replay.py drives it with the typing replay. One deviation, for
repeatability: requests carry the benchmark's ``seed`` (llama.vim leaves the server's
random seed).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTEXT_SEPARATOR = "\x00"  # between the text before the cursor and the text after it
# llama.vim's requests (curl jobs) have no time limit: a slow answer still arrives, fills
# the cache and may be shown typed through. Closing the connection earlier would make
# llama-server cancel the task, which llama.vim never does.
HTTP_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PeerConfig:
    """llama.vim's documented defaults."""

    n_prefix: int = 256
    n_suffix: int = 64
    n_predict: int = 128
    t_max_prompt_ms: int = 500
    t_max_predict_ms: int = 1000
    t_first_predict_ms: int = 250  # the first request at a position is kept short
    max_line_suffix: int = 8
    max_cache_keys: int = 250
    ring_n_chunks: int = 16
    ring_chunk_size: int = 64
    ring_scope: int = 1024
    ring_update_ms: int = 1000
    ring_queue: int = 16
    idle_s: float = 3.0  # no cursor move for this long: the ring may update
    retry_s: float = 0.1  # a request waiting for the one in flight
    typed_back: int = 128  # characters looked back for a typed-through answer
    pick_distance: int = 32  # lines the cursor moves before new chunks are picked
    top_k: int = 40
    top_p: float = 0.90


# -- the local context -------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    prefix: str  # whole lines before the cursor line, each ending with "\n"
    middle: str  # the cursor line before the cursor ("" on a whitespace-only line)
    suffix: str  # the rest of the cursor line, "\n", the lines after, "\n"
    indent: int
    line_cur: str
    line_cur_suffix: str


def _leading_ws(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def local_context(
    lines: Sequence[str],
    row: int,
    col: int,
    config: PeerConfig,
    accepted: Sequence[str] = (),
    indent_last: int = 0,
) -> Context:
    """The context at (row, col) (0-based, code points) of ``lines``.

    With ``accepted`` (the lines of a shown suggestion) the context is the one the user
    would be in after accepting it: the cursor at the end of the suggestion's last line.
    """
    after = list(lines[row + 1 : row + 1 + config.n_suffix])
    if not accepted:
        line_cur = lines[row]
        before = list(lines[max(0, row - config.n_prefix) : row])
        if line_cur.strip() == "":
            middle, rest, indent = "", "", 0
        else:
            middle, rest, indent = line_cur[:col], line_cur[col:], _leading_ws(line_cur)
    else:
        first = lines[row][:col] + accepted[0]
        line_cur = first if len(accepted) == 1 else accepted[-1]
        keep = max(0, config.n_prefix - (len(accepted) - 1))
        before = list(lines[max(0, row - keep) : row])
        if len(accepted) > 1:
            before += [first, *accepted[1:-1]]
        middle, rest, indent = line_cur, "", indent_last
    prefix = "".join(line + "\n" for line in before)
    suffix = rest + "\n" + "".join(line + "\n" for line in after)
    return Context(prefix, middle, suffix, indent, line_cur, rest)


def context_key(prefix_and_middle: str, suffix: str) -> str:
    return hashlib.sha256(
        (prefix_and_middle + CONTEXT_SEPARATOR + suffix).encode("utf-8", "surrogatepass")
    ).hexdigest()


def request_keys(context: Context) -> list[str]:
    """The keys an answer for ``context`` is stored under: the context itself, and the
    same with its first one, two and three prefix lines dropped (a cursor further down
    sees a shorter window of the same text)."""
    keys = [context_key(context.prefix + context.middle, context.suffix)]
    prefix = context.prefix
    for _ in range(3):
        prefix = prefix.partition("\n")[2] if "\n" in prefix else ""
        if not prefix:
            break
        keys.append(context_key(prefix + context.middle, context.suffix))
    return keys


class SuggestionCache:
    """Answers by context key, least recently used out first."""

    def __init__(self, capacity: int = 250) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def put(self, key: str, content: str) -> None:
        if key not in self._items and len(self._items) >= self.capacity:
            self._items.popitem(last=False)
        self._items[key] = content
        self._items.move_to_end(key)

    def get(self, key: str) -> str | None:
        content = self._items.get(key)
        if content is not None:
            self._items.move_to_end(key)
        return content


def lookup(cache: SuggestionCache, context: Context, typed_back: int = 128) -> str | None:
    """A cached answer for ``context``: its own, or one for an earlier context whose text
    starts with what was typed since (shown minus that; the longest remainder wins)."""
    before = context.prefix + context.middle
    exact = cache.get(context_key(before, context.suffix))
    if exact is not None:
        return exact
    best: str | None = None
    for back in range(1, min(typed_back, len(before)) + 1):
        content = cache.get(context_key(before[:-back], context.suffix))
        if not content:
            continue
        typed = before[-back:]
        if not content.startswith(typed) or len(content) == back:
            continue
        rest = content[back:]
        if best is None or len(rest) > len(best):
            best = rest
    return best


# -- what is shown -----------------------------------------------------------------------
@dataclass(frozen=True)
class Hint:
    lines: list[str]  # the suggestion as inserted at the cursor, line by line
    can_accept: bool

    @property
    def text(self) -> str:
        return "\n".join(self.lines) if self.can_accept else ""


def render(content: str, lines: Sequence[str], row: int, col: int) -> Hint:
    """The suggestion shown for answer ``content`` at (row, col) of ``lines``."""
    parts = content.split("\n")
    while parts and parts[-1] == "":
        parts.pop()
    if not parts:
        return Hint([""], False)
    line_cur = lines[row]
    if line_cur.strip() == "":
        # The model wrote the indentation; the line already has some of it.
        lead = min(_leading_ws(parts[0]), len(line_cur))
        line_cur = parts[0][:lead]
        parts[0] = parts[0][lead:]
    before, rest = line_cur[:col], line_cur[col:]
    following = list(lines[row + 1 :])
    empty = Hint([""], False)
    if len(parts) > 1 and parts[0] == "" and parts[1:] == following[: len(parts) - 1]:
        return empty
    if len(parts) == 1 and parts[0] == rest:
        return empty
    nonblank = next((i for i, line in enumerate(following) if line.strip()), None)
    if nonblank is not None and before + parts[0] == following[nonblank]:
        later = following[nonblank + 1 :]
        if len(parts) == 1:
            return empty
        if len(parts) == 2 and later and later[0].startswith(parts[1]):
            return empty
        if len(parts) > 2 and parts[1:] == later[: len(parts) - 1]:
            return empty
    if "".join(parts).strip() == "":
        return Hint(parts, False)
    return Hint(parts, True)


# -- extra context: the ring of chunks ---------------------------------------------------
def similarity(first: Sequence[str], second: Sequence[str]) -> float:
    """Share of words in common (2 x common / total), 1.0 for two empty chunks."""
    words_first = [w for w in re.split(r"\W+", "\n".join(first)) if w]
    words_second = [w for w in re.split(r"\W+", "\n".join(second)) if w]
    total = len(words_first) + len(words_second)
    if total == 0:
        return 1.0
    known = set(words_first)
    return 2.0 * sum(1 for w in words_second if w in known) / total


@dataclass
class Chunk:
    lines: list[str]
    filename: str

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass
class Ring:
    config: PeerConfig
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    chunks: list[Chunk] = field(default_factory=list)
    queued: list[Chunk] = field(default_factory=list)
    evicted: int = 0

    def sample(self, lines: Sequence[str]) -> list[str]:
        """A random run of at most half a chunk of ``lines`` (all of them if short)."""
        half = self.config.ring_chunk_size // 2
        if len(lines) + 1 < self.config.ring_chunk_size:
            return list(lines)
        start = self.rng.randint(0, max(0, len(lines) - half))
        return list(lines[start : start + half + 1])

    def pick(self, lines: Sequence[str], filename: str, evict: bool) -> None:
        """Queue a chunk of ``lines``; similar chunks (> 0.9) are evicted, or, without
        ``evict``, the new one is dropped."""
        if self.config.ring_n_chunks <= 0 or len(lines) < 3:
            return
        chunk = self.sample(lines)
        if any(c.lines == chunk for c in self.chunks + self.queued):
            return
        for pool in (self.queued, self.chunks):
            for i in range(len(pool) - 1, -1, -1):
                if similarity(pool[i].lines, chunk) > 0.9:
                    if not evict:
                        return
                    del pool[i]
                    self.evicted += 1
        if len(self.queued) >= self.config.ring_queue:
            del self.queued[0]
        self.queued.append(Chunk(chunk, filename))

    def promote(self) -> bool:
        """Move the oldest queued chunk into the ring; True when the ring changed."""
        if not self.queued:
            return False
        if len(self.chunks) >= self.config.ring_n_chunks:
            del self.chunks[0]
        self.chunks.append(self.queued.pop(0))
        return True

    def evict_like(self, around: Sequence[str], threshold: float = 0.5) -> None:
        for i in range(len(self.chunks) - 1, -1, -1):
            if similarity(self.chunks[i].lines, around) > threshold:
                del self.chunks[i]
                self.evicted += 1

    def extra(self) -> list[dict[str, str]]:
        return [{"text": c.text, "filename": c.filename} for c in self.chunks]


def infill_request(
    context: Context,
    extra: list[dict[str, str]],
    config: PeerConfig,
    speculative: bool,
    seed: int | None = None,
) -> dict[str, Any]:
    """The JSON body of one ``/infill`` request."""
    body: dict[str, Any] = {
        "id_slot": 0,
        "input_prefix": context.prefix,
        "input_suffix": context.suffix,
        "input_extra": extra,
        "prompt": context.middle,
        "n_predict": config.n_predict,
        "stop": [],
        "n_indent": context.indent,
        "top_k": config.top_k,
        "top_p": config.top_p,
        "samplers": ["top_k", "top_p", "infill"],
        "stream": False,
        "cache_prompt": True,
        "t_max_prompt_ms": config.t_max_prompt_ms,
        "t_max_predict_ms": config.t_max_predict_ms if speculative else config.t_first_predict_ms,
        "response_fields": ["content", "timings/prompt_n", "timings/predicted_n", "tokens_cached"],
    }
    if seed is not None:
        body["seed"] = seed
    return body


def warm_request(extra: list[dict[str, str]]) -> dict[str, Any]:
    """Evaluate the new extra context only (after the ring changed), generating nothing."""
    return {
        "id_slot": 0,
        "input_prefix": "",
        "input_suffix": "",
        "input_extra": extra,
        "prompt": "",
        "n_predict": 0,
        "temperature": 0.0,
        "samplers": [],
        "stream": False,
        "cache_prompt": True,
        "t_max_prompt_ms": 1,
        "t_max_predict_ms": 1,
        "response_fields": [""],
    }


# -- the client against a server ---------------------------------------------------------
def post_json(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        result: dict[str, Any] = json.loads(answer.read() or b"{}")
        return result


ShowCallback = Callable[[str], None]


class PeerClient:
    """One editor buffer at a time, driven by `open`, `keystroke`, `close`.

    ``on_show(text)`` is called whenever a suggestion is shown at the cursor (text of an
    acceptable suggestion, "" for an unacceptable one). Counters in ``stats``.
    """

    def __init__(
        self,
        url: str,
        config: PeerConfig | None = None,
        seed: int | None = 0,
        timeout: float = 60.0,
        post: Callable[[str, dict[str, Any], float], dict[str, Any]] = post_json,
        http_timeout: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.url, self.config, self.seed, self.timeout = url, config or PeerConfig(), seed, timeout
        self.http_timeout = http_timeout
        self.post = post
        self.cache = SuggestionCache(self.config.max_cache_keys)
        self.ring = Ring(self.config, random.Random(f"ring:{seed}"))
        self.lines: list[str] = [""]
        self.filename = ""
        self.row = self.col = 0
        self.insert_mode = False
        self.hint: Hint | None = None
        self.indent_last = 0
        self.pos_y_pick = -9999
        self.last_move = time.monotonic()
        self.in_flight: asyncio.Task[None] | None = None
        self.waiting: asyncio.TimerHandle | None = None
        self.on_show: ShowCallback = lambda text: None
        self.stats = {
            "requests": 0,
            "speculative": 0,
            "warm": 0,
            "cache_hits": 0,
            "typed_through": 0,
            "errors": 0,
            "prompt_tokens": 0,
            "predicted_tokens": 0,
            "tokens_cached": 0,
        }
        self._ring_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- editor events -------------------------------------------------------------------
    def open(self, text: str, filename: str, row: int, col: int) -> None:
        self.lines = text.split("\n")
        self.filename, self.row, self.col = filename, row, col
        self.insert_mode, self.hint, self.pos_y_pick = False, None, -9999
        self._pick_around(evict=True)
        if self._ring_task is None:
            self._ring_task = asyncio.get_running_loop().create_task(self._ring_timer())

    def close(self) -> None:
        self._pick_around(evict=True)
        self.insert_mode, self.hint = False, None
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None

    def ask(self) -> None:
        """The user enters insert mode at the cursor (or triggers a completion)."""
        self.insert_mode = True
        self._on_move()
        self.fim(auto=False)

    def keystroke(self, text: str, row: int, col: int, cursor_row: int, cursor_col: int) -> None:
        """``text`` inserted at (row, col) (code points), the cursor moved after it."""
        self.insert_mode = True
        line = self.lines[row]
        parts = (line[:col] + text + line[col:]).split("\n")
        self.lines[row : row + 1] = parts
        self.row, self.col = cursor_row, cursor_col
        self._on_move()
        self.fim(auto=True)

    async def settle(self, timeout: float) -> None:
        """Wait for the request in flight (the file is left; it still finishes)."""
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None
        if self.in_flight is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.in_flight), timeout)
            except TimeoutError:
                pass

    async def shutdown(self) -> None:
        if self._ring_task is not None:
            self._ring_task.cancel()
        await self.settle(self.timeout)
        for task in list(self._background):
            try:
                await asyncio.wait_for(task, self.timeout)
            except Exception:
                pass

    # -- the algorithm ------------------------------------------------------------------
    def _on_move(self) -> None:
        self.last_move = time.monotonic()
        self.hint = None
        self._try_hint()

    def _try_hint(self) -> None:
        if not self.insert_mode:
            return
        context = local_context(self.lines, self.row, self.col, self.config)
        key = context_key(context.prefix + context.middle, context.suffix)
        exact = key in self.cache
        content = lookup(self.cache, context, self.config.typed_back)
        if content is None:
            return
        self.stats["cache_hits" if exact else "typed_through"] += 1
        hint = render(content, self.lines, self.row, self.col)
        self.hint = hint
        self.on_show(hint.text)
        # Speculate: the context as if this suggestion were accepted.
        accepted = list(hint.lines)
        accepted[-1] += context.line_cur_suffix
        self.fim(auto=True, accepted=accepted, at=(self.row, self.col))

    def fim(
        self,
        auto: bool,
        accepted: Sequence[str] = (),
        at: tuple[int, int] | None = None,
        use_cache: bool = True,
    ) -> None:
        loop = asyncio.get_running_loop()
        if self.in_flight is not None and not self.in_flight.done():
            if self.waiting is not None:
                self.waiting.cancel()
            self.waiting = loop.call_later(
                self.config.retry_s, lambda: self.fim(True, accepted, at, use_cache)
            )
            return
        self.waiting = None
        row, col = at if at is not None else (self.row, self.col)
        if row >= len(self.lines):
            return
        col = min(col, len(self.lines[row]))
        context = local_context(self.lines, row, col, self.config, accepted, self.indent_last)
        if auto and len(context.line_cur_suffix) > self.config.max_line_suffix:
            return
        keys = request_keys(context)
        if use_cache and any(k in self.cache for k in keys):
            return
        self.indent_last = context.indent
        half = self.config.ring_chunk_size // 2
        self.ring.evict_like(self.ring.sample(self.lines[max(0, row - half) : row + half + 1]), 0.5)
        body = infill_request(context, self.ring.extra(), self.config, bool(accepted), self.seed)
        self.stats["requests"] += 1
        self.stats["speculative"] += bool(accepted)
        self.in_flight = loop.create_task(self._send(body, keys))
        if auto and abs(row - self.pos_y_pick) > self.config.pick_distance:
            scope, n_prefix, n_suffix = (
                self.config.ring_scope,
                self.config.n_prefix,
                self.config.n_suffix,
            )
            last = len(self.lines) - 1
            self.ring.pick(
                self.lines[max(0, row - scope) : max(0, row - n_prefix) + 1],
                self.filename,
                evict=False,
            )
            self.ring.pick(
                self.lines[
                    min(last, row + n_suffix) : min(
                        last, row + n_suffix + self.config.ring_chunk_size
                    )
                    + 1
                ],
                self.filename,
                evict=False,
            )
            self.pos_y_pick = row

    async def _send(self, body: dict[str, Any], keys: list[str]) -> None:
        try:
            answer = await asyncio.to_thread(
                self.post, self.url + "/infill", body, self.http_timeout
            )
        except Exception:
            self.stats["errors"] += 1
            return
        content = answer.get("content")
        if not isinstance(content, str):
            self.stats["errors"] += 1
            return
        for name, field_name in (
            ("prompt_tokens", "timings/prompt_n"),
            ("predicted_tokens", "timings/predicted_n"),
            ("tokens_cached", "tokens_cached"),
        ):
            value = answer.get(field_name)
            if isinstance(value, int):
                self.stats[name] += value
        for key in keys:
            self.cache.put(key, content)
        if self.hint is None or not self.hint.can_accept:
            self._try_hint()

    def _pick_around(self, evict: bool) -> None:
        half = self.config.ring_chunk_size // 2
        around = self.lines[max(0, self.row - half) : self.row + half + 1]
        self.ring.pick(around, self.filename, evict)

    async def _ring_timer(self) -> None:
        while True:
            await asyncio.sleep(self.config.ring_update_ms / 1000)
            idle = time.monotonic() - self.last_move >= self.config.idle_s
            if (self.insert_mode and not idle) or not self.ring.promote():
                continue
            self.stats["warm"] += 1
            task = asyncio.get_running_loop().create_task(
                asyncio.to_thread(self._post_quietly, warm_request(self.ring.extra()))
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _post_quietly(self, body: dict[str, Any]) -> None:
        try:
            self.post(self.url + "/infill", body, self.http_timeout)
        except Exception:
            self.stats["errors"] += 1
