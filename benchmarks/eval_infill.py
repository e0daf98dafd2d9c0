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
cursor after the indentation of the first masked line.

Variants, all generated in the same run on the same tasks:
  server          `python -m qwen_lsp` over stdio: didOpen, textDocument/inlineCompletion
                  at the cursor, didClose, exactly like an editor; items[0].insertText.
  raw             the model with the plain PSM FIM prompt of the whole prefix and suffix,
                  greedy, nothing cut (max 128 tokens single-line, 256 block).
  raw first line  that answer cut at its first newline.
  raw n_indent    that answer cut before its first line indented less than the hole
                  (llama.cpp's n_indent).
The server runs first and alone; the raw model is loaded after it exits, so the two never
share the CPU. Every completion is scored by executing prefix + completion + suffix + the
tests in a fresh interpreter with a time-out: pass@1 (greedy, one sample), exact match, and
whether the completion adds a parse error to the program ("parse err": tree-sitter finds
more ERROR/MISSING nodes than in the reference program, or Python's compiler rejects it;
the JSON has both counts apart).

--raw-early-stop stops the raw generation as soon as both cuts are settled (the CI floor
test uses it): the cuts are the same, "raw" (as generated) is then not reported.

--raw-from FILE takes the raw answers from an earlier run's JSON instead of generating them
again: the raw model is greedy and its prompt is fixed, so only the server side changes
between runs. The earlier run must hold a raw answer for every task, from the same model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks import infill_tasks as it
from qwen_lsp import protocol
from qwen_lsp.engine import FimTokens
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings import resolve_settings

CI_SAMPLE = 20  # tasks of each kind in the CI subset (see tests/e2e/test_eval_floor.py)
CI_SEED = 1
SERVER = "server"
RAW = "raw"
RAW_FIRST_LINE = "raw first line"
RAW_N_INDENT = "raw n_indent"
SIMPLE_CUTS = (RAW_FIRST_LINE, RAW_N_INDENT)
RAW_MAX_TOKENS = {"line": 128, "block": 256}
REQUEST_TIMEOUT = 60.0
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
    "cursor-indent",
    "outline",
)


@dataclass
class Generated:
    text: str
    seconds: float
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- the server


def _position(text: str) -> types.Position:
    """LSP position (UTF-16 column) of the end of ``text``."""
    line = text.count("\n")
    column = text[text.rfind("\n") + 1 :]
    return types.Position(line=line, character=len(column.encode("utf-16-le")) // 2)


def _items(
    result: types.InlineCompletionList | Sequence[types.InlineCompletionItem] | None,
) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


def _insert_text(item: types.InlineCompletionItem) -> str:
    text = item.insert_text
    return text if isinstance(text, str) else text.value


class ServerSession:
    """One language server process, driven over stdio like an editor."""

    def __init__(
        self, options: dict[str, Any], log_file: Path, env: dict[str, str] | None = None
    ) -> None:
        self.options = options
        self.log_file = log_file
        self.env = env or {}
        self.client = LanguageClient("eval-infill", "1")
        self.messages: list[str] = []
        self._count = 0

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

    async def start(self) -> None:
        await self.client.start_io(
            sys.executable,
            "-m",
            "qwen_lsp",
            "--log-level",
            "warning",
            "--log-file",
            str(self.log_file),
            env={**os.environ, **self.env},
        )
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                process_id=os.getpid(),
                initialization_options=self.options,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def complete(self, prefix: str, suffix: str, timeout: float = REQUEST_TIMEOUT) -> str:
        self._count += 1
        uri = f"file:///eval-infill/task{self._count}.py"
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=prefix + suffix
                )
            )
        )
        try:
            result = await asyncio.wait_for(
                self.client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=_position(prefix),
                        context=types.InlineCompletionContext(
                            trigger_kind=types.InlineCompletionTriggerKind.Automatic
                        ),
                    )
                ),
                timeout,
            )
        finally:
            self.client.text_document_did_close(
                types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri))
            )
        items = _items(result)
        return _insert_text(items[0]) if items else ""

    async def status(self) -> Any:
        return await self.client.protocol.send_request_async(protocol.STATUS_METHOD, {})

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        finally:
            await self.client.stop()


WARM_UP = ("def add(a, b):\n    ", "\n")
# The evaluation measures what the server suggests, not how busy this machine is: the
# editor default time cap (4 s) would cut answers short whenever someone else uses the CPU
# (--server-options '{"maxSeconds": 4}' restores it). One thread, for the server and the raw
# model alike: on a machine with one physical core (two hyperthreads) llama.cpp with two
# threads ran 3-5x slower than with one as soon as any other process wanted the CPU.
EVAL_THREADS = 1
EVAL_DEFAULTS: dict[str, Any] = {"maxSeconds": 60.0, "threads": EVAL_THREADS}
# What the scores keep of the status's lastGeneration (protocol.GenerationFigures), by
# the names the result files have always used.
GENERATION_FIELDS = {
    "stopReason": "stop_reason",
    "promptTokens": "prompt_tokens",
    "reusedTokens": "reused_tokens",
    "generatedTokens": "generated_tokens",
}


def plain(value: Any) -> Any:
    """A pygls response object (namedtuples for unknown methods) as plain JSON values."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def _run_server(
    tasks: Sequence[it.Task],
    options: dict[str, Any],
    progress: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> dict[str, Generated]:
    results: dict[str, Generated] = {}
    with tempfile.TemporaryDirectory(prefix="eval-infill-server-") as folder:
        log_file = Path(folder) / "server.log"
        session = ServerSession(options, log_file, env)
        await session.start()
        try:
            started = time.monotonic()
            # The first request waits for the model to load: not part of any task's latency.
            await session.complete(*WARM_UP, timeout=600)
            status = await session.status()
            if plain(status).get("state") != "ready":
                raise RuntimeError(f"server not ready: {status} {session.messages}")
            progress(f"model loaded in {time.monotonic() - started:.1f} s")
            for index, task in enumerate(tasks, 1):
                t = time.monotonic()
                try:
                    text = await session.complete(task.prefix, task.suffix)
                    error = ""
                except Exception as exc:  # a time-out or a server error scores as empty
                    text, error = "", f"{type(exc).__name__}: {exc}"
                seconds = time.monotonic() - t
                last = plain(await session.status()).get("lastGeneration") or {}
                extra = {name: last[k] for k, name in GENERATION_FIELDS.items() if k in last}
                # The model's own text before the server cut it: what post-processing saw.
                extra["model_text"] = last.get("text", "")
                results[task.id] = Generated(text, seconds, error, extra)
                stop = extra.get("stop_reason", "")
                progress(f"{index}/{len(tasks)} {task.id} {seconds:.1f} s {stop} {error}")
        except BaseException:
            log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            print(f"server log (end):\n{log}", file=sys.stderr)
            raise
        finally:
            await session.stop()
    return results


def run_server(
    tasks: Sequence[it.Task],
    options: dict[str, Any],
    progress: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> dict[str, Generated]:
    return asyncio.run(_run_server(tasks, options, progress, env))


# --------------------------------------------------------------------------- the raw model


def _store() -> StoreConfig:
    """The model store the server sees (the same environment configures both)."""
    return StoreConfig.from_settings(resolve_settings(os.environ).settings)


class RawModel:
    """The model itself: plain PSM FIM prompt, greedy, no post-processing."""

    def __init__(self, model: str, threads: int, n_ctx: int = 4096) -> None:
        import llama_cpp

        resolved = resolve(model or None, _store())
        self.path = resolved.path
        self.fim = resolved.spec.fim if resolved.spec else FimTokens()
        stop = resolved.spec.stop if resolved.spec else DEFAULT_STOP
        self.llm: Any = llama_cpp.Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.stop_ids = {self.llm.token_eos()}
        for text in stop:
            ids = self.llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                self.stop_ids.add(ids[0])

    def prompt(self, prefix: str, suffix: str) -> list[int]:
        fim = self.fim
        text = f"{fim.prefix}{prefix}{fim.suffix}{suffix}{fim.middle}"
        tokens: list[int] = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        return tokens

    def generate(
        self, task: it.Task, max_tokens: int, early_stop: bool
    ) -> tuple[str, str, int, int]:
        """(text, stop reason, prompt tokens, generated tokens)."""
        tokens = self.prompt(task.prefix, task.suffix)
        room = self.llm.n_ctx() - len(tokens)
        max_tokens = min(max_tokens, room)
        out = bytearray()
        reason = "max_tokens"
        count = 0
        # reset=True still reuses the KV cache of the longest common token prefix.
        stream = self.llm.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True)
        try:
            for token in stream:
                if token in self.stop_ids:
                    reason = "stop_token"
                    break
                count += 1
                out += self.llm.detokenize([token])
                if count >= max_tokens:
                    break
                if early_stop and b"\n" in out:
                    text = out.decode("utf-8", errors="replace")
                    if it.dedent_settled(text, task.indent):
                        reason = "early_stop"
                        break
        finally:
            stream.close()
        return out.decode("utf-8", errors="replace"), reason, len(tokens), count


def run_raw(
    tasks: Sequence[it.Task],
    model: str,
    threads: int,
    early_stop: bool,
    progress: Callable[[str], None],
) -> dict[str, Generated]:
    started = time.monotonic()
    raw = RawModel(model, threads)
    progress(f"raw model loaded in {time.monotonic() - started:.1f} s")
    results: dict[str, Generated] = {}
    for index, task in enumerate(tasks, 1):
        t = time.monotonic()
        text, reason, prompt_tokens, generated = raw.generate(
            task, RAW_MAX_TOKENS[task.kind], early_stop
        )
        results[task.id] = Generated(
            text,
            time.monotonic() - t,
            extra={
                "stop_reason": reason,
                "prompt_tokens": prompt_tokens,
                "generated_tokens": generated,
            },
        )
        progress(f"{index}/{len(tasks)} {task.id} {results[task.id].seconds:.1f} s {reason}")
    raw.llm.close()
    return results


# --------------------------------------------------------------------------- scoring, report


def load_raw(path: Path, tasks: Sequence[it.Task], model: str) -> tuple[dict[str, Generated], bool]:
    """The raw answers of an earlier run for ``tasks``, and whether it stopped them early."""
    earlier = json.loads(path.read_text())
    if earlier.get("model") != model:
        raise SystemExit(f"--raw-from: {path} is of model {earlier.get('model')!r}, not {model!r}")
    by_id = {record["id"]: record for record in earlier["tasks"]}
    missing = [t.id for t in tasks if RAW not in by_id.get(t.id, {}).get("generations", {})]
    if missing:
        raise SystemExit(
            f"--raw-from: {path} has no raw answer for {len(missing)} tasks: {missing[:3]}"
        )
    raw = {t.id: Generated(**by_id[t.id]["generations"][RAW]) for t in tasks}
    return raw, bool(earlier.get("raw_early_stop"))


def completions_of(
    variant: str, base: str, generated: Generated, task: it.Task, early_stop: bool
) -> str | None:
    if base == RAW:
        if variant == RAW:
            return None if early_stop else generated.text
        if variant == RAW_FIRST_LINE:
            return it.first_line(generated.text)
        if variant == RAW_N_INDENT:
            return it.cut_at_dedent(generated.text, task.indent)
    return generated.text


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


def _ablation(text: str) -> tuple[str, dict[str, Any]]:
    name, sep, options = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected NAME=JSON, e.g. 'line={\"multiline\": false}'")
    value = json.loads(options)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("the options must be a JSON object")
    return f"server {name.strip()}", value


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
    parser.add_argument("--tasks", default="", help="comma-separated task ids (overrides sample)")
    parser.add_argument("--variants", default="server,raw", help="server, raw or server,raw")
    parser.add_argument(
        "--server-options", type=json.loads, default={}, help="JSON initializationOptions"
    )
    parser.add_argument(
        "--ablation",
        type=_ablation,
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
    parser.add_argument(
        "--threads", type=int, default=EVAL_THREADS, help="raw model threads (0 = all cores)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="time-out of one test run")
    parser.add_argument("--out", type=Path, help="JSON (.artifacts/eval_infill_<model>.json)")
    parser.add_argument("--plot", type=Path, help="bar chart of pass@1 (PNG)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def _revision() -> str:
    """The work tree's commit (with "+dirty" when it has changes): figures drift with it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    kinds = [cast(it.Kind, k.strip()) for k in args.kinds.split(",") if k.strip()]
    wanted = {v.strip() for v in args.variants.split(",") if v.strip()}
    if not set(kinds) <= set(it.KINDS) or not wanted <= {SERVER, RAW}:
        raise SystemExit("--kinds takes line,block and --variants takes server,raw")
    model_name = args.model or resolve(None, _store()).path.stem
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
    counts = {k: sum(t.kind == k for t in tasks) for k in kinds}
    print(f"{len(tasks)} tasks {counts}, model {model_name}", file=sys.stderr)

    servers: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    if SERVER in wanted:
        server_options = {**EVAL_DEFAULTS, **args.server_options}
        if args.model:
            server_options.setdefault("model", args.model)
        servers.append((SERVER, server_options, {}))
        servers.extend((name, {**server_options, **extra}, {}) for name, extra in args.ablation)
        for rules in args.ablate:
            unknown = set(rules.split(",")) - set(RULES)
            if unknown:
                raise SystemExit(f"--ablate: unknown rules {sorted(unknown)}; known: {RULES}")
            env = {DISABLE_RULES_ENV: rules}
            servers.append((f"server -{rules}", server_options, env))
    generations: dict[str, dict[str, Generated]] = {}
    timings: dict[str, float] = {}
    for name, options, env in servers:
        print(f"== {name} {json.dumps(options)} {json.dumps(env)}", file=sys.stderr)
        t = time.monotonic()
        generations[name] = run_server(tasks, options, progress, env)
        timings[name] = time.monotonic() - t
    if RAW in wanted and args.raw_from:
        generations[RAW], args.raw_early_stop = load_raw(args.raw_from, tasks, model_name)
        print(f"== raw model: answers from {args.raw_from}", file=sys.stderr)
    elif RAW in wanted:
        print("== raw model", file=sys.stderr)
        t = time.monotonic()
        threads = args.threads or len(os.sched_getaffinity(0))
        generations[RAW] = run_raw(tasks, args.model, threads, args.raw_early_stop, progress)
        timings[RAW] = time.monotonic() - t

    variants = [name for name, _, _ in servers]
    if RAW in wanted:
        variants = ([] if args.raw_early_stop else [RAW]) + list(SIMPLE_CUTS) + variants
    print("== scoring", file=sys.stderr)
    t = time.monotonic()
    scorer = it.Scorer(args.timeout)
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
            completion = completions_of(variant, base, generated, task, args.raw_early_stop)
            if completion is None:
                continue
            score = scorer.score(task, completion)
            record["variants"][variant] = {
                "completion": completion,
                "seconds": generated.seconds,
                **asdict(score),
            }
        records.append(record)
    timings["scoring"] = time.monotonic() - t

    summary = summarize(records, variants)
    result = {
        "model": model_name,
        "revision": _revision(),
        "command": " ".join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)]),
        "sample": args.sample,
        "seed": args.seed,
        "kinds": kinds,
        "server_options": {name: options for name, options, _ in servers},
        "server_env": {name: env for name, _, env in servers if env},
        "raw_early_stop": args.raw_early_stop,
        "raw_from": str(args.raw_from) if args.raw_from else None,
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "executions": scorer.executions,
        "summary": summary,
        "margins": margins(summary) if SERVER in summary else {},
        "tasks": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nHumanEval infilling, {model_name}, seed {args.seed}\n")
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
