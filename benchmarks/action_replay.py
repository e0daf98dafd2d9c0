"""The model's recorded answers of a success-rate run, taken again by the current code.

    .venv/bin/python -m benchmarks.action_replay .artifacts/bench_action_success.json \\
        [--out .artifacts/bench_action_replay.json]

bench_action_success keeps each request's answer. Greedy decoding gives the same answer
to the same prompt, so when only how answers are taken changed (answer.py, reconcile.py,
checks.py: not the prompt), the answers can be taken again in process, without the
model: each is turned into an edit by ``result_for_answer`` as the server would, and
judged again (benchmarks/action_verdicts.py); an action the current code no longer lists
on the function is "unlisted". Rows without an answer are kept as they were. Prints the
table and writes the JSON and PNG. Not a substitute for a run when a prompt changed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks import action_bugs, action_report
from benchmarks.action_corpus import FunctionSample
from benchmarks.bench_action_success import FOLDER, fix_judge, judge
from qwen_lsp import uris
from qwen_lsp.actions.answer import result_for_answer
from qwen_lsp.actions.catalogue import find_spec, offers
from qwen_lsp.actions.prompt import ActionInput, Diagnostic, build_prompt, new_file_uri
from qwen_lsp.actions.target import find_target
from qwen_lsp.chat import ChatTemplate
from qwen_lsp.documents import Snapshot


def replay_row(row: dict[str, Any], index: int) -> dict[str, Any]:
    if not row.get("answer") or row["status"] == "error":
        return row
    path = Path(row["path"])
    original = text = path.read_text(encoding="utf-8")
    line = row["line"] - 1
    line_text = text.split("\n")[line]
    col = line_text.index(row["name"])
    language = row["language"]
    copy = FOLDER / f"replay-{index:03d}" / path.name  # where a test file would go
    uri = uris.from_path(str(copy))
    bug = action_bugs.Bug.from_json(row["bug"]) if row["action"] == "fix" else None
    if bug is not None:
        text = bug.apply(text)
    snapshot = Snapshot.build(uri, language, 1, text)
    spec = find_spec(row["action"])
    assert spec is not None
    diagnostics: tuple[Diagnostic, ...] = ()
    if bug is not None:  # as the server takes it: the diagnostic's range, widened
        found = bug.diagnostic
        start = snapshot.offset_at(found.line, found.start_col)
        end = snapshot.clamped_offset(found.end_line, found.end_col)
        target = find_target(snapshot, start, end, widen_line=True, line_fallback=True)
        diagnostics = (Diagnostic(found.line, found.message, found.source, found.code),)
    else:
        offset = snapshot.offset_at(line, len(line_text[:col].encode("utf-16-le")) // 2)
        target = find_target(snapshot, offset, offset, line_fallback=True)
    assert target is not None
    if bug is None and row["action"] in action_report.LISTED_ONLY_WITH_WORK:
        listed = {o.spec.id for o in offers(snapshot, target, (), None, False)}
        if row["action"] not in listed:  # as the server lists them now: no request
            return {**row, "status": "unlisted", "message": "not listed for this function"}
    action = ActionInput(
        spec, snapshot, target, diagnostics, new_file_uri=new_file_uri(spec, snapshot)
    )
    plan = build_prompt(action, ChatTemplate.from_template(None), lambda s: len(s) // 4 + 1, 256)
    result = result_for_answer(action, row["answer"], plan)
    out = {**row, "verdict": None, "note": "", "details": {}, "message": result.message}
    cut = row.get("stop_reason") in ("max_tokens", "time_cap")
    rewrite = plan.reply in ("code", "lines", "span")
    if result.ok and cut and rewrite and action.placement == "replace":
        # as the server does (actions/service.py): a rewrite cut off by its limit
        return {**out, "status": "refused", "message": "the model's answer was cut off"}
    if not result.ok:
        return {**out, "status": "refused"}
    files = {c.uri: c.new_text() for c in result.changes}
    files.setdefault(uri, text)
    span = (snapshot.position_at(target.start)[0], snapshot.position_at(target.end)[0])
    if bug is not None:  # the function's own lines (the target may be read otherwise)
        span = (row["start_line"] - 1, row["start_line"] + row["lines"] - 2)
    sample = FunctionSample(language, row["path"], row["name"], line, 0, *span)
    if bug is not None:
        verdict = fix_judge(sample, bug, original, files[uri])
    else:
        verdict = judge(sample, row["action"], uri, text, files)
    return {
        **out,
        "status": "offered",
        "verdict": verdict.outcome,
        "note": verdict.note,
        "details": verdict.details,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a bench_action_success JSON")
    parser.add_argument("--out", type=Path, default=Path(".artifacts") / "bench_action_replay.json")
    args = parser.parse_args()
    report = json.loads(args.run.read_text())
    rows = [replay_row(row, index) for index, row in enumerate(report["rows"])]
    for old, new in zip(report["rows"], rows, strict=True):
        if (old["status"], old.get("verdict")) != (new["status"], new.get("verdict")):
            print(
                f"{new['language']:<10} {new['action']:<9} {new['name']:<28} "
                f"{old['status']}/{old.get('verdict')} -> {new['status']}/{new.get('verdict')} "
                f"{(new['note'] or new['message'])[:80]}"
            )
    lines = action_report.summarize(rows)
    print()
    print(action_report.format_table(lines))
    replayed = {**report, "replayed_from": str(args.run), "table": lines, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(replayed, indent=2))
    title = f"code actions, answers of {report.get('revision', '?')} replayed"
    action_report.write_png(lines, args.out.with_suffix(".png"), title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
