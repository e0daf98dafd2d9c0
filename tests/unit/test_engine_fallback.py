"""engineFallback: local (issue 14): a scripted engine that goes down and comes back, a
stand-in local model. The local model is loaded only when the engine is found down, serves
meanwhile, the engine is probed with growing waits (not at every request) and serves again
once it answers; a 4xx is not "down"."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from qwen_lsp.engine import (
    EngineFault,
    Generation,
    GenerationLimits,
    KeepGoing,
    KvReuse,
    PromptPart,
)
from qwen_lsp.engine.fallback import FallbackBackend, FallbackEvent, ProbeSchedule, engine_down
from qwen_lsp.engine.remote import RemoteBackend
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_notices import fallback_notice
from tests.scripted_engine import ScriptedEngine
from tests.unit.test_remote_engine import PROMPT, backend_for, limits

BOUND = 10.0
FAST = ProbeSchedule(first=0.05, most=0.2, linger=60.0)


class LocalModel:
    """The in-process model, as far as the fallback sees it."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False
        self.prompt_rate = 50.0
        self.keeps_states = False

    @property
    def description(self) -> str:
        return "local"

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        return KvReuse(10, 0)

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        return True

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        self.calls += 1
        return Generation("local_answer()\n", "stop_token")

    def close(self) -> None:
        self.closed = True


class Rig:
    def __init__(self, engine: ScriptedEngine, schedule: ProbeSchedule = FAST) -> None:
        self.engine = engine
        self.port = engine.port
        self.remote: RemoteBackend = backend_for(engine)
        self.local = LocalModel()
        self.loads = 0
        self.events: list[FallbackEvent] = []
        self.fail_load = False
        self.backend = FallbackBackend(
            self.remote, self.remote.probe, self._load, self.events.append, schedule
        )

    def _load(self) -> LocalModel:
        self.loads += 1
        if self.fail_load:
            raise ModelUnavailable("the model file is missing", "qwen-lsp models pull")
        return self.local

    def ask(self) -> str:
        return self.backend.generate(PROMPT, limits(), lambda text: True).text

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def restart(self) -> None:
        self.engine = ScriptedEngine(port=self.port)


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig(ScriptedEngine())
    yield made
    made.engine.stop()


def until(check: Callable[[], bool], what: str, step: Callable[[], object] = lambda: None) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        step()
        time.sleep(0.01)


def until_the_engine_answers(rig: Rig) -> None:
    """Keep asking until the answer is the engine's again (a probe has found it back)."""
    answers: list[str] = []
    until(
        lambda: answers[-1:] == ["scripted_answer()\n"],
        "the engine again",
        lambda: answers.append(rig.ask()),
    )


def test_a_working_engine_never_loads_the_local_model(rig: Rig) -> None:
    for _ in range(3):
        assert rig.ask() == "scripted_answer()\n"
    assert rig.backend.tokenize("abc") == rig.remote.tokenize("abc")
    assert rig.loads == 0 and rig.events == [] and not rig.backend.on_local


def test_down_engine_local_model_serves_then_engine_again_with_growing_probes(rig: Rig) -> None:
    assert rig.ask() == "scripted_answer()\n"
    rig.engine.stop()
    # The request that finds it down is served by the local model, loaded then.
    assert rig.ask() == "local_answer()\n"
    assert rig.kinds() == ["loading", "local"]
    assert "cannot connect to http://127.0.0.1" in rig.events[-1].detail
    # Typing on at a keystroke every 10 ms for a second: the local model answers them all,
    # the engine is probed a few times with growing waits, not at every keystroke.
    asked = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert rig.ask() == "local_answer()\n"
        asked += 1
        time.sleep(0.01)
    assert asked > 20  # a loaded machine sleeps longer than asked
    # waits 0.05, 0.1, 0.2, 0.2, ...: about 6 in a second; never one per keystroke
    assert 2 <= rig.backend.probes <= 8 and rig.backend.probes * 3 < asked, rig.backend.probes
    assert rig.loads == 1 and rig.kinds() == ["loading", "local"]
    # The engine comes back: a probe finds it, and the engine serves again by itself.
    rig.restart()
    until_the_engine_answers(rig)
    assert rig.kinds() == ["loading", "local", "remote"]
    assert not rig.backend.on_local
    # Down again: the loaded local model serves at once (no second load), one event more.
    rig.engine.stop()
    assert rig.ask() == "local_answer()\n"
    assert rig.loads == 1 and rig.kinds() == ["loading", "local", "remote", "local"]


def test_a_5xx_falls_back_too(rig: Rig) -> None:
    rig.engine.mode = "500"
    assert rig.ask() == "local_answer()\n"
    assert "CUDA error: out of memory (scripted)" in rig.events[-1].detail
    # /v1/models answers (404 here, below 500): the engine is up, the next request tries it
    rig.engine.mode = "ok"
    until_the_engine_answers(rig)


@pytest.mark.parametrize("status", ["401", "404"])
def test_a_4xx_is_shown_not_papered_over(rig: Rig, status: str) -> None:
    rig.engine.mode = status
    with pytest.raises(EngineFault) as fault:
        rig.ask()
    assert fault.value.status == int(status)
    assert rig.loads == 0 and rig.events == []


def test_a_local_model_that_does_not_load_is_said_once_and_not_tried_again(rig: Rig) -> None:
    rig.fail_load = True
    rig.engine.stop()
    with pytest.raises(EngineFault) as fault:
        rig.ask()
    message = str(fault.value)
    assert "cannot connect" in message and "the model file is missing" in message
    assert "qwen-lsp models pull" in message
    assert rig.kinds() == ["loading", "local-failed"]
    for _ in range(3):
        with pytest.raises(EngineFault):
            rig.ask()
    assert rig.loads == 1 and rig.kinds() == ["loading", "local-failed"]


def test_the_local_model_is_freed_once_the_engine_has_served_a_while() -> None:
    engine = ScriptedEngine()
    rig = Rig(engine, ProbeSchedule(first=0.05, most=0.2, linger=0.3))
    try:
        engine.stop()
        assert rig.ask() == "local_answer()\n"
        rig.restart()
        until_the_engine_answers(rig)
        assert not rig.local.closed  # kept a while: an engine that falls again soon
        time.sleep(0.35)
        assert rig.ask() == "scripted_answer()\n"
        assert rig.local.closed
        rig.backend.close()
    finally:
        rig.engine.stop()


def test_down_is_no_connection_5xx_or_a_broken_stream_not_a_4xx() -> None:
    assert engine_down(EngineFault("refused", retryable=True))
    assert engine_down(EngineFault("the engine answered 503: loading", status=503))
    assert engine_down(EngineFault("the engine sent nothing for 30 s (engineReadTimeout)"))
    assert not engine_down(EngineFault("the engine answered 401: key", status=401))
    assert not engine_down(EngineFault("the engine answered 404: model", status=404))


def test_the_user_is_told_once_when_the_local_model_serves_and_when_the_engine_is_back() -> None:
    level, message = fallback_notice(FallbackEvent("local", "cannot connect")) or ("", "")
    assert level == "warning" and "cannot connect" in message and "local model" in message
    assert fallback_notice(FallbackEvent("remote")) is not None
    assert fallback_notice(FallbackEvent("loading", "x")) is None  # a progress report
    assert fallback_notice(FallbackEvent("local-failed", "x")) is None  # the fault says it
