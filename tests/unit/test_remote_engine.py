"""The remote engine (backend openai and llama-server) against a scripted HTTP engine in
this process: the requests it sends, the answer it reads, cancellation, and each fault as
an EngineFault with the engine's own words (issue 14)."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.engine import CancelToken, EngineFault, GenerationLimits, Special
from qwen_lsp.engine import http_stream as http
from qwen_lsp.engine.remote import (
    RemoteBackend,
    RemoteOptions,
    defuse,
    text_prompt,
    token_prompt,
)
from qwen_lsp.engine.remote_tokenizer import EngineTokenizer
from qwen_lsp.engine.worker import ModelUnavailable
from qwen_lsp.engine_notices import EngineNotices
from qwen_lsp.engine_setup import API_KEY_ENV, engine_options, load_remote_backend
from qwen_lsp.settings import Settings
from tests.scripted_engine import ScriptedEngine

SPECIALS = {"<|fim_prefix|>": 1, "<|fim_suffix|>": 2, "<|fim_middle|>": 3, "<|endoftext|>": 4}
STOP = ("<|endoftext|>", "<|file_sep|>")
PROMPT = [Special("<|fim_prefix|>"), "def f():\n    return ", Special("<|fim_middle|>")]
# Generous: far above what any of these requests needs, far below the time-outs they test.
BOUND = 10.0


class IdTokenizer:
    """Exact ids (one per character, offset past the specials), like a local vocabulary."""

    exact_ids = True
    chat_template = None

    def tokenize(self, text: str) -> list[int]:
        return [100 + ord(c) for c in text]

    def special_id(self, text: str) -> int | None:
        return SPECIALS.get(text)

    def last_token_text(self, text: str) -> str:
        return ""  # no token healing (HealingTokenizer heals)

    def close(self) -> None:
        pass


class HealingTokenizer(IdTokenizer):
    def last_token_text(self, text: str) -> str:
        return text[-1:]


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    scripted = ScriptedEngine()
    yield scripted
    scripted.stop()


def backend_for(engine: ScriptedEngine, **changes: Any) -> RemoteBackend:
    fields: dict[str, Any] = {
        "url": engine.url,
        "model": "qwen-coder",
        "stop": STOP,
        "timeouts": http.Timeouts(connect=2.0, read=60.0),
    }
    fields |= changes
    tokenizer = changes.pop("tokenizer", None) or IdTokenizer()
    fields.pop("tokenizer", None)
    return RemoteBackend(RemoteOptions(**fields), tokenizer)


def limits(max_tokens: int = 64, seconds: float = 60.0) -> GenerationLimits:
    return GenerationLimits(max_tokens=max_tokens, max_seconds=seconds)


def test_openai_request_shape_and_answer(engine: ScriptedEngine) -> None:
    backend = backend_for(engine, api_key="sk-test")
    result = backend.generate(PROMPT, limits(max_tokens=33), lambda text: True)
    assert result.text == "scripted_answer()\n"
    assert result.stop_reason == "stop_token"
    path, headers, body = engine.requests[-1]
    assert path == "/v1/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    # Token ids: the specials are their ids, the text is text.
    assert body["prompt"] == [1, *IdTokenizer().tokenize("def f():\n    return "), 3]
    assert body["max_tokens"] == 33 and body["temperature"] == 0.0 and body["stream"] is True
    assert body["model"] == "qwen-coder"
    assert body["stop"] == list(STOP)
    assert body["stop_token_ids"] == [4]
    # The figures the engine reported (usage), the pieces counted otherwise.
    assert (result.prompt_tokens, result.reused_tokens, result.generated_tokens) == (11, 8, 6)


def test_llama_server_request_shape_and_figures(engine: ScriptedEngine) -> None:
    backend = backend_for(engine, url=engine.origin, dialect="llama-server", slot=2)
    result = backend.generate(PROMPT, limits(max_tokens=20), lambda text: True)
    assert result.text == "scripted_answer()\n"
    path, _, body = engine.requests[-1]
    assert path == "/completion"
    assert body["cache_prompt"] is True and body["id_slot"] == 2 and body["n_predict"] == 20
    assert body["prompt"][0] == 1 and body["stream"] is True and body["temperature"] == 0.0
    assert (result.prompt_tokens, result.reused_tokens) == (7, 5)


@pytest.mark.parametrize("send_ids", [True, False])
def test_token_healing_like_the_in_process_engine(engine: ScriptedEngine, send_ids: bool) -> None:
    # The prompt ends in "return ": its last token (" ") is left for the model to write.
    engine.answer = " a + b\n"
    tokenizer = HealingTokenizer()
    backend = backend_for(engine, tokenizer=tokenizer)
    if not send_ids:
        engine.mode = "reject-ids"
    prompt = ["def add(a, b):\n    return "]
    result = backend.generate(prompt, limits(), lambda text: True)
    assert result.text == "a + b\n"
    sent = engine.completions()[-1]["prompt"]
    if send_ids:
        assert sent == tokenizer.tokenize("def add(a, b):\n    return")
    else:
        assert sent == "def add(a, b):\n    return"


def test_an_answer_that_does_not_write_the_healed_text_is_asked_again_unhealed(
    engine: ScriptedEngine,
) -> None:
    engine.answer = "a + b\n"  # no space first: the model did not heal
    backend = backend_for(engine, tokenizer=HealingTokenizer())
    prompt = ["def add(a, b):\n    return "]
    assert backend.generate(prompt, limits(), lambda text: True).text == "a + b\n"
    healed, whole = engine.completions()
    assert len(whole["prompt"]) == len(healed["prompt"]) + 1


def test_llama_server_keeps_one_slot_per_editor(engine: ScriptedEngine) -> None:
    engine.slots = 4
    first = backend_for(engine, url=engine.origin, dialect="llama-server", slot_key=7)
    second = backend_for(engine, url=engine.origin, dialect="llama-server", slot_key=8)
    for backend in (first, second, first, second):
        backend.generate(PROMPT, limits(), lambda text: True)
    assert [body["id_slot"] for body in engine.completions()] == [3, 0, 3, 0]
    assert [path for path, _, _ in engine.requests].count("/props") == 2  # once each
    engine.slots = 0  # an engine that does not say: its own choice
    third = backend_for(engine, url=engine.origin, dialect="llama-server", slot_key=9)
    third.generate(PROMPT, limits(), lambda text: True)
    assert engine.completions()[-1]["id_slot"] == -1


def test_text_prompt_keeps_special_looking_user_text_as_text() -> None:
    prompt = [
        Special("<|fim_prefix|>"),
        "x = '<|fim_middle|>' + '<|endoftext|>'",
        Special("<|fim_middle|>"),
    ]
    sent = text_prompt(prompt, STOP)
    assert sent.startswith("<|fim_prefix|>x = '") and sent.endswith("'<|fim_middle|>")
    assert sent.count("<|fim_middle|>") == 1 and "<|endoftext|>" not in sent
    assert defuse("a <|b|> <fim_x>", ["<fim_x>"]).replace("\u200b", "") == "a <|b|> <fim_x>"


def test_an_engine_that_wants_text_gets_text_from_then_on(engine: ScriptedEngine) -> None:
    engine.mode = "reject-ids"
    backend = backend_for(engine)
    assert backend.generate(PROMPT, limits(), lambda text: True).text == "scripted_answer()\n"
    first, second = engine.completions()
    assert isinstance(first["prompt"], list) and isinstance(second["prompt"], str)
    backend.generate(PROMPT, limits(), lambda text: True)
    assert isinstance(engine.completions()[-1]["prompt"], str)


def test_figures_when_the_engine_reports_none(engine: ScriptedEngine) -> None:
    # llama-cpp-python's server: text only, no usage in its stream.
    engine.mode, engine.usage = "reject-ids", False
    result = backend_for(engine).generate(PROMPT, limits(), lambda text: True)
    assert result.prompt_tokens == len(token_prompt(PROMPT, IdTokenizer()))
    assert result.generated_tokens == 6  # the pieces streamed
    assert result.reused_tokens == 0


def test_stop_strings_cut_the_answer(engine: ScriptedEngine) -> None:
    engine.answer = "value + 1<|endoftext|>junk"
    result = backend_for(engine).generate(PROMPT, limits(), lambda text: True)
    assert result.text == "value + 1" and result.stop_reason == "stop_token"


def test_keep_going_false_closes_the_stream(engine: ScriptedEngine) -> None:
    engine.answer = "x" * 300
    engine.piece_delay = 0.02
    seen: list[str] = []

    def keep_going(text: str) -> bool:
        seen.append(text)
        return len(seen) < 3

    result = backend_for(engine).generate(PROMPT, limits(), keep_going)
    assert result.stop_reason == "done" and result.text == "x" * 9
    assert engine.wait_for(lambda e: e.disconnects == 1 and e.in_flight == 0)


@pytest.mark.parametrize("how", ["cancel", "time_cap"])
def test_a_silent_engine_does_not_hold_a_cancel_or_the_time_cap(
    engine: ScriptedEngine, how: str
) -> None:
    engine.mode = "stall"  # one piece, then silence (the read time-out is 60 s)
    token = CancelToken()
    cap = 0.5 if how == "time_cap" else 60.0
    request = GenerationLimits(max_tokens=64, max_seconds=cap, cancel=token)
    if how == "cancel":
        threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    result = backend_for(engine).generate(PROMPT, request, lambda text: True)
    assert time.monotonic() - started < BOUND
    assert result.stop_reason == ("cancelled" if how == "cancel" else "time_cap")
    assert result.text == "scr"
    assert engine.wait_for(lambda e: e.disconnects == 1 and e.in_flight == 0)


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("401", "Incorrect API key provided"),
        ("404", "The model `nope` does not exist."),
        ("500", "CUDA error: out of memory (scripted)"),
        ("malformed", "malformed stream"),
        ("cut", "before the answer was complete"),
    ],
)
def test_each_fault_is_an_engine_fault_in_the_engines_words(
    engine: ScriptedEngine, mode: str, words: str
) -> None:
    engine.mode = mode
    with pytest.raises(EngineFault, match=re.escape(words)) as fault:
        backend_for(engine).generate(PROMPT, limits(), lambda text: True)
    assert not fault.value.retryable
    assert len(engine.completions()) == 1  # no retry: only connection errors are retried


def test_a_stall_mid_stream_fails_after_the_read_timeout(engine: ScriptedEngine) -> None:
    engine.mode = "stall"
    backend = backend_for(engine, timeouts=http.Timeouts(connect=2.0, read=0.3))
    with pytest.raises(EngineFault, match="sent nothing for 0.3 s"):
        backend.generate(PROMPT, limits(), lambda text: True)


def test_refused_is_retried_with_back_off_then_cools_down(engine: ScriptedEngine) -> None:
    port = engine.port
    engine.stop()
    attempts: list[float] = []

    def counting(*args: Any, **kwargs: Any) -> http.Response:
        attempts.append(time.monotonic())
        return http.request(*args, **kwargs)

    options = RemoteOptions(url=f"http://127.0.0.1:{port}/v1", stop=STOP)
    backend = RemoteBackend(options, IdTokenizer(), send=counting)
    with pytest.raises(EngineFault) as fault:
        backend.generate(PROMPT, limits(), lambda text: True)
    assert fault.value.retryable and "cannot connect" in str(fault.value)
    assert len(attempts) == 3 and attempts[2] - attempts[1] > attempts[1] - attempts[0]
    # Right after, the next request fails without knocking again ...
    with pytest.raises(EngineFault):
        backend.generate(PROMPT, limits(), lambda text: True)
    assert len(attempts) == 3
    # ... and once the engine is back (and the cool-down over), it is used again.
    back = ScriptedEngine(port=port)
    try:
        deadline = time.monotonic() + BOUND
        while True:
            try:
                result = backend.generate(PROMPT, limits(), lambda text: True)
                break
            except EngineFault:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert result.text == "scripted_answer()\n"
    finally:
        back.stop()


def test_engine_tokenizer_finds_the_engines_endpoint(engine: ScriptedEngine) -> None:
    engine.tokenize_path = "/extras/tokenize"  # llama-cpp-python's server
    tokenizer = EngineTokenizer(engine.origin, "m", {}, http.Timeouts(), True)
    assert tokenizer.tokenize("abcdefgh") == [ord("a"), ord("e")]
    assert tokenizer.tokenize("abcdefgh") == [ord("a"), ord("e")]  # remembered
    assert tokenizer.tokenize("xyz") == [ord("x")]
    paths = [path for path, _, _ in engine.requests]
    assert paths == ["/tokenize", "/extras/tokenize", "/extras/tokenize"]
    assert not tokenizer.exact_ids


def test_without_a_local_vocabulary_the_prompt_goes_as_defused_text(
    engine: ScriptedEngine,
) -> None:
    settings = Settings(backend="openai", engineUrl=engine.url)
    backend = load_remote_backend(settings, {})
    prompt = [Special("<|fim_prefix|>"), "s = '<|fim_middle|>'", Special("<|fim_middle|>")]
    backend.generate(prompt, limits(), lambda text: True)
    sent = engine.completions()[-1]["prompt"]
    assert isinstance(sent, str) and sent.count("<|fim_middle|>") == 1


def test_settings_make_the_options_and_the_key_is_never_logged(
    engine: ScriptedEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ModelUnavailable, match="needs the engine's address"):
        engine_options(Settings(backend="openai"), {})
    with pytest.raises(ModelUnavailable, match="http"):
        engine_options(Settings(backend="openai", engineUrl="ftp://x"), {})
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    settings = Settings(
        backend="llama-server",
        engineUrl=engine.origin,
        engineApiKeyFile=str(key_file),
        engineConnectTimeout=1.5,
        engineReadTimeout=7.0,
    )
    options = engine_options(settings, {})
    assert options.api_key == "sk-from-file" and options.dialect == "llama-server"
    assert options.timeouts == http.Timeouts(1.5, 7.0)
    assert engine_options(settings, {API_KEY_ENV: "sk-env"}).api_key == "sk-env"
    with pytest.raises(ModelUnavailable, match="API key"):
        engine_options(Settings(engineUrl=engine.url, engineApiKeyFile=str(tmp_path / "no")), {})
    caplog.set_level(logging.DEBUG)
    backend = load_remote_backend(settings, {})
    backend.generate(PROMPT, limits(), lambda text: True)
    assert "sk-from-file" not in caplog.text and "sk-from-file" not in backend.description
    assert engine.requests[-1][1]["Authorization"] == "Bearer sk-from-file"


def test_engine_notices_tell_once_per_outage() -> None:
    notices = EngineNotices()
    before = object()
    assert notices.answered(before) is None
    first = notices.failed("connection refused", before)
    assert first is not None and "connection refused" in first
    assert notices.failed("connection refused", before) is None
    assert notices.failing and notices.error == "connection refused"
    assert notices.answered(before) is None  # a cached suggestion: the engine said nothing
    assert notices.answered(object()) == "qwen-lsp: the inference engine answers again."
    assert not notices.failing and notices.error == ""
    assert notices.failed("500", before) is not None
    notices.reset()
    assert notices.failed("401", before) is not None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_is_verified(tmp_path: Path) -> None:
    # An engine behind a self-signed certificate: refused, with the reason, not retried.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            context.wrap_socket(connection, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate

    threading.Thread(target=serve, daemon=True).start()
    options = RemoteOptions(url=f"https://127.0.0.1:{port}/v1", stop=STOP)
    try:
        with pytest.raises(EngineFault, match="TLS with https://127.0.0.1") as fault:
            RemoteBackend(options, IdTokenizer()).generate(PROMPT, limits(), lambda t: True)
        assert "CERTIFICATE_VERIFY_FAILED" in str(fault.value) and not fault.value.retryable
    finally:
        listener.close()


def test_a_cold_prompt_costs_what_the_engine_was_measured_to_read(engine: ScriptedEngine) -> None:
    # What the cold-prompt cut asks of an engine: its prompt rate, from its answers, and
    # what its cache holds of a prompt: the last prompt it read, as far as we can tell.
    engine.usage = False  # no figures from the engine: the prompt counted here, the time waited
    backend = backend_for(engine)
    assert backend.prompt_rate == 0  # nothing measured yet
    assert backend.kv_reuse(PROMPT).cached_tokens == 0
    assert backend.hold(PROMPT[:2], limits()) and not engine.requests  # nothing to pin there
    backend.generate(PROMPT, limits(), lambda text: True)
    assert backend.prompt_rate > 0
    again = backend.kv_reuse(PROMPT)
    assert again.cached_tokens == again.prompt_tokens - 1  # the last one is read again
    edited = [PROMPT[0], "def f():\n    x = 1", PROMPT[2]]
    assert backend.kv_reuse(edited).cached_tokens == 1 + len("def f():\n    ")
    cancel = CancelToken()
    cancel.cancel()
    assert not backend.hold(PROMPT[:2], GenerationLimits(0, 0, cancel=cancel))
