"""The success-rate benchmark's summary (benchmarks/bench_action_success.py): the table
per action and language, the refusal reasons, the generated tests' pass rate, the PNG.

Pure but for writing the PNG. A row is one action requested on one function:

    {"language", "action", "status": "offered" | "refused" | "error" | "unlisted", "message",
     "seconds", "generated_tokens", "verdict": "good" | "bad" | "unchecked" | None,
     "note", "details"}
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ACTION_ORDER = ("docstring", "annotate", "explain", "simplify", "fix", "tests")
# The targets: valid edits per request, in every language where the action exists.
TARGETS = {"docstring": 90, "annotate": 90, "explain": 90, "simplify": 70, "fix": 70}
# Actions the server lists only where they have something to do (documentation to add,
# annotations missing, a simplification found, tests a test file can call): not listed on
# a function, they are no request, so no row of the rates, counted apart ("unlisted").
# Any other action missing from the list is an error.
LISTED_ONLY_WITH_WORK = frozenset({"docstring", "annotate", "simplify", "tests"})


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (action, language), in the catalogue's order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["action"], row["language"]), []).append(row)

    def order(key: tuple[str, str]) -> tuple[int, str]:
        action, language = key
        rank = ACTION_ORDER.index(action) if action in ACTION_ORDER else len(ACTION_ORDER)
        return rank, language

    lines = []
    for key in sorted(groups, key=order):
        unlisted = sum(1 for r in groups[key] if r["status"] == "unlisted")
        group = [r for r in groups[key] if r["status"] != "unlisted"]
        n = len(group)
        status = Counter(r["status"] for r in group)
        verdicts = Counter(r.get("verdict") for r in group if r["status"] == "offered")
        seconds = [r["seconds"] for r in group if r.get("seconds") is not None]
        tokens = [r["generated_tokens"] for r in group if r.get("generated_tokens") is not None]
        line: dict[str, Any] = {
            "action": key[0],
            "language": key[1],
            "n": n,
            "unlisted": unlisted,
            "offered": _percent(status["offered"], n),
            "refused": _percent(status["refused"], n),
            "error": _percent(status["error"], n),
            "good": _percent(verdicts["good"], n),
            "bad": _percent(verdicts["bad"], n),
            "unchecked": verdicts["unchecked"],
            "median_s": round(statistics.median(seconds), 1) if seconds else None,
            "median_tokens": round(statistics.median(tokens)) if tokens else None,
        }
        target = TARGETS.get(key[0])
        if target is not None:
            line["target"] = target
        if key[0] == "tests":
            passed = sum(int(r.get("details", {}).get("passed", 0)) for r in group)
            failed = sum(int(r.get("details", {}).get("failed", 0)) for r in group)
            ran = [r for r in group if r.get("verdict") == "good" and "passed" in r["details"]]
            line["tests_passed"] = passed
            line["tests_failed"] = failed
            line["tests_pass_rate"] = _percent(passed, passed + failed)
            line["files_all_pass"] = sum(
                1 for r in ran if r["details"]["failed"] == 0 and r["details"]["passed"]
            )
        lines.append(line)
    return lines


def format_table(lines: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'action':<10} {'language':<11} {'n':>3} {'unlst':>5} {'offered':>8} {'refused':>8} "
        f"{'error':>6} {'good':>6} {'bad':>5} {'unchk':>5} {'median s':>9} {'tokens':>7}"
    )
    out = [head, "-" * len(head)]
    for line in lines:
        target = f"  (target {line['target']}%)" if "target" in line else ""
        out.append(
            f"{line['action']:<10} {line['language']:<11} {line['n']:>3} {line['unlisted']:>5} "
            f"{line['offered']:>7.1f}% {line['refused']:>7.1f}% {line['error']:>5.1f}% "
            f"{line['good']:>5.1f}% {line['bad']:>4.1f}% {line['unchecked']:>5} "
            f"{_num(line['median_s']):>9} {_num(line['median_tokens']):>7}{target}"
        )
        if "tests_pass_rate" in line:
            out.append(
                f"{'':<10} {'':<11} generated tests passing: {line['tests_passed']}/"
                f"{line['tests_passed'] + line['tests_failed']} "
                f"({line['tests_pass_rate']:.1f}%), files all passing: {line['files_all_pass']}"
            )
    return "\n".join(out)


def _num(value: float | int | None) -> str:
    return "-" if value is None else str(value)


def reason(message: str) -> str:
    """A refusal message with its particulars (names, line numbers, file names) elided,
    so that equal reasons count together."""
    text = re.sub(r"^qwen-lsp: ", "", message)
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"\bline \d+", "line N", text)
    text = re.sub(r"\b[\w.-]+\.(py|js|ts|go|rs)\b", "FILE", text)
    text = re.sub(r"\(\d+ prompt tokens of \d+\)", "(…)", text)
    return text.strip()


def reasons(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(action, reason, count) for refusals, errors and bad verdicts, most frequent first."""
    counted: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row["status"] in ("refused", "error"):
            counted[(row["action"], f"{row['status']}: {reason(row.get('message', ''))}")] += 1
        elif row.get("verdict") == "bad":
            counted[(row["action"], f"bad: {reason(row.get('note', ''))[:90]}")] += 1
    return [(a, r, n) for (a, r), n in counted.most_common()]


def write_png(lines: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Grouped bars: good / bad / refused / error per action and language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{line['action']}\n{line['language']}\nn={line['n']}" for line in lines]
    parts = (
        ("good", "#2a9d4a"),
        ("unchecked_pct", "#9ecae1"),
        ("bad", "#e9a23b"),
        ("refused", "#d62728"),
        ("error", "#555555"),
    )
    figure, axis = plt.subplots(figsize=(max(6.0, 0.8 * len(lines) + 2), 4.5))
    bottoms = [0.0] * len(lines)
    for key, colour in parts:
        values = [
            _percent(line["unchecked"], line["n"]) if key == "unchecked_pct" else line[key]
            for line in lines
        ]
        axis.bar(labels, values, bottom=bottoms, color=colour, label=key.replace("_pct", ""))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for index, line in enumerate(lines):
        if "target" in line:
            axis.plot([index - 0.4, index + 0.4], [line["target"]] * 2, color="black", lw=1)
    axis.set_ylabel("% of requests")
    axis.set_ylim(0, 105)
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
