"""How often each code action gives a valid edit on real code, per action and language.

    flock /tmp/qwen-model.lock .venv/bin/python -m benchmarks.bench_action_success \\
        [--languages python,javascript,typescript,go,rust] [--per-language 40] [--seed 1]
        [--actions docstring,annotate,explain,simplify,fix,tests] [--out .artifacts/...json]

The corpus (benchmarks/action_corpus.py): a seeded sample of real functions of 5 to 60
lines from files of this machine (stdlib Python, npm's JavaScript, TypeScript from an
editor's node_modules where there is some, the Go and Rust files of the typing benchmark).
Each function's file is copied to a fresh folder and opened in one server over stdio;
the actions are listed with the cursor on the function's name and each requested one is
resolved, as VS Code does (codeAction, then codeAction/resolve). Per request: edit
offered, refused (the server's message) or error; wall time; prompt and generated tokens
(qwenLsp/status); for an offered edit, whether it is what the action claims
(benchmarks/action_verdicts.py; generated Python tests, doctests and generated calls run
only in a temporary folder, in a subprocess with time and memory limits). *Simplify* on
Python is judged by the function's doctests, else by calls on generated arguments
(benchmarks/action_calls.py), in JavaScript by calls of the function in its module in node
(benchmarks/action_js_calls.py); where the calls say nothing, by the same bytecode
(benchmarks/action_bytecode.py, action_js_bytecode.py: V8's); an edit that only changes
the layout is bad. *Fix* runs on
a copy of the file with one bug put into the function (benchmarks/action_bugs.py: a
misspelled name or a removed ``:``/``)``), the diagnostic an editor would show (Python,
JavaScript: from ruff, ``compile()``, ``node --check``; no-undef's, and TypeScript's, Go's
and Rust's, worked out there without their tools) sent in the codeAction context with
its range, as VS Code sends it; a fix is good when the
diagnostic is gone, nothing outside the function changed and the function is the
original again (or, in Python, behaves as the original on generated calls).

Prints the table (per action x language: offered %, refused %, error %, good %, bad %,
unchecked, median seconds and generated tokens), the refusal reasons, and writes the rows
and the table as JSON and a PNG next to it. Uses the environment's QWEN_LSP_* settings.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks import (
    action_bugs,
    action_bytecode,
    action_calls,
    action_js_bytecode,
    action_js_calls,
    action_js_tests,
    action_report,
    action_verdicts,
)
from benchmarks.action_corpus import FunctionSample, load_corpus
from benchmarks.bench_actions import ActionSession, code_actions
from benchmarks.lsp_driver import REPO, to_plain
from qwen_lsp import languages, uris
from qwen_lsp.actions.catalogue import find_spec
from qwen_lsp.actions.prompt import fill, reply_text
from tests.e2e.action_client import apply_workspace_edit

FOLDER = Path("/tmp/qwen-lsp-bench-action-success")
ACTIONS = ("docstring", "annotate", "explain", "simplify", "fix", "tests")
SANDBOX_SECONDS = 60.0


def request_words(action: str, language: str) -> str:
    """What the server asks the model for ``action`` in ``language``, without the code: the
    action's instructions with the language's documentation convention and the reply
    formats (other placeholders left as they are): an answer that copies them documents
    nothing."""
    spec = find_spec(action)
    record = languages.find(language)
    values = {
        "language": record.name if record is not None else language,
        "doc_convention": record.doc_convention if record is not None else "",
        "reply": reply_text("doc", language),
    }
    asked = [fill(spec.system, values), fill(spec.prompt, values)] if spec is not None else []
    return " ".join([*asked, reply_text("code", language)])


def judge(
    sample: FunctionSample, action: str, uri: str, text: str, files: dict[str, str]
) -> action_verdicts.Verdict:
    """Whether the edit (the files after it) is what ``action`` claims."""
    language = sample.language
    new = files.get(uri, text)
    others = {u: t for u, t in files.items() if u != uri}
    module = Path(sample.path).stem
    try:
        if action == "docstring":
            return action_verdicts.docstring_verdict(
                language, text, new, sample.name, sample.line, request_words(action, language)
            )
        if action == "annotate":
            return action_verdicts.annotations_verdict(
                language, text, new, sample.name, sample.line
            )
        if action == "explain":
            return action_verdicts.comment_verdict(language, text, new)
        if action == "tests":
            if others:
                [tests] = others.values()
                if language in ("javascript", "typescript") and action_verdicts.parses(
                    language, tests
                ):
                    return action_js_tests.js_tests_verdict(
                        language, module, text, tests, SANDBOX_SECONDS, sample.path
                    )
                return action_verdicts.tests_verdict(language, module, text, tests, SANDBOX_SECONDS)
            # Written below the code (Rust's test module): the file must still parse.
            if not action_verdicts.parses(language, new):
                return action_verdicts.Verdict(action_verdicts.BAD, "the file does not parse")
            return action_verdicts.Verdict(action_verdicts.GOOD, "parses (not run)")
        if action == "simplify":
            layout = action_verdicts.layout_only(language, text, new)
            if layout:
                return action_verdicts.Verdict(action_verdicts.BAD, layout)
        loader = ""
        if action == "simplify" and language == "typescript":  # judged as its JavaScript
            javascript = action_js_bytecode.as_javascript(text, new, SANDBOX_SECONDS)
            loader = action_js_tests.typescript_loader(sample.path) or ""
            if javascript is None or not loader:
                return action_verdicts.Verdict(action_verdicts.UNCHECKED, "not transpiled")
            (text, new), language = javascript, "javascript"
        if action == "simplify" and language == "javascript":  # in its module, in node
            verdict = action_js_calls.js_calls_verdict(
                text, new, sample.name, SANDBOX_SECONDS, sample.path, sample.line, loader
            )
            if verdict.outcome == action_verdicts.UNCHECKED:  # not callable: same bytecode?
                same = action_js_bytecode.js_bytecode_verdict(
                    text, new, sample.name, SANDBOX_SECONDS
                )
                return same if same.outcome == action_verdicts.GOOD else verdict
            return verdict
        if action == "simplify" and language == "python":
            function = _function_source(sample, text)
            verdict = action_verdicts.simplify_verdict(
                module, text, new, sample.name, function, SANDBOX_SECONDS
            )
            if verdict.outcome == action_verdicts.UNCHECKED:  # no doctests: generated calls
                verdict = action_calls.calls_verdict(
                    text, new, sample.name, function, SANDBOX_SECONDS
                )
            if verdict.outcome == action_verdicts.UNCHECKED:  # a method: the same bytecode?
                same = action_bytecode.bytecode_verdict(text, new)
                return same if same.outcome == action_verdicts.GOOD else verdict
            return verdict
    except Exception as exc:  # a verdict that cannot be reached is said, not fatal
        return action_verdicts.Verdict(action_verdicts.UNCHECKED, f"verdict failed: {exc!r}")
    return action_verdicts.Verdict(action_verdicts.UNCHECKED)


def _function_source(sample: FunctionSample, text: str) -> str:
    lines = text.split("\n")
    return "\n".join(lines[sample.start_line : sample.end_line + 1])


class AnswerLog:
    """The model's answers, read from the server's debug log as they are written."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def last(self) -> str | None:
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                new = log.read()
        except OSError:
            return None
        self.offset += len(new)
        found = re.findall(r"action answer ('.*'|\".*\")$", new.decode("utf-8", "replace"), re.M)
        try:
            return str(ast.literal_eval(found[-1])) if found else None
        except (ValueError, SyntaxError):
            return None


def _new_row(sample: FunctionSample, action_id: str) -> dict[str, Any]:
    return {
        **sample.describe(),
        "action": action_id,
        "status": "error",
        "message": "",
        "verdict": None,
        "note": "",
        "details": {},
    }


async def _resolve(
    session: ActionSession,
    row: dict[str, Any],
    action: Any,
    uri: str,
    text: str,
    answers: AnswerLog,
    verdict_of: Callable[[dict[str, str]], action_verdicts.Verdict],
) -> None:
    """Resolve one listed action as VS Code does and fill ``row`` with what came of it."""
    began = time.perf_counter()
    try:
        resolved = await asyncio.wait_for(session.client.code_action_resolve_async(action), 900)
    except Exception as exc:
        row["seconds"] = round(time.perf_counter() - began, 2)
        row["message"] = f"{type(exc).__name__}: {exc}"
        return
    row["seconds"] = round(time.perf_counter() - began, 2)
    last = to_plain(await session.status()).get("actions", {}).get("last") or {}
    figures = last.get("generation") or {}
    row["prompt_tokens"] = figures.get("promptTokens")
    row["generated_tokens"] = figures.get("generatedTokens")
    row["stop_reason"] = figures.get("stopReason")
    row["message"] = last.get("message", "")
    row["answer"] = (answers.last() or "")[:3000]
    if resolved.edit is not None:
        row["status"] = "offered"
        verdict = verdict_of(apply_workspace_edit(resolved.edit, {uri: text}))
        row.update(verdict=verdict.outcome, note=verdict.note, details=verdict.details)
    elif any(w in row["message"] for w in ("failed (", "cancelled", "replaced")):
        row["status"] = "error"
    else:
        row["status"] = "refused"


def _print_row(index: int, row: dict[str, Any]) -> None:
    print(
        f"{index:3d} {row['language']:<10} {row['action']:<9} {row.get('seconds', 0):6.1f} s "
        f"{row.get('generated_tokens') or 0:4d} tok  {row['status']:<7} "
        f"{row['verdict'] or ''} {(row['note'] or row['message'])[:90]}",
        flush=True,
    )


def _folder(index: int, sample: FunctionSample, part: str = "") -> Path:
    folder = FOLDER / f"{index:03d}-{sample.language}{part}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder / Path(sample.path).name


async def run_sample(
    session: ActionSession,
    index: int,
    sample: FunctionSample,
    actions: list[str],
    answers: AnswerLog,
    seed: int = 1,
) -> list[dict[str, Any]]:
    text = Path(sample.path).read_text(encoding="utf-8")
    rows = []
    plain = [a for a in actions if a != "fix"]
    if plain:
        path = _folder(index, sample)
        path.write_text(text, encoding="utf-8")
        uri = uris.from_path(str(path))
        session.open(uri, sample.language_id, text)
        try:
            found = await code_actions(session, uri, sample.line, sample.utf16_col)
            offered = {a.data["action"]: a for a in found if isinstance(a.data, dict)}
            for action_id in plain:
                row = _new_row(sample, action_id)
                action = offered.get(action_id)
                if action is None:
                    if action_id == "annotate" and sample.language not in ("python", "typescript"):
                        continue  # the action does not exist in this language
                    row["message"] = "not listed for this function"
                    if action_id in action_report.LISTED_ONLY_WITH_WORK:
                        row["status"] = "unlisted"  # nothing to do here: no request
                else:

                    def verdict_of(
                        files: dict[str, str], action_id: str = action_id, uri: str = uri
                    ) -> action_verdicts.Verdict:
                        return judge(sample, action_id, uri, text, files)

                    await _resolve(session, row, action, uri, text, answers, verdict_of)
                rows.append(row)
                _print_row(index, row)
        finally:
            session.close(uri)
    if "fix" in actions:
        fixed = await run_fix(session, index, sample, text, answers, seed)
        if fixed is not None:
            rows.append(fixed)
            _print_row(index, fixed)
    return rows


async def run_fix(
    session: ActionSession,
    index: int,
    sample: FunctionSample,
    text: str,
    answers: AnswerLog,
    seed: int,
) -> dict[str, Any] | None:
    """*Fix* on the function with one bug put in, the editor's diagnostic of it sent in
    the request's context as VS Code sends it (None: no bug could be put in)."""
    bug = action_bugs.choose_bug(sample.language, text, sample, seed)
    if bug is None:
        print(f"{index:3d} {sample.language:<10} fix       no bug could be put in {sample.name}")
        return None
    buggy = bug.apply(text)
    path = _folder(index, sample, "-fix")
    path.write_text(buggy, encoding="utf-8")
    uri = uris.from_path(str(path))
    row = {**_new_row(sample, "fix"), "bug": bug.to_json()}
    session.open(uri, sample.language_id, buggy)
    try:
        found = await fix_actions(session, uri, bug.diagnostic)
        action = next(
            (a for a in found if isinstance(a.data, dict) and a.data["action"] == "fix"), None
        )
        if action is None:
            row["message"] = "not listed for this diagnostic"
            return row

        def verdict_of(files: dict[str, str]) -> action_verdicts.Verdict:
            return fix_judge(sample, bug, text, files.get(uri, buggy))

        await _resolve(session, row, action, uri, buggy, answers, verdict_of)
    finally:
        session.close(uri)
    return row


def fix_judge(
    sample: FunctionSample, bug: action_bugs.Bug, original: str, new: str
) -> action_verdicts.Verdict:
    def behaviour(old: str, changed: str) -> action_verdicts.Verdict:
        function = _function_source(sample, original)
        return action_calls.calls_verdict(old, changed, sample.name, function, SANDBOX_SECONDS)

    try:
        return action_bugs.fix_verdict(
            sample.language,
            original,
            new,
            sample,
            bug,
            behaviour=behaviour if sample.language == "python" else None,
        )
    except Exception as exc:  # a verdict that cannot be reached is said, not fatal
        return action_verdicts.Verdict(action_verdicts.UNCHECKED, f"verdict failed: {exc!r}")


async def fix_actions(
    session: ActionSession, uri: str, diagnostic: action_bugs.Diagnostic
) -> list[Any]:
    """The actions listed for a diagnostic: VS Code asks with the diagnostic's range and
    the diagnostic in the context."""
    found = types.Range(
        start=types.Position(line=diagnostic.line, character=diagnostic.start_col),
        end=types.Position(line=diagnostic.end_line, character=diagnostic.end_col),
    )
    reported = types.Diagnostic(
        range=found,
        message=diagnostic.message,
        severity=types.DiagnosticSeverity.Error,
        source=diagnostic.source,
        code=diagnostic.code or None,
    )
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found,
            context=types.CodeActionContext(diagnostics=[reported]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def run(
    samples: list[FunctionSample], actions: list[str], seed: int = 1
) -> list[dict[str, Any]]:
    log_path = REPO / ".artifacts" / "bench_action_success.server.log"
    # At debug level the server logs each answer of the model: kept in the rows.
    session = ActionSession({}, log_path, log_level="debug")
    rows: list[dict[str, Any]] = []
    try:
        await session.start()
        await session.wait_ready()
        answers = AnswerLog(log_path)
        for index, sample in enumerate(samples):
            rows.extend(await run_sample(session, index, sample, actions, answers, seed))
    finally:
        await session.stop()
    return rows


def _revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="python,javascript,typescript,go,rust")
    parser.add_argument("--per-language", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--actions", default=",".join(ACTIONS))
    parser.add_argument(
        "--out", type=Path, default=REPO / ".artifacts" / "bench_action_success.json"
    )
    args = parser.parse_args()
    samples, notes = load_corpus(args.languages.split(","), args.per_language, args.seed)
    for language, note in notes.items():
        print(f"corpus {language}: {note}", flush=True)
    revision = _revision()  # before the run: the code the server runs
    began = time.monotonic()
    rows = asyncio.run(run(samples, args.actions.split(","), args.seed))
    lines = action_report.summarize(rows)
    table = action_report.format_table(lines)
    print()
    print(table)
    print()
    for action, why, count in action_report.reasons(rows):
        print(f"{count:4d}  {action:<10} {why}")
    report = {
        "revision": revision,
        "model": os.environ.get("QWEN_LSP_MODEL", "default"),
        "seed": args.seed,
        "per_language": args.per_language,
        "corpus": notes,
        "minutes": round((time.monotonic() - began) / 60, 1),
        "table": lines,
        "reasons": action_report.reasons(rows),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    png = args.out.with_suffix(".png")
    title = f"code actions on real functions ({revision}, seed {args.seed})"
    try:
        action_report.write_png(lines, png, title)
        print(f"wrote {args.out} and {png}")
    except ImportError as exc:
        print(f"wrote {args.out} (no PNG: {exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
