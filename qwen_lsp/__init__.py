"""qwen-lsp: a language server for local AI code completion with Qwen coder models."""

__version__ = "0.1.0"
