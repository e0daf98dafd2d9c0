"""The replay client of the typing benchmark: a server over stdio, played like VS Code.

`run_config` starts one server with a configuration's initializationOptions (through
benchmarks/lsp_driver.py, shared with the other benchmarks), samples its memory, waits
for the model, asks once in a fresh 300-line file (the cold figure), then replays every
source file: opened without its span, asked once at the cursor and waited for (the
file's cold first suggestion), then retyped key by key. Per keystroke an incremental
didChange, then a new textDocument/inlineCompletion request, after `$/cancelRequest` for
the previous request if it has not answered yet, at the planned gaps. With a duration
the files are replayed in rounds until it is over. Returns the configuration's part of
the JSON report (figures from benchmarks/typing_metrics.py, every event's record).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sysconfig
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import Session, suggestion_text
from benchmarks.typing_memory import RssSampler, memory_summary
from benchmarks.typing_metrics import Event, event_record, is_accepted, median, summarize
from benchmarks.typing_plan import START_PAUSE_S, cursor_at
from benchmarks.typing_report import fmt_ms, fmt_s
from benchmarks.typing_sources import COLD_COL, COLD_FILE, COLD_LINE, COLD_LINES, Source


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


def _settle(event: Event, clock: Callable[[], float], future: Any) -> None:
    """Done-callback of a keystroke's request: when and what it answered."""
    event.answered = clock()
    try:
        event.suggestion = suggestion_text(future.result())
    except BaseException as exc:  # an error response (cancelled, invalid params, ...)
        event.error = f"{type(exc).__name__}: {exc}"


async def ask_once(
    session: Session, uri: str, line: int, col: int, timeout: float
) -> tuple[float | None, str, str]:
    """One request, waited for: (seconds or None on time-out, suggestion, error)."""
    started = time.monotonic()
    msg_id, future = session.request_inline(uri, line, col)
    if not await session.wait(future, timeout):
        session.cancel(msg_id)
        return None, "", f"no answer within {timeout:.0f} s"
    elapsed = time.monotonic() - started
    try:
        return elapsed, suggestion_text(future.result()), ""
    except Exception as exc:
        return elapsed, "", f"{type(exc).__name__}: {exc}"


async def cold_in_fresh_file(session: Session, timeout: float) -> dict[str, Any]:
    """The issue's cold figure: model loaded, a fresh 300-line file, a request mid-file."""
    lines = (Path(sysconfig.get_paths()["stdlib"]) / COLD_FILE).read_text().splitlines(True)
    lines = lines[:COLD_LINES]
    lines[COLD_LINE] = lines[COLD_LINE][:COLD_COL] + "\n"
    uri = f"file:///bench/cold/{COLD_FILE}"
    session.open(uri, "python", "".join(lines))
    seconds, text, error = await ask_once(session, uri, COLD_LINE, COLD_COL, timeout)
    session.close(uri)
    return {"file": f"{COLD_FILE}[:{COLD_LINES}]", "seconds": seconds, "text": text, "error": error}


async def replay(
    session: Session,
    source: Source,
    clock: Callable[[], float],
    timeout: float,
    stop_at: float | None,
) -> tuple[list[Event], dict[str, Any]]:
    """Open the file without its span, ask once (cold), then retype the span."""
    uri = source.uri
    session.open(uri, source.language_id, source.initial_text)
    line, col = cursor_at(source.text, source.start)
    seconds, text, error = await ask_once(session, uri, line, col, timeout)
    cold = {
        "file": source.name,
        "seconds": seconds,
        "text": text,
        "error": error,
        "accepted": is_accepted(text, source.span),
    }
    await asyncio.sleep(START_PAUSE_S)
    events: list[Event] = []
    pending: tuple[int, Any] | None = None
    next_at = time.monotonic()
    for index, stroke in enumerate(source.keystrokes):
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        if not session.alive:
            raise RuntimeError(f"the server exited; see {session.log_path}")
        await _sleep_until(next_at)
        if pending is not None and not pending[1].done():
            session.cancel(pending[0])  # VS Code cancels the previous keystroke's request
        now = time.monotonic()
        if events:
            events[-1].deadline = clock()
        session.insert(uri, stroke.line, stroke.utf16_col, stroke.text)
        event = Event(source.name, index, clock(), stroke.gap, source.span[stroke.typed :])
        event.typed = stroke.typed
        msg_id, future = session.request_inline(uri, stroke.cursor_line, stroke.cursor_col)
        future.add_done_callback(functools.partial(_settle, event, clock))
        events.append(event)
        pending = (msg_id, future)
        next_at = now + stroke.gap
    await _sleep_until(next_at)
    if events:
        events[-1].deadline = clock()
    if pending is not None and not pending[1].done():
        session.cancel(pending[0])
    session.close(uri)
    return events, cold


async def run_config(
    name: str,
    options: dict[str, Any],
    sources: Sequence[Source],
    out: Path,
    duration: float | None,
    timeout: float,
    rounds: int = 1,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One configuration's replay (``rounds`` times over the files, or for ``duration``
    seconds); ``env`` is the server's environment (default: this process's)."""
    log_path = out.with_name(f"{out.stem}.{name}.server.log")
    session = Session(options, log_path, env=env)
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    sampler: RssSampler | None = None
    print(f"\n[{name}] options {json.dumps(options)}; server log {log_path}", flush=True)
    try:
        await session.start()
        assert session.pid is not None
        sampler = RssSampler(session.pid, clock)
        await session.wait_ready()
        load_seconds = clock()
        cold = await cold_in_fresh_file(session, timeout)
        print(
            f"[{name}] model ready after {load_seconds:.1f} s; cold 300-line file "
            f"{fmt_s(cold['seconds'])}",
            flush=True,
        )
        replay_started = clock()
        first_round_done: float | None = None
        stop_at = None if duration is None else time.monotonic() + duration
        log = ReplayLog(name, len(sources), clock)
        for round_index, source in enumerate(_cycle(sources, duration is not None, rounds)):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            file_events, file_cold = await replay(session, source, clock, timeout, stop_at)
            log.add(round_index, source.name, file_events, file_cold)
            if round_index + 1 == len(sources):
                first_round_done = clock()
        status = await session.status()
    except BaseException:
        session.kill()
        raise
    finally:
        if sampler is not None:
            await sampler.stop()
    exit_code = await session.stop()
    samples = sampler.samples if sampler is not None else []
    counters = status.get("completions", {})
    return {
        "options": options,
        "load_seconds": round(load_seconds, 2),
        "cold_300_line": cold,
        **log.figures(),
        "status": status,
        "tokens": {
            "prompt": counters.get("promptTokens"),
            "reused": counters.get("reusedTokens"),
            "processed": (counters.get("promptTokens") or 0) - (counters.get("reusedTokens") or 0),
            "generated": counters.get("generatedTokens"),
            "generated_cancelled": counters.get("generatedTokensCancelled"),
            "generations": counters.get("generations"),
            "cancelled_generations": counters.get("cancelledGenerations"),
            "requests": counters.get("requests"),
        },
        "memory": memory_summary(samples),
        "memory_replay": memory_summary([s for s in samples if s[0] >= replay_started]),
        # Once every file was seen, the bounded caches (KV states, suggestions, token
        # counts) are filled: a leak shows as drift after that, a warm-up only before.
        "memory_after_first_round": memory_summary(
            [s for s in samples if first_round_done is not None and s[0] >= first_round_done]
        ),
        "rss_samples": [[round(t, 2), rss] for t, rss in samples],
        "server_messages": session.messages,
        "server_exit_code": exit_code,
        "server_log": str(log_path),
        "events": [event_record(e) for e in log.events],
    }


@dataclass
class ReplayLog:
    """A configuration's replay events, also per file and per replay of a file, with each
    file's cold start; each replay of a file is printed as it ends."""

    name: str
    files: int
    clock: Callable[[], float]
    events: list[Event] = field(default_factory=list)
    colds: list[dict[str, Any]] = field(default_factory=list)
    per_file: dict[str, list[Event]] = field(default_factory=dict)
    per_replay: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, file: str, events: list[Event], cold: dict[str, Any]) -> None:
        """The ``index``-th replay (of file ``file``): its events and cold start."""
        cold["round"] = index // max(self.files, 1)
        self.colds.append(cold)
        self.events.extend(events)
        self.per_file.setdefault(file, []).extend(events)
        figures = summarize(events)
        self.per_replay.append({"file": file, "round": cold["round"], **figures})
        print(
            f"[{self.name}] {file}: {figures['keystrokes']} keys, shown {figures['shown']}, "
            f"p50 {fmt_ms(figures['p50_ms'])}, cold {fmt_s(cold['seconds'])}, "
            f"{self.clock():.0f} s",
            flush=True,
        )

    def figures(self) -> dict[str, Any]:
        """The result's keys the replays give."""
        return {
            "cold_files": self.colds,
            "cold_files_median_s": median([c["seconds"] for c in self.colds]),
            "metrics": summarize(self.events),
            "per_file": {k: summarize(v) for k, v in self.per_file.items()},
            "per_replay": self.per_replay,
        }


def _cycle(sources: Sequence[Source], forever: bool, rounds: int = 1) -> Iterable[Source]:
    done = 0
    while True:
        yield from sources
        done += 1
        if not sources or (not forever and done >= rounds):
            return
