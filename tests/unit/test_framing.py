"""The LSP frames read robustly (qwen_lsp/framing.py): a broken frame costs only itself."""

from __future__ import annotations

import pytest

from qwen_lsp.framing import Body, Broken, Deframer, Garbage, envelope_problem

GOOD = b"Content-Length: 2\r\n\r\n{}"


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (GOOD + GOOD, [Body(b"{}"), Body(b"{}")]),
        (b"Content-Type: x\r\n" + GOOD, [Body(b"{}")]),  # other headers are fine
        (b"content-length: 2\r\n\r\n{}", [Body(b"{}")]),
        (b"Content-Length: abc\r\n\r\n{}" + GOOD, [Garbage, Body(b"{}")]),
        (b"Content-Length: 2\n\n{}" + GOOD, [Garbage, Body(b"{}")]),
        (b"\x00\xffjunk" + GOOD, [Garbage, Body(b"{}")]),
        (b"Content-Length: 9\r\n\r\n{}" + GOOD, [Broken, Body(b"{}")]),  # too long
        (b"Content-Length: 99999999999\r\n\r\n{}" + GOOD, [Broken, Body(b"{}")]),
        (b"Content-Length: 1\r\n\r\n{}" + GOOD, [Body(b"{"), Garbage, Body(b"{}")]),  # short
        (b"Content-Length: 0\r\n\r\n" + GOOD, [Body(b""), Body(b"{}")]),
    ],
)
def test_resynchronises_on_the_next_header(stream: bytes, expected: list[object]) -> None:
    frames = Deframer().feed(stream)
    assert len(frames) == len(expected)
    assert [
        f if isinstance(e, Body) else type(f) for f, e in zip(frames, expected, strict=True)
    ] == expected


def test_frames_split_anywhere_come_out_the_same() -> None:
    stream = frame(b'{"a": "Content-Length: 5"}') + b"Content-Length: 3\r\n\r\n{}" + GOOD
    whole = Deframer().feed(stream)
    for cut in range(1, len(stream)):
        deframer = Deframer()
        parts = deframer.feed(stream[:cut]) + deframer.feed(stream[cut:])
        assert [type(p) for p in parts] == [type(w) for w in whole], cut
        assert [getattr(p, "data", None) for p in parts] == [w.data for w in whole]
    assert [type(w) for w in whole] == [Body, Broken, Body]


def test_waits_when_a_body_ends_like_the_next_header() -> None:
    deframer = Deframer()
    assert deframer.feed(b"Content-Length: 7\r\n\r\n{}Conte") == []
    assert deframer.feed(b"nt-Length: 2\r\n\r\n{}") == [
        Broken(b"{}", "cut short by the next message"),
        Body(b"{}"),
    ]


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "x"}, None),
        ({"jsonrpc": "2.0", "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": "a", "result": None}, None),
        ([1], ("not a JSON object", None)),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}, None),
        ({"id": 3, "method": "x"}, ("not JSON-RPC 2.0", 3)),
        ({"method": "x"}, ("not JSON-RPC 2.0", ...)),
        ({"jsonrpc": "2.0", "id": 4, "method": 5}, ("the method is not a string", 4)),
        ({"jsonrpc": "2.0"}, ("neither a request, a notification nor a response", None)),
    ],
)
def test_envelope_problems(message: object, problem: tuple[str, object] | None) -> None:
    found = envelope_problem(message)
    if message == {"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}:
        assert found is not None and found[1] is None  # answered with id null
    else:
        assert found == problem
