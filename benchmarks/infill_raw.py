"""The raw model of the HumanEval infilling evaluation (benchmarks/eval_infill.py), and its cuts.

The baseline the server has to beat: the model itself in this process (llama-cpp-python),
the plain PSM FIM prompt of the whole prefix and suffix, greedy, nothing cut (at most 128
tokens single-line, 256 block), and two simple cuts of that answer, the variants
"raw first line" (at its first newline) and "raw n_indent" (before its first line indented
less than the hole, llama.cpp's n_indent). With early stop the generation ends as soon as
both cuts are settled (the uncut answer is then not reported). `load_raw` takes the raw
answers from an earlier run's JSON instead: the raw model is greedy and its prompt fixed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import infill_tasks as it
from benchmarks.evaluation import Generated
from benchmarks.raw_cache import RawCache, identity
from qwen_lsp.engine import FimTokens
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings_resolve import resolve_settings

RAW = "raw"
RAW_FIRST_LINE = "raw first line"
RAW_N_INDENT = "raw n_indent"
SIMPLE_CUTS = (RAW_FIRST_LINE, RAW_N_INDENT)
RAW_MAX_TOKENS = {"line": 128, "block": 256}


def model_store() -> StoreConfig:
    """The model store the server sees (the same environment configures both)."""
    return StoreConfig.from_settings(resolve_settings(os.environ).settings)


class RawModel:
    """The model itself: plain PSM FIM prompt, greedy, no post-processing."""

    def __init__(self, model: str, threads: int, n_ctx: int = 4096) -> None:
        import llama_cpp

        resolved = resolve(model or None, model_store())
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


RAW_CACHE_HELP = (
    "keep the raw answers in this JSON (by model, llama.cpp, prompt code and task): answered"
    " from it, one answer checked on this machine, new answers added"
)


def raw_cache_of(
    path: Path | None, model: str, code: Sequence[Callable[..., Any]] = ()
) -> RawCache | None:
    """The cache of raw answers at ``path`` (None without one) for ``model``; ``code``: the
    functions besides RawModel's that make the prompt or stop the answer."""
    if path is None:
        return None
    model_path = resolve(model or None, model_store()).path
    made_by: list[Callable[..., Any]] = [
        RawModel.__init__,
        RawModel.prompt,
        RawModel.generate,
        it.dedent_settled,
        *code,
    ]
    return RawCache(path, identity(model_path, made_by))


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
