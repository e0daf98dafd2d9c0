"""What can go wrong with a model, and the command that puts it right.

Every failure of the model store is a ModelError carrying the exact shell command that
fixes it, so that the terminal, ``qwen-lsp doctor`` and the editors can all show it. When
that command is ``qwen-lsp models pull NAME``, the error also names the model in ``pull``:
editors offer a "Pull model" button for it instead of reading the fix text.
"""

from __future__ import annotations

# What to do about a model path that is not a sound GGUF file: nothing to download.
LOCAL_FILE_FIX = "qwen-lsp models list  # then pull a registry model, or use a valid .gguf path"


def pull_command(name: str) -> str:
    """The shell command that downloads (again) the registry model ``name``."""
    return f"qwen-lsp models pull {name}"


class ModelError(Exception):
    """A model is missing, truncated, corrupt or not a GGUF.

    ``str(error)`` is the message; ``fix`` is the exact shell command that fixes it;
    ``pull`` is the registry name to pull when that command is ``qwen-lsp models pull
    NAME``, else None.
    """

    def __init__(self, message: str, fix: str, *, pull: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.pull = pull

    @classmethod
    def fixed_by_pull(cls, message: str, name: str) -> ModelError:
        """An error that ``qwen-lsp models pull NAME`` fixes (its fix and ``pull`` agree)."""
        return cls(message, pull_command(name), pull=name)

    def describe(self) -> str:
        """Message and fix, for a terminal or an editor notification."""
        return f"{self.message}\nTo fix it, run: {self.fix}"


class RegistryError(ModelError):
    """The registry file itself is malformed (a packaging or editing mistake)."""
