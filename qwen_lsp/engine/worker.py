"""One thread owns the model; the newest request on a lane wins.

llama.cpp contexts are not thread-safe and one CPU core can only run one generation at a
time anyway, so every model call goes through this single worker. A request that is
superseded by a newer one on the same lane (a keystroke after a keystroke) is cancelled
before it starts, or stops at its next token if it is already running: nobody waits
behind stale work.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from qwen_lsp.engine import Backend, CancelToken, EngineFault

log = logging.getLogger(__name__)

T = TypeVar("T")
ModelState = Literal["unloaded", "loading", "ready", "error"]


class ModelUnavailable(Exception):
    """The model failed to load; ``fix`` tells the user how to repair it, and
    ``pull_model`` names the registry model whose download fixes it (None when another
    fix is needed), so that editors can offer a button instead of parsing ``fix``."""

    def __init__(self, message: str, fix: str = "", pull_model: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix
        self.pull_model = pull_model


@dataclass
class _Job(Generic[T]):
    lane: str
    run: Callable[[Backend, CancelToken], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    background: bool = False
    cancel: CancelToken = field(default_factory=CancelToken)


class ModelWorker:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queue: deque[_Job[Any] | _LoadJob] = deque()
        # The job on the thread, and under it any long job that let it run in between
        # (run_waiting): a stack, innermost last.
        self._running: list[_Job[Any]] = []
        self._backend: Backend | None = None
        # Whether a load has run, on the worker thread's own account: jobs submitted
        # before wait for it. (``state`` is written from the event loop's thread too, so
        # reading it here could run a job between "loading" and the load being queued.)
        self._loaded_once = False
        self.state: ModelState = "unloaded"
        self.error: ModelUnavailable | None = None
        self._thread = threading.Thread(target=self._loop, name="qwen-lsp-model", daemon=True)
        self._thread.start()

    # -- loading ---------------------------------------------------------------
    def load(
        self,
        loader: Callable[[], Backend],
        on_done: Callable[[ModelUnavailable | None], None] | None = None,
        *,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Load a model on the worker thread, replacing the current one.

        ``check`` (cheap: is the file there and sound?) runs first, while the current
        model is still loaded: when it raises ModelUnavailable the current model stays and
        keeps serving. ``on_done`` gets this load's error (None when it worked).
        """

        def run() -> None:
            failure: ModelUnavailable | None = None
            if check is not None and self._backend is not None:
                try:
                    check()
                except ModelUnavailable as exc:
                    failure = exc
                    self.state = "ready"  # the loaded model goes on serving
            if failure is None:
                failure = self._replace(loader)
            if on_done is not None:
                on_done(failure)

        with self._lock:
            self.state = "loading"
            self._queue.appendleft(_LoadJob(run))
            self._lock.notify()

    def _replace(self, loader: Callable[[], Backend]) -> ModelUnavailable | None:
        """Free the current model, then load another (never both in memory at once)."""
        old, self._backend = self._backend, None
        if old is not None:
            old.close()
        del old  # nothing here may keep the closed model alive
        self.state, self.error = "loading", None
        try:
            self._backend = loader()
            self.state = "ready"
        except ModelUnavailable as exc:
            self.state, self.error = "error", exc
        except MemoryError:
            self.state, self.error = (
                "error",
                ModelUnavailable(
                    "not enough memory to load the model",
                    "close other programs, lower contextSize or choose a smaller model",
                ),
            )
        except Exception as exc:  # a broken file can fail in many ways inside llama.cpp
            log.exception("model failed to load")
            self.state, self.error = "error", ModelUnavailable(str(exc))
        return self.error

    async def close(self) -> None:
        """Free the model on its own thread and wait for that.

        llama.cpp objects left to the interpreter's shutdown can crash it (SIGSEGV at
        exit), so every owner closes the worker when it is done.
        """

        def unload() -> Backend:
            raise ModelUnavailable("the model was closed")

        with self._lock:  # nothing else runs first: stop what runs, drop what waits
            for job in self._queue:
                if isinstance(job, _Job):
                    job.cancel.cancel("closing")
            for running in self._running:
                running.cancel.cancel("closing")
        await self.load_async(unload)

    async def load_async(
        self, loader: Callable[[], Backend], *, check: Callable[[], None] | None = None
    ) -> ModelUnavailable | None:
        """Load a model and wait for it; returns the error, if loading failed (see
        :meth:`load` for ``check``)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ModelUnavailable | None] = loop.create_future()

        def finished(error: ModelUnavailable | None) -> None:
            def settle() -> None:
                if not done.done():
                    done.set_result(error)

            _post(loop, settle)

        self.load(loader, finished, check=check)
        return await done

    # -- requests --------------------------------------------------------------
    @property
    def saved_state_bytes(self) -> int:
        """The loaded backend's saved KV states (bytes), for the status; 0 with none."""
        backend = self._backend
        return 0 if backend is None else backend.saved_state_bytes

    def submit(
        self, lane: str, run: Callable[[Backend, CancelToken], T], *, background: bool = False
    ) -> tuple[asyncio.Future[T], CancelToken]:
        """Queue ``run(backend, cancel)``; earlier jobs on ``lane`` are cancelled.

        A background job (speculation, warming) runs only when nothing else waits, and any
        foreground job cancels it: a keystroke never waits behind work nobody asked for.
        The future fails with ModelUnavailable when no model could be loaded and is
        cancelled when a newer job supersedes this one before it ran.
        """
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(lane, run, loop.create_future(), loop, background=background)
        with self._lock:
            for old in list(self._queue):
                if isinstance(old, _Job) and (
                    old.lane == lane or (old.background and not background)
                ):
                    self._queue.remove(old)
                    old.cancel.cancel("superseded")
                    _post(old.loop, old.future.cancel)
            for running in self._running:
                if running.lane == lane or (running.background and not background):
                    running.cancel.cancel("superseded")
            if background:
                self._queue.append(job)
            else:  # ahead of any background job still queued
                position = next(
                    (i for i, q in enumerate(self._queue) if isinstance(q, _Job) and q.background),
                    len(self._queue),
                )
                self._queue.insert(position, job)
            self._lock.notify()
        return job.future, job.cancel

    def run_waiting(self, before: Callable[[], None] | None = None) -> int:
        """Run the foreground jobs queued meanwhile, from inside a long job; how many ran.

        Called on the worker thread by a long job (a code action) between its prompt
        chunks and its tokens, so a keystroke's completion is answered in a fraction of a
        second instead of after the action. ``before`` is called once, just before the
        first job runs (the backend puts its live KV state aside then: only when there is
        work, since that costs a copy). Background work and model loads still wait for the
        long job.
        """
        if threading.current_thread() is not self._thread:
            raise RuntimeError("run_waiting() is for jobs running on the model worker")
        ran = 0
        while True:
            with self._lock:
                busy = {running.lane for running in self._running}
                job = next(
                    (
                        q
                        for q in self._queue
                        if isinstance(q, _Job) and not q.background and q.lane not in busy
                    ),
                    None,
                )
                if job is None or not self._running:
                    return ran
                self._queue.remove(job)
                self._running.append(job)
            if ran == 0 and before is not None:
                before()
            try:
                self._execute(job)
            finally:
                with self._lock:
                    self._running.pop()
            ran += 1

    def _loop(self) -> None:
        while True:
            with self._lock:
                # Requests that arrive before the first load (the client's settings are
                # still being fetched) wait for it instead of failing.
                while not self._queue or (
                    not self._loaded_once and not isinstance(self._queue[0], _LoadJob)
                ):
                    self._lock.wait()
                job = self._queue.popleft()
                self._running = [] if isinstance(job, _LoadJob) else [job]
            if isinstance(job, _LoadJob):
                job.run()
                self._loaded_once = True
                continue
            self._execute(job)
            with self._lock:
                self._running = []

    def _execute(self, job: _Job[Any]) -> None:
        def settle(setter: Callable[[Any], None], value: Any) -> None:
            def apply() -> None:
                if not job.future.done():
                    setter(value)

            _post(job.loop, apply)

        if job.cancel.cancelled:
            _post(job.loop, job.future.cancel)
            return
        if self._backend is None:
            error = self.error or ModelUnavailable("no model is loaded")
            settle(job.future.set_exception, error)
            return
        try:
            settle(job.future.set_result, job.run(self._backend, job.cancel))
        except EngineFault as exc:  # a separate engine's fault: its own words say enough
            log.warning("engine request failed: %s", exc)
            settle(job.future.set_exception, exc)
        except Exception as exc:
            log.exception("model job failed")
            settle(job.future.set_exception, exc)


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> None:
    """Run ``callback`` on ``loop``; a loop that has closed meanwhile wants no answer."""
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:
        log.debug("event loop closed; dropping a result")


@dataclass
class _LoadJob:
    run: Callable[[], None]
