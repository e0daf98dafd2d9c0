"""Cross-file completion: the server with and without cross-file context, same tasks, same run.

    .venv/bin/python -m benchmarks.eval_crossfile  # all tasks, off and on
    .venv/bin/python -m benchmarks.eval_crossfile --tasks report-1,irrigation-3 --budgets 256,512

The project (benchmarks/crossfile_project/) is a small greenhouse-watering program written
for this evaluation: units, zones, sensors, irrigation and report modules, and
check_project.py, which executes all of them against known answers. Each task masks the
end of a line of a module that uses something another module defines (a field, a method,
a function with its argument order), the cursor where a user would pause: after the
receiver's dot, an open parenthesis, an `=` (--whole-lines masks the whole line). The
masked module names it at best in an import line, so the model has to see the other file.

For each task a fresh editor session is played over stdio: didOpen of every other module
(check_project.py stays closed: it would give the answers away), for some tasks an edit
(an empty didChange) in the module that defines what the line uses, as if the user had just
been there, didOpen of the masked module, textDocument/inlineCompletion at the hole, then
didClose of everything (no state carries over to the next task). Variants are separate
server processes run one after the other with the same tasks (with --jobs 0, one per core
as in the CI floor, at once: the same answers, a shared machine's times):

  off     crossFileTokens = 0 (the single-file prompt)
  on-N    crossFileTokens = N, for each N of --budgets (default: the server's default)

A completion passes when the project, with it in the hole, runs check_project.py to the end
in a fresh interpreter with a time-out (never in this process: it is model output); exact
match compares it with the masked line. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import infill_tasks as it
from benchmarks.evaluation import (
    EVAL_DEFAULTS,
    GENERATION_FIELDS,
    JOBS_HELP,
    Generated,
    Pass,
    jobs_of,
    revision,
    run_passes,
)
from benchmarks.lsp_driver import Session, suggestion_text
from qwen_lsp.settings import Settings

PROJECT = Path(__file__).resolve().parent / "crossfile_project"
CHECK = "check_project.py"
# Documents live under a folder named like a repository: the header's <|repo_name|>.
ROOT_URI = "file:///eval-crossfile/greenhouse"
REQUEST_TIMEOUT = 90.0
OFF = "off"
CURSOR = "‸"


@dataclass(frozen=True)
class TaskSpec:
    module: str
    line: str  # a line of the module (stripped, it occurs once), "‸" where the cursor is
    touched: str = ""  # "module.py:text of a line" edited just before (the recent-edit ring)


# Lines that use another module's names, typed up to where that knowledge is needed (a
# receiver and its dot, an open call): the rest of the line is the hole. With --whole-lines
# the whole line is the hole, the cursor after its indentation.
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("sensors.py", "soil_moisture_pct=‸moisture_pct_from_counts(counts),"),
    TaskSpec(
        "sensors.py",
        "air_temp_c=‸celsius_from_decikelvin(raw_temp),",
        "units.py:def celsius_from_decikelvin(raw: int) -> float:",
    ),
    TaskSpec(
        "irrigation.py",
        "return max(0.0, round(zone.‸target_moisture_pct - reading.soil_moisture_pct, 1))",
    ),
    TaskSpec("irrigation.py", "zone = registry.‸require(slot.zone_id)", "zones.py:class Zone:"),
    TaskSpec(
        "irrigation.py",
        "total += litres_delivered(‸zone.drip_rate_lpm, slot.minutes)",
        "units.py:def litres_delivered(drip_rate_lpm: float, minutes: int) -> float:",
    ),
    TaskSpec("irrigation.py", "for zone_id in registry.‸all_zone_ids():"),
    TaskSpec(
        "irrigation.py",
        "reading = log.‸latest_for(zone_id)",
        "sensors.py:def latest_for(self, zone_id: str) -> Reading | None:",
    ),
    TaskSpec("report.py", "if not zone.‸frost_sensitive:"),
    TaskSpec(
        "report.py",
        "coldest = log.‸coldest_c(zone_id)",
        "sensors.py:def coldest_c(self, zone_id: str) -> float | None:",
    ),
    TaskSpec("report.py", "if coldest is not None and coldest < ‸FROST_LINE_C:"),
    TaskSpec(
        "report.py",
        "deficit = ‸moisture_deficit_pct(registry.require(zone_id), reading)",
        "irrigation.py:def moisture_deficit_pct(zone: Zone, reading: Reading) -> float:",
    ),
    TaskSpec("report.py", "for zone in registry.‸growing(crop):"),
    TaskSpec(
        "report.py",
        "total += valve_minutes(zone, ‸moisture_deficit_pct(zone, reading))",
        "irrigation.py:def valve_minutes(zone: Zone, deficit_pct: float, *, cap: int = "
        "MAX_VALVE_MINUTES) -> int:",
    ),
    TaskSpec("report.py", "area = registry.‸total_area_m2()"),
    TaskSpec(
        "report.py",
        "return round(plan.‸litres(registry) / area, 3) if area else 0.0",
        "irrigation.py:def litres(self, registry: ZoneRegistry) -> float:",
    ),
    TaskSpec("report.py", "except ‸UnknownZoneError:"),
    TaskSpec(
        "report.py",
        "return litres_delivered(‸zone.drip_rate_lpm, minutes)",
        "units.py:def litres_delivered(drip_rate_lpm: float, minutes: int) -> float:",
    ),
    TaskSpec("report.py", "skipped = log.‸ingest_lines(lines)"),
    TaskSpec(
        "report.py",
        "reading = parse_probe_line(‸lines[0], strict=False)",
        "sensors.py:def parse_probe_line(line: str, *, strict: bool = True) -> Reading | None:",
    ),
    TaskSpec("report.py", 'return f"{reading.‸zone_id} at {clock_label(reading.minute)}"'),
    TaskSpec(
        "report.py",
        "registry = ‸default_registry()",
        "zones.py:def default_registry() -> ZoneRegistry:",
    ),
    TaskSpec("report.py", "plan = ‸plan_watering(log, registry, now_minute)"),
    TaskSpec(
        "report.py",
        "out.extend(plan.‸timetable())",
        "irrigation.py:def timetable(self) -> list[str]:",
    ),
)


@dataclass(frozen=True)
class CrossFileTask:
    id: str  # "report-3": the module's stem and the task's number in it
    module: str
    line: int  # 0-based line of the hole
    prefix: str  # the module up to the cursor
    hole: str
    suffix: str
    touched: tuple[str, int] | None  # (module, 0-based line) edited before the request

    @property
    def column(self) -> int:
        return len(self.prefix) - (self.prefix.rfind("\n") + 1)


def module_sources(project: Path = PROJECT) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(project.glob("*.py"))}


def _line_index(text: str, wanted: str, where: str) -> int:
    found = [i for i, line in enumerate(text.split("\n")) if line.strip() == wanted]
    if len(found) != 1:
        raise ValueError(f"{where}: {wanted!r} occurs {len(found)} times (expected once)")
    return found[0]


def load_tasks(
    specs: Sequence[TaskSpec] = TASKS, project: Path = PROJECT, whole_lines: bool = False
) -> list[CrossFileTask]:
    sources = module_sources(project)
    tasks: list[CrossFileTask] = []
    numbers: dict[str, int] = {}
    for spec in specs:
        text = sources[spec.module]
        typed, _, rest = spec.line.partition(CURSOR)
        if whole_lines:
            typed, rest = "", typed + rest
        index = _line_index(text, typed + rest, spec.module)
        lines = text.split("\n")
        indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
        touched = None
        if spec.touched:
            module, _, wanted = spec.touched.partition(":")
            touched = (module, _line_index(sources[module], wanted, module))
        stem = spec.module.removesuffix(".py")
        numbers[stem] = numbers.get(stem, 0) + 1
        tasks.append(
            CrossFileTask(
                id=f"{stem}-{numbers[stem]}",
                module=spec.module,
                line=index,
                prefix="\n".join(lines[:index]) + "\n" + indent + typed,
                hole=rest,
                suffix="\n" + "\n".join(lines[index + 1 :]),
                touched=touched,
            )
        )
    return tasks


# --------------------------------------------------------------------------- scoring


def check_program(files: dict[str, str]) -> str:
    """One program that writes the project into its folder and runs its checks there (the
    sandbox of infill_tasks.execute runs a single file)."""
    return (
        "import pathlib, sys\n"
        f"FILES = {files!r}\n"
        "for name, text in FILES.items():\n"
        "    pathlib.Path(name).write_text(text)\n"
        "sys.path.insert(0, '.')\n"
        "import check_project\n"
        "check_project.main()\n"
    )


class Scorer:
    """Runs the project's checks with a completion in the hole (each program once)."""

    def __init__(self, timeout: float, project: Path = PROJECT) -> None:
        self.timeout = timeout
        self.sources = module_sources(project)
        self._runs: dict[str, it.Execution] = {}

    def score(self, task: CrossFileTask, completion: str) -> dict[str, Any]:
        files = {**self.sources, task.module: task.prefix + completion + task.suffix}
        source = check_program(files)
        run = self._runs.get(source)
        if run is None:
            run = self._runs[source] = it.execute(source, self.timeout)
        return {
            "passed": run.passed,
            "exact": it.normalized(completion) == it.normalized(task.hole),
            "empty": not completion.strip(),
            "status": run.status,
            "detail": run.detail,
        }


# --------------------------------------------------------------------------- the server


def uri_of(module: str) -> str:
    return f"{ROOT_URI}/{module}"


async def _complete(session: Session, task: CrossFileTask, sources: dict[str, str]) -> str:
    others = [m for m in sources if m not in (task.module, CHECK)]
    for module in others:
        session.open(uri_of(module), "python", sources[module])
    if task.touched is not None:
        module, line = task.touched
        session.insert(uri_of(module), line, 0, "")  # an edit there, the text unchanged
    target = uri_of(task.module)
    session.open(target, "python", task.prefix + task.suffix)
    try:
        _, future = session.request_inline(target, task.line, task.column)
        if not await Session.wait(future, REQUEST_TIMEOUT):
            raise TimeoutError(f"no answer within {REQUEST_TIMEOUT:g} s")
        return suggestion_text(future.result())
    finally:
        for module in [*others, task.module]:
            session.close(uri_of(module))


async def _run_variant(
    options: dict[str, Any],
    tasks: Sequence[CrossFileTask],
    log_path: Path,
    progress: Callable[[str], None],
) -> dict[str, Generated]:
    sources = module_sources()
    session = Session(options, log_path, log_level="info")
    results: dict[str, Generated] = {}
    try:
        await session.start()
        await session.wait_ready()
        for index, task in enumerate(tasks, 1):
            started = time.monotonic()
            try:
                text, error = await _complete(session, task, sources), ""
            except Exception as exc:  # a time-out or a server error scores as empty
                text, error = "", f"{type(exc).__name__}: {exc}"
            seconds = time.monotonic() - started
            last = (await session.status()).get("lastGeneration") or {}
            extra = {name: last[k] for k, name in GENERATION_FIELDS.items() if k in last}
            extra["model_text"] = last.get("text", "")
            results[task.id] = Generated(text, seconds, error, extra)
            progress(f"{index}/{len(tasks)} {task.id} {seconds:.1f} s {text[:50]!r} {error}")
    finally:
        await session.stop()
    return results


def run_variant(
    options: dict[str, Any],
    tasks: Sequence[CrossFileTask],
    log_path: Path,
    progress: Callable[[str], None],
) -> dict[str, Generated]:
    try:
        return asyncio.run(_run_variant(options, tasks, log_path, progress))
    except BaseException:
        log = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        print(f"server log (end):\n{log}", file=sys.stderr)
        raise


def variant_pass(
    variant: str, options: dict[str, Any], tasks: Sequence[CrossFileTask], folder: Path
) -> Pass:
    """A variant's server over all tasks, as a pass (evaluation.run_passes); its log in
    ``folder``."""
    log_path = folder / f"{variant}.server.log"
    return Pass(
        variant,
        f"{variant} {json.dumps(options)}",
        tasks,
        lambda share, progress: run_variant(options, share, log_path, progress),
        splittable=False,  # one log per variant
    )


# --------------------------------------------------------------------------- report


def summarize(records: list[dict[str, Any]], variants: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in variants:
        scores = [r["variants"][variant] for r in records]
        n = len(scores)
        summary[variant] = {
            "n": n,
            "passed": sum(s["passed"] for s in scores),
            "pass@1": round(100.0 * sum(s["passed"] for s in scores) / n, 1) if n else 0.0,
            "exact": round(100.0 * sum(s["exact"] for s in scores) / n, 1) if n else 0.0,
            "empty": sum(s["empty"] for s in scores),
            "mean_seconds": round(sum(s["seconds"] for s in scores) / n, 2) if n else 0.0,
            "mean_prompt_tokens": round(sum(s["prompt_tokens"] for s in scores) / n) if n else 0,
        }
    return summary


def table(summary: dict[str, Any]) -> str:
    head = (
        f"{'variant':<10} {'pass@1':>7} {'passed':>7} {'exact':>6} {'empty':>5}"
        f" {'n':>3} {'s/task':>6} {'prompt tok':>10}"
    )
    lines = [head, "-" * len(head)]
    for variant, c in summary.items():
        lines.append(
            f"{variant:<10} {c['pass@1']:>6.1f}% {c['passed']:>7} {c['exact']:>5.1f}%"
            f" {c['empty']:>5} {c['n']:>3} {c['mean_seconds']:>6.2f} {c['mean_prompt_tokens']:>10}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--tasks", default="", help="comma-separated task ids (default: all)")
    parser.add_argument(
        "--budgets",
        default=str(Settings().crossFileTokens),
        help="crossFileTokens of the 'on' variants, comma-separated (default: the server's)",
    )
    parser.add_argument("--skip-off", action="store_true", help="no 'off' variant")
    parser.add_argument(
        "--whole-lines", action="store_true", help="mask whole lines, not their ends"
    )
    parser.add_argument(
        "--server-options", type=json.loads, default={}, help="JSON initializationOptions"
    )
    parser.add_argument("--jobs", type=int, default=1, help=JOBS_HELP)
    parser.add_argument("--timeout", type=float, default=20.0, help="time-out of one check run")
    parser.add_argument("--out", type=Path, help="JSON (default .artifacts/eval_crossfile.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out: Path = args.out or Path(".artifacts") / "eval_crossfile.json"
    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    if any(b <= 0 for b in budgets):
        raise SystemExit("--budgets takes positive token counts (0 is the 'off' variant)")

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    tasks = load_tasks(whole_lines=args.whole_lines)
    if args.tasks:
        ids = {t.strip() for t in args.tasks.split(",")}
        unknown = ids - {t.id for t in tasks}
        if unknown:
            raise SystemExit(f"unknown task ids {sorted(unknown)}")
        tasks = [t for t in tasks if t.id in ids]
    base = {**EVAL_DEFAULTS, **args.server_options}
    if args.model:
        base["model"] = args.model
    options = {} if args.skip_off else {OFF: {**base, "crossFileTokens": 0}}
    options.update({f"on-{b}": {**base, "crossFileTokens": b} for b in budgets})
    wanted = list(options)
    print(f"{len(tasks)} tasks, variants {wanted}", file=sys.stderr)

    jobs = jobs_of(args.jobs)
    with tempfile.TemporaryDirectory(prefix="eval-crossfile-") as folder:
        passes = [
            variant_pass(variant, options[variant], tasks, Path(folder)) for variant in wanted
        ]
        generations, timings = run_passes(passes, progress, jobs)

    scorer = Scorer(args.timeout)
    records: list[dict[str, Any]] = []
    for task in tasks:
        record: dict[str, Any] = {
            "id": task.id,
            "module": task.module,
            "hole": task.hole,
            "touched": task.touched,
            "variants": {},
        }
        for variant in wanted:
            generated = generations[variant][task.id]
            record["variants"][variant] = {
                "completion": generated.text,
                "seconds": round(generated.seconds, 2),
                "error": generated.error,
                "prompt_tokens": generated.extra.get("prompt_tokens", 0),
                "generation": generated.extra,
                **scorer.score(task, generated.text),
            }
        records.append(record)

    summary = summarize(records, wanted)
    result = {
        "revision": revision(),
        "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
        "options": {v: options[v] for v in wanted},
        "whole_lines": args.whole_lines,
        "jobs": jobs,
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "summary": summary,
        "tasks": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nCross-file completion, {len(tasks)} tasks of {PROJECT.name}\n")
    print(table(summary))
    for record in records:
        marks = " ".join(
            f"{v}:{'pass' if record['variants'][v]['passed'] else 'FAIL'}" for v in wanted
        )
        print(f"  {record['id']:<14} {marks}  {record['hole'][:60]}")
    print(f"\ntimes (s): {result['timings_seconds']}")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
