"""The peer of the typing benchmark: llama.cpp's own ``llama-server``, built and started here.

The benchmark compares qwen-lsp with a llama.vim-style client (benchmarks/peer_client.py)
on llama.cpp's HTTP server, same GGUF, same machine, same run. The server is built once
from the llama.cpp sources vendored in the llama-cpp-python sdist the project pins (so it
is the same llama.cpp the project runs), with the instruction-set switches
scripts/setup.sh chooses for this CPU (a wrong one dies with SIGILL), only the
``llama-server`` target, and cached under ``~/.cache/qwen-lsp/peer/`` keyed by the
version and the flags. Building takes several minutes on two cores; progress is printed.

    .venv/bin/python -m benchmarks.peer_llama_server          # build (or find) and print the path

`PeerServer` starts it on a loopback port (``-t THREADS --cache-reuse 256``, llama.vim's
documented ``-b 1024 -ub 512``), waits for
/health and stops it (terminate, then kill).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the version scripts/setup.sh installs

# scripts/setup.sh's cpu_flags(): /proc/cpuinfo flag -> GGML switch; AMX never on.
_CPU_SWITCHES = (
    ("avx", "AVX"),
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("f16c", "F16C"),
    ("bmi2", "BMI2"),
    ("avx512f", "AVX512"),
    ("avx512_vnni", "AVX512_VNNI"),
    ("avx512vbmi", "AVX512_VBMI"),
    ("avx512_bf16", "AVX512_BF16"),
)
# The server alone: no curl (models come from files), no tests, examples or web UI build.
_SERVER_ONLY = (
    "-DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
    "-DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_USE_PREBUILT_UI=OFF "
    "-DLLAMA_BUILD_UI=OFF -DBUILD_SHARED_LIBS=OFF -DCMAKE_BUILD_TYPE=Release"
)


_PROGRESS = re.compile(r"\[\s*\d+(?:%|/\d+)\]")


def cpu_flags(cpuinfo: str | None = None) -> str:
    """The GGML switches scripts/setup.sh chooses for this CPU (same rule, same order).

    ``QWEN_LSP_CMAKE_ARGS`` overrides them, as it does for setup.sh.
    """
    override = os.environ.get("QWEN_LSP_CMAKE_ARGS")
    if override and cpuinfo is None:
        return override
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = "flags : avx avx2 fma f16c bmi2"
    line = next((x for x in cpuinfo.splitlines() if x.startswith("flags")), "")
    have = set(line.partition(":")[2].split())
    args = ["-DGGML_NATIVE=OFF"]
    for flag, switch in _CPU_SWITCHES:
        args.append(f"-DGGML_{switch}={'ON' if flag in have else 'OFF'}")
    return " ".join(args) + " -DLLAVA_BUILD=OFF"


def build_key(version: str, flags: str) -> str:
    """Cache key of a build: the sdist version and the cmake flags (as setup.sh's wheels)."""
    return hashlib.sha256(f"{version} {flags}".encode()).hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qwen-lsp" / "peer"


def binary_path(version: str = LLAMA_CPP_PYTHON_VERSION, flags: str | None = None) -> Path:
    flags = cpu_flags() if flags is None else flags
    return cache_root() / f"llama-server-{version}-{build_key(version, flags)}" / "llama-server"


def _say(message: str) -> None:
    print(f"[peer build] {message}", file=sys.stderr, flush=True)


def _run_with_progress(cmd: list[str], log: IO[str], label: str) -> None:
    """Run ``cmd`` writing its output to ``log``; print its progress lines ([ NN%])."""
    _say(f"{label}: {' '.join(cmd)}")
    started = time.monotonic()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    last = 0.0
    for line in process.stdout:
        log.write(line)
        now = time.monotonic()
        # make prints "[ 42%] ...", ninja "[42/180] ...": one of them every 15 s.
        if _PROGRESS.match(line) and now - last >= 15:
            last = now
            _say(f"{label} {now - started:.0f} s: {line.strip()[:100]}")
    if process.wait() != 0:
        log.flush()
        raise RuntimeError(f"{label} failed (exit {process.returncode}); see {log.name}")
    _say(f"{label} done in {time.monotonic() - started:.0f} s")


def ensure_built(version: str = LLAMA_CPP_PYTHON_VERSION, jobs: int | None = None) -> Path:
    """The cached ``llama-server`` binary; built first if absent (several minutes)."""
    flags = cpu_flags()
    target = binary_path(version, flags)
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time: a second benchmark waits for the first one's binary.
    with open(target.parent.parent / f"build-{build_key(version, flags)}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target.is_file() and os.access(target, os.X_OK)):
            _build(version, flags, target, jobs)
    return target


def _build(version: str, flags: str, target: Path, jobs: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="peer-build-", dir=target.parent.parent) as tmp:
        work = Path(tmp)
        log_path = target.parent.parent / f"build-{version}-{build_key(version, flags)}.log"
        with open(log_path, "w", buffering=1) as log:
            _say(f"llama-server is not cached ({target}); building it, log {log_path}")
            _run_with_progress(
                [
                    sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                    "--no-binary", ":all:", "--no-deps", "-d", str(work),
                    f"llama-cpp-python=={version}",
                ],
                log,
                "sdist download",
            )  # fmt: skip
            sdist = next(work.glob("llama_cpp_python-*.tar.gz"), None) or next(
                work.glob("*.tar.gz")
            )
            with tarfile.open(sdist) as archive:
                archive.extractall(work, filter="data")
            source = next(work.glob("*/vendor/llama.cpp"))
            build = work / "build"
            cmake_args = ["cmake", "-S", str(source), "-B", str(build)]
            if shutil.which("ninja"):
                cmake_args += ["-G", "Ninja"]
            cmake_args += (flags + " " + _SERVER_ONLY).split()
            _run_with_progress(cmake_args, log, "cmake configure")
            jobs = jobs or os.cpu_count() or 2
            _run_with_progress(
                ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
                log,
                "cmake build llama-server",
            )
            built = next(p for p in build.rglob("llama-server") if p.is_file())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(built, target.with_suffix(".tmp"))
            target.with_suffix(".tmp").rename(target)
            (target.parent / "flags.txt").write_text(flags + " " + _SERVER_ONLY + "\n")
    _say(f"built {target}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PeerServer:
    """One ``llama-server`` process on a loopback port, serving ``model``."""

    def __init__(
        self,
        binary: Path,
        model: Path,
        threads: int,
        log_path: Path,
        ctx_size: int = 8192,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.binary, self.model, self.threads = binary, model, threads
        self.log_path, self.ctx_size, self.extra = log_path, ctx_size, extra
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.binary), "-m", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "-t", str(self.threads), "-tb", str(self.threads),
            "--cache-reuse", "256", "-c", str(self.ctx_size), "-np", "1",
            # llama.vim's documented server command: a batch of 1024 keeps the prompt's
            # prefix within 768 tokens and its suffix within 256 (the server's /infill).
            "-b", "1024", "-ub", "512",
            *self.extra,
        ]  # fmt: skip

    def start(self, timeout: float = 120.0) -> float:
        """Start and wait until /health answers 200; seconds it took."""
        self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"llama-server not healthy after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode


def main() -> int:
    print(ensure_built())
    return 0


if __name__ == "__main__":
    sys.exit(main())
