"""llama-server slots (issue 14): editors sharing one engine each keep a slot of their own,
chosen from the engine's /slots, and one whose prefix another editor evicted moves; an
engine without /slots gets the process-id hash as before. Against tests/scripted_engine.py
simulating llama-server's slot caches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwen_lsp.engine import CancelToken, GenerationLimits, Special
from qwen_lsp.engine.llama_slots import choose_slot, evicted
from qwen_lsp.engine.remote import RemoteBackend
from tests.scripted_engine import ScriptedEngine
from tests.unit.test_remote_engine import backend_for, limits

# Keys that the old hash (key % 2) put on the same slot.
SAME_HASH = (7, 9)


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine()
    scripted.slots = 2
    scripted.slot_listing = True
    yield scripted
    scripted.stop()


class Editor:
    """One editor's server typing its own file: a prompt that grows at its end."""

    def __init__(self, engine: ScriptedEngine, key: int, text: str) -> None:
        self.backend: RemoteBackend = backend_for(
            engine, url=engine.origin, dialect="llama-server", slot_key=key
        )
        self.text = text
        self.cached: list[int] = []

    def type(self, chars: str = "x") -> None:
        """A keystroke and its request."""
        self.text += chars
        prompt = [Special("<|fim_prefix|>"), self.text, Special("<|fim_middle|>")]
        result = self.backend.generate(prompt, limits(), lambda text: True)
        self.cached.append(result.reused_tokens)

    def next_slot(self) -> int:
        """The slot the next request goes to (chosen now if it is not yet)."""
        slots = self.backend._slots
        assert slots is not None
        return slots.slot()


def alpha(engine: ScriptedEngine, key: int) -> Editor:
    return Editor(engine, key, "def alpha(values):\n    total = 0\n    for v in values:\n")


def beta(engine: ScriptedEngine, key: int) -> Editor:
    return Editor(engine, key, "class Beta:\n    def __init__(self):\n        self.items = []\n")


def slots_sent(engine: ScriptedEngine) -> list[int]:
    return [body["id_slot"] for body in engine.completions()]


def test_editors_that_start_one_after_the_other_take_different_idle_slots(
    engine: ScriptedEngine,
) -> None:
    a, b = alpha(engine, SAME_HASH[0]), beta(engine, SAME_HASH[1])
    for _ in range(5):
        a.type()
        b.type()
    sent = slots_sent(engine)
    assert set(sent[0::2]) != set(sent[1::2]) and len(set(sent[0::2])) == 1, sent
    # Each keeps its prefix: after the first keystroke most of each prompt is cached.
    assert min(a.cached[1:]) > 40 and min(b.cached[1:]) > 40, (a.cached, b.cached)


def test_editors_that_chose_the_same_slot_end_on_different_ones(engine: ScriptedEngine) -> None:
    a, b = alpha(engine, SAME_HASH[0]), beta(engine, SAME_HASH[1])
    # Both look at the slots before either has sent anything: the same fresh slot.
    assert a.next_slot() == b.next_slot()
    for _ in range(6):  # typing in turns: each evicts the other until one moves
        a.type()
        b.type()
    sent = slots_sent(engine)
    last_a, last_b = sent[-2], sent[-1]
    assert last_a != last_b, sent
    assert a.backend._slots is not None and b.backend._slots is not None
    assert a.backend._slots.moves + b.backend._slots.moves == 1
    # From then on each one's prefix is served from its slot.
    assert a.cached[-1] > 40 and b.cached[-1] > 40, (a.cached, b.cached)


def test_one_editor_keeps_its_slot_without_asking_again(engine: ScriptedEngine) -> None:
    a = alpha(engine, 3)
    for _ in range(8):
        a.type()
    listings = [path for path, _, _ in engine.requests if path == "/slots"]
    assert len(listings) == 1  # chosen once; nothing asked per keystroke
    assert len(set(slots_sent(engine))) == 1


def test_an_engine_without_slots_listing_gets_the_hash(engine: ScriptedEngine) -> None:
    engine.slot_listing = False  # --no-slots: /slots is an error
    a, b = alpha(engine, SAME_HASH[0]), beta(engine, SAME_HASH[1])
    for _ in range(3):
        a.type()
        b.type()
    assert set(slots_sent(engine)) == {SAME_HASH[0] % 2}  # as before: no blind moves


def test_choose_slot_prefers_unused_idle_slots_then_the_least_recently_used() -> None:
    fresh = [{"id": 0, "is_processing": False}, {"id": 1, "is_processing": False}]
    assert [choose_slot(fresh, key) for key in (0, 1, 2)] == [0, 1, 0]
    used = [
        {"id": 0, "is_processing": False, "id_task": 40},
        {"id": 1, "is_processing": False, "id_task": 12},
        {"id": 2, "is_processing": True, "id_task": 3},
    ]
    assert choose_slot(used, 5) == 1  # slot 2 is busy; slot 1 served longest ago
    assert choose_slot([*used, {"id": 3, "is_processing": False}], 5) == 3
    assert choose_slot([{"id": 0, "is_processing": True}], 0) is None
    assert choose_slot({"error": "nope"}, 0) is None
    assert choose_slot([{"slot": "x"}], 0) is None


def test_evicted_only_when_much_less_than_the_shared_prefix_was_cached() -> None:
    assert evicted(100, 3)
    assert not evicted(100, 99)
    assert not evicted(100, None)  # the engine did not say
    assert not evicted(5, 0)  # too short to judge


def test_more_editors_than_slots_do_not_chase_each_other(engine: ScriptedEngine) -> None:
    editors = [alpha(engine, 1), beta(engine, 2), alpha(engine, 3)]
    editors[2].text = "import os\nimport sys\n\ndef main(argv):\n    paths = argv[1:]\n"
    for _ in range(10):
        for editor in editors:
            editor.type()
    # Three prompts on two slots evict each other; each editor looks again at most once
    # in MOVE_EVERY, so it moved at most once here, not at every keystroke.
    assert all(e.backend._slots is not None and e.backend._slots.moves <= 1 for e in editors)
    listings = [path for path, _, _ in engine.requests if path == "/slots"]
    assert len(listings) <= 2 * len(editors)


def test_a_request_stopped_while_the_prompt_was_read_is_not_taken_for_an_eviction(
    engine: ScriptedEngine,
) -> None:
    a = alpha(engine, 1)
    a.type()
    a.type()
    # An action's prompt, cancelled before its first piece: the slot now holds some of it.
    cancel = CancelToken()
    cancel.cancel()
    stopped = GenerationLimits(max_tokens=8, max_seconds=60.0, cancel=cancel)
    other = [Special("<|fim_prefix|>"), "You rewrite code.\n" * 4]
    a.backend.generate(other, stopped, lambda text: True)
    engine.read_in_slot({"prompt": [9] * 80, "id_slot": a.next_slot()})  # as the engine did
    a.type()  # little of the shared prefix is served from the slot: not another editor's doing
    a.type()
    assert a.backend._slots is not None and a.backend._slots.moves == 0
