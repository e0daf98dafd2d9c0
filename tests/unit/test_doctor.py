"""doctor's check of the build's instruction sets against the CPU's."""

from __future__ import annotations

from qwen_lsp.doctor import missing_cpu_features

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
