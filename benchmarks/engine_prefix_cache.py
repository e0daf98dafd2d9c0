"""What an engine's prefix cache buys a long prompt (issue 14): the same prompt twice, then
grown at its end as typing grows it, through the remote backend exactly as the server asks
(token ids, greedy, one token wanted), with the wait for the answer and the cached prompt
tokens the engine reports (``usage.prompt_tokens_details.cached_tokens``).

    .venv/bin/python -m benchmarks.engine_prefix_cache [--engine vllm] [--chars 9000]
    .venv/bin/python -m benchmarks.engine_prefix_cache --engine-url http://HOST:8000/v1 \\
        --engine-model qwen-coder

``--engine vllm`` starts vLLM on this CPU twice (benchmarks/vllm_engine.py), with
``--enable-prefix-caching`` and with ``--no-enable-prefix-caching``, one after the other;
``--engine-url`` measures an engine someone runs (once, as it is configured).
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.engines import ALIAS, Engine, start_vllm
from qwen_lsp.engine import Backend, GenerationLimits, PromptPart
from qwen_lsp.engine.remote import RemoteBackend
from qwen_lsp.engine_setup import load_remote_backend
from qwen_lsp.settings import Settings

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
# The steps: the prompt cold, the same again, then grown by a few characters twice.
STEPS = (("cold", ""), ("same again", ""), ("grown by a line", "\n# one"), ("grown again", " more"))


@dataclass
class Step:
    name: str
    seconds: float
    prompt_tokens: int
    cached_tokens: int | None


def long_prompt(chars: int) -> str:
    """Real code, ``chars`` long: the start of the standard library's textwrap.py."""
    return Path(textwrap.__file__).read_text()[:chars]


def steps_of(text: str) -> list[tuple[str, list[PromptPart]]]:
    """The prompts in order: each grows the one before at its end (or repeats it)."""
    prompts: list[tuple[str, list[PromptPart]]] = []
    for name, added in STEPS:
        text += added
        prompts.append((name, [text]))
    return prompts


def measure(backend: Backend, text: str) -> list[Step]:
    rows = []
    for name, prompt in steps_of(text):
        started = time.monotonic()
        result = backend.generate(
            prompt, GenerationLimits(max_tokens=1, max_seconds=600), lambda _: True
        )
        seconds = time.monotonic() - started
        cached = backend.last_cached if isinstance(backend, RemoteBackend) else None
        rows.append(Step(name, seconds, result.prompt_tokens, cached))
    return rows


def run(url: str, model: str, text: str) -> list[Step]:
    settings = Settings(backend="openai", engineUrl=url, engineModel=model, model=DEFAULT_MODEL)
    backend = load_remote_backend(settings, {})
    try:
        return measure(backend, text)
    finally:
        backend.close()


def print_table(label: str, rows: list[Step]) -> None:
    print(f"\n{label}\n\n| request | prompt tokens | cached (reported) | answer (s) |")
    print("|---|---|---|---|")
    for row in rows:
        cached = "not reported" if row.cached_tokens is None else str(row.cached_tokens)
        print(f"| {row.name} | {row.prompt_tokens} | {cached} | {row.seconds:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--engine", choices=("vllm",), default="vllm")
    parser.add_argument("--engine-url", default="", help="an engine already running")
    parser.add_argument("--engine-model", default="", help="engineModel, with --engine-url")
    parser.add_argument("--chars", type=int, default=9000, help="the prompt's length")
    parser.add_argument("--threads", type=int, default=0, help="vLLM's threads (0: its own)")
    args = parser.parse_args()
    text = long_prompt(args.chars)
    if args.engine_url:
        print_table(args.engine_url, run(args.engine_url, args.engine_model, text))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="qwen-lsp-prefix-cache-"))
    for caching in (True, False):
        label = "--enable-prefix-caching" if caching else "--no-enable-prefix-caching"
        engine: Engine = start_vllm(
            folder / f"vllm-{caching}.log", args.threads, prefix_caching=caching
        )
        try:
            print_table(f"vLLM {label}", run(engine.url, ALIAS, text))
        finally:
            engine.stop()
    print(f"\nlogs: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
