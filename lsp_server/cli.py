"""Command line: the server (stdio or TCP), model management, headless completion, doctor."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

from lsp_server import __version__

log = logging.getLogger("qwen-lsp")


def _setup_logging(level: str, log_file: str | None) -> None:
    # stdout carries the protocol: logs go to stderr or a file, never stdout.
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # pygls logs every message at INFO; that is --log-level debug material.
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))


def _parse_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def _parse_location(value: str) -> tuple[Path, int, int | None]:
    """FILE:LINE[:COL], both 1-based; COL counts characters. Without COL: end of line."""
    parts = value.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return Path(parts[0]), int(parts[1]), int(parts[2])
    parts = value.rsplit(":", 1)
    if len(parts) == 2 and parts[1].isdigit():
        return Path(parts[0]), int(parts[1]), None
    raise argparse.ArgumentTypeError(f"expected FILE:LINE[:COL], got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwen-lsp", description="Local AI code completion language server (Qwen coder)."
    )
    parser.add_argument("--version", action="version", version=f"qwen-lsp {__version__}")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    parser.add_argument("--log-file", help="write logs to this file instead of stderr")
    parser.add_argument("--model", help="registry name or GGUF path (sets QWEN_LSP_MODEL)")
    sub = parser.add_subparsers(dest="command")

    # Without a command the server runs: on stdio (the default, --stdio accepted for
    # clients that always pass it) or on TCP.
    parser.add_argument("--stdio", action="store_true", help="serve LSP on stdin/stdout (default)")
    parser.add_argument("--tcp", type=_parse_host_port, metavar="HOST:PORT", help="serve on TCP")

    models_cmd = sub.add_parser("models", help="list or download models")
    models_sub = models_cmd.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="known models and which are present")
    pull = models_sub.add_parser("pull", help="download, verify and cache a model")
    pull.add_argument("name", nargs="?", help="registry name (default: the default model)")
    pull.add_argument("--force", action="store_true", help="download again even if present")

    complete = sub.add_parser("complete", help="print the suggestion at FILE:LINE[:COL]")
    complete.add_argument("location", type=_parse_location, metavar="FILE:LINE[:COL]")
    complete.add_argument("--language", help="language id (default: from the file name)")

    sub.add_parser("doctor", help="check the installation and measure the model's speed")

    action = sub.add_parser(
        "action",
        help="run a code action on FILE:START-END (or FILE:LINE: the function around it) "
        "and print its edit as a unified diff",
    )
    action.add_argument(
        "name", help="action id: fix, explain, docstring, annotate, simplify, tests"
    )
    action.add_argument("location", type=_parse_span, metavar="FILE:START-END")
    action.add_argument("--language", help="language id (default: from the file name)")
    return parser


def _parse_span(value: str) -> tuple[Path, int, int | None]:
    """FILE:START-END (1-based lines, inclusive) or FILE:LINE (END None)."""
    path, sep, span = value.rpartition(":")
    start, dash, end = span.partition("-")
    if sep and start.isdigit() and (not dash or end.isdigit()):
        return Path(path), int(start), int(end) if dash else None
    raise argparse.ArgumentTypeError(f"expected FILE:START-END or FILE:LINE, got {value!r}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level, args.log_file)
    if args.model:
        os.environ["QWEN_LSP_MODEL"] = args.model
    command = args.command
    if command is None:
        return _serve(args.tcp)
    if command == "models":
        return _models(args)
    if command == "complete":
        path, line, col = args.location
        return _complete(path, line, col, args.language)
    if command == "doctor":
        from lsp_server.doctor import run_doctor

        return run_doctor()
    if command == "action":
        path, start, end = args.location
        return _action(args.name, path, start, end, args.language)
    return 2


def _read_source(path: Path) -> str | None:
    """The file's text, or None after telling the user why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return None


def _action(name: str, path: Path, start: int, end: int | None, language: str | None) -> int:
    from lsp_server.headless import run_file_action

    text = _read_source(path)
    if text is None:
        return 1
    started = time.monotonic()
    try:
        diff, message = asyncio.run(run_file_action(name, path, text, start, end, language))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"({time.monotonic() - started:.2f} s)", file=sys.stderr)
    if message:
        print(message, file=sys.stderr)
        return 1
    sys.stdout.write(diff)
    return 0


def _serve(tcp: tuple[str, int] | None) -> int:
    from lsp_server.server import server

    if tcp is not None:
        log.info("qwen-lsp %s listening on %s:%d", __version__, *tcp)
        server.start_tcp(*tcp)
    else:
        log.info("qwen-lsp %s on stdio", __version__)
        server.start_io(sys.stdin.buffer, _protocol_stdout())
    return 0


def _protocol_stdout() -> BinaryIO:
    """A private copy of stdout for the protocol; file descriptor 1 becomes stderr.

    llama-cpp-python points descriptor 1 at /dev/null while it loads a model (to silence
    llama.cpp), and llama.cpp may print to it: either would lose or corrupt LSP messages
    written in the meantime. The protocol keeps its own descriptor; stray prints land on
    stderr.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb")


def _models(args: argparse.Namespace) -> int:
    from lsp_server import models

    try:
        if args.models_command == "list":
            print(models.format_model_table(models.list_models()))
            return 0
        path = models.pull(args.name, force=args.force)
        print(path)
        return 0
    except models.ModelError as exc:
        print(f"error: {exc}\nfix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was kept", file=sys.stderr)
        return 130


def _complete(path: Path, line: int, col: int | None, language: str | None) -> int:
    from lsp_server.headless import complete_file

    text = _read_source(path)
    if text is None:
        return 1
    started = time.monotonic()
    try:
        suggestion = asyncio.run(complete_file(path, text, line, col, language))
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"({time.monotonic() - started:.2f} s)", file=sys.stderr)
    if suggestion:
        sys.stdout.write(suggestion + ("" if suggestion.endswith("\n") else "\n"))
    else:
        print("(no suggestion here)", file=sys.stderr)
    return 0
