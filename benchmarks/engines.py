"""Real inference engines on loopback with the default model (issue 14): llama-cpp-python's
OpenAI-compatible server (`python -m llama_cpp.server`, the llama-cpp-python[server] extra),
llama.cpp's `llama-server` (as the typing benchmark builds it) and vLLM's CPU backend (the
venv and converted model of benchmarks/vllm_engine.py). The remote-engine model tests start
them once per module; `engine_cancel` measures them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks import vllm_engine
from benchmarks.engine_load import metric_sum
from benchmarks.peer_llama_server import binary_path
from qwen_lsp.modelstore import StoreConfig, resolve
from qwen_lsp.settings_resolve import resolve_settings

# The name the engine serves the model under (engineModel).
ALIAS = "qwen-coder-test"
# Loading the 0.5B model takes seconds; a loaded machine is many times slower.
START_SECONDS = 180.0
# vLLM on CPU starts its engine process, loads, profiles and warms up: minutes on 2 cores.
VLLM_START_SECONDS = 600.0


@dataclass
class Engine:
    process: subprocess.Popen[bytes]
    url: str  # what engineUrl is set to
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def default_model_path() -> Path:
    store = StoreConfig.from_settings(resolve_settings(os.environ).settings)
    return resolve(None, store).path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(engine: Engine, probe: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise RuntimeError(f"the engine exited: {engine.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(probe, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    engine.stop()
    raise RuntimeError(f"the engine did not start: {engine.log.read_text()[-2000:]}")


def start_llama_cpp_server(log: Path, threads: int = 0) -> Engine:
    """``python -m llama_cpp.server`` (the llama-cpp-python[server] extra) with the default
    model; ``threads`` 0 = its own default (half the cores). It logs llama.cpp's figures of
    every answer it finishes (``llama_perf_context_print``)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(default_model_path()),
        "--model_alias",
        ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    if threads:
        command += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    engine = Engine(process, f"http://127.0.0.1:{port}/v1", log)
    _wait_until_up(engine, engine.url + "/models")
    return engine


def llama_server_binary() -> Path | None:
    """llama.cpp's llama-server as the typing benchmark builds it (from the sources in the
    llama-cpp-python sdist, cached); None when it was not built on this machine (tests skip:
    `.venv/bin/python -m benchmarks.peer_llama_server` builds it in several minutes)."""
    path = binary_path()
    return path if path.is_file() else None


def start_llama_server(
    binary: Path, log: Path, slots: int = 1, threads: int = 1, metrics: bool = False
) -> Engine:
    """``llama-server`` with the default model and ``slots`` parallel slots (``metrics``:
    its Prometheus counters at /metrics)."""
    port = free_port()
    command = [
        str(binary),
        "-m",
        str(default_model_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(4096 * slots),
        "-np",
        str(slots),
        "-t",
        str(threads),
        "-tb",
        str(threads),
        *(["--metrics"] if metrics else []),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    engine = Engine(process, f"http://127.0.0.1:{port}", log)
    _wait_until_up(engine, engine.url + "/health")
    return engine


def is_idle(url: str) -> bool:
    """Whether llama-server at ``url`` has no slot at work (its ``/slots``)."""
    with urllib.request.urlopen(url + "/slots", timeout=10) as answer:
        return '"is_processing":true' not in answer.read().decode().replace(" ", "")


def vllm_ready() -> bool:
    """Whether ``python -m benchmarks.vllm_engine setup`` ran here (tests skip otherwise)."""
    return vllm_engine.is_installed() and vllm_engine.is_converted()


def start_vllm(
    log: Path, threads: int = 0, prefix_caching: bool = True, max_num_seqs: int = 0
) -> Engine:
    """vLLM's OpenAI-compatible server on CPU with the default model (converted by
    benchmarks/vllm_engine.py), serving it as ``ALIAS``; ``threads`` binds its OpenMP
    threads to the first cores (0 = vLLM's own choice). Its Prometheus counters are at the
    origin's /metrics."""
    port = free_port()
    command = vllm_engine.serve_command(
        vllm_engine.venv_python(),
        vllm_engine.HF_DIR,
        port,
        prefix_caching=prefix_caching,
        max_num_seqs=max_num_seqs,
        served_name=ALIAS,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=vllm_engine.offline_env(threads=threads),
        )
    engine = Engine(process, f"http://127.0.0.1:{port}/v1", log)
    _wait_until_up(engine, engine.url + "/models", VLLM_START_SECONDS)
    return engine


def origin(url: str) -> str:
    """``http://host:port`` of an engine URL (``.../v1`` for OpenAI-compatible ones)."""
    return url.removesuffix("/").removesuffix("/v1")


def vllm_is_idle(url: str) -> bool:
    """Whether vLLM at ``url`` runs and queues no request (its /metrics gauges)."""
    with urllib.request.urlopen(origin(url) + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    busy = [metric_sum(text, name) for name in VLLM_BUSY]
    return all(value is not None and value == 0 for value in busy)


# vLLM's gauges of the requests it works on and the ones waiting.
VLLM_BUSY = ("vllm:num_requests_running", "vllm:num_requests_waiting")
