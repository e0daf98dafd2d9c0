"""How to ask a model for completions: through trained fill-in-the-middle tokens ("fim")
or through its chat template ("chat").

A registry entry says so itself. A GGUF given by path is judged by its metadata: the
Qwen FIM tokens must be in its vocabulary AND the model must have been trained on them.
Qwen3.5 and Qwen3.6 (architectures ``qwen35``, ``qwen35moe``) keep the tokens in their
vocabulary but are not FIM-trained; Qwen2.5-Coder and Qwen3-Coder are. A general Qwen
model (not a Coder) is not trusted with FIM either. The ``completionStyle`` setting
overrides the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qwen_lsp.engine import FimTokens
from qwen_lsp.modelstore.errors import ModelError
from qwen_lsp.modelstore.gguf import read_metadata
from qwen_lsp.modelstore.registry import CompletionStyle, ResolvedModel

# Hybrid Qwen3.5 / Qwen3.6 models: FIM tokens in the vocabulary, no FIM training.
NOT_FIM_TRAINED = frozenset({"qwen35", "qwen35moe"})
_NAME_KEYS = ("general.name", "general.basename", "general.finetune")
QWEN_FIM = FimTokens()


@dataclass(frozen=True)
class StyleVerdict:
    style: CompletionStyle
    reason: str


def detect_style(path: Path, fim: FimTokens = QWEN_FIM) -> StyleVerdict:
    """The completion style of a GGUF file, from its metadata (architecture, name, and
    whether its vocabulary holds the FIM tokens)."""
    wanted = {"general.architecture", "tokenizer.ggml.tokens", *_NAME_KEYS}
    try:
        meta = read_metadata(path, wanted.__contains__)
    except ModelError as e:
        return StyleVerdict("fim", f"metadata unreadable ({e}); assuming FIM")
    arch = meta.get("general.architecture")
    architecture = str(arch.value) if arch is not None else "?"
    if architecture in NOT_FIM_TRAINED:
        return StyleVerdict(
            "chat", f"architecture {architecture} (Qwen3.5/3.6) has FIM tokens but no FIM training"
        )
    tokens = meta.get("tokenizer.ggml.tokens")
    vocabulary = set(tokens.value) if tokens is not None and isinstance(tokens.value, list) else ()
    missing = [t for t in (fim.prefix, fim.suffix, fim.middle) if t not in vocabulary]
    if missing:
        return StyleVerdict("chat", f"no FIM token {missing[0]} in its vocabulary")
    names = " ".join(str(meta[k].value) for k in _NAME_KEYS if k in meta)
    if "coder" in names.lower():
        return StyleVerdict("fim", f"a Coder model ({names.strip()}) with Qwen's FIM tokens")
    return StyleVerdict("chat", f"FIM tokens, but not a Coder model ({names.strip() or '?'})")


def completion_style(resolved: ResolvedModel, setting: str = "auto") -> StyleVerdict:
    """The style to use: the ``completionStyle`` setting unless "auto", else the registry
    entry's, else the file's metadata's."""
    if setting in ("fim", "chat"):
        return StyleVerdict(setting, "the completionStyle setting")  # type: ignore[arg-type]
    if resolved.spec is not None:
        return StyleVerdict(resolved.spec.completion_style, "the model registry")
    return detect_style(resolved.path)
