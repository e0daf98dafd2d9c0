"""`qwen-lsp doctor` for a separate engine (``backend: openai`` or ``llama-server``): is it
reachable, does it serve the model the settings name, how long a test completion takes, and
whether a second identical request is served from the engine's prefix cache.

Each check is a ``Check`` (its label, whether it passed, what was found in the engine's own
words, and the fix when it failed); the doctor prints them. A check that cannot pass
because an earlier one failed is left out rather than failed again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from qwen_lsp.engine import EngineFault, GenerationLimits, PromptPart, Special
from qwen_lsp.engine import http_stream as http
from qwen_lsp.engine.remote import RemoteOptions, engine_error_text
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_setup import API_KEY_ENV, engine_options, load_remote_backend
from qwen_lsp.settings import Settings

Status = Literal["ok", "failed", "warning", "not reported"]
# The test completion: a prompt of a few hundred tokens and a short answer.
TEST_TOKENS = 16
TEST_SECONDS = 120.0
MAX_LISTING = 1 << 20


# A check's status as `qwen-lsp doctor --json` gives it: three values scripts can rely on
# ("not reported" is a warning: the engine leaves something unchecked).
JSON_STATUS: dict[Status, str] = {
    "ok": "ok",
    "warning": "warn",
    "not reported": "warn",
    "failed": "fail",
}


@dataclass(frozen=True)
class Check:
    label: str
    status: Status
    detail: str
    fix: str = ""
    # What was measured, by name with its unit (latency_ms, tokens_per_second, ...).
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def line(self) -> str:
        fix = f" -- fix: {self.fix}" if self.fix else ""
        return f"{self.status}: {self.detail}{fix}" if self.status != "ok" else self.detail

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.label,
            "status": JSON_STATUS[self.status],
            "detail": self.detail,
            "fix": self.fix,
            "figures": dict(self.figures),
        }


def _get(options: RemoteOptions, url: str) -> tuple[int, Any]:
    """The status and the JSON body (None when it is not JSON; the error text for an error)."""
    response = http.request(
        "GET",
        url,
        None,
        headers=options.headers,
        timeouts=options.timeouts,
        verify_tls=options.verify_tls,
    )
    try:
        raw = response.read_all(lambda: False, options.timeouts, MAX_LISTING)
    finally:
        response.close()
    if response.status >= 400:
        return response.status, engine_error_text(raw)
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, None


def _listing_urls(options: RemoteOptions) -> list[str]:
    """Where the engine lists what it serves: the OpenAI API's models; llama-server's
    ``/v1/models``, or its ``/props`` (older builds)."""
    if options.dialect == "openai":
        return [options.url.rstrip("/") + "/models"]
    origin = http.Target.parse(options.url).origin
    return [origin + "/v1/models", origin + "/props"]


def served_models(body: Any) -> list[str]:
    """The model names in an answer of ``/v1/models`` (``data[].id``) or llama-server's
    ``/props`` (``model_alias``, ``model_path``)."""
    if not isinstance(body, dict):
        return []
    data = body.get("data")
    if isinstance(data, list):
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
    found = [body.get("model_alias"), body.get("model_path")]
    return [str(name) for name in found if isinstance(name, str) and name]


def _auth_fix(status: int) -> str:
    if status in (401, 403):
        return f"set {API_KEY_ENV} or the engineApiKeyFile setting to the engine's key"
    return ""


def reach_and_list(options: RemoteOptions) -> list[Check]:
    """The reachability check and the served-model check."""
    models: list[str] | None = None
    status = 0
    for url in _listing_urls(options):
        try:
            status, body = _get(options, url)
        except http.HttpFault as exc:
            return [
                Check(
                    "engine",
                    "failed",
                    f"cannot reach {options.url}: {exc}",
                    "start the engine, or set engineUrl to where it listens",
                )
            ]
        if status in (401, 403):
            return [
                Check("engine", "failed", f"{url} answered {status}: {body}", _auth_fix(status))
            ]
        if status < 400:
            models = served_models(body)
            break
    checks = [Check("engine", "ok", f"{options.dialect} engine at {options.url} answers")]
    wanted = options.model
    if models is None or not models:
        what = f"asked for {wanted!r}" if wanted else "the engine's only model"
        checks.append(Check("engine model", "not reported", f"the engine lists none ({what})"))
    elif not wanted:
        checks.append(Check("engine model", "ok", f"the engine's choice: {', '.join(models)}"))
    elif wanted in models:
        checks.append(Check("engine model", "ok", f"{wanted} is served"))
    elif options.dialect == "llama-server":
        # llama-server serves its one model whatever a request names.
        checks.append(
            Check(
                "engine model",
                "warning",
                f"engineModel {wanted!r} is not the name llama-server gives its model "
                f"({', '.join(models)}); it serves that one anyway",
            )
        )
    else:
        checks.append(
            Check(
                "engine model",
                "failed",
                f"engineModel {wanted!r} is not served; the engine serves: {', '.join(models)}",
                "set engineModel to one of those names",
            )
        )
    return checks


# A prompt the engine's cache has not seen before this check (the doctor's own code).
_TEST_CODE = "".join(
    f"def doctor_check_{i}(value):\n    return value * {i} + {i % 7}\n\n" for i in range(12)
)
TEST_PROMPT: list[PromptPart] = [
    Special("<|fim_prefix|>"),
    _TEST_CODE + "def main():\n    ",
    Special("<|fim_suffix|>"),
    "",
    Special("<|fim_middle|>"),
]


def completion_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """A test completion with its latency, then the same request again: the prompt tokens
    the engine reports serving from its cache (``cached_tokens``, llama-server's
    ``cache_n``)."""
    from qwen_lsp.engine.remote import RemoteBackend

    backend = load_remote_backend(settings, env)
    try:
        answers = []
        for _ in range(2):
            started = time.monotonic()
            generation = backend.generate(
                TEST_PROMPT,
                GenerationLimits(max_tokens=TEST_TOKENS, max_seconds=TEST_SECONDS),
                lambda _: True,
            )
            answers.append((generation, time.monotonic() - started))
        cached = backend.last_cached if isinstance(backend, RemoteBackend) else None
    except EngineFault as exc:
        return [Check("test completion", "failed", str(exc), _auth_fix(exc.status))]
    finally:
        backend.close()
    (first, first_seconds), (second, second_seconds) = answers
    # An engine that reports no usage, given text (no local vocabulary): no count.
    prompt = f"{first.prompt_tokens} prompt tokens" if first.prompt_tokens else "a text prompt"
    checks = [
        Check(
            "test completion",
            "ok",
            f"{first_seconds * 1000:.0f} ms for {first.generated_tokens} tokens "
            f"({prompt}; first piece after {first.prompt_seconds * 1000:.0f} ms): "
            f"{first.text[:40]!r}",
            figures={
                "latency_ms": round(first_seconds * 1000, 1),
                "first_piece_ms": round(first.prompt_seconds * 1000, 1),
                "prompt_tokens": first.prompt_tokens,
                "generated_tokens": first.generated_tokens,
            },
        )
    ]
    again = f"the same request again: {second_seconds * 1000:.0f} ms"
    figures: dict[str, float] = {
        "latency_ms": round(second_seconds * 1000, 1),
        "prompt_tokens": second.prompt_tokens,
    }
    if cached is None:
        checks.append(
            Check("prefix cache", "not reported", f"{again}; the engine reports none", "", figures)
        )
        return checks
    figures["cached_tokens"] = cached
    if cached > 0:
        checks.append(
            Check(
                "prefix cache",
                "ok",
                f"{again}, {cached} of {second.prompt_tokens} cached",
                figures=figures,
            )
        )
    else:
        checks.append(
            Check(
                "prefix cache",
                "warning",
                f"{again}, none of its {second.prompt_tokens} prompt tokens cached",
                "turn the engine's prefix cache on (vLLM: --enable-prefix-caching; "
                "llama-server: cache_prompt is sent, check --cache-reuse and its slots)",
                figures,
            )
        )
    return checks


def check_engine(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """Every engine check, in order; the completion checks only once the engine answers
    and serves the model."""
    try:
        options = engine_options(settings, env)
    except ModelUnavailable as exc:
        return [Check("engine", "failed", str(exc), exc.fix)]
    checks = reach_and_list(options)
    if any(c.failed for c in checks):
        return checks
    try:
        return checks + completion_checks(settings, env)
    except ModelUnavailable as exc:
        return [*checks, Check("test completion", "failed", str(exc), exc.fix)]
