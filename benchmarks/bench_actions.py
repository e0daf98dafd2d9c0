"""Code-action figures with the real model: listing, resolving, prompt-lookup decoding.

    .venv/bin/python -m benchmarks.bench_actions [--parts list,resolve,lookup]
        [--languages python,typescript,go] [--list-rounds 20] [--out PATH]

- list: a fresh server over stdio (VS Code's way: codeAction, then codeAction/resolve),
  model loaded; textDocument/codeAction inside each sample's 30-line function, repeated:
  median and worst time to list the actions.
- resolve: codeAction/resolve of every action offered on each 30-line function, one after
  the other, as a user would pick them: wall time per action, with the server's figures
  (prompt tokens, generated tokens, drafted/accepted, prompt and generation seconds,
  applied or the message).
- lookup: in process, the same rewrites (fix, docstring, annotate, simplify) generated
  with plain greedy decoding and with prompt-lookup decoding (promptLookup=10), in
  alternating order; decoding seconds and tokens/s of each, the speed-up, and whether
  both produced the same text (they should: both are greedy).

Prints tables and writes JSON (default .artifacts/bench_actions.json). Uses the
environment's QWEN_LSP_* settings (QWEN_LSP_THREADS, QWEN_LSP_MODEL).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from benchmarks.lsp_driver import REPO, Session, to_plain
from qwen_lsp.actions.service import ActionRequest, ActionService
from qwen_lsp.actions.target import find_target
from qwen_lsp.app import load_backend
from qwen_lsp.documents import DocumentStore
from qwen_lsp.engine.worker import ModelWorker
from qwen_lsp.settings import Settings
from qwen_lsp.settings_resolve import resolve_settings
from tests.e2e.action_samples import SAMPLES

FOLDER = Path("/tmp/qwen-lsp-bench-actions")
REWRITES = ("fix", "docstring", "annotate", "simplify")


class ActionSession(Session):
    """A Session whose client resolves code actions and applies versioned edits."""

    def capabilities(self) -> types.ClientCapabilities:
        capabilities = super().capabilities()
        capabilities.text_document = types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=["", "quickfix", "refactor", "source"]
                    )
                ),
                data_support=True,
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
            )
        )
        capabilities.workspace = types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[types.ResourceOperationKind.Create],
            )
        )
        return capabilities


async def code_actions(session: Session, uri: str, line: int, col: int) -> list[Any]:
    position = types.Position(line=line, character=col)
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=position, end=position),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def _open_sample(session: Session, language: str) -> tuple[str, tuple[int, int]]:
    name, language_id, text, line = SAMPLES[language]
    folder = FOLDER / language
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    session.open(path.as_uri(), language_id, text)
    return path.as_uri(), (line, 4)


async def bench_lsp(languages: list[str], rounds: int, parts: set[str]) -> dict[str, Any]:
    session = ActionSession({}, REPO / ".artifacts" / "bench_actions.server.log")
    out: dict[str, Any] = {"list": {}, "resolve": []}
    try:
        await session.start()
        await session.wait_ready()
        for language in languages:
            uri, (line, col) = _open_sample(session, language)
            if "list" in parts:
                timings = []
                for _ in range(rounds):
                    began = time.perf_counter()
                    found = await code_actions(session, uri, line, col)
                    timings.append((time.perf_counter() - began) * 1000)
                out["list"][language] = {
                    "actions": [a.title for a in found],
                    "median_ms": round(statistics.median(timings), 2),
                    "max_ms": round(max(timings), 2),
                }
                print(
                    f"list {language:<10} {len(found)} actions  median "
                    f"{statistics.median(timings):6.2f} ms  max {max(timings):6.2f} ms",
                    flush=True,
                )
            if "resolve" not in parts:
                continue
            for action in await code_actions(session, uri, line, col):
                began = time.perf_counter()
                resolved = await asyncio.wait_for(
                    session.client.code_action_resolve_async(action), 900
                )
                seconds = time.perf_counter() - began
                last = to_plain(await session.status()).get("actions", {}).get("last") or {}
                figures = last.get("generation") or {}
                row = {
                    "language": language,
                    "action": action.data["action"],
                    "seconds": round(seconds, 2),
                    "applied": resolved.edit is not None,
                    "message": last.get("message", ""),
                    **{
                        name: figures.get(key)
                        for key, name in (
                            ("promptTokens", "prompt_tokens"),
                            ("reusedTokens", "reused_tokens"),
                            ("generatedTokens", "generated_tokens"),
                            ("draftedTokens", "drafted_tokens"),
                            ("acceptedTokens", "accepted_tokens"),
                            ("promptSeconds", "prompt_seconds"),
                            ("generateSeconds", "generate_seconds"),
                            ("stopReason", "stop_reason"),
                        )
                    },
                }
                out["resolve"].append(row)
                print(
                    f"resolve {language:<10} {row['action']:<10} {seconds:6.1f} s  "
                    f"prompt {row['prompt_tokens']} tok {row['prompt_seconds'] or 0:.1f} s  "
                    f"gen {row['generated_tokens']} tok {row['generate_seconds'] or 0:.1f} s  "
                    f"{'applied' if row['applied'] else row['message']}",
                    flush=True,
                )
    finally:
        await session.stop()
    return out


async def bench_lookup(
    languages: list[str], draft: int, rewrites: tuple[str, ...] = REWRITES
) -> list[dict[str, Any]]:
    base = resolve_settings(os.environ).settings
    current = {"settings": base}
    worker = ModelWorker()
    error = await worker.load_async(lambda: load_backend(base))
    if error is not None:
        raise SystemExit(f"model: {error} (fix: {error.fix})")
    service = ActionService(worker, lambda: current["settings"])
    rows = []
    for language in languages:
        name, language_id, text, line = SAMPLES[language]
        uri = (FOLDER / language / name).as_uri()
        snapshot = DocumentStore().open(uri, language_id, 1, text).snapshot()
        offered = {o.spec.id for o in service.offers(snapshot, ((line, 4), (line, 4)), None, [])}
        for index, action_id in enumerate(a for a in rewrites if a in offered):
            request = ActionRequest(action_id, uri, 1, ((line, 4), (line, 4)))
            results: dict[int, Any] = {}
            # Alternate which mode goes first: the first run also pays for the prompt.
            order = (0, draft) if index % 2 == 0 else (draft, 0)
            for mode in order:
                current["settings"] = dataclasses.replace(base, promptLookup=mode)
                results[mode] = await service.run(request, snapshot, lambda: True)
            if any(run.generation is None for run in results.values()):
                continue  # answered without the model: Simplify with nothing to simplify
            plain, lookup = results[0].generation, results[draft].generation
            assert plain is not None and lookup is not None
            plain_rate = plain.generated_tokens / plain.generate_seconds
            lookup_rate = lookup.generated_tokens / lookup.generate_seconds
            row = {
                "language": language,
                "action": action_id,
                "plain_tokens": plain.generated_tokens,
                "lookup_tokens": lookup.generated_tokens,
                "plain_s": round(plain.generate_seconds, 2),
                "lookup_s": round(lookup.generate_seconds, 2),
                "plain_tok_s": round(plain_rate, 1),
                "lookup_tok_s": round(lookup_rate, 1),
                # tokens per second: the outputs may differ in length (see same_text)
                "speedup": round(lookup_rate / plain_rate, 2),
                "drafted": lookup.drafted_tokens,
                "accepted": lookup.accepted_tokens,
                "same_text": plain.text == lookup.text,
                "applied": results[draft].result.ok,
            }
            rows.append(row)
            print(
                f"lookup {language:<10} {action_id:<10} plain {row['plain_tokens']:4d} tok "
                f"{row['plain_s']:5.1f} s ({row['plain_tok_s']:5.1f} tok/s)  lookup "
                f"{row['lookup_tokens']:4d} tok {row['lookup_s']:5.1f} s "
                f"({row['lookup_tok_s']:5.1f} tok/s)  "
                f"x{row['speedup']:.2f}  accepted {row['accepted']}/{row['drafted']}  "
                f"same={row['same_text']}",
                flush=True,
            )
    if rows:
        plain_rate = sum(r["plain_tokens"] for r in rows) / sum(r["plain_s"] for r in rows)
        lookup_rate = sum(r["lookup_tokens"] for r in rows) / sum(r["lookup_s"] for r in rows)
        print(
            f"lookup total: plain {plain_rate:.1f} tok/s, lookup {lookup_rate:.1f} tok/s, "
            f"speed-up x{lookup_rate / plain_rate:.2f}; identical text in "
            f"{sum(r['same_text'] for r in rows)}/{len(rows)}",
            flush=True,
        )
    return rows


def function_lines() -> dict[str, int]:
    """Lines of each sample's function (the code every action works on)."""
    out = {}
    for language, (name, language_id, text, line) in SAMPLES.items():
        snapshot = DocumentStore().open(f"file:///x/{name}", language_id, 1, text).snapshot()
        offset = snapshot.offset_at(line, 4)
        target = find_target(snapshot, offset, offset)
        out[language] = text[target.start : target.end].count("\n") + 1 if target else 0
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="list,resolve,lookup")
    parser.add_argument("--languages", default=",".join(SAMPLES))
    parser.add_argument("--list-rounds", type=int, default=20)
    parser.add_argument("--draft", type=int, default=Settings().promptLookup)
    parser.add_argument("--actions", default=",".join(REWRITES), help="rewrites to measure")
    parser.add_argument("--out", type=Path, default=REPO / ".artifacts" / "bench_actions.json")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    languages = args.languages.split(",")
    report: dict[str, Any] = {
        "threads": os.environ.get("QWEN_LSP_THREADS", "default"),
        "model": os.environ.get("QWEN_LSP_MODEL", "default"),
        "function_lines": function_lines(),
    }
    if parts & {"list", "resolve"}:
        report.update(asyncio.run(bench_lsp(languages, args.list_rounds, parts)))
    if "lookup" in parts:
        report["lookup"] = asyncio.run(
            bench_lookup(languages, args.draft, tuple(args.actions.split(",")))
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
