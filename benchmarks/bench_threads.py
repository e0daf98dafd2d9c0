"""Prompt and decoding speed with adaptive threads against all cores always, idle and busy.

    flock /tmp/qwen-model.lock .venv/bin/python -m benchmarks.bench_threads \
        [--prompts 4] [--prompt-chars 500] [--tokens 16] [--model NAME_OR_PATH]

The engine (qwen_lsp.engine.llama_backend, the real model) reads ``--prompts`` different
slices of the stdlib's textwrap.py from an empty KV cache and generates ``--tokens`` tokens
after each, with ``adaptThreads`` on and off, on an idle machine and with one CPU hog per
core but one (benchmarks/typing_load.py). Each (load, mode) loads the model afresh, under
that load, as a server started then would. Prints, per load and mode: the median prompt
rate (tokens/s), the median time per generated token, the threads the last calls used; then
the ratios busy / idle per mode and adaptive / fixed per load, all from this one run.
Writes the figures as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sysconfig
import time
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import REPO
from benchmarks.typing_load import LOADS, CpuHogs, hog_count

MODES = ("fixed", "adaptive")


def _slices(count: int, chars: int) -> list[str]:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()
    step = max(chars, (len(text) - chars) // max(1, count))
    return [text[i * step : i * step + chars] for i in range(count)]


def measure(mode: str, prompts: list[str], tokens: int, model: str) -> dict[str, Any]:
    from qwen_lsp.app import resolve_model
    from qwen_lsp.engine import GenerationLimits
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions
    from qwen_lsp.settings import Settings

    resolved = resolve_model(Settings(model=model))
    stop = resolved.spec.stop if resolved.spec is not None else ()
    started = time.monotonic()
    backend = LlamaBackend(resolved.path, stop, LlamaOptions(adapt_threads=mode == "adaptive"))
    load_seconds = time.monotonic() - started
    rates, per_token, threads = [], [], []
    try:
        for prompt in prompts:
            limits = GenerationLimits(max_tokens=tokens, max_seconds=600, reuse_kv=False)
            result = backend.generate([prompt], limits, lambda _text: True)
            rates.append(result.prompt_tokens / max(result.prompt_seconds, 1e-9))
            if result.generated_tokens:
                per_token.append(result.generate_seconds / result.generated_tokens)
            threads.append(result.threads)
    finally:
        backend.close()
    return {
        "load_seconds": round(load_seconds, 2),
        "prompt_tokens_per_s": round(statistics.median(rates), 1),
        "ms_per_token": round(1000 * statistics.median(per_token), 1) if per_token else None,
        "threads": threads,
    }


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def _print_ratio(label: str, top: dict[str, Any], bottom: dict[str, Any]) -> None:
    print(
        f"  {label}: prompt rate "
        f"{_ratio(top['prompt_tokens_per_s'], bottom['prompt_tokens_per_s'])}, "
        f"time per token {_ratio(top['ms_per_token'], bottom['ms_per_token'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--prompt-chars", type=int, default=500)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--model", default="", help="registry name or GGUF path (default model)")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_threads.json"))
    args = parser.parse_args(argv)
    prompts = _slices(args.prompts, args.prompt_chars)
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    results: dict[str, dict[str, Any]] = {}
    for load in LOADS:
        with CpuHogs(hog_count(load)):
            for mode in MODES:
                figures = measure(mode, prompts, args.tokens, args.model)
                results[f"{load}/{mode}"] = figures
                print(
                    f"{load:5} {mode:9} prompt {figures['prompt_tokens_per_s']:7.1f} tokens/s"
                    f"  {figures['ms_per_token']} ms/token  threads {figures['threads']}"
                    f"  (load {figures['load_seconds']} s)",
                    flush=True,
                )
    print("\nratios (same run)")
    for mode in MODES:
        _print_ratio(f"{mode:9} busy/idle", results[f"busy/{mode}"], results[f"idle/{mode}"])
    for load in LOADS:
        pair = results[f"{load}/adaptive"], results[f"{load}/fixed"]
        _print_ratio(f"{load:5} adaptive/fixed", *pair)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
