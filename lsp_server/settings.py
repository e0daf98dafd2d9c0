"""Typed settings with defaults, and the one function that resolves them.

Sources, weakest first: environment variables < initializationOptions <
workspace/configuration. A bad value keeps the default and yields a message for the user;
settings never crash the server.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SECTION = "qwenLsp"

ACTION_TARGETS = ("replace", "above", "below", "newFile")


@dataclass(frozen=True)
class CustomAction:
    """A code action defined by the user (one entry of the ``customActions`` setting)."""

    title: str
    """What the editor shows in its code-action menu."""
    prompt: str
    """The request to the model. Placeholders: {selection}, {scope} (the enclosing function
    or class), {language}, {diagnostics}, {file}, {name}, {context}; without {selection}
    the selected code is appended in a fenced block."""
    kind: str = "refactor.rewrite"
    """The LSP CodeActionKind (quickfix, refactor.rewrite, source...)."""
    target: str = "replace"
    """Where the answer goes: replace (the selection), above, below, newFile."""
    system: str = ""
    """System prompt; empty = a generic one for code edits."""
    languages: tuple[str, ...] = ()
    """Language ids it is offered for; empty = all."""
    fileName: str = ""
    """For target newFile: the new file's name next to the current one ({stem}, {ext})."""
    answer: str = "code"
    """"code" (taken from a fenced block and syntax-checked) or "text" (inserted as a
    comment block)."""


@dataclass(frozen=True)
class Settings:
    model: str = ""
    """Registry name (see `qwen-lsp models list`) or path to a GGUF file; "" = the default."""
    backend: str = "llama"
    """"llama" (llama-cpp-python, in process) or "fake" (a canned model for tests)."""
    prefixTokens: int = 384
    """Prompt budget for the text above the cursor. Each new token costs ~10 ms on one core."""
    suffixTokens: int = 96
    """Prompt budget for the text after the cursor."""
    crossFileTokens: int = 256
    """Prompt budget for code from other open files (definitions of the names used near
    the cursor, recently edited chunks), put first in the prompt; 0 = off."""
    maxTokensLine: int = 48
    """Most tokens generated for a single-line suggestion."""
    maxTokensBlock: int = 160
    """Most tokens generated for a multi-line (block) suggestion."""
    maxSeconds: float = 4.0
    """Time cap on generating one suggestion (prompt processing not included)."""
    blockPrompt: str = "chat"
    """How a block suggestion is asked: "chat" (the chat template, the answer prefilled with
    the code up to the cursor: better bodies from instruct models) or "fim" (the
    fill-in-the-middle prompt single lines use: for base models, or the least latency)."""
    multiline: bool = True
    """Offer whole blocks after a line that opens one; off = always a single line."""
    disabledLanguages: tuple[str, ...] = ()
    """LSP language ids that get no suggestions."""
    kvReuse: bool = True
    """Reuse the KV cache of the previous prompt's common prefix (off: every prompt cold)."""
    suggestionCache: bool = True
    """Reuse suggestions: same context, or the user typing through a shown suggestion."""
    speculation: bool = True
    """While idle, compute the suggestion that follows accepting the shown one."""
    cancelStale: bool = True
    """A newer keystroke or edit stops the running generation (off: every request runs)."""
    followTyping: bool = True
    """A generation the user is typing along with goes on and answers the next keystroke."""
    contextSize: int = 4096
    """The model's context window (KV cache size) in tokens."""
    threads: int = 0
    """CPU threads for the model; 0 = all cores this process may use."""
    gpuLayers: int = 0
    """Layers offloaded to a GPU (-1 = all) when llama-cpp-python was built with one."""
    customActions: tuple[CustomAction, ...] = ()
    """User-defined code actions (a list of objects, see CustomAction)."""
    promptLookup: int = 10
    """Draft tokens per step of prompt-lookup decoding for code actions that rewrite code
    (the answer repeats the input); 0 = plain decoding."""
    actionContextTokens: int = 384
    """Prompt budget for the context around a code action's code (imports, signatures)."""
    actionMaxSeconds: float = 300.0
    """Time cap on generating one code action's answer (it can be cancelled sooner)."""


ENV_NAMES = {
    "QWEN_LSP_MODEL": "model",
    "QWEN_LSP_BACKEND": "backend",
    "QWEN_LSP_THREADS": "threads",
    "QWEN_LSP_GPU_LAYERS": "gpuLayers",
    "QWEN_LSP_CONTEXT_SIZE": "contextSize",
    "QWEN_LSP_MAX_SECONDS": "maxSeconds",
}
CHOICES = {"backend": ("llama", "fake"), "blockPrompt": ("chat", "fim")}
MINIMUMS = {
    "prefixTokens": 0,
    "suffixTokens": 0,
    "crossFileTokens": 0,
    "maxTokensLine": 1,
    "maxTokensBlock": 1,
    "maxSeconds": 0.1,
    "contextSize": 256,
    "threads": 0,
    "gpuLayers": -1,
    "promptLookup": 0,
    "actionContextTokens": 0,
    "actionMaxSeconds": 1.0,
}
_KIND = re.compile(r"^[A-Za-z]+(\.[A-Za-z0-9_-]+)*$")


def _custom_actions(value: Any, from_env: bool) -> tuple[CustomAction, ...]:
    """Parse the customActions list; the first bad entry rejects the whole setting."""
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of objects with title and prompt")
    known = {f.name: f for f in dataclasses.fields(CustomAction)}
    actions: list[CustomAction] = []
    for index, entry in enumerate(value):
        where = f"entry {index + 1}"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} is not an object")
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise ValueError(f"{where} has unknown keys {', '.join(unknown)}")
        fields: dict[str, Any] = {}
        for key, item in entry.items():
            if key == "languages":
                if not isinstance(item, (list, tuple)) or not all(isinstance(v, str) for v in item):
                    raise ValueError(f"{where}: languages must be a list of strings")
                fields[key] = tuple(item)
            elif not isinstance(item, str):
                raise ValueError(f"{where}: {key} must be a string")
            else:
                fields[key] = item
        for required in ("title", "prompt"):
            if not str(fields.get(required, "")).strip():
                raise ValueError(f"{where} needs a non-empty {required}")
        if "kind" in fields and not _KIND.match(fields["kind"]):
            raise ValueError(f"{where}: kind {fields['kind']!r} is not a CodeActionKind")
        if fields.get("target", "replace") not in ACTION_TARGETS:
            raise ValueError(f"{where}: target must be one of {', '.join(ACTION_TARGETS)}")
        if fields.get("answer", "code") not in ("code", "text"):
            raise ValueError(f"{where}: answer must be code or text")
        actions.append(CustomAction(**fields))
    return tuple(actions)


# Settings whose values are structures, not simple types: (value, from_env) -> value.
_PARSERS: dict[str, Callable[[Any, bool], Any]] = {"customActions": _custom_actions}


def _section(source: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Accept both {"qwenLsp": {...}} and the bare mapping."""
    if not isinstance(source, Mapping):
        return {}
    nested = source.get(SECTION)
    return nested if isinstance(nested, Mapping) else source


def _coerce(name: str, value: Any, default: Any, from_env: bool) -> Any:
    """Return the value converted to the type of the default, or raise ValueError."""
    parser = _PARSERS.get(name)
    if parser is not None:
        return parser(value, from_env)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if from_env and str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return str(value).lower() in ("1", "true", "yes", "on")
        raise ValueError("expected true or false")
    if isinstance(default, int):
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        if isinstance(value, int) or (from_env and str(value).lstrip("-").isdigit()):
            number = int(value)
            if number < MINIMUMS.get(name, number):
                raise ValueError(f"must be at least {MINIMUMS[name]}")
            return number
        raise ValueError("expected a whole number")
    if isinstance(default, float):
        try:
            number_f = float(value) if (from_env or not isinstance(value, (str, bool))) else None
        except ValueError:
            number_f = None
        if number_f is None:
            raise ValueError("expected a number")
        if number_f < MINIMUMS.get(name, number_f):
            raise ValueError(f"must be at least {MINIMUMS[name]}")
        return number_f
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if from_env:
            return tuple(v.strip() for v in str(value).split(",") if v.strip())
        raise ValueError("expected a list of strings")
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if name in CHOICES and value not in CHOICES[name]:
        raise ValueError(f"expected one of {', '.join(CHOICES[name])}")
    return value


@dataclass
class Resolved:
    settings: Settings
    problems: list[str] = field(default_factory=list)


def resolve_settings(
    env: Mapping[str, str],
    initialization_options: Mapping[str, Any] | None = None,
    workspace_configuration: Mapping[str, Any] | None = None,
) -> Resolved:
    defaults = Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    problems: list[str] = []

    layers: list[tuple[str, Mapping[str, Any], bool]] = [
        ("environment", {ENV_NAMES[k]: v for k, v in env.items() if k in ENV_NAMES}, True),
        ("initializationOptions", _section(initialization_options), False),
        ("workspace configuration", _section(workspace_configuration), False),
    ]
    for origin, layer, from_env in layers:
        for name, value in layer.items():
            if name not in known:
                if not from_env:
                    problems.append(f"qwen-lsp: unknown setting {name!r} in {origin} (ignored)")
                continue
            if value is None:
                continue
            try:
                values[name] = _coerce(name, value, getattr(defaults, name), from_env)
            except ValueError as exc:
                problems.append(
                    f"qwen-lsp: setting {name!r} from {origin} is invalid ({exc}); "
                    f"keeping {values.get(name, getattr(defaults, name))!r}"
                )
    return Resolved(dataclasses.replace(defaults, **values), problems)
