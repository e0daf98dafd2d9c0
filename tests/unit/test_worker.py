"""The single model worker: loading, newest-wins, cancellation within a token."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from qwen_lsp.engine import Backend, CancelToken, GenerationLimits
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.worker import ModelUnavailable, ModelWorker


def slow_backend() -> FakeBackend:
    return FakeBackend({"": "x" * 100}, seconds_per_token=0.005)


def yielding_job(worker: ModelWorker) -> Callable[[Backend, CancelToken], str]:
    """A generation that lets jobs queued on ``worker`` run between its tokens."""

    def job(backend: Backend, cancel: CancelToken) -> str:
        limits = GenerationLimits(
            max_tokens=1000,
            max_seconds=10,
            cancel=cancel,
            yield_point=lambda before: worker.run_waiting(before) > 0,
        )
        return backend.generate(["prompt"], limits, lambda _: True).text

    return job


def generate_job(backend: Backend, cancel: CancelToken) -> str:
    limits = GenerationLimits(max_tokens=1000, max_seconds=10, cancel=cancel)
    return backend.generate(["prompt"], limits, lambda _: True).text


async def test_load_then_run() -> None:
    worker = ModelWorker()
    assert await worker.load_async(slow_backend) is None
    assert worker.state == "ready"
    future, _ = worker.submit("a", lambda backend, cancel: backend.description)
    assert await future == "fake backend (tests only)"


async def test_a_job_submitted_before_the_first_load_waits_for_it_whatever_the_state_says() -> None:
    # The first request of a session starts the first load: the state may read
    # "loading" (written on the event loop's thread) and the worker may wake before the
    # load job is queued. The job must still wait for the load, not fail "no model".
    worker = ModelWorker()
    future, _ = worker.submit("a", lambda backend, cancel: backend.description)
    worker.state = "loading"
    with worker._lock:
        worker._lock.notify()
    await asyncio.sleep(0.2)
    assert not future.done()
    assert await worker.load_async(slow_backend) is None
    assert await future == "fake backend (tests only)"


async def test_failed_load_reports_and_jobs_fail_fast() -> None:
    def broken() -> Backend:
        raise ModelUnavailable("model file is truncated", "qwen-lsp models pull x")

    worker = ModelWorker()
    error = await worker.load_async(broken)
    assert error is not None and error.fix == "qwen-lsp models pull x"
    assert worker.state == "error"
    future, _ = worker.submit("a", generate_job)
    with pytest.raises(ModelUnavailable):
        await future


async def test_newest_request_on_a_lane_wins() -> None:
    worker = ModelWorker()
    await worker.load_async(slow_backend)
    first, first_cancel = worker.submit("completion", generate_job)
    await asyncio.sleep(0.05)  # first is running now
    queued, _ = worker.submit("completion", generate_job)
    started = time.monotonic()
    newest, _ = worker.submit("completion", generate_job)
    # The running one stops within a token or two; the queued one never runs.
    first_text = await first
    assert first_cancel.cancelled and first_cancel.reason == "superseded"
    assert len(first_text) < 40
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await newest == "x" * 100
    assert time.monotonic() - started < 5


async def test_other_lanes_are_not_cancelled() -> None:
    worker = ModelWorker()
    await worker.load_async(slow_backend)
    action, action_cancel = worker.submit("action", generate_job)
    completion, _ = worker.submit("completion", generate_job)
    assert await action == "x" * 100
    assert not action_cancel.cancelled
    assert await completion == "x" * 100


async def test_cancel_token_stops_running_generation() -> None:
    worker = ModelWorker()
    await worker.load_async(slow_backend)
    future, cancel = worker.submit("completion", generate_job)
    await asyncio.sleep(0.05)
    stopped_at = time.monotonic()
    cancel.cancel()
    text = await future
    assert time.monotonic() - stopped_at < 0.2
    assert 0 < len(text) < 40


async def test_foreground_job_preempts_background_work() -> None:
    worker = ModelWorker()
    await worker.load_async(slow_backend)
    speculative, speculative_cancel = worker.submit("speculation", generate_job, background=True)
    queued_background, _ = worker.submit("warm", generate_job, background=True)
    await asyncio.sleep(0.05)  # the speculative job is running
    started = time.monotonic()
    real, _ = worker.submit("completion", generate_job)
    assert await real == "x" * 100
    assert time.monotonic() - started < 1.0  # did not wait for the background jobs
    assert speculative_cancel.cancelled
    assert len(await speculative) < 40
    with pytest.raises(asyncio.CancelledError):
        await queued_background


async def test_background_job_waits_for_foreground_queue() -> None:
    worker = ModelWorker()
    await worker.load_async(slow_backend)
    order: list[str] = []

    def note(name: str):  # type: ignore[no-untyped-def]
        def job(backend: Backend, cancel: CancelToken) -> str:
            order.append(name)
            return name

        return job

    blocker, _ = worker.submit("a", generate_job)
    background, _ = worker.submit("bg", note("background"), background=True)
    foreground, _ = worker.submit("b", note("foreground"))
    await blocker
    await foreground
    # The background job was cancelled by the later foreground submit.
    with pytest.raises(asyncio.CancelledError):
        await background
    assert order == ["foreground"]


async def test_a_long_job_lets_waiting_foreground_jobs_run_between_its_tokens() -> None:
    worker = ModelWorker()
    await worker.load_async(lambda: FakeBackend({"": "x" * 400}, seconds_per_token=0.005))
    order: list[str] = []

    def long_job(backend: Backend, cancel: CancelToken) -> str:
        text = yielding_job(worker)(backend, cancel)
        order.append("long")
        return text

    def short_job(name: str):  # type: ignore[no-untyped-def]
        def job(backend: Backend, cancel: CancelToken) -> str:
            order.append(name)
            return name

        return job

    action, _ = worker.submit("action", long_job)
    await asyncio.sleep(0.05)  # the long job is generating
    started = time.monotonic()
    completion, _ = worker.submit("completion", short_job("completion"))
    assert await completion == "completion"
    assert time.monotonic() - started < 1.0  # not after the long job's 2 s
    background, _ = worker.submit("speculation", short_job("background"), background=True)
    assert await action == "x" * 400  # interrupted, not cut short
    assert await background == "background"  # background work still waited for it
    assert order == ["completion", "long", "background"]


async def test_run_waiting_calls_before_once_and_only_when_work_runs() -> None:
    worker = ModelWorker()
    await worker.load_async(FakeBackend)
    calls: list[str] = []
    checked, release = threading.Event(), threading.Event()

    def long_job(backend: Backend, cancel: CancelToken) -> list[int]:
        ran = [worker.run_waiting(lambda: calls.append("before"))]  # nothing waits yet
        checked.set()
        release.wait(5)
        ran.append(worker.run_waiting(lambda: calls.append("before")))
        return ran

    def short_job(name: str) -> Callable[[Backend, CancelToken], str]:
        def job(backend: Backend, cancel: CancelToken) -> str:
            calls.append(name)
            return name

        return job

    action, _ = worker.submit("action", long_job)
    assert await asyncio.to_thread(checked.wait, 5)
    first, _ = worker.submit("completion", short_job("completion"))
    second, _ = worker.submit("other", short_job("other"))
    release.set()
    assert await action == [0, 2]
    assert await first == "completion" and await second == "other"
    # The backend puts its state aside once per interruption, before the first job.
    assert calls == ["before", "completion", "other"]


async def test_run_waiting_is_only_for_the_worker_thread() -> None:
    worker = ModelWorker()
    with pytest.raises(RuntimeError):
        worker.run_waiting()


async def test_a_long_job_interrupted_by_another_can_still_be_superseded() -> None:
    worker = ModelWorker()
    await worker.load_async(lambda: FakeBackend({"": "x" * 400}, seconds_per_token=0.005))
    nested_started = threading.Event()

    long_job = yielding_job(worker)

    def nested_job(backend: Backend, cancel: CancelToken) -> str:
        nested_started.set()
        time.sleep(0.3)
        return "nested"

    action, action_cancel = worker.submit("action", long_job)
    await asyncio.sleep(0.05)
    nested, _ = worker.submit("completion", nested_job)
    assert await asyncio.to_thread(nested_started.wait, 5)
    newer, _ = worker.submit("action", lambda backend, cancel: "newer")
    assert action_cancel.cancelled  # at once, though the nested job is the one running
    assert await nested == "nested"
    assert len(await action) < 400
    assert await newer == "newer"


async def test_a_reload_that_fails_its_check_leaves_the_loaded_model_serving() -> None:
    worker = ModelWorker()
    assert await worker.load_async(lambda: FakeBackend({"": "old"})) is None

    def missing() -> None:
        raise ModelUnavailable("model file x.gguf does not exist", "qwen-lsp models pull x")

    def never() -> Backend:
        raise AssertionError("the load goes no further than its check")

    error = await worker.load_async(never, check=missing)
    assert error is not None and error.fix == "qwen-lsp models pull x"
    assert worker.state == "ready" and worker.error is None
    future, _ = worker.submit("a", generate_job)
    assert await future == "old"


async def test_a_reload_frees_the_old_model_before_loading_the_new_one() -> None:
    closed: list[str] = []

    class Closing(FakeBackend):
        def close(self) -> None:
            closed.append("old")

    worker = ModelWorker()
    await worker.load_async(Closing)

    def new() -> Backend:
        assert closed == ["old"]  # never both in memory
        return FakeBackend()

    assert await worker.load_async(new, check=lambda: None) is None
    assert worker.state == "ready"


async def test_the_saved_states_bytes_are_the_loaded_backends() -> None:
    """The status reads them from the event loop while the worker may be busy."""
    worker = ModelWorker()
    assert worker.saved_state_bytes == 0  # nothing loaded
    backend = slow_backend()
    backend.saved_state_bytes = 54 << 20
    assert await worker.load_async(lambda: backend) is None
    future, _ = worker.submit("a", generate_job)
    assert worker.saved_state_bytes == 54 << 20  # while a job runs
    await future
