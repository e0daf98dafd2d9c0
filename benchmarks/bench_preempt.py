"""What preempting a background prompt costs, at the foreground and background chunk sizes.

    .venv/bin/python -m benchmarks.bench_preempt [--rounds 6]

A long prompt (the first ~900 tokens of textwrap.py as a FIM prompt) is read with the real
model, once in the foreground's chunks and once in the background's (engine/llama_backend.py
PREFILL_CHUNK and BACKGROUND_PREFILL_CHUNK), alternating: whole (the prompt rate), and
cancelled at a random moment as a keystroke would preempt it. Printed per chunk size: the
prompt rate, the delay from the cancel to the engine's return (what the keystroke waits),
and the work lost: the time spent before the cancel less what the KV cache kept of it at
the measured rate (the chunk being read when the cancel came is thrown away).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sysconfig
import threading
import time
from pathlib import Path

from qwen_lsp.engine import CancelToken, GenerationLimits, Special
from qwen_lsp.engine.llama_backend import (
    BACKGROUND_PREFILL_CHUNK,
    PREFILL_CHUNK,
    LlamaBackend,
    LlamaOptions,
)
from qwen_lsp.modelstore import DEFAULT_STOP, StoreConfig, resolve
from qwen_lsp.settings_resolve import resolve_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = resolve_settings(os.environ).settings
    backend = LlamaBackend(
        resolve(None, StoreConfig.from_settings(settings)).path, DEFAULT_STOP, LlamaOptions()
    )
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()[:3600]
    prompt = [Special("<|fim_prefix|>"), text, Special("<|fim_suffix|>"), Special("<|fim_middle|>")]
    chance = random.Random(args.seed)
    figures: dict[bool, dict[str, list[float]]] = {
        b: {"rate": [], "delay": [], "lost": []} for b in (False, True)
    }
    try:
        for _ in range(args.rounds):
            for background in (False, True):
                whole = GenerationLimits(1, 600.0, reuse_kv=False, background=background)
                done = backend.generate(prompt, whole, lambda _: True)
                rate = done.prompt_tokens / done.prompt_seconds
                figures[background]["rate"].append(rate)
                cancel = CancelToken()
                limits = GenerationLimits(
                    1, 600.0, cancel=cancel, reuse_kv=False, background=background
                )
                after = chance.uniform(0.3, 0.8 * done.prompt_seconds)
                cancelled_at = 0.0

                def preempt(cancel: CancelToken = cancel) -> None:
                    nonlocal cancelled_at
                    cancelled_at = time.monotonic()
                    cancel.cancel("superseded")

                timer = threading.Timer(after, preempt)
                start = time.monotonic()
                timer.start()
                backend.generate(prompt, limits, lambda _: True)
                returned = time.monotonic()
                timer.join()
                kept = backend._llm.n_tokens  # what the KV cache holds of the prompt
                figures[background]["delay"].append(returned - cancelled_at)
                figures[background]["lost"].append(max(0.0, cancelled_at - start - kept / rate))
    finally:
        backend.close()
    for background in (False, True):
        size = BACKGROUND_PREFILL_CHUNK if background else PREFILL_CHUNK
        f = figures[background]
        print(
            f"chunk {size:3} tokens: prompt rate {statistics.median(f['rate']):6.1f} tokens/s, "
            f"cancel -> return {1000 * statistics.median(f['delay']):5.1f} ms (median), "
            f"work lost {1000 * statistics.median(f['lost']):5.0f} ms (median), "
            f"{1000 * max(f['lost']):5.0f} ms (most)"
        )


if __name__ == "__main__":
    main()
