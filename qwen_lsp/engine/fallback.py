"""``engineFallback: local``: the in-process model serves while a separate engine is down.

``FallbackBackend`` is a ``Backend`` around two others: the remote engine (``remote.py``),
asked first, and the local model, built by a loader the composition root gives (loading it
is slow and costs memory: it happens on the first request that finds the engine down, never
while the engine answers). A request the engine fails because it is down (no connection,
a connection time-out, a 5xx, a stalled or broken stream: ``engine_down``) is served by the
local model instead, and the requests after it too, without knocking on the engine's door
at every keystroke: a probe (a cheap GET, ``RemoteBackend.probe``) asks whether it is back,
on a thread of its own so that no keystroke waits for a connection time-out, with waits that
double up to ``ProbeSchedule.most``. Once a probe found it answering, the next request goes
to the engine again.

A 4xx is not "down": a wrong key or model name is the user's to fix, and a local model
quietly answering instead would hide it; it is raised as before.

What the user is told comes out as ``FallbackEvent``s (the composition root turns them
into messages and a progress report): the local model being loaded, in use, failed to
load, and the engine back. Everything here runs on the model worker's thread except the
probe, which touches nothing but its own flags (under a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from qwen_lsp.engine import (
    Backend,
    EngineFault,
    Generation,
    GenerationLimits,
    KeepGoing,
    KvReuse,
    PromptPart,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

FallbackEventKind = Literal["loading", "local", "local-failed", "remote"]


@dataclass(frozen=True)
class FallbackEvent:
    """``loading``: the local model is being loaded (the engine is down: ``detail`` is its
    error); ``local``: the local model serves from now on (``detail``: the engine's error);
    ``local-failed``: it could not be loaded (``detail``: why), the engine's faults are
    shown as without a fallback; ``remote``: the engine answers again and serves."""

    kind: FallbackEventKind
    detail: str = ""


@dataclass(frozen=True)
class ProbeSchedule:
    first: float = 1.0  # seconds from the fall to the first probe
    most: float = 60.0  # the longest wait between probes
    # The local model stays loaded this long after the engine came back (an engine that
    # falls again soon does not cost another load), then it is freed.
    linger: float = 300.0


def engine_down(fault: EngineFault) -> bool:
    """Whether ``fault`` says the engine is down (the local model may stand in), rather
    than that it refused our request (4xx: a key, a model name, the user's to fix)."""
    return not 400 <= fault.status < 500


# Answers None when the engine answers, else why not (in its words or the connection's).
Probe = Callable[[], str | None]


class FallbackBackend:
    def __init__(
        self,
        remote: Backend,
        probe: Probe,
        load_local: Callable[[], Backend],
        on_event: Callable[[FallbackEvent], None] = lambda event: None,
        schedule: ProbeSchedule | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remote = remote
        self._probe = probe
        self._load_local = load_local
        self._on_event = on_event
        self._schedule = schedule or ProbeSchedule()
        self._clock = clock
        self._local: Backend | None = None
        self._local_error = ""  # why the local model did not load ("" = not tried or fine)
        self._on_local = False
        self._local_calls = 0  # calls running on the local model (a long action, nested)
        self._back_at = 0.0  # when the engine last came back
        self._lock = threading.Lock()
        self._probe_wait = self._schedule.first
        self._next_probe = 0.0
        self._probing: threading.Thread | None = None
        self._probe_found_up = False
        self.probes = 0  # probes sent (tests count them)

    # -- what serves ----------------------------------------------------------------------

    @property
    def on_local(self) -> bool:
        """Whether the local model serves now (the engine is down)."""
        return self._on_local

    def _serving(self) -> Backend:
        """The backend for the next call: the local model while the engine is down and no
        probe has found it back; the engine otherwise."""
        if self._on_local and self._local is not None:
            with self._lock:
                back, self._probe_found_up = self._probe_found_up, False
            if not back:
                self._maybe_probe()
                return self._local
            self._on_local, self._back_at = False, self._clock()
            log.info("the engine answers again: requests go to it")
            self._on_event(FallbackEvent("remote"))
        self._maybe_free_local()
        return self._remote

    def _call(self, work: Callable[[Backend], T]) -> T:
        backend = self._serving()
        if backend is not self._remote:
            return self._on(backend, work)
        try:
            return work(self._remote)
        except EngineFault as fault:
            if not engine_down(fault) or self._local_error:
                raise
            local = self._fall(fault)
        return self._on(local, work)

    def _on(self, local: Backend, work: Callable[[Backend], T]) -> T:
        self._local_calls += 1
        try:
            return work(local)
        finally:
            self._local_calls -= 1

    def _fall(self, fault: EngineFault) -> Backend:
        """The engine is down: the local model from now on (loaded if it is not), or the
        fault again, with why the local model cannot stand in."""
        error = str(fault)
        if self._local is None:
            log.warning("the engine is down (%s): loading the local model", error)
            self._on_event(FallbackEvent("loading", error))
            try:
                self._local = self._load_local()
            except Exception as exc:  # ModelUnavailable, or llama.cpp's own failure
                fix = getattr(exc, "fix", "")
                self._local_error = f"{exc}" + (f" (fix: {fix})" if fix else "")
                log.warning("the local model (engineFallback) did not load: %s", exc)
                self._on_event(FallbackEvent("local-failed", self._local_error))
                raise EngineFault(
                    f"{error}; the local model (engineFallback) did not load either: "
                    f"{self._local_error}",
                    retryable=fault.retryable,
                    status=fault.status,
                ) from fault
        now = self._clock()
        with self._lock:
            # An engine that falls again soon after it came back waits longer for its
            # next probe (no flapping between the two at every keystroke).
            if self._back_at and now - self._back_at >= self._schedule.most:
                self._probe_wait = self._schedule.first
            elif self._back_at:
                self._probe_wait = min(self._schedule.most, self._probe_wait * 2)
            self._next_probe = now + self._probe_wait
            self._probe_found_up = False
        self._on_local = True
        log.warning("the engine is down (%s): the local model serves until it answers", error)
        self._on_event(FallbackEvent("local", error))
        return self._local

    def _maybe_free_local(self) -> None:
        """Free the local model once the engine has served for a while (and no call of
        the local model is still under way, such as an action a keystroke interrupted)."""
        local = self._local
        if local is None or self._local_calls or not self._back_at:
            return
        if self._clock() - self._back_at < self._schedule.linger:
            return
        self._local = None
        log.info(
            "the engine has served for %.0f s: the local model is freed", self._schedule.linger
        )
        local.close()

    # -- the probe ------------------------------------------------------------------------

    def _maybe_probe(self) -> None:
        with self._lock:
            if self._probing is not None or self._clock() < self._next_probe:
                return
            thread = threading.Thread(
                target=self._run_probe, name="qwen-lsp-engine-probe", daemon=True
            )
            self._probing = thread
            self.probes += 1
        thread.start()

    def _run_probe(self) -> None:
        try:
            why = self._probe()
        except Exception as exc:  # a probe that fails in an unforeseen way: still down
            why = f"{exc.__class__.__name__}: {exc}"
        with self._lock:
            self._probing = None
            if why is None:
                self._probe_found_up = True
                return
            self._probe_wait = min(self._schedule.most, self._probe_wait * 2)
            self._next_probe = self._clock() + self._probe_wait
        log.info("the engine is still down (%s); next probe in %.1f s", why, self._probe_wait)

    # -- the Backend port -----------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"{self._remote.description}, the local model while it is down"

    @property
    def chat_template(self) -> str | None:
        template = getattr(self._remote, "chat_template", None)
        return template if isinstance(template, str) else None

    @property
    def prompt_rate(self) -> float:
        return self._serving_now().prompt_rate

    @property
    def keeps_states(self) -> bool:
        return self._serving_now().keeps_states

    @property
    def saved_state_bytes(self) -> int:
        # The local model's states while it is loaded, whichever engine serves now: they
        # hold memory here either way. (Read once: another thread may unload it.)
        local = self._local
        return 0 if local is None else local.saved_state_bytes

    def _serving_now(self) -> Backend:
        """The engine serving now (without probing or falling back: a property reads it)."""
        return self._local if self._on_local and self._local is not None else self._remote

    def tokenize(self, text: str) -> list[int]:
        return self._call(lambda backend: backend.tokenize(text))

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        return self._call(lambda backend: backend.kv_reuse(prompt))

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        return self._call(lambda backend: backend.hold(prompt, limits))

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        return self._call(lambda backend: backend.generate(prompt, limits, keep_going))

    def close(self) -> None:
        local, self._local = self._local, None
        try:
            self._remote.close()
        finally:
            if local is not None:
                local.close()
