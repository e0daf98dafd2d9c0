"""Token counts for a model that runs elsewhere, never guessed from characters.

Two sources, best first:

- ``GgufVocab``: the model's GGUF file on this machine, loaded vocabulary only (no
  weights: under a second and a few MB for Qwen's 150k tokens). Exact, and it knows which
  strings are special tokens, so a prompt can be sent as token ids: special tokens stay
  special and the user's text stays text whatever it contains.
- ``EngineTokenizer``: the engine's own tokenize endpoint (llama-server and vLLM:
  ``/tokenize``; llama-cpp-python's server: ``/extras/tokenize``), one request per line not
  seen before (the prompt builder remembers counts per line). Those endpoints parse special
  tokens inside text, so with them the prompt goes as text (see ``remote.text_prompt``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from qwen_lsp.engine import EngineFault
from qwen_lsp.engine import http_stream as http

log = logging.getLogger(__name__)


class Tokenizer(Protocol):
    @property
    def exact_ids(self) -> bool:
        """True when ``tokenize`` and ``special_id`` give the ids the engine's model uses
        (a prompt may then be sent as ids)."""
        ...

    @property
    def chat_template(self) -> str | None: ...

    def tokenize(self, text: str) -> list[int]:
        """Tokens of plain text: special-looking text stays text."""
        ...

    def special_id(self, text: str) -> int | None:
        """The id of the special token spelled ``text``; None when there is none."""
        ...

    def last_token_text(self, text: str) -> str:
        """The text of the last token of ``text`` ("" when not known here, or when that
        token ends inside a character): what token healing takes off a prompt."""
        ...

    def close(self) -> None: ...


class GgufVocab:
    """The vocabulary of a local GGUF file, without its weights."""

    def __init__(self, path: Path) -> None:
        import llama_cpp  # kept inside: unit tests never pay for it

        self._llm: Any = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._specials: dict[str, int | None] = {}
        self._lock = threading.Lock()

    @property
    def exact_ids(self) -> bool:
        return True

    @property
    def chat_template(self) -> str | None:
        template = self._llm.metadata.get("tokenizer.chat_template")
        return template if isinstance(template, str) and template else None

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        with self._lock:
            tokens: list[int] = self._llm.tokenize(text.encode(), add_bos=False, special=False)
        return tokens

    def special_id(self, text: str) -> int | None:
        if text not in self._specials:
            with self._lock:
                ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            self._specials[text] = ids[0] if len(ids) == 1 else None
        return self._specials[text]

    def last_token_text(self, text: str) -> str:
        tokens = self.tokenize(text)
        if not tokens:
            return ""
        with self._lock:
            piece: bytes = self._llm.detokenize([tokens[-1]])
        try:
            decoded = piece.decode("utf-8")
        except UnicodeDecodeError:
            return ""
        return decoded if text.endswith(decoded) else ""

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


# Where engines answer a tokenize request, tried in this order (relative to the origin),
# each with the body it wants: one body names the text every way they spell it.
TOKENIZE_PATHS = ("/tokenize", "/extras/tokenize")
CACHED_TEXTS = 4096


class EngineTokenizer:
    """Counts through the engine's tokenize endpoint (the first of ``TOKENIZE_PATHS`` that
    answers is kept), remembering recent texts."""

    def __init__(
        self,
        origin: str,
        model: str,
        headers: dict[str, str],
        timeouts: http.Timeouts,
        verify_tls: bool,
        send: Callable[..., http.Response] = http.request,
    ) -> None:
        self._origin = origin
        self._model = model
        self._headers = headers
        self._timeouts = timeouts
        self._verify = verify_tls
        self._send = send
        self._path: str | None = None
        self._cache: OrderedDict[str, list[int]] = OrderedDict()

    @property
    def exact_ids(self) -> bool:
        return False

    @property
    def chat_template(self) -> str | None:
        return None  # the ChatML fallback: the engine applies nothing of ours

    def _ask(self, path: str, text: str) -> list[int] | None:
        body: dict[str, Any] = {"model": self._model, "prompt": text, "content": text}
        body |= {"input": text, "add_special_tokens": False, "add_special": False}
        body["parse_special"] = False  # llama-server: special-looking text stays text
        try:
            response = self._send(
                "POST",
                self._origin + path,
                body,
                headers=self._headers,
                timeouts=self._timeouts,
                verify_tls=self._verify,
            )
        except http.HttpFault as exc:
            raise EngineFault(str(exc), retryable=exc.retryable) from exc
        try:
            raw = response.read_all(lambda: False, self._timeouts, 1 << 24)
        except http.HttpFault as exc:
            raise EngineFault(str(exc)) from exc
        finally:
            response.close()
        if response.status in (404, 405):
            return None
        try:
            tokens = json.loads(raw)["tokens"]
        except (ValueError, KeyError, TypeError):
            tokens = None
        if response.status >= 400 or not isinstance(tokens, list):
            raise EngineFault(
                f"the engine's {path} answered {response.status}: "
                f"{raw[: http.MAX_ERROR_BODY].decode('utf-8', 'replace')}",
                status=response.status,
            )
        # vLLM answers ids; some servers pieces with ids ({"id": ..., "piece": ...}).
        return [t if isinstance(t, int) else int(t.get("id", 0)) for t in tokens]

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        paths = [self._path] if self._path else list(TOKENIZE_PATHS)
        for path in paths:
            tokens = self._ask(path, text)
            if tokens is not None:
                self._path = path
                self._cache[text] = tokens
                if len(self._cache) > CACHED_TEXTS:
                    self._cache.popitem(last=False)
                return tokens
        raise EngineFault(
            f"the engine at {self._origin} has no tokenize endpoint "
            f"({', '.join(TOKENIZE_PATHS)}): set the 'model' setting to the served model's "
            "GGUF file (registry name or path) so tokens are counted here"
        )

    def special_id(self, text: str) -> int | None:
        return None

    def last_token_text(self, text: str) -> str:
        return ""  # the engines' tokenize endpoints give ids, not their text

    def close(self) -> None:
        self._cache.clear()
