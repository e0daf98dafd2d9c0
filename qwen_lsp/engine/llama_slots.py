"""Which of llama-server's slots an editor uses (``id_slot``), and when it moves.

A slot holds the KV cache of the last prompt it read, so an editor that keeps one slot has
its prefix there at the next keystroke, and two editors on one slot evict each other's
prefix at every keystroke (each pays for its whole prompt). Hashing the server's process id
onto the slots spreads editors only by luck (two of them on four slots share one a quarter
of the time), so the slot is chosen from what the engine says about its slots:

- llama-server's ``GET /slots`` (on by default; ``--no-slots`` turns it off) lists each slot
  with ``is_processing`` and, once it has served, ``id_task``: the id of the last task it
  ran. Task ids only grow, so the smallest is the least recently used slot, and a slot
  without one has never served anybody. The first request takes an idle slot nobody used
  (spread by the process id when there are several), else the least recently used idle
  one.
- The slot is kept while it serves us: nothing is asked per keystroke (``/slots`` goes
  through the engine's task queue, behind the batch it is computing). What says another
  editor is using it is the engine's own answer: when it served from its cache much less
  than the prefix our last prompt shares with this one, somebody else's prompt replaced
  ours. Then ``/slots`` is asked again and the slot chosen as at first, our own slot among
  the candidates: when the other editor has moved on, ours is now the least recently used
  and we stay; otherwise we move to a fresher one. Moves are spaced (``MOVE_EVERY``) so
  that more editors than slots do not chase each other around them.
- An engine without ``/slots`` (off, or an older build) gets the process id modulo its
  ``total_slots`` (``/props``), as before, and no moves: without seeing the slots a move
  would be a blind guess, as likely to land on a third editor's slot.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from qwen_lsp.engine import http_stream as http

log = logging.getLogger(__name__)

# An answer that served less than this share of the prefix our last prompt shares with
# this one from the cache (and the prefix is worth judging) means another prompt replaced
# ours in the slot.
EVICTED_SHARE = 0.5
MIN_JUDGED_PREFIX = 16
# The shortest time between two looks at the slots after an eviction (and so between two
# moves) of one editor.
MOVE_EVERY = 10.0

# GET ``path`` on the engine's origin: its status and JSON body (None when not JSON).
# Raises http.HttpFault.
GetJson = Callable[[str], tuple[int, Any]]


def choose_slot(slots: Any, key: int) -> int | None:
    """The slot to use from a ``/slots`` listing: an idle one nobody has used (the
    ``key``-th of them, so editors that start together spread), else the idle one used
    least recently; None when the listing is not one or every slot is busy."""
    if not isinstance(slots, list):
        return None
    idle: list[tuple[int, int]] = []  # (last task id or -1, slot id)
    for slot in slots:
        if not isinstance(slot, dict) or not isinstance(slot.get("id"), int):
            return None
        if slot.get("is_processing"):
            continue
        task = slot.get("id_task")
        idle.append((task if isinstance(task, int) and task >= 0 else -1, slot["id"]))
    if not idle:
        return None
    fresh = sorted(slot for task, slot in idle if task < 0)
    if fresh:
        return fresh[key % len(fresh)]
    return min(idle)[1]


def evicted(expected: int, cached: int | None) -> bool:
    """Whether an answer that served ``cached`` prompt tokens from the slot's cache, when
    our last prompt on it shares ``expected`` with this one, says another prompt was read
    there in between (None: the engine did not say)."""
    if cached is None or expected < MIN_JUDGED_PREFIX:
        return False
    return cached < expected * EVICTED_SHARE


class SlotKeeper:
    """One editor's slot on one llama-server. ``fixed`` >= 0 names it (no choosing)."""

    def __init__(
        self,
        get_json: GetJson,
        key: int,
        fixed: int = -1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._get_json = get_json
        self._key = key
        self._fixed = fixed
        self._clock = clock
        self._slot: int | None = None
        self._listed = True  # the engine has /slots (until it says otherwise)
        self._recheck = False  # our prefix was evicted: look at the slots again
        self._checked_at = -MOVE_EVERY
        self.moves = 0

    def slot(self) -> int:
        """The slot for the next request (-1: the engine's choice, when it does not say
        how many slots it has)."""
        if self._fixed >= 0:
            return self._fixed
        if self._slot is None:
            chosen = self._first()
            if chosen is None:
                return -1  # the engine is not up: asked again with the next request
            self._slot = chosen
            log.info("llama-server slot: %d", chosen)
        elif self._recheck and self._clock() - self._checked_at >= MOVE_EVERY:
            self._recheck, self._checked_at = False, self._clock()
            self._move()
        return self._slot

    def answered(self, slot: int, expected: int, cached: int | None) -> None:
        """The engine answered a request sent to ``slot``, serving ``cached`` prompt
        tokens from its cache where our last prompt there shares ``expected`` tokens."""
        if self._fixed < 0 and self._listed and slot == self._slot and evicted(expected, cached):
            log.info(
                "llama-server slot %d served %s of %d shared tokens from its cache: "
                "another editor uses it",
                slot,
                cached,
                expected,
            )
            self._recheck = True

    def _listing(self) -> Any:
        """The engine's ``/slots``, or None when it has none (or it failed: the slot is
        kept; the next eviction asks again)."""
        try:
            status, body = self._get_json("/slots")
        except http.HttpFault as exc:
            if exc.retryable:
                raise
            return None
        if status in (404, 405, 501):  # --no-slots, or an older build
            self._listed = False
            return None
        return body if status == 200 else None

    def _first(self) -> int | None:
        try:
            listing = self._listing() if self._listed else None
            chosen = choose_slot(listing, self._key) if listing is not None else None
            if chosen is not None:
                return chosen
            status, props = self._get_json("/props")
        except http.HttpFault as exc:
            if exc.retryable:
                return None
            status, props = 0, None
        total = props.get("total_slots") if status == 200 and isinstance(props, dict) else None
        return self._key % total if isinstance(total, int) and total > 0 else -1

    def _move(self) -> None:
        try:
            listing = self._listing()
        except http.HttpFault:
            return
        chosen = choose_slot(listing, self._key) if listing is not None else None
        if chosen is None or chosen == self._slot:
            return
        log.info("llama-server slot: %d (from %s: another editor used it)", chosen, self._slot)
        self._slot = chosen
        self.moves += 1


def engine_get_json(
    origin: str,
    headers: dict[str, str],
    timeouts: http.Timeouts,
    verify_tls: bool,
    send: Callable[..., http.Response] = http.request,
) -> GetJson:
    """A GetJson for the engine at ``origin``."""

    def get(path: str) -> tuple[int, Any]:
        response = send(
            "GET", origin + path, None, headers=headers, timeouts=timeouts, verify_tls=verify_tls
        )
        try:
            raw = response.read_all(lambda: False, timeouts, 1 << 20)
        finally:
            response.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    return get
