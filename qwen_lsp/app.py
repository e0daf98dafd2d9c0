"""The composition root: the one place that turns settings into working parts.

The language server (`server.py`) and the headless commands (`headless.py`: `qwen-lsp
complete` and `qwen-lsp action`) build the same :class:`App`, so an editor and a script get
the same pipeline. This is also where the layers meet that must not know each other: the
model store (which file, is it sound) and the engines (how a model runs) are joined in
:func:`load_backend`; the engine port knows nothing of settings or of the store.

To add an engine: implement `qwen_lsp.engine.Backend` in a module under `engine/`, add a
choice to the `backend` setting, and one branch to :func:`load_backend`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from qwen_lsp import modelstore
from qwen_lsp.actions.service import ActionService, open_file_in
from qwen_lsp.admission import Gate
from qwen_lsp.completion import CompletionService
from qwen_lsp.crossfile.header import CrossFileContext
from qwen_lsp.documents import DocumentStore
from qwen_lsp.engine import Backend, FimTokens
from qwen_lsp.engine.fallback import FallbackEvent
from qwen_lsp.engine.worker import ModelUnavailable, ModelWorker
from qwen_lsp.engine_setup import REMOTE_BACKENDS, load_remote_backend, with_fallback
from qwen_lsp.settings import Settings

log = logging.getLogger(__name__)


def resolve_model(settings: Settings) -> modelstore.ResolvedModel:
    """The model file the settings name; ModelUnavailable (with its fix) when there is none."""
    try:
        return modelstore.resolve(
            settings.model or None, modelstore.StoreConfig.from_settings(settings)
        )
    except modelstore.ModelError as exc:
        raise ModelUnavailable(str(exc), exc.fix, exc.pull) from exc


def fim_tokens_of(settings: Settings) -> FimTokens:
    """The FIM tokens of the model the settings name (the registry says; Qwen's otherwise),
    marked untrained when its completion style is "chat" (the registry, the completionStyle
    setting, or a GGUF file's metadata say). Reads the file's metadata: off the event loop."""
    if settings.backend == "fake":
        return FimTokens()
    try:
        resolved = resolve_model(settings)
    except ModelUnavailable:
        return FimTokens()  # loading reports the problem, with its fix
    markers = resolved.spec.fim if resolved.spec is not None else FimTokens()
    verdict = modelstore.completion_style(resolved, settings.completionStyle)
    log.info("completion style %s: %s", verdict.style, verdict.reason)
    trained = verdict.style == "fim"
    return dataclasses.replace(
        markers, trained=trained, function_bodies=trained and markers.function_bodies
    )


def check_model(settings: Settings) -> None:
    """The quick part of :func:`load_backend`: the model file the settings name is there
    and sound (ModelUnavailable with the fix otherwise). Run before the loaded model is
    freed, so a reload of a missing or broken file leaves the server serving."""
    if settings.backend in ("fake", *REMOTE_BACKENDS):
        return  # a separate engine: nothing to check on this machine before it is asked
    resolved = resolve_model(settings)
    try:
        modelstore.verify(resolved, modelstore.StoreConfig.from_settings(settings))
    except modelstore.ModelError as exc:
        raise ModelUnavailable(str(exc), exc.fix, exc.pull) from exc


# Told to the user (a warning): something the settings ask for that the server goes on
# without (a draft model refused). Called on the model worker's thread.
Warn = Callable[[str], None]


def _log_only(message: str) -> None:
    """The default for callers with nobody to tell (headless commands): the log has it."""


def _ignore_event(event: FallbackEvent) -> None:
    log.info("engine fallback: %s %s", event.kind, event.detail)


def draft_model_path(settings: Settings, warn: Warn = _log_only) -> Path | None:
    """The file of the draft model the settings name (draftModel); None when none is set,
    or when it is missing or broken: the model serves without one (``warn`` says why)."""
    if not settings.draftModel:
        return None
    store = modelstore.StoreConfig.from_settings(settings)
    try:
        resolved = modelstore.resolve(settings.draftModel, store)
        modelstore.verify(resolved, store)
    except modelstore.ModelError as exc:
        log.warning("draft model not used: %s (%s); decoding without one", exc, exc.fix)
        warn(f"draft model not used: {exc} (fix: {exc.fix}); decoding without one")
        return None
    return resolved.path


def load_backend(
    settings: Settings,
    warn: Warn = _log_only,
    on_engine_event: Callable[[FallbackEvent], None] = _ignore_event,
) -> Backend:
    """Load the engine and model the settings name (slow: run it on the model worker).

    Raises ModelUnavailable, with the fix, when the model is missing, truncated, corrupt or
    not loadable, or when memory is short. ``warn`` hears what the model serves without
    (a refused draft model); ``on_engine_event`` what a separate engine's fallback does.
    """
    if settings.backend in REMOTE_BACKENDS:
        remote = load_remote_backend(settings)
        if settings.engineFallback == "none":
            return remote
        # "fake": the canned model stands in for the local one (tests).
        local = dataclasses.replace(
            settings, backend="fake" if settings.engineFallback == "fake" else "llama"
        )
        return with_fallback(remote, lambda: load_backend(local, warn), on_engine_event)
    # Checked for the fake backend too: it stands in for the in-process engine in the
    # protocol tests, a refused draft model included (it decodes without one anyway).
    draft_model = draft_model_path(settings, warn)
    if settings.backend == "fake":
        from qwen_lsp.engine.fake import FakeBackend

        # Tests slow the fake down to exercise cancellation and stale edits, and script
        # its answers (code actions) in a JSON file.
        delay, prompt_log = settings.fakeSecondsPerToken, settings.fakePromptLog
        if settings.fakeAnswers:
            return FakeBackend.from_file(settings.fakeAnswers, delay, prompt_log)
        return FakeBackend(seconds_per_token=delay, prompt_log=prompt_log)
    from qwen_lsp.engine.llama_backend import LlamaBackend, LlamaOptions

    started = time.monotonic()
    check_model(settings)
    resolved = resolve_model(settings)
    stop = resolved.spec.stop if resolved.spec is not None else modelstore.DEFAULT_STOP
    options = LlamaOptions(
        n_ctx=settings.contextSize,
        n_threads=settings.threads,
        adapt_threads=settings.adaptThreads,
        n_gpu_layers=settings.gpuLayers,
        kv_cache_bytes=settings.kvCacheBytes,
        checkpoint_bytes=settings.checkpointBytes,
        draft_model=draft_model,
        draft_tokens=settings.draftTokens,
    )
    try:
        backend = LlamaBackend(resolved.path, stop, options)
    except Exception as exc:  # llama.cpp reports a bad file and a failed allocation alike
        short = memory_shortfall(resolved.path, settings.contextSize)
        if isinstance(exc, MemoryError) or short:
            raise ModelUnavailable(
                f"not enough memory to load {resolved.path.name}"
                + (f" ({short})" if short else "")
                + f": {exc}",
                "close other programs, lower the contextSize setting "
                f"(now {settings.contextSize}) or choose a smaller model",
            ) from exc
        raise ModelUnavailable(
            f"llama.cpp could not load {resolved.path}: {exc}",
            f"qwen-lsp models pull --force {resolved.spec.name}"
            if resolved.spec is not None
            else "point the 'model' setting at a valid GGUF file",
        ) from exc
    log.info("model %s loaded in %.2f s", resolved.path, time.monotonic() - started)
    if backend.draft_refusal:  # another vocabulary, or llama.cpp could not load it
        warn(f"{backend.draft_refusal}; decoding without one")
    return backend


# A .gitignore larger than this is not one (a generated or binary file): not read.
IGNORE_FILE_LIMIT = 1_000_000


def real_path(path: str) -> str:
    """``path`` with its symlinks resolved, for the admission gate (a link's target is
    judged too); the path itself when it cannot be resolved."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):  # ValueError: a NUL a client put in its URI
        return path


def read_ignore_file(path: str) -> str | None:
    """The text of a .gitignore (or .git/info/exclude) for the admission gate; None when
    there is none or it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(IGNORE_FILE_LIMIT + 1)
    except OSError:
        return None
    if len(data) > IGNORE_FILE_LIMIT:
        return None
    return data.decode("utf-8", "replace")


# What loading needs besides the weights, roughly: the KV cache per token of context (a
# 7B model's 57 KB; smaller models need less) and llama.cpp's compute and logits buffers.
_KV_BYTES_PER_TOKEN = 64 << 10
_BUFFER_BYTES = 512 << 20


def memory_shortfall(path: Path, context_tokens: int) -> str:
    """Why memory looks too short to load ``path`` with that context ("" when it does not):
    told apart from a broken file after llama.cpp fails, whose error says neither."""
    try:
        need = path.stat().st_size + context_tokens * _KV_BYTES_PER_TOKEN + _BUFFER_BYTES
    except OSError:
        return ""
    mib = 1 << 20
    try:
        import resource

        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
        if limit != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            if used + need > limit:
                return (
                    f"about {need // mib} MB needed, {max(0, limit - used) // mib} MB left "
                    f"under the address-space limit (ulimit -v) of {limit // mib} MB"
                )
    except (ImportError, OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return ""
    if need > available:
        return f"about {need // mib} MB needed, {available // mib} MB available"
    return ""


class App:
    """One session's parts: open documents, the model worker, and the use cases on them.

    ``settings`` may be replaced at any time (the services read it per request); a change
    that needs another model takes :meth:`load_model`. ``workspace_root`` gives the
    workspace folder once the client has said it ("" before); ``workspace_folders`` every
    workspace folder (local paths), where actions may write files (default: the root).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        workspace_root: Callable[[], str] = lambda: "",
        workspace_folders: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self.fim_tokens = FimTokens()
        self.documents = DocumentStore()
        self.worker = ModelWorker()
        folders = workspace_folders or (lambda: [root] if (root := workspace_root()) else [])
        # Which documents take part (private files, the size limit): asked by every service.
        self.admission = Gate(
            lambda: self.settings,
            folders,
            read_ignore_file,
            real_path,
            utf8_size=self.documents.utf8_size,
        )
        admission = self.admission.verdict
        self.cross_file = CrossFileContext(self.documents.snapshots, workspace_root, admission)
        self.completions = CompletionService(
            self.worker, lambda: self.settings, lambda: self.fim_tokens, self.cross_file, admission
        )
        self.actions = ActionService(
            self.worker,
            lambda: self.settings,
            open_file_in(self.documents),
            admission,
            folders,
        )
        self._loaded: Settings | None = None  # the settings of the model that serves
        # What the user is told besides a load's error, called on the event loop: a
        # warning (a refused draft model) and what a separate engine's fallback does. The
        # server sets them; the headless commands leave them to the log.
        self.on_warning: Callable[[str], None] = lambda message: None
        self.on_engine_event: Callable[[FallbackEvent], None] = _ignore_event

    def _on_loop(self, loop: asyncio.AbstractEventLoop, call: Callable[[], None]) -> None:
        """Run ``call`` on the event loop (the engine calls from the model worker)."""
        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError:  # the loop has closed: nobody to tell
            log.debug("event loop closed; a notice dropped")

    async def load_model(self) -> ModelUnavailable | None:
        """Load the model the settings name, replacing the current one; the error (with
        its fix) when it failed.

        A reload that fails keeps the server serving when it can: a missing or broken file
        is found before the loaded model is freed, and when loading itself fails (memory,
        a file llama.cpp rejects) the model that served before is loaded again; the error
        then says so. Otherwise requests get no suggestions until a load works.
        """
        settings = self.settings
        markers = await asyncio.to_thread(fim_tokens_of, settings)
        if self._loaded is None:  # requests queued for the first load use its markers
            self.fim_tokens = markers
        loop = asyncio.get_running_loop()

        def warn(message: str) -> None:
            self._on_loop(loop, lambda: self.on_warning(message))

        def engine_event(event: FallbackEvent) -> None:
            self._on_loop(loop, lambda: self.on_engine_event(event))

        error = await self.worker.load_async(
            lambda: load_backend(settings, warn, engine_event), check=lambda: check_model(settings)
        )
        if error is None:
            self._loaded, self.fim_tokens = settings, markers
            return None
        previous = self._loaded
        if self.worker.state == "error" and previous is not None:
            log.warning("loading the model failed (%s); loading the previous one again", error)
            reload = await self.worker.load_async(
                lambda: load_backend(previous, warn, engine_event)
            )
            if reload is not None:
                self._loaded = None
                return error
        if self._loaded is None:
            return error
        return ModelUnavailable(
            f"{error} (still serving with the model loaded before)", error.fix, error.pull_model
        )

    async def close(self) -> None:
        """Free the model (llama.cpp objects left to interpreter shutdown can crash it)."""
        await self.worker.close()
