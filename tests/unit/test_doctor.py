"""doctor's check of the build's instruction sets against the CPU's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_lsp.doctor import missing_cpu_features, run_doctor

AMD_ZEN3 = "processor : 0\nflags\t\t: fpu sse sse2 avx avx2 fma f16c bmi2\n"
INTEL_SPR = (
    "flags : fpu avx avx2 fma f16c bmi2 avx512f avx512vbmi avx512_vnni avx512_bf16 amx_int8\n"
)


def test_an_avx512_build_on_a_cpu_without_it_is_reported() -> None:
    used = ["SSE3", "AVX", "AVX2", "FMA", "F16C", "BMI2", "AVX512", "AVX512_VNNI"]
    assert missing_cpu_features(used, AMD_ZEN3) == ["AVX512", "AVX512_VNNI"]
    assert missing_cpu_features(used, INTEL_SPR) == []


def test_unknown_cpu_reports_nothing() -> None:
    assert missing_cpu_features(["AVX512"], "") == []


def test_doctor_json_for_the_local_model_stops_at_the_first_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No model is loaded: the file the settings name is not there.
    monkeypatch.setenv("QWEN_LSP_BACKEND", "llama")
    monkeypatch.setenv("QWEN_LSP_MODEL", str(tmp_path / "missing.gguf"))
    assert run_doctor(as_json=True) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "fail"
    names = [c["name"] for c in document["checks"]]
    assert names[:4] == ["qwen-lsp", "python", "llama-cpp-python", "cpu features used"]
    last = document["checks"][-1]
    assert last["name"] == "model" and last["status"] == "fail"
    assert "missing.gguf" in last["detail"] and last["fix"]
    assert all(c["status"] == "ok" for c in document["checks"][:-1])
