"""Cold and warm latency of the first suggestions, measured over stdio like an editor.

    .venv/bin/python -m benchmarks.first_suggestion [--model NAME] [--file F --line N]

Prints three figures, each from the client's side of the pipe:
  1. server start -> first suggestion shown (includes loading the model);
  2. with the model loaded, the first request in a freshly opened ~300-line file (a cold
     prompt: nothing of it is in the KV cache);
  3. after typing one character on that same line, the next suggestion (warm cache).
The files are real modules of the Python standard library, not written for this test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import sysconfig
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from qwen_lsp import protocol


def stdlib(name: str) -> Path:
    return Path(sysconfig.get_paths()["stdlib"]) / name


async def request(client: LanguageClient, uri: str, line: int, character: int) -> str:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    return items[0].insert_text if items else ""  # type: ignore[return-value]


def cut_line(text: str, line: int, keep: int) -> tuple[str, int]:
    """The text with line `line` cut after `keep` characters: the cursor goes there."""
    lines = text.splitlines(keepends=True)
    lines[line] = lines[line][:keep] + "\n"
    return "".join(lines), keep


def open_file(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.model:
        env["QWEN_LSP_MODEL"] = args.model

    # First file: copy.py (304 lines), the cursor after `copier =` on line 151.
    # Second file: queue.py (326 lines, the first 300 kept), after `return self.` on 199.
    first_text = stdlib("copy.py").read_text()
    second_text = "".join(stdlib("queue.py").read_text().splitlines(keepends=True)[:300])
    first_line, second_line = 150, 198
    first_text, first_col = cut_line(first_text, first_line, 20)
    second_text, second_col = cut_line(second_text, second_line, 20)

    client = LanguageClient("first-suggestion", "1")
    started = time.monotonic()
    await client.start_io(sys.executable, "-m", "qwen_lsp", "--log-level", "warning", env=env)
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=os.getpid())
    )
    client.initialized(types.InitializedParams())
    open_file(client, "file:///bench/copy.py", first_text)
    shown = await request(client, "file:///bench/copy.py", first_line, first_col)
    cold_start = time.monotonic() - started
    print(f"1. server start -> first suggestion: {cold_start:.2f} s   {shown[:50]!r}")

    open_file(client, "file:///bench/queue.py", second_text)
    t = time.monotonic()
    shown = await request(client, "file:///bench/queue.py", second_line, second_col)
    cold_prompt = time.monotonic() - t
    print(f"2. first request in an opened 300-line file: {cold_prompt:.2f} s   {shown[:50]!r}")

    typed = shown[:1] or "x"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri="file:///bench/queue.py", version=2
            ),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=second_line, character=second_col),
                        end=types.Position(line=second_line, character=second_col),
                    ),
                    text=typed,
                )
            ],
        )
    )
    t = time.monotonic()
    shown = await request(client, "file:///bench/queue.py", second_line, second_col + len(typed))
    warm = time.monotonic() - t
    print(f"3. after typing {typed!r} on the same line: {warm:.2f} s   {shown[:50]!r}")
    status = await client.protocol.send_request_async(protocol.STATUS_METHOD, {})
    print(f"   last generation: {status.lastGeneration}")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


if __name__ == "__main__":
    asyncio.run(main())
