"""Command line: the server (stdio or TCP), model management, headless completion, doctor."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn, TypedDict

from qwen_lsp import __version__

if TYPE_CHECKING:
    from qwen_lsp.modelstore import ModelStatus, StoreConfig

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
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


TCP_HELP = """\
--tcp HOST:PORT serves one LSP session on TCP, then exits like a stdio server.
Only a loopback address (127.0.0.1, ::1, localhost) is accepted unless --allow-remote is
given, and a remote listener needs a token: a file named by --token-file, or the
QWEN_LSP_TOKEN environment variable (at least 16 characters; make one with
python3 -c 'import secrets; print(secrets.token_urlsafe(32))'). With a token set, every
connection (loopback too) must begin with the initialize request carrying it as
initializationOptions.qwenLspToken (any LSP client can send initializationOptions);
a wrong or missing token gets an error reply and the connection is closed. Anything that
does not start with an LSP header, and a connection while a client is served, is closed
without disturbing that client. The traffic is not encrypted: for another machine,
tunnel it (ssh -L) rather than open the port.
"""


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
        prog="qwen-lsp",
        description="Local AI code completion language server (Qwen coder).",
        epilog=TCP_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qwen-lsp {__version__}")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error")
    parser.add_argument("--log-file", help="write logs to this file instead of stderr")
    parser.add_argument("--model", help="registry name or GGUF path (sets QWEN_LSP_MODEL)")
    sub = parser.add_subparsers(dest="command")

    # Without a command the server runs: on stdio (the default, --stdio accepted for
    # clients that always pass it) or on TCP.
    parser.add_argument("--stdio", action="store_true", help="serve LSP on stdin/stdout (default)")
    parser.add_argument(
        "--tcp", type=_parse_host_port, metavar="HOST:PORT", help="serve on TCP (see below)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --tcp listen on a non-loopback address (needs a token)",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="the token TCP clients must send (default: $QWEN_LSP_TOKEN)",
    )

    models_cmd = sub.add_parser("models", help="list, download or check models")
    models_sub = models_cmd.add_subparsers(dest="models_command", required=True)
    listing = models_sub.add_parser("list", help="known models and which are present")
    listing.add_argument(
        "--json", action="store_true", help="one JSON document (a list of models) for editors"
    )
    pull = models_sub.add_parser("pull", help="download, verify and cache a model")
    pull.add_argument("name", nargs="?", help="registry name (default: the default model)")
    pull.add_argument("--force", action="store_true", help="download again even if present")
    verify = models_sub.add_parser("verify", help="check a model (name or path), re-hashing it")
    # Not "model": that is the top-level --model option's destination.
    verify.add_argument(
        "target",
        nargs="?",
        metavar="MODEL",
        help="registry name or GGUF path (default: the default model)",
    )
    forget = models_sub.add_parser(
        "forget", help="drop the digest recorded at a model's first download (trust on first use)"
    )
    forget.add_argument("name", help="registry name")

    complete = sub.add_parser("complete", help="print the suggestion at FILE:LINE[:COL]")
    complete.add_argument("location", type=_parse_location, metavar="FILE:LINE[:COL]")
    complete.add_argument("--language", help="language id (default: from the file name)")

    doctor = sub.add_parser(
        "doctor",
        help="check the installation and measure the model's speed (or, for backend openai "
        "and llama-server, the engine: reachable, model served, a test completion, its cache)",
    )
    doctor.add_argument(
        "--json",
        action="store_true",
        help="one JSON document (every check: name, status ok/warn/fail, detail, fix, "
        "figures) for scripts and editor plugins; the exit code is the same",
    )

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
        return _serve(args)
    if command == "models":
        from qwen_lsp.modelstore import StoreConfig
        from qwen_lsp.settings_resolve import resolve_settings

        return models_command(
            args, StoreConfig.from_settings(resolve_settings(os.environ).settings)
        )
    if command == "complete":
        path, line, col = args.location
        return _complete(path, line, col, args.language)
    if command == "doctor":
        from qwen_lsp.doctor import run_doctor

        return run_doctor(as_json=args.json)
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
    from qwen_lsp.headless import run_file_action

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


def _serve(args: argparse.Namespace) -> int:
    """Serve one session, then end the process at once with the LSP exit code."""
    from pygls.exceptions import JsonRpcException

    from qwen_lsp import stdio, transport
    from qwen_lsp.server import server

    stdio.install_log_filter()  # a client's mistakes are warnings, not the server's errors

    def on_error(error: Exception) -> None:
        server.report_server_error(error, JsonRpcException)

    protocol, cleanup, shut_down = server.protocol, server.app.close, server.protocol.is_shut_down
    if args.tcp is not None:
        try:
            host, port = args.tcp
            token = transport.read_token(args.token_file, os.environ)
            options = transport.TcpOptions(host, port, args.allow_remote, token)
            transport.check_tcp(options)
        except transport.TransportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

        def listening(where: str) -> None:
            log.info("qwen-lsp %s listening on %s", __version__, where)

        try:
            code = transport.serve_tcp(
                protocol, options, cleanup, shut_down, on_error, on_listening=listening
            )
        except OSError as exc:  # the port is taken, the address is not ours, ...
            print(f"error: cannot listen on {args.tcp[0]}:{args.tcp[1]}: {exc}", file=sys.stderr)
            return 2
    else:
        log.info("qwen-lsp %s on stdio", __version__)
        stdin, stdout = sys.stdin.buffer, _protocol_stdout()
        code = transport.serve_stdio(protocol, stdin, stdout, cleanup, shut_down, on_error)
    _end_process(code)


def _end_process(code: int) -> NoReturn:
    """Exit now: the model worker or the stdin reader may still be blocked in a call, and an
    interpreter shutdown would wait for them (or crash in llama.cpp's destructors)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


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


def models_command(args: argparse.Namespace, config: StoreConfig) -> int:
    """``qwen-lsp models ...``: a command of its own, so stdout is not the LSP protocol here."""
    from qwen_lsp import modelstore

    try:
        if args.models_command == "list":
            statuses = modelstore.list_models(config)
            if args.json:
                print(json.dumps(model_list_json(statuses), indent=2))
            else:
                print(format_model_table(statuses, config.cache_dir))
        elif args.models_command == "pull":
            print(modelstore.pull(args.name, config, force=args.force))
        elif args.models_command == "verify":
            resolved = modelstore.resolve(args.target, config)
            modelstore.verify(resolved, config, full_hash=True)
            print(f"ok: {resolved.path}")
        else:
            found = modelstore.forget_recorded_hash(args.name, config)
            print(f"forgot the recorded digest of {args.name}" if found else "nothing recorded")
        return 0
    except modelstore.ModelError as exc:
        print(f"error: {exc}\nfix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was kept", file=sys.stderr)
        return 130


def _status_text(status: ModelStatus) -> str:
    if not status.present:
        return "not downloaded"
    if status.verified is True:
        return "verified"
    if status.verified is False:
        return "corrupt (wrong size)"
    return "present (not verified yet)"


def format_model_table(statuses: list[ModelStatus], cache_dir: Path) -> str:
    """Human table for ``qwen-lsp models list``; the default model is marked with *."""
    header = ("NAME", "SIZE MB", "SOURCE", "ARCH", "STYLE", "GPU GB", "STATUS", "DESCRIPTION")
    rows = [
        (
            s.spec.name + (" *" if s.is_default else ""),
            f"{s.spec.size / 1e6:.0f}" if s.spec.size is not None else "?",
            s.spec.source,
            s.spec.architecture,
            s.spec.completion_style,
            f"{s.spec.gpu_memory_gb:g}" if s.spec.gpu_memory_gb is not None else "-",
            _status_text(s),
            s.spec.description,
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    right = {1, 5}  # numbers

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            row[i].rjust(widths[i]) if i in right else row[i].ljust(widths[i])
            for i in range(len(row) - 1)
        ]
        return "  ".join([*cells, row[-1]]).rstrip()

    lines = [fmt(header), *(fmt(r) for r in rows)]
    if any(s.is_default for s in statuses):
        lines.append("* default model")
    lines.append(f"cache: {cache_dir}")
    return "\n".join(lines)


class ModelListEntry(TypedDict):
    """One model of ``qwen-lsp models list --json`` (editors read these keys)."""

    name: str
    file: str
    size: int | None
    sha256: str | None  # pinned in the registry; None: trusted on first use
    description: str
    source: str
    architecture: str
    completionStyle: str  # "fim" or "chat": how completions are asked of it
    gpuMemoryGb: float | None  # what it needs on a GPU; None: a CPU-sized model
    isDefault: bool
    present: bool
    verified: bool | None  # True: checked; False: known bad (wrong size); None: not yet
    path: str


def model_list_json(statuses: list[ModelStatus]) -> list[ModelListEntry]:
    """The document ``qwen-lsp models list --json`` prints: one entry per registry model."""
    return [
        ModelListEntry(
            name=s.spec.name,
            file=s.spec.file,
            size=s.spec.size,
            sha256=s.spec.sha256,
            description=s.spec.description,
            source=s.spec.source,
            architecture=s.spec.architecture,
            completionStyle=s.spec.completion_style,
            gpuMemoryGb=s.spec.gpu_memory_gb,
            isDefault=s.is_default,
            present=s.present,
            verified=s.verified,
            path=str(s.path),
        )
        for s in statuses
    ]


def _complete(path: Path, line: int, col: int | None, language: str | None) -> int:
    from qwen_lsp.headless import complete_file

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
