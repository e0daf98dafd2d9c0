"""The server's generation speed against raw llama-cpp-python, same prompt, same run.

    .venv/bin/python -m benchmarks.bench_overhead [--runs 5] [--threads 1,2]

The server (over stdio, as an editor drives it) is asked for a long block suggestion in a
real file (the body of a function of the standard library's textwrap.py, everything after
its docstring removed); its own report (qwenLsp/status: tokens generated and the seconds
they took, post-processing checks after every token included) gives its tokens/s. Then
the same model is loaded in this process with llama-cpp-python alone, the same FIM prompt
is evaluated and the same number of tokens is generated greedily. Rounds alternate
between the two so machine noise hits both alike; medians are compared. ``--threads``
adds raw runs with other thread counts (the server uses its default: all usable cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from benchmarks.lsp_driver import REPO, Session
from qwen_lsp.context import TokenCounter, fim_prompt, fim_window
from qwen_lsp.engine import FimTokens, Special
from qwen_lsp.engine.llama_backend import LlamaOptions, default_threads
from qwen_lsp.modelstore import StoreConfig, resolve, verify
from qwen_lsp.settings import Settings
from qwen_lsp.settings_resolve import resolve_settings

FUNCTION = "    def _wrap_chunks(self, chunks):\n"
# The server must generate, not answer from its cache or speculate in between.
SERVER_OPTIONS = {"suggestionCache": False, "speculation": False, "maxSeconds": 60}


def site() -> tuple[str, int, int]:
    """A file cut after the docstring of a long method: (text, line, column) of the hole."""
    text = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text()
    start = text.index(FUNCTION)
    doc_end = text.index('"""', text.index('"""', start) + 3) + 3
    head = text[: text.index("\n", doc_end) + 1] + "        "
    return head, head.count("\n"), len("        ")


def raw_prompt(llm: Any, text: str, offset: int) -> list[int]:
    """The server's FIM prompt for this site, as tokens (context.py builds both)."""
    settings = Settings()

    def tokenize(s: str) -> list[int]:
        return list(llm.tokenize(s.encode(), add_bos=False, special=False)) if s else []

    window = fim_window(
        text, offset, TokenCounter(tokenize), settings.prefixTokens, settings.suffixTokens
    )
    tokens: list[int] = []
    for part in fim_prompt(window, FimTokens()):
        if isinstance(part, Special):
            tokens.extend(llm.tokenize(part.text.encode(), add_bos=False, special=True))
        else:
            tokens.extend(tokenize(part))
    return tokens


def raw_rate(llm: Any, prompt: list[int], count: int) -> tuple[float, float]:
    """(prompt tokens/s of a cold evaluation, tokens/s of greedy generation of ``count``
    tokens after it)."""
    llm.reset()
    started = time.monotonic()
    llm.eval(prompt)
    prompt_rate = len(prompt) / (time.monotonic() - started)
    started = time.monotonic()
    produced = 0
    # reset=True finds the evaluated prompt and re-evaluates only its last token, as the
    # server does after its own prefill.
    for _ in llm.generate(prompt, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        produced += 1
        if produced >= count:
            break
    return prompt_rate, produced / (time.monotonic() - started)


async def server_rate(session: Session, uri: str, line: int, col: int) -> tuple[float, int]:
    _, future = session.request_inline(uri, line, col)
    if not await session.wait(future, 120):
        raise TimeoutError("the server gave no suggestion within 120 s")
    last = (await session.status()).get("lastGeneration") or {}
    tokens, seconds = last.get("generatedTokens", 0), last.get("generateSeconds", 0.0)
    if tokens < 8 or seconds <= 0:
        raise RuntimeError(f"the server's suggestion was too short to time: {last}")
    return tokens / seconds, tokens


async def run(runs: int, extra_threads: list[int], out: Path) -> dict[str, Any]:
    from llama_cpp import Llama

    text, line, col = site()
    offset = len(text)
    store = StoreConfig.from_settings(resolve_settings(os.environ).settings)
    model = resolve(None, store)
    verify(model, store)
    threads = default_threads()
    options = LlamaOptions()
    session = Session(SERVER_OPTIONS, out.with_suffix(".server.log"))
    await session.start()
    raw: dict[int, Llama] = {}
    try:
        await session.wait_ready()
        uri = "file:///bench/overhead/textwrap.py"
        session.open(uri, "python", text)
        for n in sorted({threads, *extra_threads}):
            raw[n] = Llama(
                model_path=str(model.path),
                n_ctx=options.n_ctx,
                n_threads=n,
                n_threads_batch=n,
                n_batch=options.n_batch,
                verbose=False,
            )
        prompt = raw_prompt(raw[threads], text, offset)
        server: list[float] = []
        rates: dict[int, list[float]] = {n: [] for n in raw}
        prompt_rates: dict[int, list[float]] = {n: [] for n in raw}
        count = 0
        for round_index in range(runs):
            served, count = await server_rate(session, uri, line, col)
            server.append(served)
            for n, llm in raw.items():
                prompt_rate, rate = raw_rate(llm, prompt, count)
                prompt_rates[n].append(prompt_rate)
                rates[n].append(rate)
            print(
                f"round {round_index + 1}: server {served:.1f} tok/s ({count} tokens); raw "
                + ", ".join(f"{n} thread(s) {rates[n][-1]:.1f}" for n in rates),
                flush=True,
            )
    finally:
        for llm in raw.values():
            llm.close()
        await session.stop()
    server_median = statistics.median(server)
    raw_median = {n: statistics.median(v) for n, v in rates.items()}
    return {
        "model": str(model.path),
        "prompt_tokens": len(prompt),
        "generated_tokens": count,
        "server_threads": threads,
        "runs": runs,
        "server_tok_s": server,
        "raw_tok_s": {str(n): v for n, v in rates.items()},
        "server_median": round(server_median, 2),
        "raw_median": {str(n): round(v, 2) for n, v in raw_median.items()},
        "raw_prompt_tok_s_median": {
            str(n): round(statistics.median(v), 1) for n, v in prompt_rates.items()
        },
        "server_vs_raw_same_threads": round(server_median / raw_median[threads], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", default="", help="raw runs with these thread counts too")
    parser.add_argument("--out", default=str(REPO / ".artifacts" / "bench_overhead.json"))
    args = parser.parse_args()
    extra = [int(t) for t in args.threads.split(",") if t.strip()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args.runs, extra, out))
    out.write_text(json.dumps(result, indent=2))
    ratio = result["server_vs_raw_same_threads"]
    print(
        f"\nmedian over {args.runs} rounds, {result['generated_tokens']} tokens after a "
        f"{result['prompt_tokens']}-token prompt: server {result['server_median']} tok/s, raw "
        f"llama-cpp-python {result['raw_median'][str(result['server_threads'])]} tok/s "
        f"({result['server_threads']} threads): server/raw {ratio:.3f} "
        f"({'within' if ratio >= 0.9 else 'NOT within'} 10%)"
    )
    for n, rate in result["raw_median"].items():
        prompt_rate = result["raw_prompt_tok_s_median"][n]
        print(f"  raw, {n} thread(s): generation {rate} tok/s, cold prompt {prompt_rate} tok/s")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
