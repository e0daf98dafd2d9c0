"""`qwen-lsp doctor`: what is installed, whether the model is sound, and how fast it runs
(or, for a separate engine, `engine_check.py`'s checks of it). Every finding is a
`Check`: a line each for people, one JSON document with ``--json`` for scripts."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time

from qwen_lsp import __version__, modelstore
from qwen_lsp.app import load_backend
from qwen_lsp.engine import GenerationLimits, Special
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_check import Check, check_engine
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


class Report:
    """The checks as they are made: printed one line each at once (the model's load and
    test take seconds), or, for ``--json``, one JSON document at the end for scripts and
    editor plugins (nothing else goes to stdout then)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.checks: list[Check] = []

    def add(self, check: Check) -> bool:
        """Record ``check``; True when it failed (the doctor stops there)."""
        self.checks.append(check)
        if not self.as_json:
            _line(check.label, check.line())
        return check.failed

    def finish(self) -> int:
        """The exit code (1 when a check failed); the JSON document for ``--json``."""
        failed = any(c.failed for c in self.checks)
        if self.as_json:
            worst = "fail" if failed else "ok"
            if not failed and any(c.status != "ok" for c in self.checks):
                worst = "warn"
            document = {
                "version": __version__,
                "status": worst,
                "checks": [c.to_json() for c in self.checks],
            }
            print(json.dumps(document, indent=2))
        return 1 if failed else 0


def run_doctor(as_json: bool = False) -> int:
    report = Report(as_json)
    _doctor(report)
    return report.finish()


def _doctor(report: Report) -> None:
    report.add(Check("qwen-lsp", "ok", __version__))
    report.add(Check("python", "ok", f"{platform.python_version()} ({sys.executable})"))
    settings = resolve_settings(os.environ).settings
    if settings.backend in REMOTE_BACKENDS:
        # The model runs in a separate engine: check it instead of a local model (the
        # local llama-cpp-python only reads the served model's vocabulary, if at all).
        for check in check_engine(settings, os.environ):
            report.add(check)
        if settings.engineFallback == "local":
            report.add(_fallback_check(settings))
        return
    try:
        from qwen_lsp.engine.llama_backend import llama_cpp_version, system_info
    except ImportError as exc:
        report.add(
            Check("llama-cpp-python", "failed", f"not installed ({exc})", "run scripts/setup.sh")
        )
        return
    report.add(Check("llama-cpp-python", "ok", llama_cpp_version()))
    info = system_info()
    # "CPU : SSE3 = 1 | AVX = 1 | ...": the names of the sets that are on
    features = [
        f.split("=")[0].rpartition(":")[2].strip()
        for f in info.split("|")
        if f.strip().endswith("= 1")
    ]
    report.add(Check("cpu features used", "ok", " ".join(features)))
    missing = missing_cpu_features(features, _cpuinfo())
    if missing:
        report.add(
            Check(
                "cpu features",
                "failed",
                f"this build uses {' '.join(missing)}, which this CPU lacks: the model would "
                "crash (SIGILL)",
                "run scripts/setup.sh again (it builds for this CPU)",
            )
        )
        return
    risky = [f for f in RISKY_FEATURES if f in features]
    if risky:
        report.add(
            Check(
                "cpu features",
                "warning",
                f"build uses {' '.join(risky)}",
                "rebuild if it crashes (README)",
            )
        )
    _local_model(report, settings)


def _fallback_check(settings: Settings) -> Check:
    """engineFallback: local: whether the model that would stand in for the engine is here
    and sound (not loaded: it is only loaded when the engine is down)."""
    store = modelstore.StoreConfig.from_settings(settings)
    try:
        resolved = modelstore.resolve(settings.model or None, store)
        modelstore.verify(resolved, store)
    except modelstore.ModelError as exc:
        return Check(
            "engine fallback",
            "warning",
            f"the local model cannot stand in while the engine is down: {exc}",
            exc.fix,
        )
    name = resolved.spec.name if resolved.spec else "local file"
    return Check("engine fallback", "ok", f"the local model stands in when it is down: {name}")


def _local_model(report: Report, settings: Settings) -> None:
    """The model file, its load and its speed on a prompt no cache has seen."""
    store = modelstore.StoreConfig.from_settings(settings)
    try:
        resolved = modelstore.resolve(settings.model or None, store)
    except modelstore.ModelError as exc:
        report.add(Check("model", "failed", str(exc), exc.fix))
        return
    name = resolved.spec.name if resolved.spec else "local file"
    report.add(Check("model", "ok", f"{name}: {resolved.path}"))
    started = time.monotonic()
    try:
        modelstore.verify(resolved, store, full_hash=True)
    except modelstore.ModelError as exc:
        report.add(Check("model file", "failed", str(exc), exc.fix))
        return
    seconds = time.monotonic() - started
    state = "verified (size, sha256, GGUF header)" if resolved.spec else "GGUF header ok"
    report.add(
        Check(
            "model file",
            "ok",
            f"{state} in {seconds:.1f} s",
            figures={"seconds": round(seconds, 2)},
        )
    )

    started = time.monotonic()
    # The model as the server loads it, with a context just big enough for the test prompt.
    try:
        backend = load_backend(dataclasses.replace(settings, backend="llama", contextSize=2048))
    except ModelUnavailable as exc:
        report.add(Check("load time", "failed", str(exc), exc.fix))
        return
    seconds = time.monotonic() - started
    report.add(Check("load time", "ok", f"{seconds:.2f} s", figures={"seconds": round(seconds, 2)}))
    # A prompt the cache has never seen, then a fixed-length generation.
    code = "".join(
        f"def function_{i}(value):\n    return value * {i} + {i % 7}\n\n" for i in range(12)
    )
    try:
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
    finally:
        backend.close()
    if generation.prompt_seconds > 0:
        speed = generation.prompt_tokens / generation.prompt_seconds
        report.add(
            Check(
                "prompt speed",
                "ok",
                f"{speed:.0f} tokens/s ({generation.prompt_tokens} tokens)",
                figures={
                    "tokens_per_second": round(speed, 1),
                    "tokens": generation.prompt_tokens,
                },
            )
        )
    if generation.generate_seconds > 0 and generation.generated_tokens:
        speed = generation.generated_tokens / generation.generate_seconds
        report.add(
            Check(
                "generation speed",
                "ok",
                f"{speed:.1f} tokens/s ({generation.generated_tokens} tokens)",
                figures={
                    "tokens_per_second": round(speed, 2),
                    "tokens": generation.generated_tokens,
                },
            )
        )
