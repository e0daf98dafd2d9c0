"""The server side of the HumanEval infilling evaluation (benchmarks/eval_infill.py).

`python -m qwen_lsp` over stdio, driven exactly like an editor: per task didOpen of the
program with its hole, textDocument/inlineCompletion at the cursor, didClose; the answer
is items[0].insertText. The first request waits for the model to load and counts for no
task. After each task the server's status gives the figures of its last generation (stop
reason, tokens, the model's text before the server cut it). A time-out or an error scores
as an empty answer. Options and environment variables (the --ablate rules) are the
variant's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.evaluation import GENERATION_FIELDS, Generated, Pass
from benchmarks.lsp_driver import to_plain
from qwen_lsp import protocol

SERVER = "server"
REQUEST_TIMEOUT = 60.0


class InfillTask(Protocol):
    """What the server side needs of a task (HumanEval's, or a real file's hole)."""

    @property
    def id(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def suffix(self) -> str: ...
    @property
    def language_id(self) -> str: ...
    @property
    def extension(self) -> str: ...
    @property
    def reference(self) -> str: ...


def _position(text: str) -> types.Position:
    """LSP position (UTF-16 column) of the end of ``text``."""
    line = text.count("\n")
    column = text[text.rfind("\n") + 1 :]
    return types.Position(line=line, character=len(column.encode("utf-16-le")) // 2)


def _items(
    result: types.InlineCompletionList | Sequence[types.InlineCompletionItem] | None,
) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


def _insert_text(item: types.InlineCompletionItem) -> str:
    text = item.insert_text
    return text if isinstance(text, str) else text.value


class ServerSession:
    """One language server process, driven over stdio like an editor."""

    def __init__(
        self, options: dict[str, Any], log_file: Path, env: dict[str, str] | None = None
    ) -> None:
        self.options = options
        self.log_file = log_file
        self.env = env or {}
        self.client = LanguageClient("eval-infill", "1")
        self.messages: list[str] = []
        self._count = 0
        # The server's own time cap on a generation, and room for the prompt before it (a
        # loaded machine, a larger model): only a server that hangs times out here.
        self.timeout = float(options.get("maxSeconds") or 0) + REQUEST_TIMEOUT

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

    async def start(self) -> None:
        await self.client.start_io(
            sys.executable,
            "-m",
            "qwen_lsp",
            "--log-level",
            "warning",
            "--log-file",
            str(self.log_file),
            env={**os.environ, **self.env},
        )
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                process_id=os.getpid(),
                initialization_options=self.options,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def complete(
        self,
        prefix: str,
        suffix: str,
        timeout: float | None = None,
        language_id: str = "python",
        extension: str = ".py",
    ) -> str:
        self._count += 1
        uri = f"file:///eval-infill/task{self._count}{extension}"
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=1, text=prefix + suffix
                )
            )
        )
        try:
            result = await asyncio.wait_for(
                self.client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=_position(prefix),
                        context=types.InlineCompletionContext(
                            trigger_kind=types.InlineCompletionTriggerKind.Automatic
                        ),
                    )
                ),
                timeout or self.timeout,
            )
        finally:
            self.client.text_document_did_close(
                types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri))
            )
        items = _items(result)
        return _insert_text(items[0]) if items else ""

    async def status(self) -> Any:
        return await self.client.protocol.send_request_async(protocol.STATUS_METHOD, {})

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        finally:
            await self.client.stop()


WARM_UP = ("def add(a, b):\n    ", "\n")


async def _run_server(
    tasks: Sequence[InfillTask],
    options: dict[str, Any],
    progress: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> dict[str, Generated]:
    results: dict[str, Generated] = {}
    with tempfile.TemporaryDirectory(prefix="eval-infill-server-") as folder:
        log_file = Path(folder) / "server.log"
        session = ServerSession(options, log_file, env)
        await session.start()
        try:
            started = time.monotonic()
            # The first request waits for the model to load: not part of any task's latency.
            await session.complete(*WARM_UP, timeout=600)
            status = await session.status()
            if to_plain(status).get("state") != "ready":
                raise RuntimeError(f"server not ready: {status} {session.messages}")
            progress(f"model loaded in {time.monotonic() - started:.1f} s")
            for index, task in enumerate(tasks, 1):
                t = time.monotonic()
                try:
                    text = await session.complete(
                        task.prefix,
                        task.suffix,
                        language_id=task.language_id,
                        extension=task.extension,
                    )
                    error = ""
                except Exception as exc:  # a time-out or a server error scores as empty
                    text, error = "", f"{type(exc).__name__}: {exc}"
                seconds = time.monotonic() - t
                last = to_plain(await session.status()).get("lastGeneration") or {}
                extra = {name: last[k] for k, name in GENERATION_FIELDS.items() if k in last}
                # The model's own text before the server cut it: what post-processing saw.
                extra["model_text"] = last.get("text", "")
                # Per token of it: where it ends and the probability the model gave it.
                extra["token_ends"] = last.get("tokenEnds", [])
                extra["token_chances"] = last.get("tokenChances", [])
                results[task.id] = Generated(text, seconds, error, extra)
                stop = extra.get("stop_reason", "")
                progress(f"{index}/{len(tasks)} {task.id} {seconds:.1f} s {stop} {error}")
        except BaseException:
            log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            print(f"server log (end):\n{log}", file=sys.stderr)
            raise
        finally:
            await session.stop()
    return results


def run_server(
    tasks: Sequence[InfillTask],
    options: dict[str, Any],
    progress: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> dict[str, Generated]:
    return asyncio.run(_run_server(tasks, options, progress, env))


def server_pass(
    name: str, tasks: Sequence[InfillTask], options: dict[str, Any], env: dict[str, str]
) -> Pass:
    """The server variant ``name`` as a pass of an evaluation (evaluation.run_passes)."""
    return Pass(
        name,
        f"{name} {json.dumps(options)} {json.dumps(env)}",
        tasks,
        lambda share, progress: run_server(share, options, progress, env),
        document=lambda task: task.reference,
    )
