"""What a big document costs the server per keystroke, per completion and per didChange batch.

    .venv/bin/python -m benchmarks.bench_bigdoc [--sizes 2,9,20] [--keystrokes 10]

The real server runs over stdio with the fake backend (no model: the figures are the
server's own work). For each size (MB) a Python file of that size is opened (with a few
non-ASCII characters, so the UTF-8/UTF-16 paths are taken) and:

- keystroke: one character inserted in the middle of the file, then ``qwenLsp/status``:
  the round trip, minus that of a status request alone, is what the keystroke cost the
  event loop (median of ``--keystrokes``);
- completion: an inline completion in the middle of the file (the suggestion cache off, so
  every request builds a prompt), then ``qwenLsp/status`` right after it (speculation runs
  on the event loop after the answer, the status waits behind it); median;
- list actions: ``textDocument/codeAction`` with the cursor in a method in the middle of
  the file (what VS Code asks on every cursor move, for its light bulb); median;
- batch: one didChange with 1,000 one-character edits spread over the file, then status.

Figures go to stdout as a table; the server logs to ``.artifacts/bigdoc.server.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from lsprotocol import types

from benchmarks.lsp_driver import REPO, Session

BLOCK = '''\
class Account{n}:
    """A bank account, number {n} (café)."""

    def __init__(self, owner: str, balance: float = 0.0) -> None:
        self.owner = owner
        self.balance = balance

    def deposit(self, amount: float) -> float:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        return self.balance


'''


def python_text(megabytes: float) -> str:
    parts: list[str] = []
    size = 0
    n = 0
    while size < megabytes * 1_000_000:
        block = BLOCK.replace("{n}", str(n))
        parts.append(block)
        size += len(block)
        n += 1
    return "".join(parts)


async def _status_seconds(session: Session) -> float:
    start = time.perf_counter()
    await session.status()
    return time.perf_counter() - start


async def measure(
    megabytes: float, keystrokes: int, batch: bool, options: dict[str, object]
) -> dict[str, float]:
    session = Session(options, REPO / ".artifacts" / "bigdoc.server.log")
    text = python_text(megabytes)
    lines = text.split("\n")
    uri = f"file:///tmp/bigdoc_{megabytes}.py"
    figures: dict[str, float] = {}
    try:
        await session.start()
        await session.wait_ready()
        start = time.perf_counter()
        session.open(uri, "python", text)
        await session.status(timeout=600)
        figures["open_s"] = time.perf_counter() - start
        idle = statistics.median([await _status_seconds(session) for _ in range(5)])
        middle = len(lines) // 2
        # a line in the middle that holds code: "        self.balance += amount"
        while "self.balance += amount" not in lines[middle]:
            middle += 1
        column = len(lines[middle])
        costs = []
        for _ in range(keystrokes):
            start = time.perf_counter()
            session.insert(uri, middle, column, " ")
            await session.status(timeout=600)
            costs.append(time.perf_counter() - start - idle)
            column += 1
        figures["keystroke_ms"] = 1000 * statistics.median(costs)
        cursor = types.Range(
            start=types.Position(line=middle, character=8),
            end=types.Position(line=middle, character=8),
        )
        costs = []
        for _ in range(keystrokes):
            start = time.perf_counter()
            await session.client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=cursor,
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
            costs.append(time.perf_counter() - start)
        figures["list_actions_ms"] = 1000 * statistics.median(costs)
        costs = []
        answers = []
        for _ in range(max(3, keystrokes // 2)):
            session.insert(uri, middle, column, "\n        x")
            middle += 1
            column = 9
            start = time.perf_counter()
            _, future = session.request_inline(uri, middle, column)
            await asyncio.wait_for(asyncio.wrap_future(future), 600)
            answers.append(time.perf_counter() - start)
            await session.status(timeout=600)
            costs.append(time.perf_counter() - start)
        figures["completion_s"] = statistics.median(answers)
        figures["completion_then_status_s"] = statistics.median(costs)
        if not batch:
            return figures
        # one notification with 1,000 one-character insertions spread over the file
        version = session._versions[uri] = session._versions[uri] + 1
        step = max(1, len(lines) // 1000)
        changes: list[types.TextDocumentContentChangeEvent] = []
        for i in range(1000):
            at = types.Position(line=(i * step) % len(lines), character=0)
            changes.append(
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=at, end=at), text="#"
                )
            )
        start = time.perf_counter()
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=changes,
            )
        )
        await session.status(timeout=3600)
        figures["batch_1000_s"] = time.perf_counter() - start
    finally:
        await session.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.56,2,9,20", help="document sizes in MB")
    parser.add_argument("--keystrokes", type=int, default=10)
    parser.add_argument(
        "--batch-max-mb", type=float, default=100.0, help="the batch only up to this size"
    )
    args = parser.parse_args()
    options: dict[str, object] = {
        "backend": "fake",
        "suggestionCache": True,
        "speculation": True,
        "crossFileTokens": 256,
    }
    print(
        f"{'MB':>6} {'open s':>8} {'key ms':>8} {'list ms':>8} {'compl s':>8} {'+status s':>10} "
        f"{'batch s':>8}"
    )
    for size in (float(s) for s in args.sizes.split(",")):
        f = asyncio.run(measure(size, args.keystrokes, size <= args.batch_max_mb, options))
        batch = f"{f['batch_1000_s']:8.2f}" if "batch_1000_s" in f else f"{'-':>8}"
        print(
            f"{size:6.2f} {f['open_s']:8.2f} {f['keystroke_ms']:8.1f} {f['list_actions_ms']:8.1f} "
            f"{f['completion_s']:8.2f} "
            f"{f['completion_then_status_s']:10.2f} {batch}",
            flush=True,
        )


if __name__ == "__main__":
    main()
