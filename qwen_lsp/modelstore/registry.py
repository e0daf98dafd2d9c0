"""The model registry: which models exist, where their bytes come from, what they must be.

``models/registry.toml`` names each model, its file, its size and sha256 when pinned, its
source (wheel parts on PyPI, or one file on a model hub) and its special tokens. This
module reads and validates it (every error names the offending entry), and turns the
user's ``model`` setting (a registry name or the path of a GGUF file) into a path.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from qwen_lsp.engine import FimTokens
from qwen_lsp.modelstore.config import StoreConfig, shipped_registry_file
from qwen_lsp.modelstore.errors import ModelError, RegistryError

Source = Literal["pypi", "hub"]
# How completions are asked: "fim", through the fill-in-the-middle tokens the model was
# trained on; "chat", through its chat template with the code around the cursor (a model
# that has the FIM tokens in its vocabulary without being trained on them: Qwen3.5/3.6).
CompletionStyle = Literal["fim", "chat"]
COMPLETION_STYLES: tuple[CompletionStyle, ...] = ("fim", "chat")


@dataclass(frozen=True)
class ChatTokens:
    im_start: str = "<|im_start|>"
    im_end: str = "<|im_end|>"


@dataclass(frozen=True)
class PypiPart:
    package: str
    version: str
    member: str  # path of the part inside the wheel


DEFAULT_STOP: tuple[str, ...] = (
    "<|endoftext|>",
    "<|fim_pad|>",
    "<|file_sep|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|repo_name|>",
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    size: int | None
    sha256: str | None
    description: str
    source: Source
    parts: tuple[PypiPart, ...] = ()
    hub_repo: str | None = None
    hub_file: str | None = None
    fim: FimTokens = field(default_factory=FimTokens)
    chat: ChatTokens = field(default_factory=ChatTokens)
    stop: tuple[str, ...] = DEFAULT_STOP
    architecture: str = "qwen2"
    completion_style: CompletionStyle = "fim"
    # How a block that begins a function's body is asked (blockPrompt `auto`): "fim" where
    # the model measured better through the FIM prompt there than through the chat prompt.
    function_body_prompt: CompletionStyle = "chat"
    gpu_memory_gb: float | None = None  # what the weights and a working context need


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    spec: ModelSpec | None  # None for an arbitrary local GGUF


Registry = dict[str, ModelSpec]


# --------------------------------------------------------------------------- registry


_ENTRY_KEYS = frozenset(
    {
        "description",
        "file",
        "size",
        "sha256",
        "source",
        "parts",
        "hub_repo",
        "hub_file",
        "fim",
        "chat",
        "stop",
        "architecture",
        "completion_style",
        "function_body_prompt",
        "gpu_memory_gb",
    }
)
_DEFAULTABLE_KEYS = frozenset(
    {"fim", "chat", "stop", "architecture", "source", "description", "completion_style"}
)
_HEX = frozenset("0123456789abcdef")


class _EntryReader:
    """Typed access to one merged registry entry; every error names the entry."""

    def __init__(self, path: Path, name: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.name = name
        self.data = data

    def fail(self, what: str) -> RegistryError:
        return RegistryError(
            f"model registry {self.path}: entry {self.name!r}: {what}",
            fix=f"${{EDITOR:-vi}} {self.path}",
        )

    def string(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing required field {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string, not {value!r}")
        return value

    def req(self, key: str) -> str:
        value = self.string(key)
        assert value is not None
        return value

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(f"{key!r} must be a table")
        return value

    def tokens(self, key: str, allowed: tuple[str, ...]) -> dict[str, str]:
        table = self.table(key)
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise self.fail(f"unknown {key} token field(s) {unknown}; allowed: {list(allowed)}")
        for k, v in table.items():
            if not isinstance(v, str) or not v:
                raise self.fail(f"{key}.{k} must be a non-empty string")
        return {k: cast(str, v) for k, v in table.items()}


def _merge_defaults(defaults: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(defaults)
    for key, value in entry.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            merged[key] = {**base, **value}  # token tables merge field by field
        else:
            merged[key] = value
    return merged


def _parse_entry(path: Path, name: str, data: Mapping[str, Any]) -> ModelSpec:
    r = _EntryReader(path, name, data)
    if not name or any(c.isspace() for c in name):
        raise r.fail("model names must be non-empty and contain no whitespace")
    unknown = sorted(set(data) - _ENTRY_KEYS)
    if unknown:
        raise r.fail(f"unknown field(s) {unknown}")

    file = r.req("file")
    if "/" in file or "\\" in file or file.startswith(".") or not file.endswith(".gguf"):
        raise r.fail(f"'file' must be a plain *.gguf file name, not {file!r}")

    size = data.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise r.fail(f"'size' must be a positive integer, not {size!r}")

    sha = r.string("sha256", required=False)
    if sha is not None:
        sha = sha.lower()
        if len(sha) != 64 or not set(sha) <= _HEX:
            raise r.fail(f"'sha256' must be 64 hex digits, not {sha!r}")

    source = r.req("source")
    parts: tuple[PypiPart, ...] = ()
    hub_repo = hub_file = None
    if source == "pypi":
        raw_parts = data.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            raise r.fail("a pypi model needs a non-empty 'parts' list")
        built: list[PypiPart] = []
        for i, raw in enumerate(raw_parts, 1):
            if not isinstance(raw, Mapping) or set(raw) != {"package", "version", "member"}:
                raise r.fail(f"part {i} must be a table with exactly package, version, member")
            values = [raw["package"], raw["version"], raw["member"]]
            if not all(isinstance(v, str) and v for v in values):
                raise r.fail(f"part {i}: package, version and member must be non-empty strings")
            built.append(PypiPart(*cast(list[str], values)))
        parts = tuple(built)
        if "hub_repo" in data or "hub_file" in data:
            raise r.fail("a pypi model takes no hub_repo/hub_file")
    elif source == "hub":
        hub_repo = r.req("hub_repo")
        hub_file = r.req("hub_file")
        if hub_repo.count("/") != 1:
            raise r.fail(f"'hub_repo' must look like 'owner/name', not {hub_repo!r}")
        if "parts" in data:
            raise r.fail("a hub model takes no 'parts'")
    else:
        raise r.fail(f"'source' must be 'pypi' or 'hub', not {source!r}")

    style = data.get("completion_style", "fim")
    if style not in COMPLETION_STYLES:
        raise r.fail(f"'completion_style' must be 'fim' or 'chat', not {style!r}")
    function_body_prompt = data.get("function_body_prompt", "chat")
    if function_body_prompt not in COMPLETION_STYLES:
        raise r.fail(
            f"'function_body_prompt' must be 'fim' or 'chat', not {function_body_prompt!r}"
        )
    gpu = data.get("gpu_memory_gb")
    if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int | float) or gpu <= 0):
        raise r.fail(f"'gpu_memory_gb' must be a positive number, not {gpu!r}")

    stop_raw = data.get("stop", list(DEFAULT_STOP))
    if not isinstance(stop_raw, list) or not all(isinstance(s, str) and s for s in stop_raw):
        raise r.fail("'stop' must be a list of non-empty strings")

    return ModelSpec(
        name=name,
        file=file,
        size=size,
        sha256=sha,
        description=r.req("description"),
        source=cast(Source, source),
        parts=parts,
        hub_repo=hub_repo,
        hub_file=hub_file,
        fim=FimTokens(
            **cast(
                dict[str, Any],
                r.tokens("fim", ("prefix", "suffix", "middle", "pad", "repo_name", "file_sep")),
            ),
            trained=style == "fim",
            function_bodies=style == "fim" and function_body_prompt == "fim",
        ),
        chat=ChatTokens(**r.tokens("chat", ("im_start", "im_end"))),
        stop=tuple(cast(list[str], stop_raw)),
        architecture=r.string("architecture", required=False) or "qwen2",
        completion_style=cast(CompletionStyle, style),
        function_body_prompt=cast(CompletionStyle, function_body_prompt),
        gpu_memory_gb=float(gpu) if gpu is not None else None,
    )


def _registry_error(path: Path, what: str) -> RegistryError:
    return RegistryError(f"model registry {path}: {what}", fix=f"${{EDITOR:-vi}} {path}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise _registry_error(path, "file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise _registry_error(path, f"invalid TOML: {e}") from None


def load_registry(path: Path | None = None) -> Registry:
    """Read and validate the registry (None: the one shipped with qwen-lsp); errors name
    the offending entry.

    The returned dict starts with the default model, then follows the file's order.
    """
    path = path or shipped_registry_file()
    doc = _read_toml(path)
    unknown = sorted(set(doc) - {"default", "defaults", "models"})
    if unknown:
        raise _registry_error(path, f"unknown top-level key(s) {unknown}")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise _registry_error(path, "[defaults] must be a table")
    bad_defaults = sorted(set(defaults) - _DEFAULTABLE_KEYS)
    if bad_defaults:
        raise _registry_error(path, f"[defaults] cannot set {bad_defaults}")
    models = doc.get("models")
    if not isinstance(models, Mapping) or not models:
        raise _registry_error(path, "no [models.NAME] entries")
    registry: Registry = {}
    files: dict[str, str] = {}
    for name, entry in models.items():
        if not isinstance(entry, Mapping):
            raise _registry_error(path, f"[models.{name!r}] must be a table")
        spec = _parse_entry(path, name, _merge_defaults(defaults, entry))
        if spec.file in files:
            raise _registry_error(
                path, f"entries {files[spec.file]!r} and {name!r} share file {spec.file!r}"
            )
        files[spec.file] = name
        registry[name] = spec
    default = doc.get("default")
    if not isinstance(default, str) or default not in registry:
        raise _registry_error(
            path, f"top-level 'default' must name one of {sorted(registry)}, not {default!r}"
        )
    # The default goes first: default_model_name() relies on it.
    return {default: registry[default], **registry}


def default_model_name(registry: Registry | None = None, path: Path | None = None) -> str:
    """The registry's top-level ``default``.

    ``load_registry`` puts the default entry first, so for a registry it returned (or one a
    test builds by hand) the default is simply its first entry.
    """
    if registry is None:
        registry = load_registry(path)
    if not registry:
        raise _registry_error(path or shipped_registry_file(), "no models")
    return next(iter(registry))


def registry_and_default(registry: Registry | None, config: StoreConfig) -> tuple[Registry, str]:
    """The given registry (tests build their own), else the configured one; and its default."""
    reg = registry if registry is not None else load_registry(config.registry_file)
    return reg, default_model_name(reg)


# --------------------------------------------------------------------------- resolve


def _unknown_name_error(setting: str, registry: Registry, default: str) -> ModelError:
    names = ", ".join(sorted(registry))
    return ModelError.fixed_by_pull(
        f"unknown model {setting!r}: not a registry name ({names}) and not an existing file",
        default,
    )


def _looks_like_path(setting: str) -> bool:
    return (
        "/" in setting
        or os.sep in setting
        or setting.startswith("~")
        or setting.lower().endswith(".gguf")
    )


def resolve(
    setting: str | None, config: StoreConfig, *, registry: Registry | None = None
) -> ResolvedModel:
    """Turn the user's ``model`` setting into a path (and its spec when it is a registry name).

    None or "" means the default model; a registry name means its cached file (which may not
    exist yet: call ``verify``); anything else must be an existing local GGUF path.
    """
    reg, default = registry_and_default(registry, config)
    name = (setting or "").strip()
    if not name:
        name = default
    spec = reg.get(name)
    if spec is None:
        folded = [n for n in reg if n.lower() == name.lower()]
        if len(folded) == 1:
            spec = reg[folded[0]]
    if spec is not None:
        return ResolvedModel(config.model_path(spec), spec)
    candidate = Path(name).expanduser()
    if candidate.exists():
        return ResolvedModel(candidate.resolve(), None)
    if _looks_like_path(name):
        raise ModelError.fixed_by_pull(
            f"model file {candidate} does not exist; the model setting must be a registry "
            f"name ({', '.join(sorted(reg))}) or the path of a .gguf file",
            default,
        )
    raise _unknown_name_error(name, reg, default)
