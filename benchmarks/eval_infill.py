"""HumanEval infilling: the server over stdio against the raw model, on the same tasks.

    .venv/bin/python -m benchmarks.eval_infill                  # CI subset: 20 + 20 tasks, seed 1
    .venv/bin/python -m benchmarks.eval_infill --sample 120,90  # 120 single-line + 90 block
    .venv/bin/python -m benchmarks.eval_infill --sample 0       # all 1,033 + 238 tasks (hours)
    .venv/bin/python -m benchmarks.eval_infill --model qwen2.5-coder-1.5b-instruct --plot out.png
    .venv/bin/python -m benchmarks.eval_infill --variants server \\
        --ablation 'one={"multiline": false}'
    .venv/bin/python -m benchmarks.eval_infill --ablate reparse --ablate placeholder  # rules off

On one CPU core the 0.5B model takes about 4 s a task through the server and 11 s (single
line) to 17 s (block) for the raw model's full 128/256 tokens, so the whole set is hours
(about 6 h; 3 h with --raw-early-stop); the CI subset takes about 5 minutes.

Tasks (benchmarks/infill_tasks.py): every non-blank line of each HumanEval canonical solution
(1,033 single-line tasks) and every statement block of 2-12 lines (238 block tasks), the
cursor after the indentation of the first masked line; with --cursor column0 the cursor sits
at column 0 of that line instead (a blank line whose whitespace the editor stripped) and the
hole holds the indentation.

Variants, all generated in the same run on the same tasks:
  server          `python -m qwen_lsp` over stdio: didOpen, textDocument/inlineCompletion
                  at the cursor, didClose, exactly like an editor; items[0].insertText.
  raw             the model with the plain PSM FIM prompt of the whole prefix and suffix,
                  greedy, nothing cut (max 128 tokens single-line, 256 block).
  raw first line  that answer cut at its first newline.
  raw n_indent    that answer cut before its first line indented less than the hole
                  (llama.cpp's n_indent).
The server runs first and alone; the raw model is loaded after it exits, so the two never
share the CPU and each s/task is that variant's own speed. With --jobs 0 (the CI floor's
setting, one pass per core: each pass uses one model thread, which leaves a second core
idle) they run at once: the answers are the same (greedy, one thread each), only the times
are a shared machine's. Every completion is scored by executing prefix + completion + suffix + the
tests in a fresh interpreter with a time-out: pass@1 (greedy, one sample), exact match, and
whether the completion adds a parse error to the program ("parse err": tree-sitter finds
more ERROR/MISSING nodes than in the reference program, or Python's compiler rejects it;
the JSON has both counts apart).

--raw-early-stop stops the raw generation as soon as both cuts are settled (the CI floor
test uses it): the cuts are the same, "raw" (as generated) is then not reported.

--raw-from FILE takes the raw answers from an earlier run's JSON instead of generating them
again: the raw model is greedy and its prompt is fixed, so only the server side changes
between runs. The earlier run must hold a raw answer for every task, from the same model.
--raw-cache FILE keeps the raw answers by model, llama.cpp, prompt code and task
(benchmarks/raw_cache.py): a run answers from it what it can, checks one answer on this
machine, and adds the answers it generated.

The parts, one module each: benchmarks/infill_tasks.py (the tasks, the simple cuts, the
sandboxed runs), infill_server.py (the server over stdio), infill_raw.py (the raw model
and its cuts, --raw-from), infill_scores.py (scoring every completion, the summary, the
margins), evaluation.py (what eval_crossfile shares). This module holds the command line,
the table and the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from benchmarks import infill_tasks as it
from benchmarks.evaluation import (
    EVAL_DEFAULTS,
    EVAL_THREADS,
    JOBS_HELP,
    jobs_of,
    revision,
    run_passes,
)
from benchmarks.infill_raw import (
    RAW,
    RAW_CACHE_HELP,
    SIMPLE_CUTS,
    load_raw,
    model_store,
    raw_cache_of,
    run_raw,
)
from benchmarks.infill_scores import margins, score_tasks, summarize
from benchmarks.infill_server import SERVER, server_pass
from benchmarks.raw_cache import raw_pass
from qwen_lsp.modelstore import resolve

CI_SAMPLE = 20  # tasks of each kind in the CI subset (see tests/e2e/test_eval_floor.py)
CI_SEED = 1
# Quality rules of the server that --ablate can switch off (the server reads the variable
# at start-up into its internal setting disableRules; qwen_lsp/postprocess/ and
# qwen_lsp/context.py define them).
DISABLE_RULES_ENV = "QWEN_LSP_DISABLE_RULES"
RULES = (
    "indent-in-prefix",
    "reparse",
    "balance",
    "placeholder",
    "blank-run",
    "repeat-later",
    "paragraph",
    "cursor-indent",
    "outline",
    "declared-below",
    "jump-before-code",
    "overwritten",
    "long-insert",
    "implied-indent",
    "unsure-insert",
    "similar-open-end",
    "repeat-elsewhere",
    "bound-inside",
)


def table(summary: dict[str, Any]) -> str:
    kinds = [k for k in it.KINDS if any(k in cells for cells in summary.values())]
    width = max([len(v) for v in summary] + [14])
    head = f"{'variant':<{width}}"
    rule = "-" * width
    for kind in kinds:
        title = "single-line" if kind == "line" else "block"
        head += (
            f" | {title + ' pass@1':>18} {'exact':>6} {'parse err':>9} {'empty':>5}"
            f" {'n':>4} {'s/task':>6}"
        )
        rule += "-+-" + "-" * 53
    lines = [head, rule]
    for variant, cells in summary.items():
        row = f"{variant:<{width}}"
        for kind in kinds:
            c = cells.get(kind)
            if c is None:
                row += f" | {'-':>18} {'-':>6} {'-':>9} {'-':>5} {'-':>4} {'-':>6}"
            else:
                row += (
                    f" | {c['pass@1']:>17.1f}% {c['exact']:>5.1f}% {c['parse_errors']:>9}"
                    f" {c['empty']:>5} {c['n']:>4} {c['mean_seconds']:>6.2f}"
                )
        lines.append(row)
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(summary)
    kinds = [k for k in it.KINDS if any(k in cells for cells in summary.values())]
    figure, axes = plt.subplots(figsize=(2 + 1.6 * len(variants) * len(kinds) / 2, 4.5))
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        xs = [k + (i - (len(variants) - 1) / 2) * width for k in range(len(kinds))]
        ys = [summary[variant].get(kind, {}).get("pass@1", 0.0) for kind in kinds]
        bars = axes.bar(xs, ys, width, label=variant)
        axes.bar_label(bars, fmt="%.0f", fontsize=8)
    labels = [f"{'single-line' if k == 'line' else 'block'} (n={_n(summary, k)})" for k in kinds]
    axes.set_xticks(range(len(kinds)), labels)
    axes.set_ylabel("pass@1 (%)")
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _n(summary: dict[str, Any], kind: str) -> int:
    return max((cells[kind]["n"] for cells in summary.values() if kind in cells), default=0)


# --------------------------------------------------------------------------- main


def ablation(text: str) -> tuple[str, dict[str, Any]]:
    name, sep, options = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME=JSON, e.g. 'line={\"multiline\": false}'")
    value = json.loads(options)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("the options must be a JSON object")
    return f"server {name.strip()}", value


def server_variants(args: argparse.Namespace) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """The server variants to run, (name, initializationOptions, environment), from the
    arguments both evaluations share: --server-options, --model, --ablation, --ablate."""
    options = {**EVAL_DEFAULTS, **args.server_options}
    if args.model:
        options.setdefault("model", args.model)
    servers: list[tuple[str, dict[str, Any], dict[str, str]]] = [(SERVER, options, {})]
    servers.extend((name, {**options, **extra}, {}) for name, extra in args.ablation)
    for rules in args.ablate:
        unknown = set(rules.split(",")) - set(RULES)
        if unknown:
            raise SystemExit(f"--ablate: unknown rules {sorted(unknown)}; known: {RULES}")
        servers.append((f"server -{rules}", options, {DISABLE_RULES_ENV: rules}))
    return servers


def _sample_sizes(text: str) -> dict[str, int]:
    sizes = [int(part) for part in text.split(",")]
    if len(sizes) == 1:
        sizes *= 2
    if len(sizes) != 2 or min(sizes) < 0:
        raise argparse.ArgumentTypeError("expected N or N_LINE,N_BLOCK (0 = all)")
    return dict(zip(it.KINDS, sizes, strict=True))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--kinds", default="line,block", help="line, block or line,block")
    parser.add_argument(
        "--sample",
        type=_sample_sizes,
        default={"line": CI_SAMPLE, "block": CI_SAMPLE},
        metavar="N|N_LINE,N_BLOCK",
        help=f"tasks of each kind, chosen with --seed (0 = all; default {CI_SAMPLE})",
    )
    parser.add_argument("--seed", type=int, default=CI_SEED)
    parser.add_argument(
        "--cursor",
        choices=it.CURSORS,
        default="indent",
        help="where the cursor sits on the hole's first line: after the indentation the"
        " editor put there (default), or at column 0 of a line whose whitespace was stripped",
    )
    parser.add_argument("--tasks", default="", help="comma-separated task ids (overrides sample)")
    parser.add_argument("--variants", default="server,raw", help="server, raw or server,raw")
    parser.add_argument(
        "--server-options", type=json.loads, default={}, help="JSON initializationOptions"
    )
    parser.add_argument(
        "--ablation",
        type=ablation,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="another server variant with these options on top (repeatable)",
    )
    parser.add_argument(
        "--ablate",
        action="append",
        default=[],
        metavar="RULES",
        help="another server variant with these post-processing/context rules off"
        f" (comma-separated; {', '.join(RULES)}; repeatable)",
    )
    parser.add_argument("--raw-early-stop", action="store_true", help="stop once cuts settle")
    parser.add_argument(
        "--raw-from", type=Path, help="reuse the raw answers of an earlier run's JSON (--out)"
    )
    parser.add_argument("--raw-cache", type=Path, help=RAW_CACHE_HELP)
    parser.add_argument(
        "--threads", type=int, default=EVAL_THREADS, help="raw model threads (0 = all cores)"
    )
    parser.add_argument("--jobs", type=int, default=1, help=JOBS_HELP)
    parser.add_argument("--timeout", type=float, default=10.0, help="time-out of one test run")
    parser.add_argument("--out", type=Path, help="JSON (.artifacts/eval_infill_<model>.json)")
    parser.add_argument("--plot", type=Path, help="bar chart of pass@1 (PNG)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    kinds = [cast(it.Kind, k.strip()) for k in args.kinds.split(",") if k.strip()]
    wanted = {v.strip() for v in args.variants.split(",") if v.strip()}
    if not set(kinds) <= set(it.KINDS) or not wanted <= {SERVER, RAW}:
        raise SystemExit("--kinds takes line,block and --variants takes server,raw")
    model_name = args.model or resolve(None, model_store()).path.stem
    out: Path = args.out or Path(".artifacts") / f"eval_infill_{Path(model_name).stem}.json"

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    all_tasks = it.all_tasks(it.load_problems(), kinds)
    if args.tasks:
        ids = {t.strip() for t in args.tasks.split(",")}
        tasks = [t for t in all_tasks if t.id in ids]
    else:
        tasks = it.sample(all_tasks, args.sample, args.seed)
    if args.cursor == "column0":
        tasks = [it.at_column_0(t) for t in tasks]
    counts = {k: sum(t.kind == k for t in tasks) for k in kinds}
    print(f"{len(tasks)} tasks {counts}, model {model_name}", file=sys.stderr)

    servers = server_variants(args) if SERVER in wanted else []
    passes = [server_pass(name, tasks, options, env) for name, options, env in servers]
    finish_raw = None
    if RAW in wanted and not args.raw_from:
        threads = args.threads or len(os.sched_getaffinity(0))
        early_stop = args.raw_early_stop
        raw, finish_raw = raw_pass(
            RAW,
            tasks,
            lambda share, progress: run_raw(share, args.model, threads, early_stop, progress),
            raw_cache_of(args.raw_cache, args.model),
            lambda task: (task.prefix, task.suffix, task.indent, task.kind, early_stop),
        )
        passes.append(raw)
    jobs = jobs_of(args.jobs)
    generations, timings = run_passes(passes, progress, jobs)
    if finish_raw is not None:
        generations[RAW] = finish_raw(generations[RAW], progress)
    if RAW in wanted and args.raw_from:
        generations[RAW], args.raw_early_stop = load_raw(args.raw_from, tasks, model_name)
        print(f"== raw model: answers from {args.raw_from}", file=sys.stderr)

    variants = [name for name, _, _ in servers]
    if RAW in wanted:
        variants = ([] if args.raw_early_stop else [RAW]) + list(SIMPLE_CUTS) + variants
    print("== scoring", file=sys.stderr)
    t = time.monotonic()
    scorer = it.Scorer(args.timeout)
    records = score_tasks(tasks, generations, variants, scorer, args.raw_early_stop)
    timings["scoring"] = time.monotonic() - t

    summary = summarize(records, variants)
    result = {
        "model": model_name,
        "revision": revision(),
        "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
        "sample": args.sample,
        "seed": args.seed,
        "cursor": args.cursor,
        "kinds": kinds,
        "server_options": {name: options for name, options, _ in servers},
        "server_env": {name: env for name, _, env in servers if env},
        "raw_early_stop": args.raw_early_stop,
        "raw_from": str(args.raw_from) if args.raw_from else None,
        "jobs": jobs,
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "executions": scorer.executions,
        "summary": summary,
        "margins": margins(summary) if SERVER in summary else {},
        "tasks": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nHumanEval infilling, {model_name}, seed {args.seed}, cursor {args.cursor}\n")
    print(table(summary))
    if result["margins"]:
        parts = [
            f"{value:+.1f} points {'single' if kind == 'line' else 'block'}"
            for kind, value in result["margins"].items()
        ]
        print(f"\nserver vs best simple cut: {', '.join(parts)}")
    print(f"\ntimes (s): {result['timings_seconds']}")
    print(f"wrote {out}")
    if args.plot:
        plot(summary, args.plot, f"HumanEval infilling, {model_name}")
        print(f"wrote {args.plot}")
    return result


if __name__ == "__main__":
    main()
