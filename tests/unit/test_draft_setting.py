"""Which draft model the settings name (draftModel): none by default, and a missing one
leaves the model serving without it (a warning says why) instead of failing the load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qwen_lsp.app import draft_model_path
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
