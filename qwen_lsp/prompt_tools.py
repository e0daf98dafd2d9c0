"""What building a prompt needs from the model that serves: its token counter, its chat
template, how many tokens a block's chat prompt spends besides the code and the head all
of a language's block prompts start with. One set,
replaced with the model (one per model ever loaded kept every old model alive, with its
memory)."""

from __future__ import annotations

from qwen_lsp.chat import ChatTemplate
from qwen_lsp.context import (
    FimWindow,
    TokenCounter,
    chat_continuation_prompt,
    chat_prompt_head,
)
from qwen_lsp.engine import Backend, PromptPart, Special


class PromptTools:
    def __init__(self) -> None:
        self._backend: Backend | None = None
        self._counter: TokenCounter | None = None
        self._template: ChatTemplate | None = None
        self._overheads: dict[str, int] = {}

    def replaced(self, backend: Backend) -> bool:
        """Take ``backend`` as the model that serves; True when it is another one than
        before (its KV cache holds nothing yet)."""
        if backend is self._backend:
            return False
        self._backend = backend
        self._counter = TokenCounter(backend.tokenize)
        self._template = None
        self._overheads = {}
        return True

    def counter(self, backend: Backend) -> TokenCounter:
        self.replaced(backend)
        assert self._counter is not None
        return self._counter

    def template(self, backend: Backend) -> ChatTemplate:
        self.replaced(backend)
        if self._template is None:
            source = getattr(backend, "chat_template", None)
            self._template = ChatTemplate.from_template(source if isinstance(source, str) else None)
        return self._template

    def chat_overhead(self, backend: Backend, language: str) -> int:
        """Tokens of a block's chat prompt besides the code (the template, the request)."""
        self.replaced(backend)
        if language not in self._overheads:
            empty = FimWindow(prefix="", suffix="", line_prefix="", prefix_start_line=0)
            parts = chat_continuation_prompt(empty, self.template(backend), language)
            counter = self.counter(backend)
            self._overheads[language] = sum(
                1 if isinstance(part, Special) else counter(part) for part in parts
            )
        return self._overheads[language]

    def chat_head(self, backend: Backend, language: str) -> list[PromptPart]:
        """The beginning all block prompts of ``language`` share (see chat_prompt_head)."""
        return chat_prompt_head(self.template(backend), language)
