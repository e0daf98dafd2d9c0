from __future__ import annotations

from typing import Any

import pytest

from qwen_lsp.settings import Settings, info
from qwen_lsp.settings_resolve import resolve_settings


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


def test_the_defaults_fit_the_default_context_untouched() -> None:
    resolved = resolve_settings({})
    assert resolved.settings == Settings() and resolved.problems == []


@pytest.mark.parametrize("context", [256, 1024, 4096, 32768])
def test_absurd_token_budgets_are_clamped_to_the_context(context: int) -> None:
    huge = 10**9
    names = [
        "prefixTokens",
        "widePrefixTokens",
        "suffixTokens",
        "similarTokens",
        "crossFileTokens",
        "maxTokensLine",
        "maxTokensBlock",
        "actionContextTokens",
    ]
    resolved = resolve_settings({}, {"contextSize": context, **dict.fromkeys(names, huge)})
    s = resolved.settings
    answer = max(s.maxTokensLine, s.maxTokensBlock)
    # A completion's prompt budgets and its answer fit, with room for the prompt's frame.
    others = s.suffixTokens + s.similarTokens + s.crossFileTokens + answer
    assert s.prefixTokens + others <= context * 7 // 8
    assert s.widePrefixTokens + others <= context * 7 // 8
    assert s.actionContextTokens <= context // 4
    assert min(getattr(s, name) for name in names) > 0  # still useful, not zeroed
    assert len(resolved.problems) == len(names) - 1  # (the wide budget follows silently)
    assert all("does not fit" in p and str(context) in p for p in resolved.problems)


def test_the_wide_budget_follows_a_smaller_context_without_a_message() -> None:
    resolved = resolve_settings({}, {"contextSize": 2048})
    s = resolved.settings
    assert resolved.problems == []
    assert s.prefixTokens < s.widePrefixTokens < Settings().widePrefixTokens
    answer = max(s.maxTokensLine, s.maxTokensBlock)
    others = s.suffixTokens + s.similarTokens + s.crossFileTokens + answer
    assert s.widePrefixTokens + others <= 2048 * 7 // 8


def test_budgets_over_the_context_keep_their_proportions() -> None:
    s = resolve_settings(
        {}, {"contextSize": 1024, "prefixTokens": 3000, "suffixTokens": 1000}
    ).settings
    assert s.prefixTokens == 3 * s.suffixTokens or abs(s.prefixTokens - 3 * s.suffixTokens) < 4
    assert s.maxTokensBlock == 160  # fits: left alone


def test_engine_settings_and_the_backends_offered() -> None:
    env = {
        "QWEN_LSP_BACKEND": "llama-server",
        "QWEN_LSP_ENGINE_URL": "http://gpu-box:8080",
        "QWEN_LSP_ENGINE_MODEL": "qwen-coder",
        "QWEN_LSP_ENGINE_API_KEY_FILE": "/run/secrets/engine",
    }
    resolved = resolve_settings(env, {"engineReadTimeout": 12, "engineConnectTimeout": 0.5})
    settings = resolved.settings
    assert not resolved.problems
    assert (settings.backend, settings.engineUrl, settings.engineModel) == (
        "llama-server",
        "http://gpu-box:8080",
        "qwen-coder",
    )
    assert settings.engineApiKeyFile == "/run/secrets/engine"
    assert (settings.engineConnectTimeout, settings.engineReadTimeout) == (0.5, 12)
    # The fake model stays a value for tests, and is not offered to users.
    assert resolve_settings({"QWEN_LSP_BACKEND": "fake"}).settings.backend == "fake"
    assert "fake" not in [value for value, _ in info("backend").choices]
    assert resolve_settings({}, {"backend": "bogus"}).problems
