"""Chat prompts in the model's own template, with user text kept apart from special tokens.

An instruct GGUF carries its chat template (Jinja, ``tokenizer.chat_template``). We render
it once with placeholder messages and split the result into a *skeleton*: the template's
own text, whose ``<|...|>`` markers become :class:`Special` parts, and the slots where the
system prompt and the user message go. Those are filled with plain text, which the backend
tokenizes as text, so code or comments that happen to contain ``<|im_end|>`` can never
close a turn or open a new one.

Without a template (a fake backend, a GGUF that lacks one, a template that does not
render), the ChatML layout Qwen models use is the fallback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from qwen_lsp.engine import PromptPart, Special

log = logging.getLogger(__name__)

_SYSTEM_SLOT = "\ue000qwen-lsp-system\ue000"
_USER_SLOT = "\ue000qwen-lsp-user\ue000"
# ``<|...|>`` markers, and the thinking tags of Qwen3-family templates (single special
# tokens in those vocabularies).
_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]+\|>|</?think>")

# The fallback layout as a template (documentation, and a test that both agree).
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class ChatTemplate:
    """A rendered skeleton: template pieces around the system and user slots."""

    before_system: tuple[PromptPart, ...]
    between: tuple[PromptPart, ...]
    after_user: tuple[PromptPart, ...]
    source: str  # "gguf" or "chatml" (fallback), for logs and tests

    @classmethod
    def from_template(cls, template: str | None) -> ChatTemplate:
        """The skeleton of a Jinja chat template; ChatML when it is missing or broken."""
        if template:
            try:
                return cls._split(_render(template), "gguf")
            except Exception as exc:  # a template is foreign code: any failure means fallback
                log.warning("chat template unusable (%s); using ChatML", exc)
        # ChatML without Jinja: what CHATML renders to.
        rendered = (
            f"<|im_start|>system\n{_SYSTEM_SLOT}<|im_end|>\n"
            f"<|im_start|>user\n{_USER_SLOT}<|im_end|>\n<|im_start|>assistant\n"
        )
        return cls._split(rendered, "chatml")

    @classmethod
    def _split(cls, rendered: str, source: str) -> ChatTemplate:
        head, sep, rest = rendered.partition(_SYSTEM_SLOT)
        middle, sep2, tail = rest.partition(_USER_SLOT)
        if not sep or not sep2:
            raise ValueError("the template drops the system or user message")
        return cls(_parts(head), _parts(middle), _parts(tail), source)

    def render(self, system: str, user: str, assistant_prefix: str = "") -> list[PromptPart]:
        """The prompt for one system + user turn, ending where the assistant answers.

        ``assistant_prefix`` is text the answer is made to start with (e.g. an opening
        code fence); it is part of the prompt, so the answer continues after it.
        """
        parts: list[PromptPart] = [*self.before_system, system, *self.between, user]
        parts.extend(self.after_user)
        if assistant_prefix:
            parts.append(assistant_prefix)
        return _non_empty(parts)

    def head(self, system: str, user_start: str) -> list[PromptPart]:
        """The beginning of :meth:`render`'s prompt for a user message that starts with
        ``user_start``."""
        return _non_empty([*self.before_system, system, *self.between, user_start])


def _non_empty(parts: list[PromptPart]) -> list[PromptPart]:
    return [p for p in parts if not (isinstance(p, str) and not p)]


def _render(template: str) -> str:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> Any:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    messages = [
        {"role": "system", "content": _SYSTEM_SLOT},
        {"role": "user", "content": _USER_SLOT},
    ]
    # enable_thinking=False: a Qwen3-family template (Qwen3, Qwen3.5, Qwen3.6) then opens the
    # answer with an empty thinking block, so the model writes the code at once instead of
    # reasoning first (hundreds of tokens, seconds, before any suggestion). Other templates
    # ignore it.
    return env.from_string(template).render(
        messages=messages,
        add_generation_prompt=True,
        tools=None,
        bos_token="",
        eos_token="",
        enable_thinking=False,
    )


def _parts(text: str) -> tuple[PromptPart, ...]:
    """Template text with its ``<|...|>`` markers as special tokens."""
    parts: list[PromptPart] = []
    position = 0
    for match in _SPECIAL.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(Special(match.group()))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)
