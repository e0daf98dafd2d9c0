from __future__ import annotations

from typing import Any

import pytest

from qwen_lsp.settings import Settings, resolve_settings


def test_defaults() -> None:
    resolved = resolve_settings({})
    assert resolved.settings == Settings()
    assert resolved.problems == []


def test_layering_env_then_init_options_then_workspace() -> None:
    resolved = resolve_settings(
        {"QWEN_LSP_MODEL": "from-env", "QWEN_LSP_THREADS": "3"},
        {"qwenLsp": {"model": "from-init", "prefixTokens": 100}},
        {"prefixTokens": 200, "multiline": False},
    )
    s = resolved.settings
    assert (s.model, s.threads, s.prefixTokens, s.multiline) == ("from-init", 3, 200, False)
    assert resolved.problems == []


@pytest.mark.parametrize(
    "options, field",
    [
        ({"prefixTokens": "lots"}, "prefixTokens"),
        ({"prefixTokens": -5}, "prefixTokens"),
        ({"multiline": "yes"}, "multiline"),
        ({"maxSeconds": "slow"}, "maxSeconds"),
        ({"backend": "gpt"}, "backend"),
        ({"disabledLanguages": "python"}, "disabledLanguages"),
        ({"maxTokensLine": True}, "maxTokensLine"),
    ],
)
def test_bad_values_keep_default_and_explain(options: dict[str, Any], field: str) -> None:
    resolved = resolve_settings({}, options)
    assert getattr(resolved.settings, field) == getattr(Settings(), field)
    assert len(resolved.problems) == 1 and field in resolved.problems[0]


def test_unknown_setting_is_reported() -> None:
    resolved = resolve_settings({}, {"modle": "x"})
    assert "modle" in resolved.problems[0]


def test_env_types_are_parsed() -> None:
    s = resolve_settings({"QWEN_LSP_GPU_LAYERS": "-1", "QWEN_LSP_BACKEND": "fake"}).settings
    assert s.gpuLayers == -1 and s.backend == "fake"


def test_non_mapping_sources_are_ignored() -> None:
    assert resolve_settings({}, None, [1, 2]).settings == Settings()  # type: ignore[arg-type]
