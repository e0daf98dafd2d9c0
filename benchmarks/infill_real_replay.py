"""Replay a run of benchmarks/eval_infill_real.py through today's post-processing, no model.

    .venv/bin/python -m benchmarks.infill_real_replay .artifacts/eval_infill_real_X.json
    .venv/bin/python -m benchmarks.infill_real_replay RUN.json --out REPLAY.json
    .venv/bin/python -m benchmarks.infill_real_replay RUN.json --disable-rules overwritten

The server's records keep the model's own text (``model_text``), its stop reason and its
tokens' probabilities (``token_chances``, for rule unsure-insert; runs recorded before
they were kept have none, and that rule does not act on them); each is cut again as the
server would (the kind the tree asks for at the cursor, the site, the lines a token cap
left half written), with what the server put before the model's text (the indentation a
bare line at column 0 implies; the line break of the retry after a finished line, seen in
the recorded answer), and scored next to the recorded answers as the variant ``replay``. A
rule that only cuts earlier replays exactly (the streaming stop ends the model at the
same line or later); one that keeps more than the recorded text holds cannot be judged
here: run ``--variants server`` again. On the run it was written for, every answer
replays as recorded. A --doctests run's replayed answers are run against their doctests
too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from benchmarks import infill_doctests as doctests
from benchmarks import infill_real as ir
from benchmarks import infill_real_scores as scores
from benchmarks.eval_infill import RULES
from benchmarks.eval_infill_real import load_tasks, parse_args
from benchmarks.infill_raw import RAW_FIRST_LINE, RAW_N_INDENT
from benchmarks.infill_server import SERVER
from qwen_lsp import languages, postprocess, syntax

REPLAY = "replay"


def replayed(
    task: ir.Task,
    generation: dict[str, Any],
    recorded: str = "",
    disabled_rules: frozenset[str] = frozenset(),
) -> str:
    """The suggestion today's post-processing makes of a recorded server generation
    (``recorded``: the answer the server gave, which tells whether the generation was the
    next-line retry after a finished line; ``disabled_rules``: rules left out, as the
    disableRules setting does)."""
    text = task.prefix + task.suffix
    at = len(task.prefix)
    language = languages.language_for(task.language_id, "file:///task" + task.extension)
    tree = None
    if language is not None:
        tree = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
    kind = syntax.completion_kind(tree, text, at, language)
    if kind == "none":
        return ""
    kind = "block" if kind == "block" else "line"
    unit = postprocess.detect_indent_unit(text)
    # What the server put in front of the model's text, as completion.py does: the
    # indentation a bare line at column 0 implies, or (a line kind answer that starts on the
    # next line) the line break and indentation of the retry after a finished line.
    typed = syntax.implied_indent(text, at, language, unit)
    next_line = postprocess.next_line_start(text, at) if kind == "line" else None
    if next_line and recorded.startswith(next_line):
        typed = next_line
    site = postprocess.CompletionSite(
        prefix=task.prefix + typed,
        suffix=task.suffix,
        kind=kind,
        indent_unit=unit,
        language=language,
        disabled_rules=disabled_rules,
    )
    extra = generation.get("extra", {})
    model_text, stop_reason = extra.get("model_text", ""), extra.get("stop_reason", "done")
    ends, chances = extra.get("token_ends", []), extra.get("token_chances", [])
    line_chances = postprocess.line_chances(model_text, ends, chances)
    shown = postprocess.postprocess(
        postprocess.written_lines(model_text, stop_reason), site, line_chances
    )
    return typed + shown if shown.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("run", type=Path, help="an eval_infill_real JSON with the server")
    parser.add_argument("--out", type=Path, help="the records with the replay (JSON)")
    parser.add_argument(
        "--disable-rules",
        default="",
        help="post-processing rules to leave out, comma-separated (as disableRules): what "
        "a rule changed in a run is the difference of the replays with and without it",
    )
    args = parser.parse_args()
    disabled = frozenset(filter(None, args.disable_rules.split(",")))
    unknown = disabled - set(RULES)
    if unknown:
        raise SystemExit(f"--disable-rules: unknown {sorted(unknown)}; known: {RULES}")
    run = json.loads(args.run.read_text())
    tasks, _, tests = load_tasks(parse_args(run["command"].split()[1:]))
    counter = scores.SyntaxCounter()
    checker = doctests.Checker()
    records, changed = [], []
    # Tasks in the run's order (two holes may share an id: same line, other lengths).
    for task, record in zip(tasks, run["tasks"], strict=True):
        if task.id != record["id"]:
            raise SystemExit(f"the tasks changed since the run: {task.id} != {record['id']}")
        recorded = record["variants"][SERVER]["completion"]
        text = replayed(task, record["generations"][SERVER], recorded, disabled)
        if text != recorded:
            changed.append((task.id, recorded, text))
        cell: dict[str, Any] = {"completion": text, "seconds": 0.0}
        cell.update(dataclasses.asdict(scores.score(task, text, counter)))
        if task.id in tests:  # a --doctests run: the replayed answer is run too
            execution = checker.check(tests[task.id], task.program(text))
            cell.update(passed=execution.passed, run_status=execution.status)
        records.append({**record, "variants": {**record["variants"], REPLAY: cell}})
    variants = [
        v for v in (RAW_FIRST_LINE, RAW_N_INDENT, SERVER, REPLAY) if v in records[0]["variants"]
    ]
    rows = scores.summarize(records, variants)
    print(scores.table(rows, variants))
    print(f"\noverall: {json.dumps(scores.overall(records, variants))}")
    print(f"\n{len(changed)} answers differ from the recorded server's")
    for task_id, before, after in changed:
        print(f"--- {task_id}\n  recorded {before!r}\n  replayed {after!r}")
    if args.out:
        args.out.write_text(json.dumps({"source": str(args.run), "rows": rows, "tasks": records}))


if __name__ == "__main__":
    main()
