"""What a real engine does after qwen-lsp closes a stream (issue 14): does it go on
generating for nobody?

For each engine: a long answer is asked through the remote backend exactly as the server
asks it (``backend: openai`` for llama-cpp-python's server and vLLM, ``backend:
llama-server`` for llama.cpp's), read for a few pieces and closed (``keep_going`` says
stop, as a newer keystroke does). Then:

- the tokens the engine generated for it after the close: llama-server's counter of
  predicted tokens (/metrics) once it is idle, minus the tokens read (vLLM: its
  ``vllm:generation_tokens_total`` once it runs no request); llama-cpp-python's
  server logs llama.cpp's figures of every answer it finishes (``eval time ... runs``): a
  line for the closed answer means it ran to its end;
- how long a one-token request sent right after the close waits, against the same
  request on the idle engine: an engine that goes on generating makes the next keystroke
  wait for it.

    .venv/bin/python -m benchmarks.engine_cancel [--engines llama-cpp-server,llama-server,vllm]

One engine at a time, one thread each (same-run comparisons only). llama-server must have
been built (``python -m benchmarks.peer_llama_server``) and vLLM set up (``python -m
benchmarks.vllm_engine setup``); each is skipped otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.engine_load import ENGINE_COUNTERS, VLLM_COUNTERS, metric_sum
from benchmarks.engines import (
    ALIAS,
    Engine,
    is_idle,
    llama_server_binary,
    origin,
    start_llama_cpp_server,
    start_llama_server,
    start_vllm,
    vllm_is_idle,
    vllm_ready,
)
from qwen_lsp.engine import Backend, GenerationLimits, Special
from qwen_lsp.engine_setup import load_remote_backend
from qwen_lsp.settings import Settings

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
# A request whose answer is long (hundreds of tokens), closed after a few pieces.
LONG = [
    Special("<|im_start|>"),
    "user\nWrite the integers from 1 to 400, separated by commas, nothing else.",
    Special("<|im_end|>"),
    "\n",
    Special("<|im_start|>"),
    "assistant\n",
]
LONG_TOKENS = 400
READ_PIECES = 3
PROBE = ["x = 1\ny = "]
# How long to wait for the engine to finish what it does after the close.
SETTLE_SECONDS = 60.0


@dataclass
class Figures:
    engine: str
    pieces_read: int
    close_seconds: float  # keep_going said stop -> the backend returned
    after_close_tokens: str  # tokens generated after the close, or what is known of them
    probe_idle: float
    probe_after_close: float
    full_answer_seconds: float  # the same long answer, not closed: what it would cost
    full_answer_tokens: int


def _generate(
    backend: Backend, prompt: list[str | Special], tokens: int, stop_after: int
) -> tuple[int, float]:
    """Ask; stop after ``stop_after`` pieces (0 = never). (pieces read, seconds from the stop
    to the return)."""
    pieces = 0
    stopped_at = 0.0

    def keep_going(text: str) -> bool:
        nonlocal pieces, stopped_at
        pieces += 1
        if stop_after and pieces >= stop_after:
            stopped_at = time.monotonic()
            return False
        return True

    limits = GenerationLimits(max_tokens=tokens, max_seconds=600)
    generated = backend.generate(prompt, limits, keep_going).generated_tokens
    return pieces, (time.monotonic() - stopped_at) if stopped_at else 0.0, generated


def _timed(backend: Backend, prompt: list[str | Special], tokens: int) -> tuple[float, int]:
    """(seconds, tokens generated)."""
    started = time.monotonic()
    _, _, generated = _generate(backend, prompt, tokens, 0)
    return time.monotonic() - started, generated


def _predicted_total(engine: Engine, name: str) -> float:
    with urllib.request.urlopen(origin(engine.url) + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = metric_sum(text, name)
    return float("nan") if found is None else found


def _counted_after_close(
    engine: Engine, backend: Backend, counter: str, idle: Callable[[str], bool]
) -> tuple[int, float, float, str]:
    """Close a long answer after a few pieces, send the probe, and read the engine's counter
    of generated tokens once it is idle: (pieces, close seconds, probe seconds, tokens
    generated after the close)."""
    before = _predicted_total(engine, counter)
    pieces, close, _ = _generate(backend, LONG, LONG_TOKENS, READ_PIECES)
    probe_after = _timed(backend, PROBE, 1)[0]
    deadline = time.monotonic() + SETTLE_SECONDS
    while not idle(engine.url) and time.monotonic() < deadline:
        time.sleep(0.1)
    after = _predicted_total(engine, counter) - before - pieces - 1  # the probe's one token
    return pieces, close, probe_after, f"{after:.0f}"


def _finished_lines(log: Path) -> int:
    return log.read_text(errors="replace").count("llama_perf_context_print:        eval time")


def measure(name: str, engine: Engine, backend: Backend) -> Figures:
    _timed(backend, PROBE, 1)  # warm: the first request pays for loading pages
    probe_idle = min(_timed(backend, PROBE, 1)[0] for _ in range(3))
    full, full_tokens = _timed(backend, LONG, LONG_TOKENS)
    if name == "llama-server":
        counter = ENGINE_COUNTERS["generated_tokens"]
        pieces, close, probe_after, after_close = _counted_after_close(
            engine, backend, counter, is_idle
        )
    elif name == "vllm":
        counter = VLLM_COUNTERS["generated_tokens"]
        pieces, close, probe_after, after_close = _counted_after_close(
            engine, backend, counter, vllm_is_idle
        )
    else:
        finished = _finished_lines(engine.log)
        pieces, close, _ = _generate(backend, LONG, LONG_TOKENS, READ_PIECES)
        probe_after = _timed(backend, PROBE, 1)[0]
        time.sleep(2.0)  # the closed answer's figures, if it ran to its end, are out by now
        ends = _finished_lines(engine.log) - finished - 1  # the probe's own line
        # No counter: the probe's extra wait at the engine's own decoding speed.
        per_token = full / max(1, full_tokens)
        estimate = max(0.0, probe_after - probe_idle) / per_token
        after_close = (
            f"ran to its end ({full_tokens - pieces})"
            if ends > 0
            else f"about {estimate:.0f} (stopped; from the probe's wait)"
        )
    return Figures(name, pieces, close, after_close, probe_idle, probe_after, full, full_tokens)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="llama-cpp-server,llama-server,vllm")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qwen-lsp-engine-cancel-"))
    rows: list[Figures] = []
    for name in args.engines.split(","):
        if name == "llama-server":
            binary = llama_server_binary()
            if binary is None:
                print("llama-server: not built (python -m benchmarks.peer_llama_server); skipped")
                continue
            engine = start_llama_server(
                binary, folder / "llama_server.log", threads=args.threads, metrics=True
            )
            settings = Settings(backend="llama-server", engineUrl=engine.url, model=DEFAULT_MODEL)
        elif name == "vllm":
            if not vllm_ready():
                print("vllm: not set up (python -m benchmarks.vllm_engine setup); skipped")
                continue
            engine = start_vllm(folder / "vllm.log", args.threads)
            settings = Settings(
                backend="openai", engineUrl=engine.url, engineModel=ALIAS, model=DEFAULT_MODEL
            )
        else:
            engine = start_llama_cpp_server(folder / "llama_cpp_server.log", args.threads)
            settings = Settings(
                backend="openai", engineUrl=engine.url, engineModel=ALIAS, model=DEFAULT_MODEL
            )
        backend = load_remote_backend(settings, {})
        try:
            rows.append(measure(name, engine, backend))
        finally:
            backend.close()
            engine.stop()
    print(
        "\n| engine | pieces read | close (s) | tokens generated after the close | "
        "1-token request, idle (s) | the same right after the close (s) | the whole "
        "answer, not closed |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.engine} | {row.pieces_read} | {row.close_seconds:.3f} | "
            f"{row.after_close_tokens} | {row.probe_idle:.2f} | {row.probe_after_close:.2f} | "
            f"{row.full_answer_tokens} tokens in {row.full_answer_seconds:.1f} s |"
        )
    print(f"\nlogs: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
