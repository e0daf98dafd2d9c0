"""Settings' values from their sources, checked and fitted to the model's context.

Sources, weakest first: environment variables < initializationOptions <
workspace/configuration. A bad value keeps the default and yields a message for the user;
settings never crash the server. No other module reads the environment for a setting.
The declarations themselves (types, defaults, bounds, choices) are in settings.py.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qwen_lsp.settings import (
    ACTION_TARGETS,
    SECTION,
    CustomAction,
    Settings,
    env_names,
    info,
    setting_fields,
)

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


def _at_least(name: str, number: float) -> None:
    minimum = info(name).minimum
    if minimum is not None and number < minimum:
        shown = int(minimum) if float(minimum).is_integer() else minimum
        raise ValueError(f"must be at least {shown}")


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
            _at_least(name, number)
            return number
        raise ValueError("expected a whole number")
    if isinstance(default, float):
        try:
            number_f = float(value) if (from_env or not isinstance(value, (str, bool))) else None
        except (ValueError, TypeError):  # TypeError: a list or an object from JSON
            number_f = None
        if number_f is None:
            raise ValueError("expected a number")
        _at_least(name, number_f)
        return number_f
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if from_env:
            return tuple(v.strip() for v in str(value).split(",") if v.strip())
        raise ValueError("expected a list of strings")
    if not isinstance(value, str):
        raise ValueError("expected a string")
    choices = [choice for choice, _ in info(name).choices]
    if choices and value not in choices and value not in info(name).test_choices:
        raise ValueError(f"expected one of {', '.join(choices)}")
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
    known = {f.name for f in setting_fields()}
    from_env = env_names()
    values: dict[str, Any] = {}
    problems: list[str] = []

    layers: list[tuple[str, Mapping[str, Any], bool]] = [
        ("environment", {from_env[k]: v for k, v in env.items() if k in from_env}, True),
        ("initializationOptions", _section(initialization_options), False),
        ("workspace configuration", _section(workspace_configuration), False),
    ]
    for origin, layer, is_env in layers:
        for name, value in layer.items():
            if name not in known:
                if not is_env:
                    problems.append(f"qwen-lsp: unknown setting {name!r} in {origin} (ignored)")
                continue
            if value is None:
                continue
            try:
                values[name] = _coerce(name, value, getattr(defaults, name), is_env)
            except ValueError as exc:
                problems.append(
                    f"qwen-lsp: setting {name!r} from {origin} is invalid ({exc}); "
                    f"keeping {values.get(name, getattr(defaults, name))!r}"
                )
    fitted, clamped = fit_to_context(dataclasses.replace(defaults, **values))
    return Resolved(fitted, problems + clamped)


# Shares of the context: the most an answer may take, and what the prompt around the
# budgets needs besides (special tokens, the chat template, the cursor line's rest, which
# is always in the prompt).
ANSWER_SHARE = 4
SLACK_SHARE = 8
# The prompt budgets a completion adds up (the first one, or widePrefixTokens instead).
_COMPLETION_BUDGETS = ("prefixTokens", "suffixTokens", "similarTokens", "crossFileTokens")


def fit_to_context(settings: Settings) -> tuple[Settings, list[str]]:
    """Clamp every token budget so that a prompt and its answer fit ``contextSize``.

    The model cannot take a prompt longer than its context: without this a budget set too
    high (or a smaller context) fails every request. Returns the fitted settings and one
    message per change, for the user.
    """
    context = settings.contextSize
    changes: dict[str, Any] = {}
    for name in ("maxTokensLine", "maxTokensBlock", "actionContextTokens"):
        if getattr(settings, name) > context // ANSWER_SHARE:
            changes[name] = context // ANSWER_SHARE
    answer = max(
        changes.get("maxTokensLine", settings.maxTokensLine),
        changes.get("maxTokensBlock", settings.maxTokensBlock),
    )
    room = context - answer - context // SLACK_SHARE
    asked = sum(getattr(settings, name) for name in _COMPLETION_BUDGETS)
    if asked > room:  # scaled down together, so their proportions stay the user's
        for name in _COMPLETION_BUDGETS:
            changes[name] = getattr(settings, name) * room // asked
    messages = [
        f"qwen-lsp: setting {name!r} ({getattr(settings, name)} tokens) does not fit the "
        f"model's context (contextSize {context}) with its other budgets; using {value}"
        for name, value in changes.items()
    ]
    # The wide window takes the place of prefixTokens when it costs nothing: at most what
    # the others leave, without a message (a smaller context, 2048, is no mistake).
    wide_room = room - sum(
        changes.get(name, getattr(settings, name)) for name in _COMPLETION_BUDGETS[1:]
    )
    if settings.widePrefixTokens > wide_room:
        changes["widePrefixTokens"] = max(0, wide_room)
    return dataclasses.replace(settings, **changes), messages
