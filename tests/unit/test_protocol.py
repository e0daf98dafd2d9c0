"""The custom protocol: camelCase on the wire, and editors that read only what it declares."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from qwen_lsp import protocol
from qwen_lsp.completion import CompletionStats
from qwen_lsp.engine import Generation

ROOT = Path(__file__).resolve().parents[2]
NVIM_LUA = ROOT / "editors" / "nvim" / "lua" / "qwen_lsp"
CAMEL = re.compile(r"^[a-z][a-zA-Z]*$")


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in (key, *_keys(item))]
    return []


def _full_status() -> protocol.Status:
    stats = CompletionStats()
    stats.requests = 3
    stats.record(Generation("x = 1", "stop_token", prompt_tokens=10, reused_tokens=4))
    last = stats.last
    assert last is not None
    figures = last.figures()
    return protocol.Status(
        state="error",
        model="default",
        error=protocol.ModelProblem("model file missing", "qwen-lsp models pull m", "m"),
        completions=stats.totals(),
        lastGeneration=figures,
        actions=protocol.ActionTotals(
            runs=1, last=protocol.LastAction("docstring", 1.5, True, "", figures)
        ),
    )


def test_every_key_on_the_wire_is_camel_case() -> None:
    wire = protocol.to_wire(_full_status())
    keys = _keys(wire)
    assert "cacheHits" in keys and "promptTokens" in keys and "pullModel" in keys
    assert [k for k in keys if not CAMEL.match(k)] == []


def test_internal_counters_reach_the_wire() -> None:
    wire = protocol.to_wire(_full_status())
    assert wire["completions"]["requests"] == 3
    assert wire["completions"]["generations"] == 1
    assert wire["completions"]["promptTokens"] == 10
    assert wire["lastGeneration"]["reusedTokens"] == 4
    assert wire["lastGeneration"]["stopReason"] == "stop_token"
    assert wire["actions"]["last"]["generation"]["promptTokens"] == 10


def test_every_payload_field_says_what_it_is() -> None:
    for payload in protocol.PAYLOADS:
        for declared in dataclasses.fields(payload):
            assert declared.metadata.get("doc"), f"{payload.__name__}.{declared.name}"


def _lua_reads(pattern: str) -> set[str]:
    found: set[str] = set()
    for path in NVIM_LUA.glob("*.lua"):
        found.update(re.findall(pattern, path.read_text()))
    return found


def test_the_neovim_plugin_reads_only_declared_status_keys() -> None:
    """init.lua and health.lua name a few keys of the status (`st.state`, `err.fix`...);
    the counters come from the generated protocol.lua. A key renamed in protocol.py must
    not leave the plugin reading a key that no longer exists."""
    status_keys = {f.name for f in dataclasses.fields(protocol.Status)}
    problem_keys = {f.name for f in dataclasses.fields(protocol.ModelProblem)}
    assert _lua_reads(r"\bst\.(\w+)") <= status_keys
    assert _lua_reads(r"\b(?:st\.error|err)\.(\w+)") <= problem_keys
    assert _lua_reads(r"\bst\.(\w+)") >= {"state", "model", "error"}
