"""Turns settings into a loaded backend: resolve the model, verify it, load it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lsp_server import modelstore
from lsp_server.engine import Backend, FimTokens
from lsp_server.engine.worker import ModelUnavailable
from lsp_server.settings import Settings

log = logging.getLogger(__name__)


def resolve_model(settings: Settings) -> modelstore.ResolvedModel:
    try:
        return modelstore.resolve(
            settings.model or None, modelstore.StoreConfig.from_settings(settings)
        )
    except modelstore.ModelError as exc:
        raise ModelUnavailable(str(exc), exc.fix, exc.pull) from exc


def fim_tokens(resolved: modelstore.ResolvedModel) -> FimTokens:
    return resolved.spec.fim if resolved.spec is not None else FimTokens()


def make_loader(settings: Settings) -> Callable[[], Backend]:
    """A function that loads the configured model (run it on the model worker)."""

    def load() -> Backend:
        if settings.backend == "fake":
            from lsp_server.engine.fake import FakeBackend

            # Tests slow the fake down to exercise cancellation and stale edits, and script
            # its answers (code actions) in a JSON file.
            delay = settings.fakeSecondsPerToken
            if settings.fakeAnswers:
                return FakeBackend.from_file(settings.fakeAnswers, seconds_per_token=delay)
            return FakeBackend(seconds_per_token=delay)
        from lsp_server.engine.llama_backend import LlamaBackend, LlamaOptions

        resolved = resolve_model(settings)
        started = time.monotonic()
        try:
            modelstore.verify(resolved, modelstore.StoreConfig.from_settings(settings))
        except modelstore.ModelError as exc:
            raise ModelUnavailable(str(exc), exc.fix, exc.pull) from exc
        stop = resolved.spec.stop if resolved.spec is not None else modelstore.DEFAULT_STOP
        options = LlamaOptions(
            n_ctx=settings.contextSize, n_threads=settings.threads, n_gpu_layers=settings.gpuLayers
        )
        try:
            backend = LlamaBackend(resolved.path, stop, options)
        except Exception as exc:  # llama.cpp reports a bad file as a generic error
            raise ModelUnavailable(
                f"llama.cpp could not load {resolved.path}: {exc}",
                f"qwen-lsp models pull --force {resolved.spec.name}"
                if resolved.spec is not None
                else "point the 'model' setting at a valid GGUF file",
            ) from exc
        log.info("model %s loaded in %.2f s", resolved.path, time.monotonic() - started)
        return backend

    return load
