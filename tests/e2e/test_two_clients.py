"""Two editors on one workspace, both editing the same file: two servers (fake backend).

Both keep serving the right suggestions for their own copy of the text, code actions are
answered in both, and neither server writes to the workspace: edits go to the editors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.fuzz_client import RawServer
from benchmarks.fuzz_harness import ANSWER_TIMEOUT_S, CHECK_ANSWER

TEXT = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\nx = area(2) + "
CAPABILITIES: dict[str, Any] = {
    "textDocument": {
        "inlineCompletion": {},
        "codeAction": {"resolveSupport": {"properties": ["edit"]}},
    },
    "workspace": {"workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}},
}


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _start(tmp_path: Path, name: str, root: Path) -> RawServer:
    server = RawServer(tmp_path / f"{name}.log", {"QWEN_LSP_BACKEND": "fake"})
    server.request(
        "init",
        "initialize",
        {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": CAPABILITIES},
    )
    assert server.wait_for("init", 60) is not None, f"{name} did not initialize"
    server.notify("initialized", {})
    return server


def _inline(server: RawServer, msg_id: int, uri: str, line: int, col: int) -> str | None:
    server.request(
        msg_id,
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": col},
            "context": {"triggerKind": 2},
        },
    )
    reply = server.wait_for(msg_id, ANSWER_TIMEOUT_S)
    assert reply is not None and "result" in reply, reply
    items = reply["result"]["items"]
    return items[0]["insertText"] if items else None


def test_two_servers_edit_one_file(tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    source = root / "geometry.py"
    source.write_text(TEXT)
    (root / "tests").mkdir()
    before = _snapshot(root)
    uri = source.as_uri()
    servers = [_start(tmp_path, name, root) for name in ("first", "second")]
    try:
        for server in servers:
            server.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": TEXT}},
            )
        last_line = TEXT.count("\n")
        col = len(TEXT.splitlines()[-1])
        msg_id = 0
        # Interleaved typing: each editor types its own text at the end of the file.
        for version in range(2, 12):
            for index, server in enumerate(servers):
                at = {"line": last_line, "character": col + version - 2}
                server.notify(
                    "textDocument/didChange",
                    {
                        "textDocument": {"uri": uri, "version": version},
                        "contentChanges": [
                            {"range": {"start": at, "end": at}, "text": "ab"[index]}
                        ],
                    },
                )
            for server in servers:
                msg_id += 1
                assert _inline(server, msg_id, uri, last_line, col + version - 1) == CHECK_ANSWER
        # Code actions in both: listed and resolved; the edit goes back to the editor.
        for server in servers:
            msg_id += 1
            at = {"line": 4, "character": 4}
            server.request(
                msg_id,
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": uri},
                    "range": {"start": at, "end": at},
                    "context": {"diagnostics": []},
                },
            )
            reply = server.wait_for(msg_id, ANSWER_TIMEOUT_S)
            assert reply is not None and reply.get("result"), reply
            for action in reply["result"]:
                msg_id += 1
                server.request(msg_id, "codeAction/resolve", action)
                resolved = server.wait_for(msg_id, ANSWER_TIMEOUT_S)
                assert resolved is not None and "result" in resolved, resolved
        for server in servers:
            assert server.alive
            assert not server.take_problems()
        assert _snapshot(root) == before, "a server wrote to the workspace"
    finally:
        for server in servers:
            server.stop()
