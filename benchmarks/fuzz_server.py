"""Fuzz the real server over stdio for a given time (hypothesis; the fake backend).

    .venv/bin/python -m benchmarks.fuzz_server --minutes 30 [--seed N] [--known-bugs]
        [--out PATH]

Long random sequences of valid and invalid messages (benchmarks/fuzz_steps.py) go to one
server; after each sequence the checks of benchmarks/fuzz_harness.py run (alive, every
request answered once with its id, parse and invalid-request errors, no traceback in the
log, and a good completion still gets the right text). On a failure hypothesis shrinks the
sequence to a minimal reproducer, which is printed and kept; then the search goes on with
a fresh server until the time is over. Prints the messages and sequences survived and
every distinct failure; writes them as JSON (default .artifacts/fuzz_server.json).

--known-bugs also generates what hits bugs known and being fixed (lone surrogates in
text, many edits in one didChange, documents of megabytes); without it they are left out.
tests/e2e/test_fuzz.py runs a short, derandomized budget of the same in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import FlakyFailure

from benchmarks.fuzz_harness import FuzzFailure, Harness
from benchmarks.fuzz_steps import Profile, Step, sequences
from benchmarks.lsp_driver import REPO

KNOWN_BUGS = Profile(max_edits=400, max_repeat=200_000, lone_surrogates=True)


@dataclass
class Found:
    symptom: str
    detail: str
    steps: list[Step]
    count: int = 1


def fuzz_settings(examples: int, derandomize: bool, shrink: bool = True) -> settings:
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
    return settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def run(
    harness: Harness, profile: Profile, examples: int, run_seed: int | None
) -> tuple[str, str, list[Step]] | None:
    """One hypothesis search of ``examples`` sequences; the shrunk failure, if any."""
    last: list[tuple[str, str, list[Step]]] = []

    @fuzz_settings(examples, derandomize=run_seed is None)
    @given(sequences(profile))
    def search(steps: list[Step]) -> None:
        try:
            harness.run(steps)
        except FuzzFailure as failure:
            last.append((failure.symptom, failure.detail, list(steps)))
            harness.restart()  # a fresh server for the next attempt: the state was bad
            raise

    if run_seed is not None:
        search = seed(run_seed)(search)
    try:
        search()
    except (FuzzFailure, FlakyFailure):  # flaky: failed once, passed when replayed
        return last[-1] if last else None  # hypothesis replays the minimal example last
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=50, help="sequences per search")
    parser.add_argument("--known-bugs", action="store_true", help="include known-bug cases")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "fuzz_server.json"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = KNOWN_BUGS if args.known_bugs else Profile()
    harness = Harness(out.parent / "fuzz-logs")
    found: dict[str, Found] = {}
    started = time.monotonic()
    batch = 0
    try:
        while time.monotonic() - started < args.minutes * 60:
            failure = run(harness, profile, args.batch, args.seed + batch)
            batch += 1
            if failure is not None:
                symptom, detail, steps = failure
                if symptom in found:
                    found[symptom].count += 1
                else:
                    found[symptom] = Found(symptom, detail, steps)
                    print(f"\nFAILURE: {symptom}\n{detail}\nreproducer: {steps!r}\n", flush=True)
            print(
                f"{(time.monotonic() - started) / 60:5.1f} min: {harness.sequences} sequences, "
                f"{harness.messages} messages survived; {len(found)} distinct failures",
                flush=True,
            )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        harness.close()
    result: dict[str, Any] = {
        "minutes": round((time.monotonic() - started) / 60, 1),
        "seed": args.seed,
        "known_bugs": args.known_bugs,
        "sequences_survived": harness.sequences,
        "messages_survived": harness.messages,
        "server_starts": harness.starts,
        "failures": [
            {
                "symptom": f.symptom,
                "detail": f.detail,
                "times": f.count,
                "reproducer": repr(f.steps),
            }
            for f in found.values()
        ],
    }
    out.write_text(json.dumps(result, indent=1))
    print(
        f"\n{harness.sequences} sequences and {harness.messages} messages survived in "
        f"{result['minutes']} min, {len(found)} distinct failures; wrote {out}"
    )
    for f in found.values():
        print(f"- {f.symptom} ({f.count}x)\n  {f.detail[:300]}\n  reproducer: {f.steps!r}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
