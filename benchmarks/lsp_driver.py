"""Drive a fresh qwen-lsp process over stdio the way an editor does.

Shared by the benchmark scripts. One `Session` is one server process: it is started with
the given initializationOptions, its stderr goes to a log file (an unread pipe would fill
up and block the server), and `stop()` / `kill()` make sure no process is left behind.
Requests can be sent with an explicit id and cancelled with `$/cancelRequest`, which is
what VS Code does with the inline-completion request of the previous keystroke.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import run_async
from pygls.lsp.client import LanguageClient

from qwen_lsp import protocol

log = logging.getLogger("lsp_driver")

STATUS_METHOD = protocol.STATUS_METHOD
REPO = Path(__file__).resolve().parent.parent


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what LSP columns count)."""
    return len(text.encode("utf-16-le")) // 2


def to_plain(value: Any) -> Any:
    """pygls turns results of unknown methods into namedtuples; turn them back into dicts."""
    if hasattr(value, "_asdict"):
        return {k: to_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def suggestion_text(result: Any) -> str:
    """The first item's text of an inlineCompletion result ("" when there is none)."""
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    if not items:
        return ""
    text = items[0].insert_text
    return text if isinstance(text, str) else str(getattr(text, "value", ""))


class _Client(LanguageClient):
    """A LanguageClient whose server writes its stderr to a file instead of a pipe."""

    def __init__(self, stderr_path: Path) -> None:
        super().__init__("qwen-lsp-bench", "1")
        self.stderr_path = stderr_path
        self.messages: list[str] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start_io(self, cmd: str, *args: str, **kwargs: Any) -> None:
        # Same as LanguageClient.start_io, except for stderr: nobody reads pygls's pipe.
        with open(self.stderr_path, "ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                cmd,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                **kwargs,
            )
        assert process.stdin is not None and process.stdout is not None
        self.protocol.set_writer(process.stdin)
        connection = asyncio.create_task(
            run_async(
                stop_event=self._stop_event,
                reader=process.stdout,
                protocol=self.protocol,
                logger=log,
                error_handler=self.report_server_error,
            )
        )
        self._server = process
        self.process = process
        self._async_tasks.extend([connection, asyncio.create_task(self._server_exit())])

    def report_server_error(self, error: Exception, source: Any) -> None:
        log.warning("protocol error from server: %s", error)


class Session:
    """One server process, initialized with ``options`` as initializationOptions."""

    def __init__(
        self,
        options: Mapping[str, Any],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        log_level: str = "info",
    ) -> None:
        self.options = dict(options)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.log_level = log_level
        self.client = _Client(log_path)
        self._versions: dict[str, int] = {}
        self._next_id = 0

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            self.client.messages.append(params.message)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            pass

    @property
    def pid(self) -> int | None:
        process = self.client.process
        return None if process is None else process.pid

    @property
    def alive(self) -> bool:
        process = self.client.process
        return process is not None and process.returncode is None

    @property
    def messages(self) -> list[str]:
        """window/showMessage texts the server sent (setting problems, model errors)."""
        return self.client.messages

    def capabilities(self) -> types.ClientCapabilities:
        """What the client announces: UTF-16 positions and inline completion."""
        return types.ClientCapabilities(
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind.Utf16]
            ),
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities()
            ),
        )

    async def start(self, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        await self.client.start_io(
            sys.executable,
            "-m",
            "qwen_lsp",
            "--log-level",
            self.log_level,
            env=self.env,
            cwd=str(REPO),
        )
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(
                    capabilities=self.capabilities(),
                    process_id=os.getpid(),
                    initialization_options=self.options,
                )
            ),
            timeout,
        )
        self.client.initialized(types.InitializedParams())

    async def wait_ready(self, timeout: float = 180.0) -> dict[str, Any]:
        """Poll qwenLsp/status until the model is loaded; RuntimeError if it failed.

        Each poll has a short time-out and is retried: an answer the server writes while
        llama-cpp-python loads the model is lost (with verbose=False it points fd 1, the
        LSP pipe, at /dev/null for the duration of the load).
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = await self.status(timeout=3.0)
            except TimeoutError:
                status = {"state": "no answer"}
            if status.get("state") == "ready":
                return status
            if status.get("state") == "error":
                raise RuntimeError(f"model failed to load: {status.get('error')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"model not ready after {timeout:.0f} s: {status}")
            await asyncio.sleep(0.2)

    async def status(self, timeout: float = 30.0) -> dict[str, Any]:
        result = await asyncio.wait_for(
            self.client.protocol.send_request_async(STATUS_METHOD, {}), timeout
        )
        plain = to_plain(result)
        return plain if isinstance(plain, dict) else {}

    # -- documents -------------------------------------------------------------
    def open(self, uri: str, language_id: str, text: str) -> None:
        self._versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language_id, version=1, text=text
                )
            )
        )

    def insert(self, uri: str, line: int, utf16_col: int, text: str) -> int:
        """An incremental didChange inserting ``text`` at (line, utf16_col); the new version."""
        version = self._versions[uri] = self._versions[uri] + 1
        at = types.Position(line=line, character=utf16_col)
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=text
                    )
                ],
            )
        )
        return version

    def close(self, uri: str) -> None:
        self._versions.pop(uri, None)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    # -- requests --------------------------------------------------------------
    def request_inline(
        self, uri: str, line: int, utf16_col: int
    ) -> tuple[int, concurrent.futures.Future[Any]]:
        """Send textDocument/inlineCompletion with a fresh id; the id and the pending result."""
        self._next_id += 1
        msg_id = 100_000 + self._next_id
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=utf16_col),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
        future = self.client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )
        return msg_id, future

    def cancel(self, msg_id: int) -> None:
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    @staticmethod
    async def wait(future: concurrent.futures.Future[Any], timeout: float) -> bool:
        """Wait for ``future`` without cancelling it on time-out; True when it is done."""
        if future.done():
            return True
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(done.set))
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- the end ---------------------------------------------------------------
    async def stop(self, timeout: float = 10.0) -> int | None:
        """shutdown + exit, then wait for the process; killed if it does not go. Exit code."""
        process = self.client.process
        if process is None:
            return None
        if process.returncode is None:
            try:
                await asyncio.wait_for(self.client.shutdown_async(None), timeout)
                self.client.exit(None)
                await asyncio.wait_for(process.wait(), timeout)
            except Exception as exc:  # a stuck or dead server: kill it
                log.warning("server did not stop cleanly (%s); killing it", exc or type(exc))
        self.kill()
        try:
            await asyncio.wait_for(self.client.stop(), timeout)
        except Exception:
            pass
        return process.returncode

    def kill(self) -> None:
        """Kill the server process if it is still running (safe to call from `finally`)."""
        process = self.client.process
        if process is not None and process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass
