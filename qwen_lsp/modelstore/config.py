"""Where the model store keeps and finds things, as explicit configuration.

The cache folder, the hub address and the registry file are settings (``cacheDir``,
``hubUrl``, ``registryFile`` in qwen_lsp/settings.py; their environment variables set
them through ``resolve_settings``, the one place that reads them). The store never reads
those variables itself: every operation takes a StoreConfig, built from the caller's
settings by ``StoreConfig.from_settings``. Only the operating system's conventions for a
cache folder (``XDG_CACHE_HOME``, the home folder) are read here, to compute the default.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qwen_lsp.modelstore.registry import ModelSpec
    from qwen_lsp.settings import Settings

DEFAULT_HUB_URL = "https://huggingface.co"
RECORDED_HASHES = "recorded-hashes.json"


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/qwen-lsp/models, else ~/.cache/qwen-lsp/models."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qwen-lsp" / "models"


def shipped_registry_file() -> Path:
    """The registry shipped with qwen-lsp: the checkout's models/, or package data."""
    checkout = Path(__file__).resolve().parents[2] / "models" / "registry.toml"
    if checkout.is_file():
        return checkout
    # Installed wheel: pyproject force-includes models/registry.toml as package data.
    return Path(str(importlib.resources.files("qwen_lsp").joinpath("data", "registry.toml")))


@dataclass(frozen=True)
class StoreConfig:
    """The three places the model store depends on."""

    cache_dir: Path
    """Folder of downloaded weights, their stamps and the recorded digests."""
    hub_url: str
    """Base address of the model hub (or a mirror), without a trailing slash."""
    registry_file: Path
    """The registry that names the models and what they must hash to."""

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        """The store as the settings configure it; empty settings mean the defaults."""
        return cls(
            cache_dir=(
                Path(settings.cacheDir).expanduser() if settings.cacheDir else default_cache_dir()
            ),
            hub_url=(settings.hubUrl or DEFAULT_HUB_URL).rstrip("/"),
            registry_file=(
                Path(settings.registryFile).expanduser()
                if settings.registryFile
                else shipped_registry_file()
            ),
        )

    def model_path(self, spec: ModelSpec) -> Path:
        """Where a registry model's file lives (it may not be downloaded yet)."""
        return self.cache_dir / spec.file

    @property
    def recorded_hashes(self) -> Path:
        """The digests recorded on first download of models without a pinned sha256."""
        return self.cache_dir / RECORDED_HASHES
