"""Which draft model the settings name (draftModel): none by default, and a missing one
leaves the model serving without it (a warning says why) instead of failing the load."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from qwen_lsp import app as app_module
from qwen_lsp.app import App, draft_model_path
from qwen_lsp.settings import Settings


def test_no_draft_model_by_default() -> None:
    assert Settings().draftModel == "" and Settings().draftTokens >= 1
    assert draft_model_path(Settings()) is None


def test_a_missing_draft_model_is_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nowhere" / "draft.gguf"
    with caplog.at_level(logging.WARNING):
        assert draft_model_path(Settings(draftModel=str(missing), cacheDir=str(tmp_path))) is None
    assert "draft model not used" in caplog.text and "draft.gguf" in caplog.text


class _RefusingLlama:
    """The in-process engine after llama.cpp loaded the model but refused the draft."""

    def __init__(self, path: Path, stop: object, options: object) -> None:
        self.draft = None
        self.draft_refusal = (
            "draft model other.gguf not used: its vocabulary differs from the model's "
            "(its vocabulary has 5 tokens, the model's has 7); choose a draftModel of the "
            "same family"
        )

    def close(self) -> None:
        pass


async def test_a_refused_draft_model_reaches_the_user_as_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal inside the in-process engine (another vocabulary) goes to App's
    on_warning, on the event loop, as the server shows it (window/showMessage)."""
    from qwen_lsp.engine import llama_backend

    model = tmp_path / "model.gguf"
    monkeypatch.setattr(llama_backend, "LlamaBackend", _RefusingLlama)
    monkeypatch.setattr(app_module, "check_model", lambda settings: None)
    monkeypatch.setattr(
        app_module, "resolve_model", lambda settings: SimpleNamespace(path=model, spec=None)
    )
    app = App(Settings(backend="llama", model=str(model)))
    told: list[str] = []
    app.on_warning = told.append
    try:
        assert await app.load_model() is None
        await asyncio.sleep(0)  # the warning hops from the model worker onto the loop
        for _ in range(100):
            if told:
                break
            await asyncio.sleep(0.01)
        assert told == [
            "draft model other.gguf not used: its vocabulary differs from the model's "
            "(its vocabulary has 5 tokens, the model's has 7); choose a draftModel of the "
            "same family; decoding without one"
        ]
    finally:
        await app.close()


async def test_a_missing_draft_model_reaches_the_user_as_a_warning(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "draft.gguf"
    app = App(Settings(backend="fake", draftModel=str(missing), cacheDir=str(tmp_path)))
    told: list[str] = []
    app.on_warning = told.append
    try:
        assert await app.load_model() is None
        for _ in range(100):
            if told:
                break
            await asyncio.sleep(0.01)
        assert len(told) == 1 and told[0].startswith("draft model not used: ")
        assert "draft.gguf" in told[0]
    finally:
        await app.close()
