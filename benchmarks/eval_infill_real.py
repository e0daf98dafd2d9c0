"""Holes of every shape from real files: the server over stdio against the raw model (issue 17).

    .venv/bin/python -m benchmarks.eval_infill_real                      # 3 holes per shape
    .venv/bin/python -m benchmarks.eval_infill_real --languages python --per-shape 6
    .venv/bin/python -m benchmarks.eval_infill_real --ablate cursor-indent --raw-early-stop
    .venv/bin/python -m benchmarks.eval_infill_real --list         # the tasks, no model
    .venv/bin/python -m benchmarks.eval_infill_real --doctests --per-shape 12   # run too

Tasks (benchmarks/infill_real.py): seeded holes of five shapes (one line, part of a line, a
few lines inside a block, a block's whole body, a function's whole body) in functions of
real files of this machine (Python's standard library, npm's JavaScript, Go, Rust, C), each
with every cursor kind that fits it (after the indentation, column 0 of the stripped line,
the end of the line above or of the line, the middle of a line). No tests exist there, so
the scores are exact match, edit similarity and whether the suggestion adds a syntax error
(benchmarks/infill_real_scores.py). With --doctests the holes are Python holes that the
standard library's doctests test (benchmarks/infill_doctests.py), and every answer is also
run against them: pass % next to the rest.

Variants, generated in the same run on the same tasks:
  server          `python -m qwen_lsp` over stdio (benchmarks/infill_server.py), the whole
                  file opened, exactly like an editor; the evaluation's settings
                  (benchmarks/evaluation.py: one thread, no time cap, whole windows).
  raw             the model with the plain PSM FIM prompt, greedy, nothing cut (128 tokens
                  for line and partial holes, 256 for the others). Its prompt holds the
                  whole lines around the cursor that fit in the server's default budgets
                  (384 tokens above, 96 below; --raw-window), as a FIM client must cut a
                  large file too.
  raw first line  that answer cut after its first line with a visible character (a newline
                  the answer starts with is kept: at the end of a line it is the hole's own)
  raw n_indent    that answer cut before its first line indented less than the hole's first
                  line (llama.cpp's n_indent)
The server runs first and alone; the raw model is loaded after it exits (with --jobs 0, one
per core as in the CI floor, they run at once: the same answers, a shared machine's times).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from benchmarks import infill_doctests as doctests
from benchmarks import infill_real as ir
from benchmarks import infill_real_scores as scores
from benchmarks import infill_tasks
from benchmarks.eval_infill import RULES, ablation, server_variants
from benchmarks.evaluation import (
    EVAL_THREADS,
    JOBS_HELP,
    Generated,
    jobs_of,
    revision,
    run_passes,
)
from benchmarks.infill_raw import (
    RAW,
    RAW_CACHE_HELP,
    RAW_FIRST_LINE,
    RAW_MAX_TOKENS,
    RAW_N_INDENT,
    model_store,
    raw_cache_of,
)
from benchmarks.infill_server import SERVER, server_pass
from benchmarks.raw_cache import raw_pass
from qwen_lsp.modelstore import resolve

SEED = 1
PER_SHAPE = 3
RAW_WINDOW = (384, 96)  # the server's default prefixTokens and suffixTokens


def first_visible_line(text: str) -> str:
    """The answer cut after its first line with a visible character."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.strip():
            return "\n".join(lines[: index + 1]).rstrip()
    return ""


def simple_cuts(task: ir.Task, text: str) -> dict[str, str]:
    return {
        RAW_FIRST_LINE: first_visible_line(text),
        RAW_N_INDENT: infill_tasks.cut_at_dedent(text, task.indent),
    }


def window(
    prefix: str, suffix: str, count: Any, budgets: tuple[int, int] = RAW_WINDOW
) -> tuple[str, str]:
    """The whole lines next to the cursor that fit the token budgets (the cursor's own line
    always); ``count`` gives a text's tokens."""
    start = prefix.rfind("\n") + 1
    room = budgets[0] - count(prefix[start:])
    while start > 0:
        previous = prefix.rfind("\n", 0, start - 1) + 1
        room -= count(prefix[previous:start])
        if room < 0:
            break
        start = previous
    end = suffix.find("\n")
    end = len(suffix) if end < 0 else end
    room = budgets[1] - count(suffix[:end])
    while end < len(suffix):
        following = suffix.find("\n", end + 1)
        following = len(suffix) if following < 0 else following
        room -= count(suffix[end:following])
        if room < 0:
            break
        end = following
    return prefix[start:], suffix[:end]


def run_raw(
    tasks: Sequence[ir.Task],
    model: str,
    threads: int,
    early_stop: bool,
    budgets: tuple[int, int],
    progress: Any,
) -> dict[str, Generated]:
    from benchmarks.infill_raw import RawModel

    started = time.monotonic()
    raw = RawModel(model, threads)
    progress(f"raw model loaded in {time.monotonic() - started:.1f} s")

    def count(text: str) -> int:
        return len(raw.llm.tokenize(text.encode(), add_bos=False, special=False))

    results: dict[str, Generated] = {}
    for index, task in enumerate(tasks, 1):
        t = time.monotonic()
        prefix, suffix = window(task.prefix, task.suffix, count, budgets)
        clipped = dataclasses.replace(task, prefix=prefix, suffix=suffix)
        text, reason, prompt_tokens, generated = raw.generate(
            cast(infill_tasks.Task, clipped), RAW_MAX_TOKENS[task.kind], early_stop
        )
        extra = {"stop_reason": reason, "prompt_tokens": prompt_tokens, "generated": generated}
        results[task.id] = Generated(text, time.monotonic() - t, extra=extra)
        progress(f"{index}/{len(tasks)} {task.id} {results[task.id].seconds:.1f} s {reason}")
    raw.llm.close()
    return results


def plot(rows: Sequence[dict[str, Any]], variants: Sequence[str], path: Path, title: str) -> None:
    """Edit similarity per shape and cursor, one panel per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = list(dict.fromkeys(row["language"] for row in rows))
    figure, axes = plt.subplots(
        len(languages), 1, figsize=(12, 2.6 * len(languages)), squeeze=False, sharey=True
    )
    width = 0.8 / max(1, len(variants))
    for axis, language in zip(axes[:, 0], languages, strict=True):
        mine = [row for row in rows if row["language"] == language]
        for i, variant in enumerate(variants):
            xs = [k + (i - (len(variants) - 1) / 2) * width for k in range(len(mine))]
            ys = [row.get(variant, {}).get("similarity", 0.0) for row in mine]
            bars = axis.bar(xs, ys, width, label=variant)
            axis.bar_label(bars, fmt="%.0f", fontsize=6)
        labels = [f"{r['shape']}\n{r['cursor']} ({r['n']})" for r in mine]
        axis.set_xticks(range(len(mine)), labels, fontsize=7)
        axis.set_ylim(0, 100)
        axis.set_ylabel(f"{language}\nedit sim. %")
    axes[0, 0].set_title(title)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _print_groups(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> None:
    for field in ("shape", "cursor", "language"):
        print()
        print(scores.grouped_table(scores.grouped(records, variants, field), field, variants))


def _pairs(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        if part.strip():
            language, _, count = part.partition("=")
            out[language.strip()] = int(count)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--languages", default=",".join(ir.LANGUAGES))
    parser.add_argument("--shapes", default=",".join(ir.SHAPES))
    parser.add_argument("--cursors", default=",".join(ir.CURSORS))
    parser.add_argument("--per-shape", type=int, default=PER_SHAPE, help="holes per shape")
    parser.add_argument(
        "--per-language",
        type=_pairs,
        default={},
        metavar="LANG=N,...",
        help="holes per shape for these languages instead (e.g. python=6)",
    )
    parser.add_argument(
        "--files",
        action="append",
        default=[],
        metavar="LANG=GLOB",
        help="this language's holes from these files instead of its usual sources (repeat for "
        "more globs), e.g. python='qwen_lsp/**/*.py': code newer than the model, which it "
        "cannot have memorized (the standard library it may recall word for word)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--doctests",
        action="store_true",
        help="Python holes the standard library's doctests test, scored by running them too",
    )
    parser.add_argument("--variants", default="server,raw", help="server, raw or server,raw")
    parser.add_argument("--server-options", type=json.loads, default={})
    parser.add_argument(
        "--ablate",
        action="append",
        default=[],
        metavar="RULES",
        help=f"another server variant with these rules off ({', '.join(RULES)})",
    )
    parser.add_argument(
        "--ablation",
        type=ablation,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="another server variant with these initializationOptions on top",
    )
    parser.add_argument("--raw-early-stop", action="store_true", help="stop once cuts settle")
    parser.add_argument(
        "--raw-window",
        default=f"{RAW_WINDOW[0]},{RAW_WINDOW[1]}",
        help="tokens of whole lines above,below the cursor in the raw prompt",
    )
    parser.add_argument("--raw-cache", type=Path, help=RAW_CACHE_HELP)
    parser.add_argument("--threads", type=int, default=EVAL_THREADS)
    parser.add_argument("--jobs", type=int, default=1, help=JOBS_HELP)
    parser.add_argument("--out", type=Path, help="JSON (.artifacts/eval_infill_real_<model>.json)")
    parser.add_argument("--plot", type=Path, help="bar chart of edit similarity (PNG)")
    parser.add_argument(
        "--table-from", type=Path, help="print the table (and --plot) of an earlier run's JSON"
    )
    parser.add_argument("--list", action="store_true", help="print the tasks and stop")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def load_tasks(
    args: argparse.Namespace,
) -> tuple[list[ir.Task], dict[str, Any], dict[str, doctests.Doctest]]:
    """The tasks, where they came from, and the doctest of each tested task (--doctests)."""
    shapes = [cast(ir.Shape, s) for s in args.shapes.split(",") if s]
    cursor_kinds = [cast(ir.Cursor, c) for c in args.cursors.split(",") if c]
    if not set(shapes) <= set(ir.SHAPES) or not set(cursor_kinds) <= set(ir.CURSORS):
        raise SystemExit(f"--shapes takes {ir.SHAPES}, --cursors {ir.CURSORS}")
    if args.doctests:
        tasks, tests, counts = doctests.build_tasks(args.per_shape, args.seed, shapes, cursor_kinds)
        functions = len({test.name for test in tests.values()})
        return tasks, {"python doctests": {"functions": functions, "holes": counts}}, tests
    tasks: list[ir.Task] = []
    notes: dict[str, Any] = {}
    globs: dict[str, list[str]] = {}
    for pair in args.files:
        language, _, pattern = pair.partition("=")
        if not pattern:
            raise SystemExit(f"--files takes LANG=GLOB, not {pair!r}")
        globs.setdefault(language, []).append(pattern)
    for language in [lang for lang in args.languages.split(",") if lang]:
        files = ir.load_files(language, globs.get(language))
        count = args.per_language.get(language, args.per_shape)
        found, counts = ir.build_tasks(files, language, count, args.seed, shapes, cursor_kinds)
        tasks.extend(found)
        notes[language] = {"files": len(files), "holes_to_choose_from": counts}
    return tasks, notes, {}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.table_from:
        earlier = json.loads(args.table_from.read_text())
        variants = list(earlier["overall"])
        print(f"{earlier['model']} at {earlier['revision']}: {earlier['command']}\n")
        # rows again from the tasks: an earlier run's table gets today's columns
        earlier["rows"] = scores.summarize(earlier["tasks"], variants)
        print(scores.table(earlier["rows"], variants))
        _print_groups(earlier["tasks"], variants)
        print(f"\noverall: {json.dumps(earlier['overall'])}")
        if args.plot:
            plot(earlier["rows"], variants, args.plot, f"Holes from real files, {earlier['model']}")
        return dict(earlier)
    wanted = {v for v in args.variants.split(",") if v}
    tasks, notes, tests = load_tasks(args)
    if args.list:
        for task in tasks:
            print(f"{task.id}\t{task.hole!r}")
        return {"tasks": [t.id for t in tasks]}
    model_name = args.model or resolve(None, model_store()).path.stem
    out: Path = args.out or Path(".artifacts") / f"eval_infill_real_{Path(model_name).stem}.json"
    budgets = cast(tuple[int, int], tuple(int(x) for x in args.raw_window.split(",")))

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    print(f"{len(tasks)} tasks, model {model_name}: {json.dumps(notes)}", file=sys.stderr)
    servers = server_variants(args) if SERVER in wanted else []
    passes = [server_pass(name, tasks, options, env) for name, options, env in servers]
    finish_raw = None
    if RAW in wanted:
        threads = args.threads or len(os.sched_getaffinity(0))
        early_stop = args.raw_early_stop
        raw, finish_raw = raw_pass(
            RAW,
            tasks,
            lambda share, progress: run_raw(
                share, args.model, threads, early_stop, budgets, progress
            ),
            raw_cache_of(args.raw_cache, args.model, [window, run_raw]),
            lambda task: (task.prefix, task.suffix, task.indent, task.kind, early_stop, budgets),
        )
        passes.append(raw)
    jobs = jobs_of(args.jobs)
    generations, timings = run_passes(passes, progress, jobs)
    if finish_raw is not None:
        generations[RAW] = finish_raw(generations[RAW], progress)

    variants: list[str] = []
    if RAW in wanted:
        variants += ([] if args.raw_early_stop else [RAW]) + [RAW_FIRST_LINE, RAW_N_INDENT]
    variants += [name for name, _, _ in servers]
    counter = scores.SyntaxCounter()
    checker = doctests.Checker()
    records = []
    for task in tasks:
        completions: dict[str, tuple[str, float]] = {}
        if RAW in generations:
            raw = generations[RAW][task.id]
            if not args.raw_early_stop:
                completions[RAW] = (raw.text, raw.seconds)
            for cut, text in simple_cuts(task, raw.text).items():
                completions[cut] = (text, raw.seconds)
        for name, _, _ in servers:
            generated = generations[name][task.id]
            completions[name] = (generated.text, generated.seconds)
        test = tests.get(task.id)
        execute = None if test is None else functools.partial(checker.check, test)
        record = scores.score_record(task, completions, counter, execute)
        record["generations"] = {
            base: dataclasses.asdict(by_task[task.id]) for base, by_task in generations.items()
        }
        records.append(record)
    rows = scores.summarize(records, variants)
    result = {
        "model": model_name,
        "revision": revision(),
        "command": " ".join(["eval_infill_real", *(sys.argv[1:] if argv is None else argv)]),
        "seed": args.seed,
        "per_shape": args.per_shape,
        "per_language": args.per_language,
        "files": args.files,
        "raw_window": budgets,
        "raw_early_stop": args.raw_early_stop,
        "jobs": jobs,
        "sources": notes,
        "server_options": {name: options for name, options, _ in servers},
        "server_env": {name: env for name, _, env in servers if env},
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "rows": rows,
        "overall": scores.overall(records, variants),
        "tasks": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nHoles from real files, {model_name}, seed {args.seed}\n")
    print(scores.table(rows, variants))
    _print_groups(records, variants)
    print(f"\noverall: {json.dumps(result['overall'])}")
    print(f"times (s): {result['timings_seconds']}")
    print(f"wrote {out}")
    if args.plot:
        plot(rows, variants, args.plot, f"Holes from real files, {model_name}, seed {args.seed}")
        print(f"wrote {args.plot}")
    return result


if __name__ == "__main__":
    main()
