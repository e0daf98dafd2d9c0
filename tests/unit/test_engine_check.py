"""`qwen-lsp doctor` with a separate engine (issue 14): reachable, the model served, a test
completion with its latency, the prefix cache on a second request; each fails with a clear
line in the engine's words (refused, 401, unknown model). Against tests/scripted_engine.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp import __version__
from qwen_lsp.cli import main as cli_main
from qwen_lsp.doctor import run_doctor
from qwen_lsp.engine_check import Check, check_engine, served_models
from qwen_lsp.settings import Settings
from tests.scripted_engine import ScriptedEngine


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    served = ScriptedEngine()
    served.models = ["qwen-coder"]
    yield served
    served.stop()


def _by_label(checks: list[Check]) -> dict[str, Check]:
    return {c.label: c for c in checks}


def _openai(engine: ScriptedEngine, model: str = "qwen-coder") -> Settings:
    return Settings(backend="openai", engineUrl=engine.url, engineModel=model)


def test_a_good_engine_passes_every_check(engine: ScriptedEngine) -> None:
    checks = _by_label(check_engine(_openai(engine), {}))
    assert [c.status for c in checks.values()] == ["ok"] * 4, checks
    assert "qwen-coder is served" in checks["engine model"].detail
    assert " ms for " in checks["test completion"].detail
    assert "8 of 11 cached" in checks["prefix cache"].detail  # usage.prompt_tokens_details
    assert len(engine.completions()) == 2  # the test completion, then the same again


def test_llama_server_cache_figure_comes_from_its_timings(engine: ScriptedEngine) -> None:
    settings = Settings(backend="llama-server", engineUrl=engine.origin, engineModel="other")
    checks = _by_label(check_engine(settings, {}))
    # llama-server serves its one model whatever a request names: a warning, not a failure
    assert checks["engine model"].status == "warning"
    assert checks["test completion"].status == "ok"
    assert checks["prefix cache"].status == "ok"
    assert "5 of 7 cached" in checks["prefix cache"].detail  # timings.cache_n


def test_an_engine_that_reports_no_cache_says_so(engine: ScriptedEngine) -> None:
    engine.usage = False
    engine.models = []
    checks = _by_label(check_engine(_openai(engine, ""), {}))
    assert checks["engine model"].status == "not reported"
    assert checks["prefix cache"].status == "not reported"
    assert not any(c.failed for c in checks.values())


def test_refused_fails_with_the_connect_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(backend="openai", engineUrl=f"http://127.0.0.1:{port}/v1")
    checks = check_engine(settings, {})
    assert [c.label for c in checks] == ["engine"]
    assert checks[0].failed
    assert "refused" in checks[0].detail.lower()
    assert "start the engine" in checks[0].line()


def test_401_fails_with_the_engines_words_and_the_fix(engine: ScriptedEngine) -> None:
    engine.mode = "401"
    checks = check_engine(_openai(engine), {})
    assert [c.label for c in checks] == ["engine"]
    assert checks[0].failed
    assert "401" in checks[0].detail and "Incorrect API key provided" in checks[0].detail
    assert "QWEN_LSP_ENGINE_API_KEY" in checks[0].fix
    assert not engine.completions()


def test_an_unknown_model_fails_naming_the_served_ones(engine: ScriptedEngine) -> None:
    checks = _by_label(check_engine(_openai(engine, "nope"), {}))
    assert checks["engine model"].failed
    assert "'nope' is not served; the engine serves: qwen-coder" in checks["engine model"].detail
    assert "test completion" not in checks  # nothing sent that must fail
    assert not engine.completions()


def test_an_unknown_model_on_an_engine_without_a_listing_fails_the_completion(
    engine: ScriptedEngine,
) -> None:
    engine.listed = False  # an engine without /v1/models still refuses an unknown model
    checks = check_engine(_openai(engine, "nope"), {})
    by = _by_label(checks)
    assert by["engine model"].status == "not reported"
    assert by["test completion"].failed, checks
    assert "404" in by["test completion"].detail
    assert "The model `nope` does not exist." in by["test completion"].detail


def test_missing_url_fails_with_its_fix() -> None:
    checks = check_engine(Settings(backend="openai"), {})
    assert checks[0].failed and "engineUrl" in checks[0].fix


def test_served_models_from_either_listing() -> None:
    assert served_models({"data": [{"id": "a"}, {"id": "b"}]}) == ["a", "b"]
    assert served_models({"model_path": "/m/q.gguf", "total_slots": 2}) == ["/m/q.gguf"]
    assert served_models(None) == []


def test_doctor_checks_the_engine_instead_of_a_local_model(
    engine: ScriptedEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_LSP_BACKEND", "openai")
    monkeypatch.setenv("QWEN_LSP_ENGINE_URL", engine.url)
    monkeypatch.setenv("QWEN_LSP_ENGINE_MODEL", "qwen-coder")
    assert run_doctor() == 0
    out = capsys.readouterr().out
    assert "prefix cache" in out and "8 of 11 cached" in out
    engine.mode = "401"
    assert run_doctor() == 1
    assert "failed: " in capsys.readouterr().out


def _doctor_json(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = run_doctor(as_json=True)
    out = capsys.readouterr().out
    return code, json.loads(out)  # the whole of stdout is one JSON document


def test_doctor_json_is_one_document_with_every_check(
    engine: ScriptedEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_LSP_BACKEND", "openai")
    monkeypatch.setenv("QWEN_LSP_ENGINE_URL", engine.url)
    monkeypatch.setenv("QWEN_LSP_ENGINE_MODEL", "qwen-coder")
    code, document = _doctor_json(capsys)
    assert code == 0
    assert document["version"] == __version__ and document["status"] == "ok"
    checks = {c["name"]: c for c in document["checks"]}
    assert list(checks) == [
        "qwen-lsp",
        "python",
        "engine",
        "engine model",
        "test completion",
        "prefix cache",
    ]
    for check in document["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "figures"}
        assert check["status"] in ("ok", "warn", "fail")
        assert all(isinstance(v, int | float) for v in check["figures"].values())
    completion = checks["test completion"]["figures"]
    assert completion["latency_ms"] > 0 and completion["generated_tokens"] == 6
    assert completion["prompt_tokens"] == 11
    assert checks["prefix cache"]["figures"]["cached_tokens"] == 8
    assert "8 of 11 cached" in checks["prefix cache"]["detail"]


def test_doctor_json_says_warn_and_fail_with_the_same_exit_code(
    engine: ScriptedEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_LSP_BACKEND", "openai")
    monkeypatch.setenv("QWEN_LSP_ENGINE_URL", engine.url)
    engine.usage = False  # no cache figures: "not reported" is a warning
    code, document = _doctor_json(capsys)
    assert code == 0 and document["status"] == "warn"
    assert {c["name"]: c["status"] for c in document["checks"]}["prefix cache"] == "warn"
    engine.mode = "401"
    code, document = _doctor_json(capsys)
    assert code == 1 and document["status"] == "fail"
    failed = document["checks"][-1]
    assert failed["name"] == "engine" and failed["status"] == "fail"
    assert "Incorrect API key provided" in failed["detail"]
    assert "QWEN_LSP_ENGINE_API_KEY" in failed["fix"]
    # The people's output is unchanged in kind: a line per check, no JSON.
    assert run_doctor() == 1
    assert "failed: " in capsys.readouterr().out


def test_doctor_json_on_the_command_line(
    engine: ScriptedEngine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_LSP_BACKEND", "openai")
    monkeypatch.setenv("QWEN_LSP_ENGINE_URL", engine.url)
    assert cli_main(["doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] in ("ok", "warn")


def test_doctor_checks_the_fallback_model_without_loading_it(
    engine: ScriptedEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QWEN_LSP_BACKEND", "openai")
    monkeypatch.setenv("QWEN_LSP_ENGINE_URL", engine.url)
    monkeypatch.setenv("QWEN_LSP_ENGINE_FALLBACK", "local")
    monkeypatch.setenv("QWEN_LSP_MODEL", str(tmp_path / "missing.gguf"))
    code, document = _doctor_json(capsys)
    fallback = document["checks"][-1]
    assert fallback["name"] == "engine fallback" and fallback["status"] == "warn"
    assert "missing.gguf" in fallback["detail"] and fallback["fix"]
    assert code == 0  # the engine serves; only its stand-in is missing
