"""Scoring of the HumanEval infilling evaluation (benchmarks/eval_infill.py) by running programs.

Every completion of every variant is scored by benchmarks/infill_tasks.py's Scorer:
prefix + completion + suffix + the tests executed in a fresh interpreter with a time-out
(never in this process: it is model output), giving pass@1 (greedy, one sample), exact
match, and whether the completion adds a parse error. `score_tasks` makes each task's
record of the JSON (every generation, every variant's score), `summarize` the figures per
variant and kind, `margins` the server's lead over the better simple cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import infill_tasks as it
from benchmarks.evaluation import Generated
from benchmarks.infill_raw import RAW, SIMPLE_CUTS, completions_of
from benchmarks.infill_server import SERVER


def score_tasks(
    tasks: Sequence[it.Task],
    generations: dict[str, dict[str, Generated]],
    variants: Sequence[str],
    scorer: it.Scorer,
    early_stop: bool,
) -> list[dict[str, Any]]:
    """Each task's record: what every base generated, and each variant's completion scored
    (a variant without a completion, the uncut raw answer after an early stop, is left out)."""
    records: list[dict[str, Any]] = []
    for task in tasks:
        record: dict[str, Any] = {
            "id": task.id,
            "kind": task.kind,
            "hole": task.hole,
            "generations": {},
            "variants": {},
        }
        for base, by_task in generations.items():
            generated = by_task[task.id]
            record["generations"][base] = asdict(generated)
        for variant in variants:
            base = RAW if variant in (RAW, *SIMPLE_CUTS) else variant
            generated = generations[base][task.id]
            completion = completions_of(variant, base, generated, task, early_stop)
            if completion is None:
                continue
            score = scorer.score(task, completion)
            record["variants"][variant] = {
                "completion": completion,
                "seconds": generated.seconds,
                **asdict(score),
            }
        records.append(record)
    return records


@dataclass
class Cell:
    n: int = 0
    passed: int = 0
    exact: int = 0
    empty: int = 0
    parse_errors: int = 0
    tree_sitter_errors: int = 0
    syntax_errors: int = 0
    seconds: float = 0.0

    def rate(self, count: int) -> float:
        return 100.0 * count / self.n if self.n else 0.0


def summarize(records: list[dict[str, Any]], variants: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in variants:
        summary[variant] = {}
        for kind in it.KINDS:
            cell = Cell()
            stops: dict[str, int] = {}
            for record in records:
                score = record["variants"].get(variant)
                if record["kind"] != kind or score is None:
                    continue
                base = RAW if variant in (RAW, *SIMPLE_CUTS) else variant
                stop = record["generations"][base]["extra"].get("stop_reason", "?")
                stops[stop] = stops.get(stop, 0) + 1
                cell.n += 1
                cell.passed += score["passed"]
                cell.exact += score["exact"]
                cell.empty += score["empty"]
                cell.parse_errors += score["parse_error"]
                cell.tree_sitter_errors += score["tree_sitter_error"]
                cell.syntax_errors += score["syntax_error"]
                cell.seconds += score["seconds"]
            if cell.n:
                summary[variant][kind] = {
                    "n": cell.n,
                    "pass@1": round(cell.rate(cell.passed), 1),
                    "exact": round(cell.rate(cell.exact), 1),
                    "empty": cell.empty,
                    "parse_errors": cell.parse_errors,
                    "tree_sitter_errors": cell.tree_sitter_errors,
                    "syntax_errors": cell.syntax_errors,
                    "mean_seconds": round(cell.seconds / cell.n, 2),
                    "stops": stops,
                }
    return summary


def margins(summary: dict[str, Any], server: str = SERVER) -> dict[str, float]:
    """Server pass@1 minus the better of the two simple cuts, per kind, in points."""
    out: dict[str, float] = {}
    for kind in it.KINDS:
        cuts = [summary[v][kind]["pass@1"] for v in SIMPLE_CUTS if kind in summary.get(v, {})]
        if cuts and kind in summary.get(server, {}):
            out[kind] = round(summary[server][kind]["pass@1"] - max(cuts), 1)
    return out
