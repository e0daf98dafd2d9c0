"""`qwen-lsp doctor`: what is installed, whether the model is sound, and how fast it runs."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time

from qwen_lsp import __version__, modelstore
from qwen_lsp.app import load_backend
from qwen_lsp.engine import GenerationLimits, Special
from qwen_lsp.engine_check import check_engine
from qwen_lsp.engine_setup import REMOTE_BACKENDS
from qwen_lsp.settings import Settings
from qwen_lsp.settings_resolve import resolve_settings

# Instruction sets this build must NOT use on a machine that lacks them (the VM here
# traps AMX with SIGILL); shown so a crash on the first matrix multiply is explained.
RISKY_FEATURES = ("AMX_INT8",)
# llama.cpp's name of an instruction set (llama_print_system_info) -> the CPU flag Linux
# reports for it in /proc/cpuinfo.
CPU_FLAGS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "AVX_VNNI": "avx_vnni",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


def missing_cpu_features(used: list[str], cpuinfo: str) -> list[str]:
    """The instruction sets a build uses that the CPU does not report (each one crashes
    the first matrix multiply with SIGILL). Empty when ``cpuinfo`` has no flags line."""
    line = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), None)
    if line is None:
        return []
    have = set(line.partition(":")[2].split())
    return [name for name in used if name in CPU_FLAGS and CPU_FLAGS[name] not in have]


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _line(label: str, value: str) -> None:
    print(f"{label:<22} {value}")


def run_doctor() -> int:
    _line("qwen-lsp", __version__)
    _line("python", f"{platform.python_version()} ({sys.executable})")
    settings = resolve_settings(os.environ).settings
    if settings.backend in REMOTE_BACKENDS:
        return _engine_doctor(settings)
    try:
        from qwen_lsp.engine.llama_backend import llama_cpp_version, system_info

        _line("llama-cpp-python", llama_cpp_version())
        info = system_info()
        # "CPU : SSE3 = 1 | AVX = 1 | ...": the names of the sets that are on
        features = [
            f.split("=")[0].rpartition(":")[2].strip()
            for f in info.split("|")
            if f.strip().endswith("= 1")
        ]
        _line("cpu features used", " ".join(features))
        missing = missing_cpu_features(features, _cpuinfo())
        if missing:
            _line(
                "ERROR",
                f"this build uses {' '.join(missing)}, which this CPU lacks: the model would "
                "crash (SIGILL). Fix: run scripts/setup.sh again (it builds for this CPU)",
            )
            return 1
        risky = [f for f in RISKY_FEATURES if f in features]
        if risky:
            _line("warning", f"build uses {' '.join(risky)}; rebuild if it crashes (README)")
    except ImportError as exc:
        _line("llama-cpp-python", f"NOT INSTALLED ({exc}); run scripts/setup.sh")
        return 1

    store = modelstore.StoreConfig.from_settings(settings)
    try:
        resolved = modelstore.resolve(settings.model or None, store)
    except modelstore.ModelError as exc:
        _line("model", f"ERROR {exc} -- fix: {exc.fix}")
        return 1
    _line("model", f"{resolved.spec.name if resolved.spec else 'local file'}: {resolved.path}")
    started = time.monotonic()
    try:
        modelstore.verify(resolved, store, full_hash=True)
        state = "verified (size, sha256, GGUF header)" if resolved.spec else "GGUF header ok"
        _line("model file", f"{state} in {time.monotonic() - started:.1f} s")
    except modelstore.ModelError as exc:
        _line("model file", f"BAD: {exc} -- fix: {exc.fix}")
        return 1

    started = time.monotonic()
    # The model as the server loads it, with a context just big enough for the test prompt.
    backend = load_backend(dataclasses.replace(settings, backend="llama", contextSize=2048))
    _line("load time", f"{time.monotonic() - started:.2f} s")
    # A prompt the cache has never seen, then a fixed-length generation.
    code = "".join(
        f"def function_{i}(value):\n    return value * {i} + {i % 7}\n\n" for i in range(12)
    )
    generation = backend.generate(
        [
            Special("<|fim_prefix|>"),
            code + "def main():\n    ",
            Special("<|fim_suffix|>"),
            "",
            Special("<|fim_middle|>"),
        ],
        GenerationLimits(max_tokens=32, max_seconds=60),
        lambda _: True,
    )
    if generation.prompt_seconds > 0:
        speed = generation.prompt_tokens / generation.prompt_seconds
        _line("prompt speed", f"{speed:.0f} tokens/s ({generation.prompt_tokens} tokens)")
    if generation.generate_seconds > 0 and generation.generated_tokens:
        speed = generation.generated_tokens / generation.generate_seconds
        _line("generation speed", f"{speed:.1f} tokens/s ({generation.generated_tokens} tokens)")
    backend.close()
    return 0


def _engine_doctor(settings: Settings) -> int:
    """The model runs in a separate engine: check it instead of a local model (the local
    llama-cpp-python only reads the served model's vocabulary, when ``model`` names it)."""
    checks = check_engine(settings, os.environ)
    for check in checks:
        _line(check.label, check.line())
    return 1 if any(c.failed for c in checks) else 0
