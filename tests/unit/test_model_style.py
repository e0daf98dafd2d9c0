"""Completion styles (issue 15): the registry's hybrid entries and what they say, the
listing, and the style of a GGUF file given by path, told from its metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_lsp import cli, modelstore
from qwen_lsp.modelstore import RegistryError, StoreConfig, detect_style
from qwen_lsp.modelstore.registry import ResolvedModel, load_registry

FIM = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]


def test_the_registry_has_the_hybrid_family_with_architecture_style_and_gpu_memory() -> None:
    registry = load_registry()
    expected = {
        "qwen3.6-27b": ("qwen35", "chat", "Qwen3.6-27B-Q4_K_M.gguf"),
        "qwen3.6-27b-q8": ("qwen35", "chat", "Qwen3.6-27B-Q8_0.gguf"),
        "qwen3.5-0.8b": ("qwen35", "chat", "Qwen3.5-0.8B-Q8_0.gguf"),
        "qwen3-coder-next": ("qwen3next", "fim", "Qwen3-Coder-Next-Q4_K_M.gguf"),
    }
    for name, (architecture, style, hub_file) in expected.items():
        spec = registry[name]
        assert (spec.architecture, spec.completion_style, spec.hub_file) == (
            architecture,
            style,
            hub_file,
        )
        assert spec.source == "hub" and spec.sha256 is None  # trust on first use
        assert spec.gpu_memory_gb is not None and spec.gpu_memory_gb > 0
        assert spec.fim.trained == (style == "fim")
    assert registry["qwen2.5-coder-0.5b-instruct"].completion_style == "fim"  # the default
    # Whole functions through FIM: the 1.5B (measured better there), not the 0.5B.
    assert registry["qwen2.5-coder-1.5b-instruct"].fim.function_bodies
    assert not registry["qwen2.5-coder-0.5b-instruct"].fim.function_bodies


def _registry_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(
        'default = "m"\n[models.m]\ndescription = "d"\nfile = "m.gguf"\nsource = "hub"\n'
        f'hub_repo = "o/n"\nhub_file = "m.gguf"\n{extra}\n'
    )
    return path


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ('completion_style = "infill"', "'completion_style' must be 'fim' or 'chat'"),
        ("gpu_memory_gb = -1", "'gpu_memory_gb' must be a positive number"),
        ("gpu_memory_gb = true", "'gpu_memory_gb' must be a positive number"),
        ('function_body_prompt = "auto"', "'function_body_prompt' must be 'fim' or 'chat'"),
    ],
)
def test_bad_style_or_gpu_memory_is_refused_naming_the_entry(
    tmp_path: Path, extra: str, error: str
) -> None:
    with pytest.raises(RegistryError, match=error) as caught:
        load_registry(_registry_with(tmp_path, extra))
    assert "entry 'm'" in str(caught.value)


def test_function_body_prompt_reaches_the_fim_tokens(tmp_path: Path) -> None:
    fim = load_registry(_registry_with(tmp_path, 'function_body_prompt = "fim"'))["m"]
    assert fim.function_body_prompt == "fim" and fim.fim.function_bodies
    assert not load_registry(_registry_with(tmp_path, ""))["m"].fim.function_bodies
    # A model asked through its chat prompt anyway has no FIM function bodies.
    extra = 'completion_style = "chat"\nfunction_body_prompt = "fim"'
    assert not load_registry(_registry_with(tmp_path, extra))["m"].fim.function_bodies


def test_the_server_asks_the_15b_for_function_bodies_through_fim(tmp_path: Path) -> None:
    """What the server's completions read (app.fim_tokens_of): the registry entry, unless
    the completionStyle setting sends everything through the chat prompt."""
    from qwen_lsp import app
    from qwen_lsp.settings import Settings

    model = "qwen2.5-coder-1.5b-instruct"
    assert app.fim_tokens_of(Settings(model=model, cacheDir=str(tmp_path))).function_bodies
    chat = Settings(model=model, cacheDir=str(tmp_path), completionStyle="chat")
    assert not app.fim_tokens_of(chat).function_bodies
    assert not app.fim_tokens_of(Settings(cacheDir=str(tmp_path))).function_bodies


def test_models_list_shows_architecture_style_and_gpu_memory(tmp_path: Path) -> None:
    config = StoreConfig(tmp_path, "http://hub.invalid", modelstore.shipped_registry_file())
    statuses = modelstore.list_models(config)
    table = cli.format_model_table(statuses, tmp_path).splitlines()
    assert table[0].split()[:7] == ["NAME", "SIZE", "MB", "SOURCE", "ARCH", "STYLE", "GPU"]
    row = next(line for line in table if line.startswith("qwen3.6-27b "))
    assert row.split()[3:6] == ["qwen35", "chat", "22"]
    entries = {e["name"]: e for e in cli.model_list_json(statuses)}
    assert entries["qwen3-coder-next"]["completionStyle"] == "fim"
    assert entries["qwen3.6-27b-q8"]["gpuMemoryGb"] == 34


def _gguf(path: Path, arch: str, name: str, tokens: list[str]) -> Path:
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(name)
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("arch", "name", "tokens", "style", "why"),
    [
        ("qwen2", "Qwen2.5 Coder 7B Instruct", ["a", *FIM], "fim", "Coder"),
        ("qwen3moe", "Qwen3-Coder-30B-A3B-Instruct", [*FIM], "fim", "Coder"),
        ("qwen35", "Qwen3.6 27B", ["a", *FIM], "chat", "no FIM training"),
        ("qwen35moe", "Qwen3.6 35B A3B", [*FIM], "chat", "no FIM training"),
        ("qwen2", "Qwen2.5 7B Instruct", [*FIM], "chat", "not a Coder"),
        ("llama", "Some Coder", ["a", "b"], "chat", "no FIM token"),
    ],
)
def test_a_gguf_given_by_path_gets_its_style_from_its_metadata(
    tmp_path: Path, arch: str, name: str, tokens: list[str], style: str, why: str
) -> None:
    verdict = detect_style(_gguf(tmp_path / "m.gguf", arch, name, tokens))
    assert verdict.style == style and why in verdict.reason


def test_the_setting_overrides_registry_and_metadata(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "m.gguf", "qwen35", "Qwen3.6 27B", FIM)
    resolved = ResolvedModel(path, None)
    assert modelstore.completion_style(resolved).style == "chat"
    assert modelstore.completion_style(resolved, "fim").style == "fim"
    spec = load_registry()["qwen3-coder-next"]
    assert modelstore.completion_style(ResolvedModel(path, spec)).style == "fim"
    assert modelstore.completion_style(ResolvedModel(path, spec), "chat").style == "chat"
