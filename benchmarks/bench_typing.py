"""Typing-replay benchmark: real files retyped key by key against the real server over stdio.

    .venv/bin/python -m benchmarks.bench_typing [--configs default,baseline] [--quick]
        [--duration SECONDS] [--seed N] [--files textwrap.py,zpipe.c] [--out PATH]

For each configuration (a set of initializationOptions) a fresh server is started. With
the model loaded, it first measures the cold suggestion in a freshly opened 300-line file.
Then every source file (real files of this machine, several languages and sizes, none
written for the benchmark) is opened with one function body deleted, and the body is typed
back the way VS Code drives a server: per keystroke an incremental didChange, then a new
textDocument/inlineCompletion request, after `$/cancelRequest` for the previous request if
it has not answered yet. Enter and the auto-indent that follows are one change. Gaps
between keys are seeded (lognormal around 150 ms, 60-400 ms), with pauses of 0.7-2 s
after 8% of keys and at the end of every line.

A keystroke's suggestion is *shown* when its request answers with non-blank text before
the next keystroke; its latency is from sending the didChange to that answer. A shown
suggestion would be *accepted* when the text typed next starts with its first line.
Before the first keystroke in each file the client asks once at the cursor and waits (the
user placing the cursor and looking): that is the file's cold first suggestion.

Prints a table, writes JSON (--out, default .artifacts/bench_typing.json), a latency CDF
next to it (.png) and each server's stderr (.<config>.server.log). The naive baseline
(fresh full prompt per request, no cache, no cancellation) runs in the same invocation,
so the ratio lines compare like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.lsp_driver import REPO, Session, suggestion_text, utf16_len
from qwen_lsp import languages, syntax

# -- the typist ----------------------------------------------------------------------------
GAP_MEDIAN_S = 0.150
GAP_SIGMA = 0.35
GAP_RANGE_S = (0.060, 0.400)
PAUSE_PROBABILITY = 0.08
PAUSE_RANGE_S = (0.7, 2.0)
PAUSE_THRESHOLD_S = 0.5  # a keystroke is "followed by a pause" when its gap is this long
START_PAUSE_S = 1.0  # after the cold request, before the first keystroke

SPAN_CHARS = (150, 400)
BLOCK_TYPES = frozenset({"block", "statement_block", "compound_statement"})
FUNCTION_TYPES = frozenset(
    {
        "function_definition",  # Python, C
        "function_declaration",  # JavaScript, Go
        "generator_function_declaration",
        "function_expression",
        "method_definition",  # JavaScript
        "method_declaration",  # Go
        "function_item",  # Rust
    }
)

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "baseline": {
        "kvReuse": False,
        "suggestionCache": False,
        "speculation": False,
        "cancelStale": False,
        "followTyping": False,
    },
    "no-kv-reuse": {"kvReuse": False},
    "no-cache": {"suggestionCache": False},
    "no-speculation": {"speculation": False},
    "no-cancel": {"cancelStale": False},
    "no-follow": {"followTyping": False},
    "block-fim": {"blockPrompt": "fim"},
    "no-cache-speculation": {"suggestionCache": False, "speculation": False},
    "threads-1": {"threads": 1},
}


@dataclass(frozen=True)
class Keystroke:
    """One change the editor sends: ``text`` inserted at (line, utf16_col)."""

    text: str
    line: int
    utf16_col: int
    cursor_line: int  # the cursor after the change, where the request asks
    cursor_col: int
    typed: int  # characters of the span typed once this change is in
    gap: float  # seconds until the next keystroke (or the end of the file's replay)


def chunk_span(span: str) -> list[str]:
    """The span as the changes an editor sends: one per character, except that a line
    break and the indentation after it are one change (Enter plus auto-indent)."""
    return re.findall(r"(?:\r\n|\r|\n)[ \t]*|[\s\S]", span)


def cursor_at(text: str, offset: int) -> tuple[int, int]:
    """LSP position (line, UTF-16 column) of code-point ``offset`` in ``text``."""
    before = text[:offset]
    lines = re.split(r"\r\n|\r|\n", before)
    return len(lines) - 1, utf16_len(lines[-1])


def _advance(line: int, col: int, inserted: str) -> tuple[int, int]:
    parts = re.split(r"\r\n|\r|\n", inserted)
    if len(parts) == 1:
        return line, col + utf16_len(inserted)
    return line + len(parts) - 1, utf16_len(parts[-1])


def plan_keystrokes(
    text: str, start: int, end: int, seed: int | str, max_keystrokes: int | None = None
) -> list[Keystroke]:
    """Keystrokes that retype ``text[start:end]`` into ``text`` with the span deleted.

    Pure and seeded: the same arguments give the same changes and gaps. Positions are
    those of the document as it is when each change arrives.
    """
    rng = random.Random(f"gaps:{seed}")
    span = text[start:end]
    chunks = chunk_span(span)
    if max_keystrokes is not None:
        chunks = chunks[:max_keystrokes]
    line, col = cursor_at(text, start)
    typed = 0
    strokes: list[Keystroke] = []
    for i, chunk in enumerate(chunks):
        typed += len(chunk)
        next_line, next_col = _advance(line, col, chunk)
        gap = rng.lognormvariate(math.log(GAP_MEDIAN_S), GAP_SIGMA)
        gap = min(max(gap, GAP_RANGE_S[0]), GAP_RANGE_S[1])
        pause = rng.random() < PAUSE_PROBABILITY
        pause_length = rng.uniform(*PAUSE_RANGE_S)
        last = i == len(chunks) - 1
        end_of_line = not last and chunks[i + 1][0] in "\r\n"
        if pause or end_of_line or last:
            gap = pause_length
        strokes.append(Keystroke(chunk, line, col, next_line, next_col, typed, gap))
        line, col = next_line, next_col
    return strokes


def function_bodies(text: str, language: str) -> list[list[tuple[int, int]]]:
    """The statements of each function body, as code-point spans, in file order.

    A leading Python docstring is left out (we retype code, not prose). Only bodies whose
    first statement starts its own line, so that deleting them leaves the cursor on an
    indented empty line, as after typing the opener and Enter.
    """
    data = text.encode("utf-8")
    tree = syntax.get_parser(language).parse(data)
    bodies: list[list[tuple[int, int]]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in FUNCTION_TYPES:
            continue
        body = node.child_by_field_name("body")
        if body is None or body.type not in BLOCK_TYPES:
            continue
        statements = body.named_children
        if len(statements) == 1 and statements[0].type == "statement_list":  # Go
            statements = statements[0].named_children
        if (
            statements
            and statements[0].type == "expression_statement"
            and statements[0].named_children
            and statements[0].named_children[0].type == "string"
        ):
            statements = statements[1:]
        if not statements:
            continue
        spans = [
            (
                len(data[: n.start_byte].decode("utf-8", errors="replace")),
                len(data[: n.end_byte].decode("utf-8", errors="replace")),
            )
            for n in statements
        ]
        line_start = text.rfind("\n", 0, spans[0][0]) + 1
        if text[line_start : spans[0][0]].strip() == "":
            bodies.append(spans)
    return sorted(bodies)


def choose_span(
    text: str, language: str, seed: int | str, chars: tuple[int, int] = SPAN_CHARS
) -> tuple[int, int]:
    """A span of ``chars`` characters to retype, picked by ``seed`` among:

    1. whole function bodies of that size; else
    2. the first statements of a longer body (the longest run that fits); else
    3. the body whose size is closest.
    """
    bodies = function_bodies(text, language)
    if not bodies:
        raise ValueError(f"no function body found ({language})")
    low, high = chars
    whole = [(b[0][0], b[-1][1]) for b in bodies]
    fitting = [(s, e) for s, e in whole if low <= e - s <= high]
    if not fitting:
        for body in bodies:
            ends = [e for _, e in body if low <= e - body[0][0] <= high]
            if ends:
                fitting.append((body[0][0], max(ends)))
    if not fitting:
        distance = [max(low - (e - s), (e - s) - high) for s, e in whole]
        fitting = [span for span, d in zip(whole, distance, strict=True) if d == min(distance)]
    return random.Random(f"span:{seed}").choice(sorted(fitting))


# -- the files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceSpec:
    name: str
    language_id: str
    note: str
    candidates: Callable[[], list[Path]]


def _stdlib(name: str) -> Callable[[], list[Path]]:
    return lambda: [Path(sysconfig.get_paths()["stdlib"]) / name]


def _npm(relative: str) -> Callable[[], list[Path]]:
    def find() -> list[Path]:
        roots = [Path("/usr/lib/node_modules/npm"), Path("/usr/local/lib/node_modules/npm")]
        npm = shutil.which("npm")
        if npm:  # bin/npm -> .../node_modules/npm/bin/npm-cli.js
            roots.insert(0, Path(npm).resolve().parent.parent)
        return [root / relative for root in roots]

    return find


def _paths(*patterns: str) -> Callable[[], list[Path]]:
    def find() -> list[Path]:
        found: list[Path] = []
        for pattern in patterns:
            path = Path(pattern).expanduser()
            anchor = Path(path.anchor)
            found.extend(sorted(anchor.glob(str(path.relative_to(anchor)))))
        return found

    return find


SOURCES: list[SourceSpec] = [
    SourceSpec(
        "textwrap.py", "python", "stdlib, ~500 lines (the reference)", _stdlib("textwrap.py")
    ),
    SourceSpec("copy.py", "python", "stdlib, ~300 lines", _stdlib("copy.py")),
    SourceSpec("difflib.py", "python", "stdlib, ~2000 lines", _stdlib("difflib.py")),
    SourceSpec("cache.js", "javascript", "npm's own lib/commands", _npm("lib/commands/cache.js")),
    SourceSpec(
        "zpipe.c",
        "c",
        "zlib example",
        _paths(
            "/usr/share/doc/zlib1g-dev/examples/zpipe.c",
            "/usr/share/doc/*/examples/*.c",
            "/usr/include/X11/Xtrans/Xtransutil.c",
        ),
    ),
    SourceSpec(
        "client.go",
        "go",
        "git contrib",
        _paths(
            "/usr/share/doc/git/contrib/persistent-https/client.go",
            "/usr/lib/go*/src/strings/strings.go",
            "/usr/local/go/src/strings/strings.go",
        ),
    ),
    SourceSpec(
        "main.rs",
        "rust",
        "rustup docs",
        _paths(
            "~/.rustup/toolchains/*/share/doc/rust/html/error_codes/main.rs",
            "~/.rustup/toolchains/*/lib/rustlib/src/rust/library/core/src/str/mod.rs",
        ),
    ),
]

COLD_FILE = "queue.py"  # first 300 lines, the cursor after 20 characters of line 199
COLD_LINE, COLD_COL, COLD_LINES = 198, 20, 300


@dataclass
class Source:
    name: str
    language_id: str
    path: Path
    text: str
    start: int
    end: int
    keystrokes: list[Keystroke]

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    @property
    def span(self) -> str:
        return self.text[self.start : self.end]

    @property
    def initial_text(self) -> str:
        return self.text[: self.start] + self.text[self.end :]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language_id,
            "path": str(self.path),
            "lines": self.text.count("\n") + 1,
            "span_lines": [
                cursor_at(self.text, self.start)[0] + 1,
                cursor_at(self.text, self.end)[0] + 1,
            ],
            "span_chars": self.end - self.start,
            "keystrokes": len(self.keystrokes),
            "typed_chars": self.keystrokes[-1].typed if self.keystrokes else 0,
        }


def load_sources(
    names: Sequence[str] | None, seed: int, max_keystrokes: int | None
) -> tuple[list[Source], list[str]]:
    """The named sources present on this machine, and why the others were skipped."""
    sources: list[Source] = []
    skipped: list[str] = []
    for spec in SOURCES:
        if names and spec.name not in names:
            continue
        path = next((p for p in spec.candidates() if p.is_file()), None)
        if path is None:
            skipped.append(f"{spec.name} ({spec.language_id}): no such file on this machine")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        language = languages.language_for(spec.language_id, path.as_uri())
        try:
            start, end = choose_span(text, language or spec.language_id, f"{seed}:{spec.name}")
        except ValueError as exc:
            skipped.append(f"{spec.name} ({spec.language_id}): {exc}")
            continue
        strokes = plan_keystrokes(text, start, end, f"{seed}:{spec.name}", max_keystrokes)
        sources.append(Source(spec.name, spec.language_id, path, text, start, end, strokes))
    return sources, skipped


# -- what happened -------------------------------------------------------------------------
@dataclass
class Event:
    """One keystroke's request and what came of it (times in s since the run started)."""

    file: str
    index: int
    sent: float
    gap: float  # planned time to the next keystroke
    rest: str = field(repr=False)  # what the user types next (rest of the span)
    deadline: float | None = None  # when the next keystroke went out (the answer is stale)
    answered: float | None = None
    suggestion: str = ""
    error: str = ""


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_visible(suggestion: str) -> bool:
    return suggestion.strip() != ""


def is_accepted(suggestion: str, rest: str) -> bool:
    """Would the user accept it: the text typed next starts with its first line.

    "First line" is up to the end of the first non-blank line (a suggestion may start with
    a line break), trailing whitespace stripped. Blank suggestions are never accepted.
    """
    if not is_visible(suggestion):
        return False
    lines = _normal(suggestion).split("\n")
    head: list[str] = []
    for line in lines:
        head.append(line)
        if line.strip():
            break
    return _normal(rest).startswith("\n".join(head).rstrip())


def outcome(event: Event) -> str:
    """shown | empty | late | cancelled | error | unanswered."""
    if event.answered is None:
        return "unanswered"
    if event.error:
        return "cancelled" if "cancel" in event.error.lower() else "error"
    if event.deadline is not None and event.answered > event.deadline:
        return "late"
    return "shown" if is_visible(event.suggestion) else "empty"


def latency(event: Event) -> float | None:
    """Seconds from keystroke to the suggestion shown; None when nothing was shown."""
    if outcome(event) != "shown" or event.answered is None:
        return None
    return event.answered - event.sent


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    if math.isinf(ordered[low]) or (math.isinf(ordered[high]) and rank > low):
        return math.inf
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(seconds: float | None) -> float | None:
    if seconds is None or math.isinf(seconds):
        return None
    return round(seconds * 1000, 1)


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def summarize(events: Sequence[Event]) -> dict[str, Any]:
    """Figures of a replay (pure). Latency percentiles are over shown suggestions; *_all
    counts keystrokes without a suggestion as infinitely slow (None when > that share)."""
    latencies = [latency(e) for e in events]
    shown = [x for x in latencies if x is not None]
    every = [math.inf if x is None else x for x in latencies]
    paused = [x for e, x in zip(events, every, strict=True) if e.gap >= PAUSE_THRESHOLD_S]
    accepted = sum(
        1
        for e, x in zip(events, latencies, strict=True)
        if x is not None and is_accepted(e.suggestion, e.rest)
    )
    outcomes: dict[str, int] = {}
    for e in events:
        outcomes[outcome(e)] = outcomes.get(outcome(e), 0) + 1
    return {
        "keystrokes": len(events),
        "shown": len(shown),
        "outcomes": outcomes,
        "p50_ms": _ms(percentile(shown, 50)),
        "p95_ms": _ms(percentile(shown, 95)),
        "p99_ms": _ms(percentile(shown, 99)),
        "p50_all_ms": _ms(percentile(every, 50)),
        "p95_all_ms": _ms(percentile(every, 95)),
        "share_300ms": _share(sum(x <= 0.3 for x in every), len(every)),
        "share_1s": _share(sum(x <= 1.0 for x in every), len(every)),
        "pause_keystrokes": len(paused),
        "pause_share_300ms": _share(sum(x <= 0.3 for x in paused), len(paused)),
        "pause_share_1s": _share(sum(x <= 1.0 for x in paused), len(paused)),
        "accepted": accepted,
        "accept_rate": _share(accepted, len(shown)),
    }


def memory_summary(samples: Sequence[tuple[float, int]], window_s: float = 60.0) -> dict[str, Any]:
    """RSS figures from (seconds, bytes) samples (pure): peak, start/end, and the drift
    between the mean of the first and the last ``window_s`` (a quarter of a short run)."""
    if not samples:
        return {"samples": 0}
    mb = [(t, rss / 2**20) for t, rss in samples]
    span = mb[-1][0] - mb[0][0]
    window = window_s if span >= 2 * window_s else max(span / 4, 0.0)
    first = [v for t, v in mb if t <= mb[0][0] + window]
    last = [v for t, v in mb if t >= mb[-1][0] - window]
    first_mean, last_mean = statistics.fmean(first), statistics.fmean(last)
    return {
        "samples": len(mb),
        "seconds": round(span, 1),
        "peak_mb": round(max(v for _, v in mb), 1),
        "start_mb": round(mb[0][1], 1),
        "end_mb": round(mb[-1][1], 1),
        "window_s": round(window, 1),
        "first_window_mean_mb": round(first_mean, 1),
        "last_window_mean_mb": round(last_mean, 1),
        "drift_pct": round((last_mean - first_mean) / first_mean * 100, 2),
    }


# -- the driver ----------------------------------------------------------------------------
class RssSampler:
    """Samples the server's resident memory every ``every`` seconds in the background."""

    def __init__(self, pid: int, clock: Callable[[], float], every: float = 0.5) -> None:
        self.process = psutil.Process(pid)
        self.clock = clock
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                self.samples.append((self.clock(), self.process.memory_info().rss))
            except psutil.Error:
                return
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


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


def _event_record(event: Event) -> dict[str, Any]:
    record = {k: v for k, v in asdict(event).items() if k != "rest"}
    for key in ("sent", "gap", "deadline", "answered"):
        if record[key] is not None:
            record[key] = round(record[key], 4)
    record["outcome"] = outcome(event)
    record["latency_ms"] = _ms(latency(event))
    record["accepted"] = record["latency_ms"] is not None and is_accepted(
        event.suggestion, event.rest
    )
    return record


async def run_config(
    name: str,
    options: dict[str, Any],
    sources: Sequence[Source],
    out: Path,
    duration: float | None,
    timeout: float,
) -> dict[str, Any]:
    log_path = out.with_name(f"{out.stem}.{name}.server.log")
    session = Session(options, log_path)
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
            f"{_fmt_s(cold['seconds'])}",
            flush=True,
        )
        replay_started = clock()
        first_round_done: float | None = None
        stop_at = None if duration is None else time.monotonic() + duration
        events: list[Event] = []
        colds: list[dict[str, Any]] = []
        per_file: dict[str, list[Event]] = {}
        for round_index, source in enumerate(_cycle(sources, duration is not None)):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            file_events, file_cold = await replay(session, source, clock, timeout, stop_at)
            file_cold["round"] = round_index // max(len(sources), 1)
            if round_index + 1 == len(sources):
                first_round_done = clock()
            colds.append(file_cold)
            events.extend(file_events)
            per_file.setdefault(source.name, []).extend(file_events)
            figures = summarize(file_events)
            print(
                f"[{name}] {source.name}: {figures['keystrokes']} keys, shown {figures['shown']}, "
                f"p50 {_fmt_ms(figures['p50_ms'])}, cold {_fmt_s(file_cold['seconds'])}, "
                f"{clock():.0f} s",
                flush=True,
            )
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
        "cold_files": colds,
        "cold_files_median_s": _median([c["seconds"] for c in colds]),
        "metrics": summarize(events),
        "per_file": {k: summarize(v) for k, v in per_file.items()},
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
        "events": [_event_record(e) for e in events],
    }


def _cycle(sources: Sequence[Source], forever: bool) -> Iterable[Source]:
    while True:
        yield from sources
        if not forever or not sources:
            return


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


# -- output --------------------------------------------------------------------------------
def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f}s" if value >= 10_000 else f"{value:.0f}ms"


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def table(results: dict[str, dict[str, Any]]) -> str:
    header = (
        "config", "keys", "shown", "p50", "p95", "p99", "<=300ms", "<=1s", "pause<=300ms",
        "accept", "prompt proc/reused", "cancel-gen", "peak RSS", "cold file", "cold 300-line",
    )  # fmt: skip
    rows = [header]
    for name, r in results.items():
        m, tokens = r["metrics"], r["tokens"]
        rows.append(
            (
                name,
                str(m["keystrokes"]),
                str(m["shown"]),
                _fmt_ms(m["p50_ms"]),
                _fmt_ms(m["p95_ms"]),
                _fmt_ms(m["p99_ms"]),
                _fmt_pct(m["share_300ms"]),
                _fmt_pct(m["share_1s"]),
                _fmt_pct(m["pause_share_300ms"]),
                _fmt_pct(m["accept_rate"]) + f" ({m['accepted']}/{m['shown']})",
                f"{tokens['processed']}/{tokens['reused']}",
                str(tokens["generated_cancelled"]),
                f"{r['memory'].get('peak_mb', 0):.0f}MB",
                _fmt_s(r["cold_files_median_s"]),
                _fmt_s(r["cold_300_line"]["seconds"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ratio(slow: float | None, fast: float | None) -> float | None:
    if slow is None or fast is None or fast <= 0:
        return None
    return round(slow / fast, 1)


def paired_accept(
    first: Sequence[dict[str, Any]], second: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Would-accept of two configurations on the same keystrokes (pure).

    A faster configuration shows suggestions at keystrokes where a slower one shows none
    in time, often the harder ones, so their overall rates compare different keystrokes.
    Compared here: the keystrokes where both showed one (same seed, same replay), and
    accepted suggestions per keystroke typed.
    """
    both = [
        (a, b)
        for a, b in zip(first, second, strict=False)
        if a["latency_ms"] is not None and b["latency_ms"] is not None
    ]
    keys = min(len(first), len(second))
    accepted = tuple(sum(pair[i]["accepted"] for pair in both) for i in (0, 1))
    total = tuple(sum(e["accepted"] for e in events[:keys]) for events in (first, second))
    return {
        "both": len(both),
        "accepted": accepted,
        "per_keystroke": tuple(_share(n, keys) for n in total),
    }


def comparisons(results: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    found: dict[str, Any] = {}
    lines: list[str] = []
    base = results.get("baseline")
    if base is not None:
        b = base["metrics"]
        # With VS Code's cancels and no cancellation in the server, the baseline's queue of
        # full-prompt generations grows with every keystroke and it may show nothing at
        # all; its single unqueued request (the cold 300-line figure) is then the fairest
        # finite yardstick, a lower bound on the real ratio.
        single = base["cold_300_line"]["seconds"]
        single_ms = None if single is None else single * 1000
        for name, r in results.items():
            if name == "baseline":
                continue
            m = r["metrics"]
            p50, p95 = ratio(b["p50_ms"], m["p50_ms"]), ratio(b["p95_ms"], m["p95_ms"])
            vs_single = {
                "p50": ratio(single_ms, m["p50_ms"]),
                "p95": ratio(single_ms, m["p95_ms"]),
            }
            found[f"{name}_vs_baseline"] = {
                "p50": p50,
                "p95": p95,
                "shown": m["shown"],
                "baseline_shown": b["shown"],
                "vs_baseline_single_request": vs_single,
            }
            if not m["shown"]:
                head = f"p50 and p95 n/a ({name} showed no suggestion)"
            elif not b["shown"]:
                head = "p50 and p95 unbounded (the baseline showed no suggestion)"
            else:
                head = f"p50 {_fmt_x(p50)}, p95 {_fmt_x(p95)}"
            lines.append(
                f"{name} vs baseline: {head}; shown {m['shown']}/{m['keystrokes']} vs "
                f"{b['shown']}/{b['keystrokes']}, within 1 s {_fmt_pct(m['share_1s'])} vs "
                f"{_fmt_pct(b['share_1s'])}"
            )
            lines.append(
                f"  {name} vs one unqueued baseline request ({_fmt_s(single)}): "
                f"p50 {_fmt_x(vs_single['p50'])}, p95 {_fmt_x(vs_single['p95'])}"
            )
    if "default" in results and "no-cache-speculation" in results:
        on = results["default"]["metrics"]["accept_rate"]
        off = results["no-cache-speculation"]["metrics"]["accept_rate"]
        found["accept_default_vs_no_cache_speculation"] = {"default": on, "off": off}
        lines.append(
            f"would-accept: default {_fmt_pct(on)} vs cache+speculation off {_fmt_pct(off)}"
        )
    if "default" in results:
        for name, r in results.items():
            if name in ("default", "baseline"):
                continue
            pair = paired_accept(results["default"]["events"], r["events"])
            found[f"accept_paired_default_vs_{name}"] = pair
            lines.append(
                f"would-accept where both show a suggestion ({pair['both']} keystrokes): "
                f"default {pair['accepted'][0]} vs {name} {pair['accepted'][1]}; accepted per "
                f"keystroke {_fmt_pct(pair['per_keystroke'][0])} vs "
                f"{_fmt_pct(pair['per_keystroke'][1])}"
            )
    for name, r in results.items():
        steady = r.get("memory_after_first_round", {})
        if steady.get("samples") and steady["seconds"] >= 120:
            lines.append(
                f"{name} memory after the first round over all files: "
                f"{steady['start_mb']:.0f} -> {steady['end_mb']:.0f} MB over "
                f"{steady['seconds']:.0f} s, drift {steady['drift_pct']:+.1f}% "
                f"(first vs last {steady['window_s']:.0f} s), peak {steady['peak_mb']:.0f} MB"
            )
        memory = r["memory_replay"]
        if memory.get("samples"):
            lines.append(
                f"{name} memory over the replay: {memory['start_mb']:.0f} -> "
                f"{memory['end_mb']:.0f} MB, drift {memory['drift_pct']:+.1f}% "
                f"(first vs last {memory['window_s']:.0f} s)"
            )
    return found, lines


def _fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def plot_cdf(results: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in results.items():
        events = r["events"]
        shown = sorted(e["latency_ms"] for e in events if e["latency_ms"] is not None)
        if not events:
            continue
        xs = [max(x, 1.0) for x in shown]
        ys = [(i + 1) / len(events) for i in range(len(shown))]
        ax.step(xs, ys, where="post", label=f"{name} ({len(shown)}/{len(events)} shown)")
    for limit in (300, 1000):
        ax.axvline(limit, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(1, 20_000)
    ax.set_ylim(0, 1)
    ax.set_xlabel("keystroke to suggestion shown (ms, log)")
    ax.set_ylabel("share of all keystrokes")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


async def main_async(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"unknown configuration(s): {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        return 2
    files = [f.strip() for f in args.files.split(",")] if args.files else None
    sources, skipped = load_sources(files, args.seed, args.max_keystrokes)
    if not sources:
        print("no source files found")
        return 2
    print(f"seed {args.seed}; files:")
    for s in sources:
        d = s.describe()
        print(
            f"  {d['name']:<12} {d['language']:<10} {d['lines']:>5} lines, span lines "
            f"{d['span_lines'][0]}-{d['span_lines'][1]} ({d['span_chars']} chars, "
            f"{d['keystrokes']} keystrokes)  {d['path']}"
        )
    for reason in skipped:
        print(f"  skipped {reason}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    model = {"model": args.model} if args.model else {}
    for name in names:
        try:
            results[name] = await run_config(
                name, {**model, **CONFIGS[name]}, sources, out, args.duration, args.request_timeout
            )
        except Exception as exc:  # one broken configuration must not lose the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"[{name}] FAILED: {failed[name]}", flush=True)
    print()
    print(table(results))
    found, lines = comparisons(results)
    print()
    for line in lines:
        print(line)
    document = {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": _git_commit(),
            "seed": args.seed,
            "model": args.model or "default",
            "quick": args.quick,
            "duration": args.duration,
            "max_keystrokes": args.max_keystrokes,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "gaps": {
                "median_s": GAP_MEDIAN_S,
                "range_s": GAP_RANGE_S,
                "pause_probability": PAUSE_PROBABILITY,
                "pause_range_s": PAUSE_RANGE_S,
                "pause_threshold_s": PAUSE_THRESHOLD_S,
            },
        },
        "sources": [s.describe() for s in sources],
        "skipped": skipped,
        "failed": failed,
        "comparisons": found,
        "configs": results,
    }
    out.write_text(json.dumps(document, indent=1))
    png = out.with_suffix(".png")
    plot_cdf(results, png, f"typing replay, {len(sources)} files, seed {args.seed}")
    print(f"\nwrote {out} and {png}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--configs", default="", help=f"comma list of: {', '.join(CONFIGS)}")
    parser.add_argument("--quick", action="store_true", help="one file, 40 keystrokes")
    parser.add_argument("--files", default="", help="comma list of file names (see SOURCES)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-keystrokes", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="replay for this long (s)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_typing.json"))
    args = parser.parse_args()
    args.configs = args.configs or "default,baseline"
    if args.quick:
        args.files = args.files or "textwrap.py"
        args.max_keystrokes = args.max_keystrokes or 40
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
