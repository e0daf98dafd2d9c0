"""The typing replay played against the peer: llama-server driven by the llama.vim-style client.

Same files, same keystrokes, same gaps as benchmarks/typing_replay.py plays against
qwen-lsp, so the figures compare like with like. What differs is only what the peer's
client does between keystrokes (benchmarks/peer_client.py): it never cancels a request
(one at a time, the next one waits), shows cached and typed-through answers at once, and
speculates after every suggestion shown. A keystroke's suggestion is *shown* when the
client shows a non-blank suggestion before the next keystroke; its latency runs from the
keystroke to that moment, as for qwen-lsp (so `typing_metrics.summarize` reads both).

Cold figures as for qwen-lsp: the fresh 300-line file (the first request of the server),
and each file's first suggestion (opened, the client asks at the cursor and the user waits).
"""

from __future__ import annotations

import asyncio
import sysconfig
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.peer_client import PeerClient, PeerConfig
from benchmarks.peer_llama_server import PeerServer
from benchmarks.typing_memory import RssSampler, memory_summary
from benchmarks.typing_metrics import Event, event_record, is_accepted
from benchmarks.typing_plan import START_PAUSE_S, cursor_at
from benchmarks.typing_replay import ReplayLog, _cycle
from benchmarks.typing_report import fmt_s
from benchmarks.typing_sources import COLD_COL, COLD_FILE, COLD_LINE, COLD_LINES, Source


def code_points(line: str, utf16_col: int) -> int:
    """Code-point column of UTF-16 column ``utf16_col`` in ``line``."""
    units = 0
    for index, char in enumerate(line):
        if units >= utf16_col:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(line)


class _Shown:
    """Records the first suggestion shown for the current keystroke (or cold ask)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.event: Event | None = None
        self.cold: tuple[float, str] | None = None
        self.cold_started: float | None = None
        self.cold_done = asyncio.Event()

    def __call__(self, text: str) -> None:
        if not text.strip():
            return
        event = self.event
        if event is not None:
            if event.answered is None:
                event.answered, event.suggestion = self.clock(), text
        elif self.cold_started is not None and self.cold is None:
            self.cold = (self.clock() - self.cold_started, text)
            self.cold_done.set()


async def _ask_cold(client: PeerClient, shown: _Shown, timeout: float) -> tuple[float | None, str]:
    shown.event, shown.cold, shown.cold_started = None, None, shown.clock()
    shown.cold_done.clear()
    client.ask()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not shown.cold_done.is_set():
        # A blank answer shows nothing: the user would wait for the next keystroke.
        if client.in_flight is None or client.in_flight.done():
            if client.waiting is None:
                break
        await asyncio.sleep(0.01)
    shown.cold_started = None
    if shown.cold is None:
        return None, ""
    return shown.cold


async def cold_in_fresh_file(client: PeerClient, shown: _Shown, timeout: float) -> dict[str, Any]:
    lines = (Path(sysconfig.get_paths()["stdlib"]) / COLD_FILE).read_text().splitlines(True)
    lines = lines[:COLD_LINES]
    lines[COLD_LINE] = lines[COLD_LINE][:COLD_COL] + "\n"
    client.open("".join(lines), f"cold/{COLD_FILE}", COLD_LINE, COLD_COL)
    seconds, text = await _ask_cold(client, shown, timeout)
    await client.settle(timeout)
    client.close()
    return {"file": f"{COLD_FILE}[:{COLD_LINES}]", "seconds": seconds, "text": text, "error": ""}


async def replay(
    client: PeerClient,
    shown: _Shown,
    source: Source,
    clock: Callable[[], float],
    timeout: float,
    stop_at: float | None,
) -> tuple[list[Event], dict[str, Any]]:
    text = source.initial_text
    line, col = cursor_at(source.text, source.start)
    doc_lines = text.split("\n")
    client.open(text, source.path.name, line, code_points(doc_lines[line], col))
    seconds, cold_text = await _ask_cold(client, shown, timeout)
    cold = {
        "file": source.name,
        "seconds": seconds,
        "text": cold_text,
        "error": "" if seconds is not None else "nothing shown",
        "accepted": is_accepted(cold_text, source.span),
    }
    await asyncio.sleep(START_PAUSE_S)
    events: list[Event] = []
    next_at = time.monotonic()
    for index, stroke in enumerate(source.keystrokes):
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        now = time.monotonic()
        if events:
            events[-1].deadline = clock()
        event = Event(source.name, index, clock(), stroke.gap, source.span[stroke.typed :])
        event.typed = stroke.typed
        events.append(event)
        shown.event = event
        row_text = client.lines[stroke.line]
        col_cp = code_points(row_text, stroke.utf16_col)
        after = row_text[:col_cp] + stroke.text
        cursor_line_text = after.split("\n")[-1] + row_text[col_cp:]
        client.keystroke(
            stroke.text,
            stroke.line,
            col_cp,
            stroke.cursor_line,
            code_points(cursor_line_text, stroke.cursor_col),
        )
        next_at = now + stroke.gap
    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    if events:
        events[-1].deadline = clock()
    shown.event = None
    await client.settle(timeout)
    client.close()
    return events, cold


async def run_peer(
    name: str,
    server: PeerServer,
    sources: Sequence[Source],
    duration: float | None,
    timeout: float,
    rounds: int = 1,
    seed: int = 0,
    config: PeerConfig | None = None,
) -> dict[str, Any]:
    """Start ``server``, replay ``sources`` through the client, stop it; the result has the
    shape of typing_replay.run_config's (metrics, per_file, colds, tokens, memory)."""
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    print(f"\n[{name}] starting llama-server; log {server.log_path}", flush=True)
    load_seconds = await asyncio.to_thread(server.start)
    print(f"[{name}] {' '.join(server.command())}", flush=True)
    assert server.process is not None
    sampler = RssSampler(server.process.pid, clock)
    client = PeerClient(server.url, config, seed=seed, timeout=timeout)
    shown = _Shown(clock)
    client.on_show = shown
    try:
        cold = await cold_in_fresh_file(client, shown, timeout)
        print(
            f"[{name}] server ready after {load_seconds:.1f} s; cold 300-line file "
            f"{fmt_s(cold['seconds'])}",
            flush=True,
        )
        replay_started = clock()
        stop_at = None if duration is None else time.monotonic() + duration
        log = ReplayLog(name, len(sources), clock)
        for index, source in enumerate(_cycle(sources, duration is not None, rounds)):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            if server.process.poll() is not None:
                raise RuntimeError(f"llama-server exited; see {server.log_path}")
            file_events, file_cold = await replay(client, shown, source, clock, timeout, stop_at)
            log.add(index, source.name, file_events, file_cold)
        await client.shutdown()
    finally:
        await sampler.stop()
        exit_code = await asyncio.to_thread(server.stop)
    samples = sampler.samples
    stats = client.stats
    return {
        "options": {"peer": "llama-server + llama.vim-style client", "command": server.command()},
        "load_seconds": round(load_seconds, 2),
        "cold_300_line": cold,
        **log.figures(),
        "status": {"client": stats},
        "tokens": {
            "prompt": None,
            "reused": stats["tokens_cached"],
            "processed": stats["prompt_tokens"],
            "generated": stats["predicted_tokens"],
            "generated_cancelled": 0,  # the client never cancels
            "generations": stats["requests"],
            "cancelled_generations": 0,
            "requests": stats["requests"],
        },
        "memory": memory_summary(samples),
        "memory_replay": memory_summary([s for s in samples if s[0] >= replay_started]),
        "memory_after_first_round": {},
        "rss_samples": [[round(t, 2), rss] for t, rss in samples],
        "server_messages": [],
        "server_exit_code": exit_code,
        "server_log": str(server.log_path),
        "events": [event_record(e) for e in log.events],
    }
