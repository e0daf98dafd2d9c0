"""What happened at each keystroke of the typing replay, and the figures made of it (pure).

A keystroke's request ends *shown* (non-blank text before the next keystroke), *empty*,
*late* (answered after the next keystroke went out), *cancelled*, *error* or
*unanswered*; its latency runs from the didChange to the answer of a shown suggestion. A
shown suggestion would be *accepted* when the text typed next starts with its first line.
`summarize` turns a replay's events into latency percentiles and shares and the headline
figures (`chars_saved`: the share of typed characters a user accepting every right
suggestion would have saved; pauses served with an acceptable suggestion within 300 ms),
`event_record` one event into its JSON record, `paired_accept` compares two
configurations' records on the same keystrokes. benchmarks/typing_replay.py records the
events; no server here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.typing_plan import PAUSE_THRESHOLD_S


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
    typed: int | None = None  # characters of the span typed once this keystroke is in


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


def _head(suggestion: str) -> str:
    """The first line as `is_accepted` reads it (through the first non-blank line)."""
    head: list[str] = []
    for line in _normal(suggestion).split("\n"):
        head.append(line)
        if line.strip():
            break
    return "\n".join(head).rstrip()


def accepted_chars(suggestion: str, rest: str, whole: bool = False) -> int:
    """Characters a user saves by accepting ``suggestion`` when ``rest`` is typed next: the
    length of its first line (``whole``: of all of it, trailing whitespace aside) when the
    text typed next starts with it, else 0."""
    if not is_visible(suggestion):
        return 0
    part = _normal(suggestion).rstrip() if whole else _head(suggestion)
    return len(part) if _normal(rest).startswith(part) else 0


def replays(events: Sequence[Event]) -> list[list[Event]]:
    """``events`` cut into the replays they come from (a new file, or the keystroke index
    starting again: the next round)."""
    runs: list[list[Event]] = []
    for event in events:
        if runs and event.file == runs[-1][-1].file and event.index > runs[-1][-1].index:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


def _typed(event: Event, first: Event) -> int:
    if event.typed is not None:
        return event.typed
    # Without the count: the position relative to the replay's first keystroke.
    return len(_normal(first.rest)) - len(_normal(event.rest)) + 1


def chars_saved(events: Sequence[Event], whole: bool = False) -> tuple[int, int]:
    """(characters saved, characters typed) over the replays in ``events``, for a user who
    accepts every suggestion shown whose first line (``whole``: whole text) is what they
    type next. Accepted text is not typed, so keystrokes inside it are skipped: the
    replay's next suggestion counts only from the keystroke that reaches its end. Only
    what the replay typed counts (a suggestion running past its last keystroke is cut)."""
    saved = typed_total = 0
    for run in replays(events):
        first = run[0]
        end = _typed(run[-1], first)
        covered = 0
        for event in run:
            at = _typed(event, first)
            if at < covered or latency(event) is None:
                continue
            gain = min(accepted_chars(event.suggestion, event.rest, whole), end - at)
            if gain > 0:
                saved += gain
                covered = at + gain
        typed_total += end
    return saved, typed_total


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
    # Pauses served with an acceptable suggestion (its first line is typed next) in 300 ms.
    pause_ok = sum(
        1
        for e, x in zip(events, latencies, strict=True)
        if e.gap >= PAUSE_THRESHOLD_S and x is not None and x <= 0.3
        and is_accepted(e.suggestion, e.rest)
    )  # fmt: skip
    saved_line, typed = chars_saved(events)
    saved_whole, _ = chars_saved(events, whole=True)
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
        "pause_accept_300ms": _share(pause_ok, len(paused)),
        "chars_typed": typed,
        "chars_saved_line": saved_line,
        "chars_saved_whole": saved_whole,
        "saved_line": _share(saved_line, typed),
        "saved_whole": _share(saved_whole, typed),
    }


def event_record(event: Event) -> dict[str, Any]:
    """``event`` as a record of the JSON: rounded times, outcome, latency, accepted."""
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


def median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 3) if known else None


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
