"""Draft-model speculation: the 1.5B model alone against the 1.5B with the 0.5B drafting.

    nice -n 10 .venv/bin/python -m benchmarks.bench_draft \
        [--model qwen2.5-coder-1.5b-instruct] [--draft qwen2.5-coder-0.5b-instruct] \
        [--draft-tokens 6] [--prompts 4] [--tokens 48]

Loads the model once with the draft model (``draftModel``); for each prompt (slices of the
stdlib's textwrap.py as FIM prompts, read once first so both runs start from a warm KV
cache) generates ``--tokens`` tokens without the draft model and with it, alternating.
Prints per prompt the decoding rate (generated tokens per second of decoding) of each, the
draft model's acceptance (accepted / guessed tokens) and whether both answers are the same;
then the medians and the ratio drafted / alone, all from this one run.
"""

from __future__ import annotations

import argparse
import statistics
import sysconfig
from pathlib import Path
from typing import Any

from qwen_lsp.engine import GenerationLimits, Special


def _prompts(count: int, chars: int = 600) -> list[list[Any]]:
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()
    step = max(chars, (len(text) - chars) // max(1, count))
    prompts = []
    for i in range(count):
        prefix = text[i * step : i * step + chars]
        prompts.append(
            [Special("<|fim_prefix|>"), prefix, Special("<|fim_suffix|>"), "\n"]
            + [Special("<|fim_middle|>")]
        )
    return prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--draft", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--draft-tokens", type=int, default=6)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args()

    from qwen_lsp.app import draft_model_path, resolve_model
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions
    from qwen_lsp.settings import Settings

    settings = Settings(model=args.model, draftModel=args.draft)
    resolved = resolve_model(settings)
    options = LlamaOptions(
        n_ctx=2048, draft_model=draft_model_path(settings), draft_tokens=args.draft_tokens
    )
    backend = LlamaBackend(resolved.path, resolved.spec.stop if resolved.spec else (), options)
    draft = backend.draft
    if draft is None:
        raise SystemExit(f"no draft model: {backend.draft_refusal}")
    rates: dict[str, list[float]] = {"alone": [], "drafted": []}
    kept = guessed = same = 0
    for index, prompt in enumerate(_prompts(args.prompts)):
        backend.generate(prompt, GenerationLimits(max_tokens=1, max_seconds=600), lambda _: True)
        texts = {}
        for mode in ("alone", "drafted"):
            backend.draft = draft if mode == "drafted" else None
            limits = GenerationLimits(max_tokens=args.tokens, max_seconds=600)
            done = backend.generate(prompt, limits, lambda _: True)
            rates[mode].append(done.generated_tokens / max(done.generate_seconds, 1e-9))
            texts[mode] = done.text
            if mode == "drafted":
                kept += done.accepted_tokens
                guessed += done.drafted_tokens
                acceptance = done.accepted_tokens / max(1, done.drafted_tokens)
        same += texts["alone"] == texts["drafted"]
        print(
            f"prompt {index}: alone {rates['alone'][-1]:.1f} tok/s, drafted "
            f"{rates['drafted'][-1]:.1f} tok/s, acceptance {acceptance:.0%}, "
            f"same answer: {texts['alone'] == texts['drafted']}",
            flush=True,
        )
    backend.draft = draft
    alone, drafted = statistics.median(rates["alone"]), statistics.median(rates["drafted"])
    print(
        f"median: alone {alone:.1f} tok/s, drafted {drafted:.1f} tok/s, ratio "
        f"{drafted / alone:.2f}; acceptance {kept}/{guessed} ({kept / max(1, guessed):.0%}); "
        f"same answers {same}/{args.prompts}"
    )
    backend.close()


if __name__ == "__main__":
    main()
