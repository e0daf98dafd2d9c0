"""A model served by a separate inference engine, over HTTP (settings ``backend: openai``
and ``backend: llama-server``).

The prompt is ours, exactly as the in-process engine gets it (the FIM layout, or the chat
template already applied): engines see a prompt that only grows at its end while the user
types, so their own prefix caches work. Two ways to send it:

- as token ids, when the model's vocabulary is on this machine (``GgufVocab``): special
  tokens are their ids, the user's text is tokenized as text, whatever it contains.
  llama-server (both endpoints) and vLLM accept ids; an engine that refuses a token
  prompt (400 or 422; llama-cpp-python's server answers 500 with a validation error that
  names the prompt; Ollama and most hosted APIs take text only) gets text from then on;
- as text: the engine parses special tokens inside it, so the user's text is defused
  first (``text_prompt``): a zero-width space after the ``<`` of anything spelled like a
  special token keeps it text.

Decoding is greedy (temperature 0); the answer streams, and after every piece the time
cap, the cancel token and ``keep_going`` are asked. A cancel closes the connection at once,
also while the engine is silent (``http_stream`` waits in slices of 50 ms).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

from qwen_lsp.engine import (
    EngineFault,
    Generation,
    GenerationLimits,
    KeepGoing,
    KvReuse,
    PromptPart,
    Special,
    StopReason,
)
from qwen_lsp.engine import http_stream as http
from qwen_lsp.engine.kv_pool import common_prefix
from qwen_lsp.engine.llama_slots import SlotKeeper, engine_get_json
from qwen_lsp.engine.remote_tokenizer import Tokenizer
from qwen_lsp.engine.threads import PromptSpeed

log = logging.getLogger(__name__)

Dialect = Literal["openai", "llama-server"]
# Connection attempts within one request, and the waits between them (doubling).
CONNECT_ATTEMPTS = 3
FIRST_RETRY_SECONDS = 0.1
# After a request found the engine down, the next ones fail at once for this long
# (doubling up to the most): typing does not knock on a closed door at every keystroke.
COOL_DOWN_SECONDS = 0.25
MOST_COOL_DOWN_SECONDS = 2.0
ZERO_WIDTH_SPACE = "\u200b"
# Statuses an engine answers a prompt of token ids with when it only takes text.
_MAYBE_NO_IDS = (400, 422, 500)


@dataclass(frozen=True)
class RemoteOptions:
    url: str  # openai: the API base (".../v1"); llama-server: the server's origin
    model: str = ""  # the name the engine serves the model under ("" = the engine's choice)
    dialect: Dialect = "openai"
    api_key: str = ""
    timeouts: http.Timeouts = field(default_factory=http.Timeouts)
    verify_tls: bool = True
    stop: tuple[str, ...] = ()  # the model's stop strings (special tokens)
    # llama-server's id_slot: one slot per editor, so the prefix it holds stays that
    # editor's. ``slot`` >= 0 names it; otherwise it is chosen from the engine's /slots
    # (llama_slots.py), ``slot_key`` (the server's process id) spreading editors that start
    # together, or modulo the engine's slots (its /props) when it has no /slots.
    slot: int = -1
    slot_key: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def defuse(text: str, specials: Sequence[str]) -> str:
    """``text`` with everything spelled like a special token broken by a zero-width space,
    so an engine that parses special tokens in a text prompt reads it as text."""
    text = text.replace("<|", "<" + ZERO_WIDTH_SPACE + "|")
    for special in specials:
        if len(special) > 1 and special in text:
            text = text.replace(special, special[0] + ZERO_WIDTH_SPACE + special[1:])
    return text


def text_prompt(prompt: Sequence[PromptPart], specials: Sequence[str]) -> str:
    known = [*specials, *(p.text for p in prompt if isinstance(p, Special))]
    return "".join(p.text if isinstance(p, Special) else defuse(p, known) for p in prompt)


def token_prompt(prompt: Sequence[PromptPart], tokenizer: Tokenizer) -> list[int]:
    ids: list[int] = []
    for part in prompt:
        if isinstance(part, Special):
            token = tokenizer.special_id(part.text)
            if token is None:
                raise ValueError(f"the model has no special token {part.text}")
            ids.append(token)
        else:
            ids.extend(tokenizer.tokenize(part))
    return ids


def engine_error_text(raw: bytes) -> str:
    """The engine's own words from an error body: OpenAI's {"error": {"message"}},
    llama-server's {"error": {"message"}}, FastAPI's {"detail"}, or the text itself."""
    text = raw[: http.MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    try:
        data = json.loads(raw)
    except ValueError:
        return text or "(no error text)"
    found: Any = data
    if isinstance(data, dict):
        found = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(found, dict):
            found = found.get("message", found)
    return str(found)[: http.MAX_ERROR_BODY]


@dataclass
class _Stream:
    """What one streamed answer has brought so far."""

    heal: str = ""  # healed prompt text the answer must still start with
    counted_prompt: int | None = None  # prompt tokens counted here, when the engine won't say
    text: str = ""
    pieces: int = 0
    first_piece_at: float = 0.0
    finished: bool = False
    reason: StopReason = "done"
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)


class RemoteBackend:
    def __init__(
        self,
        options: RemoteOptions,
        tokenizer: Tokenizer,
        send: Callable[..., http.Response] = http.request,
    ) -> None:
        self._options = options
        self._tokenizer = tokenizer
        self._send = send
        self._send_ids = tokenizer.exact_ids
        self._cool_down = 0.0
        self._down_until = 0.0
        self._down_error = ""
        # llama-server: the slot that holds this editor's prefix (llama_slots.py).
        self._slots: SlotKeeper | None = None
        if options.dialect == "llama-server":
            get_json = engine_get_json(
                http.Target.parse(options.url).origin,
                options.headers,
                options.timeouts,
                options.verify_tls,
                send,
            )
            self._slots = SlotKeeper(get_json, options.slot_key, options.slot)
        self.requests = 0  # sent to the engine (tests and benchmarks count them)
        # The prompt tokens the engine said it served from its cache in the last answer;
        # None when it said nothing (doctor tells "0" from "not reported").
        self.last_cached: int | None = None
        # How fast the engine reads our prompts, from its answers (its own timings when it
        # reports them, else the wait for the first piece): what a cold prompt costs there.
        self._speed = PromptSpeed()
        # The tokens of the last prompt the engine read: what its cache holds for us, as far
        # as we can tell (llama-server's slot, vLLM's prefix cache hold at least that), and
        # the slot it was read in (llama-server).
        self._last_read: list[int] = []
        self._last_slot: int | None = None
        # The last prompt compared (kv_reuse, then generate, ask for the same one).
        self._compared: tuple[tuple[PromptPart, ...], list[int]] = ((), [])

    @property
    def description(self) -> str:
        model = f" ({self._options.model})" if self._options.model else ""
        return f"{self._options.dialect} engine at {self._options.url}{model}"

    @property
    def chat_template(self) -> str | None:
        return self._tokenizer.chat_template

    @property
    def sends_token_ids(self) -> bool:
        return self._send_ids

    def tokenize(self, text: str) -> list[int]:
        return self._tokenizer.tokenize(text)

    @property
    def prompt_rate(self) -> float:
        return self._speed.tokens_per_second

    @property
    def keeps_states(self) -> bool:
        return False  # a slot holds the last prompt it read

    @property
    def saved_state_bytes(self) -> int:
        return 0  # the engine's memory is its own

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        tokens = self._comparable(prompt)
        cached = common_prefix(self._last_read, tokens)
        return KvReuse(len(tokens), min(cached, max(0, len(tokens) - 1)))

    def _comparable(self, prompt: Sequence[PromptPart]) -> list[int]:
        """The prompt's tokens, to compare prompts by (kept for the last prompt: kv_reuse and
        generate ask for the same one); a special token without an id here (no local
        vocabulary) stands as a negative one."""
        key = tuple(prompt)
        if key == self._compared[0]:
            return self._compared[1]
        specials: dict[str, int] = {}
        tokens: list[int] = []
        for part in prompt:
            if isinstance(part, Special):
                known = self._tokenizer.special_id(part.text)
                stand_in = specials.setdefault(part.text, -1 - len(specials))
                tokens.append(stand_in if known is None else known)
            else:
                tokens.extend(self._tokenizer.tokenize(part))
        self._compared = (key, tokens)
        return tokens

    def probe(self) -> str | None:
        """Whether the engine answers (None) or why not: a GET that costs it nothing, for
        the fallback (engine/fallback.py) to know when to come back. llama-server's
        ``/health`` says 503 while its model loads; an OpenAI-compatible server is asked for
        its model listing. Any answer below 500 counts: a 401 or a missing listing is an
        engine that is up (and the next request says what is wrong)."""
        options = self._options
        if options.dialect == "llama-server":
            url = http.Target.parse(options.url).origin + "/health"
        else:
            url = options.url.rstrip("/") + "/models"
        try:
            response = self._send(
                "GET",
                url,
                None,
                headers=options.headers,
                timeouts=options.timeouts,
                verify_tls=options.verify_tls,
            )
        except http.HttpFault as exc:
            return str(exc)
        try:
            if response.status < 500:
                return None
            return f"{url} answered {response.status}: {_read_error(response, options.timeouts)}"
        finally:
            response.close()

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        """Nothing to do: the engine keeps its own cache, which no request of ours can pin
        (its next prompts start with the head anyway)."""
        return not limits.cancel.cancelled

    # -- the request ----------------------------------------------------------------------

    def _endpoint(self) -> str:
        base = self._options.url.rstrip("/")
        return base + ("/completions" if self._options.dialect == "openai" else "/completion")

    def _prepared(self, prompt: Sequence[PromptPart], heal: bool) -> tuple[list[int] | str, str]:
        """The prompt as sent, and the text taken off its end for token healing ("" when
        none): as the in-process engine does, the last token of the prompt's text is left
        for the model to write again (or a longer token starting with it), so a prompt
        ending in a space does not make it write another. Needs the vocabulary here."""
        last = prompt[-1] if prompt else ""
        healed = ""
        if heal and isinstance(last, str) and last:
            healed = self._tokenizer.last_token_text(last)
        if self._send_ids:
            ids = token_prompt(prompt, self._tokenizer)
            if healed:
                ids.pop()
            return ids, healed
        text = text_prompt(prompt, self._options.stop)
        if not healed or not text.endswith(healed):
            return text, ""
        return text[: len(text) - len(healed)], healed

    def _body(self, sent: list[int] | str, limits: GenerationLimits) -> dict[str, Any]:
        options = self._options
        if options.dialect == "llama-server":
            body: dict[str, Any] = {
                "prompt": sent,
                "n_predict": limits.max_tokens,
                "cache_prompt": True,
                "id_slot": self._slots.slot() if self._slots is not None else -1,
                "top_k": 1,
            }
        else:
            # llama-cpp-python's server penalises repeats by default (1.1): not greedy, and a
            # rewrite of code repeats its input. vLLM and SGLang ignore the name.
            body = {"prompt": sent, "max_tokens": limits.max_tokens, "repeat_penalty": 1.0}
            if options.model:
                body["model"] = options.model
            body["stream_options"] = {"include_usage": True}
            if self._send_ids:  # vLLM: stop at the special tokens whatever it prints
                ids = [self._tokenizer.special_id(s) for s in options.stop]
                body["stop_token_ids"] = [i for i in ids if i is not None]
        body |= {"temperature": 0.0, "stream": True}
        if limits.logit_bias and self._tokenizer.exact_ids:
            # Only ids of the engine's own vocabulary mean the tokens meant; OpenAI's API
            # takes -100..100 keyed by the id as a string, llama-server [id, bias] pairs.
            bias = {token: max(-100.0, min(100.0, v)) for token, v in limits.logit_bias.items()}
            if options.dialect == "llama-server":
                body["logit_bias"] = [[token, value] for token, value in sorted(bias.items())]
            else:
                body["logit_bias"] = {str(token): value for token, value in sorted(bias.items())}
        if options.stop:
            body["stop"] = list(options.stop)[:4]  # OpenAI's limit; our own cut sees them all
        return body

    def _open(self, body: dict[str, Any], limits: GenerationLimits) -> http.Response:
        """The response once its headers are in; connection errors retried with back-off."""
        now = time.monotonic()
        if now < self._down_until:
            raise EngineFault(self._down_error, retryable=True)
        wait = FIRST_RETRY_SECONDS
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                response = self._send(
                    "POST",
                    self._endpoint(),
                    body,
                    headers=self._options.headers,
                    timeouts=self._options.timeouts,
                    should_stop=lambda: _stopping(limits),
                    verify_tls=self._options.verify_tls,
                )
                self._cool_down = 0.0
                self.requests += 1
                return response
            except http.HttpFault as exc:
                if not exc.retryable:
                    raise EngineFault(str(exc), status=exc.status) from exc
                if attempt == CONNECT_ATTEMPTS or time.monotonic() + wait >= limits.deadline:
                    self._cool_down = min(
                        MOST_COOL_DOWN_SECONDS, max(COOL_DOWN_SECONDS, self._cool_down * 2)
                    )
                    self._down_until = time.monotonic() + self._cool_down
                    self._down_error = str(exc)
                    raise EngineFault(str(exc), retryable=True) from exc
                log.info("engine: %s; trying again in %.2f s", exc, wait)
                _sleep_unless(limits, wait)
                wait *= 2
        raise AssertionError("unreachable")

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        try:
            return self._generate(prompt, limits, keep_going, heal=True)
        except _Diverged:
            # The model would not write the healed text again (its constraint is not
            # ours to set on a remote engine): the prompt as it is, then.
            return self._generate(prompt, limits, keep_going, heal=False)

    def _generate(
        self,
        prompt: Sequence[PromptPart],
        limits: GenerationLimits,
        keep_going: KeepGoing,
        heal: bool,
    ) -> Generation:
        started = time.monotonic()
        sent, healed = self._prepared(prompt, heal)
        body = self._body(sent, limits)
        try:
            response = self._open(body, limits)
        except http.Stopped:
            self._last_slot = None  # it may have been sent: see below
            return Generation("", _stop_reason(limits))
        if response.status in _MAYBE_NO_IDS and self._send_ids:
            # An engine that wants text (llama-cpp-python's server answers 500 with a
            # validation error): send text from now on if that is what it said.
            error = _read_error(response, self._options.timeouts)
            response.close()
            if response.status != 500 or "prompt" in error.lower():
                log.warning(  # the engine may quote the ids: the document, never logged
                    "the engine refused a token-id prompt (%s...); sending text", error[:80]
                )
                self._send_ids = False
                return self._generate(prompt, limits, keep_going, heal)
            raise EngineFault(f"the engine answered 500: {error}", status=500)
        stream = _Stream(heal=healed)
        if isinstance(sent, str) and self._tokenizer.exact_ids:
            # A text prompt to an engine that reports no usage in its stream (llama-cpp-
            # python's server): the tokens it reads, counted here (milliseconds).
            stream.counted_prompt = len(token_prompt(prompt, self._tokenizer)) - bool(healed)
        try:
            if response.status >= 400:
                error = _read_error(response, self._options.timeouts)
                raise EngineFault(
                    f"the engine answered {response.status}: {error}", status=response.status
                )
            self._read(response, stream, limits, keep_going)
        except http.Stopped:
            stream.reason = _stop_reason(limits)
        except http.HttpFault as exc:
            raise EngineFault(str(exc)) from exc
        finally:
            response.close()  # closing is what tells the engine to stop
        result = self._figures(stream, body, started)
        if stream.first_piece_at or stream.finished:  # it read the whole prompt
            tokens = self._comparable(prompt)
            slot = body.get("id_slot")
            if self._slots is not None and isinstance(slot, int):
                # What the slot should have held for us, against what it served.
                shared = common_prefix(self._last_read, tokens) if slot == self._last_slot else 0
                self._slots.answered(slot, shared, self.last_cached)
            self._last_read, self._last_slot = tokens, slot
            read = result.prompt_tokens - result.reused_tokens
            self._speed.record(read, result.prompt_seconds)
        else:
            # Stopped while the engine read the prompt: the slot holds some of it, we do not
            # know how much, so the next answer says nothing about another editor.
            self._last_slot = None
        return result

    def _read(
        self,
        response: http.Response,
        stream: _Stream,
        limits: GenerationLimits,
        keep_going: KeepGoing,
    ) -> None:
        stops = self._options.stop
        for line in response.lines(lambda: _stopping(limits), self._options.timeouts):
            if not line or line.startswith((":", "event:", "id:", "retry:")):
                continue
            if line.startswith("error:"):
                raise EngineFault(f"the engine failed: {engine_error_text(line[6:].encode())}")
            if not line.startswith("data:"):
                raise EngineFault(f"malformed stream from the engine: {line[:120]!r}")
            payload = line[5:].strip()
            if payload == "[DONE]":
                stream.finished = True
                return
            try:
                event = json.loads(payload)
            except ValueError:
                raise EngineFault(f"malformed stream from the engine: {payload[:120]!r}") from None
            if not isinstance(event, dict):
                raise EngineFault(f"malformed stream from the engine: {payload[:120]!r}")
            if "error" in event:
                raise EngineFault(f"the engine failed: {engine_error_text(payload.encode())}")
            piece, finish = self._piece(event, stream)
            if stream.heal and piece:
                # The healed text must come first; it is the prompt's, not the answer's.
                size = min(len(stream.heal), len(piece))
                if piece[:size] != stream.heal[:size]:
                    raise _Diverged
                stream.heal, piece = stream.heal[size:], piece[size:]
            if piece:
                if not stream.first_piece_at:
                    stream.first_piece_at = time.monotonic()
                stream.text += piece
                stream.pieces += 1
                cut = min((i for s in stops if (i := stream.text.find(s)) >= 0), default=-1)
                if cut >= 0:
                    stream.text, stream.reason, stream.finished = (
                        stream.text[:cut],
                        "stop_token",
                        True,
                    )
                    return
            if finish is not None:
                stream.finished = True
                stream.reason = finish
                if self._options.dialect == "openai":
                    continue  # the usage chunk and [DONE] may follow
                return
            if limits.cancel.cancelled:
                stream.reason = "cancelled"
                return
            if time.monotonic() > limits.deadline:
                stream.reason = "time_cap"
                return
            if piece and not keep_going(stream.text):
                stream.reason = "cancelled" if limits.cancel.cancelled else "done"
                return
        if not stream.finished:
            raise EngineFault("the engine's stream ended before the answer was complete")

    def _piece(self, event: dict[str, Any], stream: _Stream) -> tuple[str, StopReason | None]:
        """The text of one streamed event, and why the answer ended when it did."""
        if isinstance(event.get("usage"), dict):
            stream.usage = event["usage"]
        if isinstance(event.get("timings"), dict):
            stream.timings = event["timings"]
        if self._options.dialect == "llama-server":
            for key in ("tokens_evaluated", "tokens_cached"):
                if isinstance(event.get(key), int):
                    stream.usage[key] = event[key]
            piece = event.get("content")
            ended = bool(event.get("stop"))
            kind = event.get("stop_type", "")
            reason: StopReason | None = None
            if ended:
                reason = "max_tokens" if kind == "limit" else "stop_token"
            return (piece if isinstance(piece, str) else ""), reason
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices:
            return "", None  # the usage chunk
        choice = choices[0] if isinstance(choices[0], dict) else {}
        piece = choice.get("text")
        finish = choice.get("finish_reason")
        reason = None if finish is None else ("max_tokens" if finish == "length" else "stop_token")
        return (piece if isinstance(piece, str) else ""), reason

    def _figures(self, stream: _Stream, body: dict[str, Any], started: float) -> Generation:
        """The answer with its figures, as well as the engine reports them."""
        now = time.monotonic()
        usage, timings = stream.usage, stream.timings
        sent = body["prompt"]
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        first = stream.first_piece_at or now
        reported = [cached, timings.get("cache_n"), usage.get("tokens_cached")]
        self.last_cached = _first_int(*reported) if any(_is_int(v) for v in reported) else None
        # llama-server's prompt_n counts the tokens it evaluated, the cached ones (cache_n)
        # left out: the prompt is both.
        evaluated, from_cache = timings.get("prompt_n"), timings.get("cache_n")
        native = evaluated + from_cache if _is_int(evaluated) and _is_int(from_cache) else None
        result = Generation(
            text=stream.text,
            stop_reason=stream.reason,
            prompt_tokens=_first_int(
                usage.get("prompt_tokens"),
                native,
                evaluated,
                usage.get("tokens_evaluated"),
                len(sent) if isinstance(sent, list) else None,
                stream.counted_prompt,
            ),
            reused_tokens=_first_int(cached, timings.get("cache_n"), usage.get("tokens_cached")),
            generated_tokens=_first_int(
                usage.get("completion_tokens"), timings.get("predicted_n"), stream.pieces
            ),
            prompt_seconds=_ms(timings.get("prompt_ms")) or (first - started),
            generate_seconds=_ms(timings.get("predicted_ms")) or (now - first),
        )
        return result

    def close(self) -> None:
        self._tokenizer.close()


class _Diverged(Exception):
    """The answer did not start with the healed text."""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_int(*values: Any) -> int:
    return next((v for v in values if _is_int(v)), 0)


def _ms(value: Any) -> float:
    return float(value) / 1000 if isinstance(value, int | float) else 0.0


def _stopping(limits: GenerationLimits) -> bool:
    return limits.cancel.cancelled or time.monotonic() >= limits.deadline


def _stop_reason(limits: GenerationLimits) -> StopReason:
    return "cancelled" if limits.cancel.cancelled else "time_cap"


def _sleep_unless(limits: GenerationLimits, seconds: float) -> None:
    end = min(time.monotonic() + seconds, limits.deadline)
    while not _stopping(limits) and time.monotonic() < end:
        time.sleep(min(http.POLL_SECONDS, max(0.0, end - time.monotonic())))


def _read_error(response: http.Response, timeouts: http.Timeouts) -> str:
    try:
        raw = response.read_all(lambda: False, timeouts, http.MAX_ERROR_BODY)
    except http.HttpFault as exc:
        return f"(the error text could not be read: {exc})"
    return engine_error_text(raw)
