"""A separate inference engine set up from the settings (``backend: openai`` or
``llama-server``): its address, its API key, and where token counts come from.

Part of the composition root (`app.load_backend` calls it): it is where the settings, the
model store (the served model's vocabulary, its stop strings) and the environment (the API
key) meet the engine, which knows none of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from qwen_lsp import modelstore
from qwen_lsp.engine import Backend
from qwen_lsp.engine import http_stream as http
from qwen_lsp.engine.fallback import FallbackBackend, FallbackEvent
from qwen_lsp.engine.remote import RemoteBackend, RemoteOptions
from qwen_lsp.engine.remote_tokenizer import EngineTokenizer, GgufVocab, Tokenizer
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.settings import Settings

log = logging.getLogger(__name__)

# The API key is never a setting (editors sync settings, and show them): the environment,
# or a file a setting names.
API_KEY_ENV = "QWEN_LSP_ENGINE_API_KEY"
REMOTE_BACKENDS = ("openai", "llama-server")


def read_api_key(settings: Settings, env: Mapping[str, str]) -> str:
    key = env.get(API_KEY_ENV, "").strip()
    if key or not settings.engineApiKeyFile:
        return key
    path = Path(settings.engineApiKeyFile).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelUnavailable(
            f"cannot read the engine's API key from {path}: {exc.__class__.__name__}",
            "point the engineApiKeyFile setting at a readable file holding only the key",
        ) from exc


def _served_vocabulary(settings: Settings) -> tuple[Path | None, tuple[str, ...]]:
    """The local GGUF of the served model (only when the ``model`` setting names one: the
    default model's vocabulary is not the served model's unless someone says so) and the
    model's stop strings."""
    try:
        resolved = modelstore.resolve(
            settings.model or None, modelstore.StoreConfig.from_settings(settings)
        )
    except modelstore.ModelError:
        return None, modelstore.DEFAULT_STOP
    stop = resolved.spec.stop if resolved.spec is not None else modelstore.DEFAULT_STOP
    if not settings.model or not resolved.path.is_file():
        return None, stop
    return resolved.path, stop


def engine_options(settings: Settings, env: Mapping[str, str]) -> RemoteOptions:
    if not settings.engineUrl:
        raise ModelUnavailable(
            f"the {settings.backend} backend needs the engine's address",
            "set the engineUrl setting, e.g. http://127.0.0.1:8080/v1 for an "
            "OpenAI-compatible server or http://127.0.0.1:8080 for llama-server",
        )
    try:
        http.Target.parse(settings.engineUrl)
    except ValueError as exc:
        raise ModelUnavailable(str(exc), "engineUrl must start with http:// or https://") from exc
    _, stop = _served_vocabulary(settings)
    return RemoteOptions(
        url=settings.engineUrl,
        model=settings.engineModel,
        dialect="llama-server" if settings.backend == "llama-server" else "openai",
        api_key=read_api_key(settings, env),
        timeouts=http.Timeouts(settings.engineConnectTimeout, settings.engineReadTimeout),
        stop=stop,
        slot_key=os.getpid(),  # one slot per editor's server process
    )


def load_remote_backend(settings: Settings, env: Mapping[str, str] = os.environ) -> Backend:
    """The engine the settings name (nothing is sent to it yet: a down engine is reported
    by the first request, and the server serves as soon as it is up)."""
    options = engine_options(settings, env)
    path, _ = _served_vocabulary(settings)
    tokenizer: Tokenizer
    if path is not None:
        try:
            tokenizer = GgufVocab(path)
        except Exception as exc:  # llama.cpp rejects the file: say which
            raise ModelUnavailable(
                f"cannot read the vocabulary of {path}: {exc}",
                "set the model setting to the served model's GGUF file, or empty it to "
                "count tokens with the engine's tokenize endpoint",
            ) from exc
    else:
        origin = http.Target.parse(options.url).origin
        tokenizer = EngineTokenizer(
            origin, options.model, options.headers, options.timeouts, options.verify_tls
        )
    backend = RemoteBackend(options, tokenizer)
    log.info("engine: %s, %s", backend.description, "token ids" if tokenizer.exact_ids else "text")
    return backend


def with_fallback(
    remote: Backend,
    load_local: Callable[[], Backend],
    on_event: Callable[[FallbackEvent], None],
) -> Backend:
    """``remote`` with the local model standing in while it is down (``engineFallback:
    local``); the probe is the engine's own cheap GET."""
    if not isinstance(remote, RemoteBackend):
        return remote
    return FallbackBackend(remote, remote.probe, load_local, on_event)
