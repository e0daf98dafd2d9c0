"""What the fuzzer sends: hypothesis strategies for sequences of valid and invalid messages.

A sequence is a list of steps (small dataclasses, so hypothesis prints and shrinks them
readably): documents opened, changed and closed with random text, versions and ranges;
requests at random positions; cancels, configuration changes, unknown methods, messages
with a field replaced by a value of the wrong type; and raw frames that break the JSON,
the JSON-RPC shape or the framing itself. `Profile` bounds what is generated, so the
cases that hit bugs known and being fixed elsewhere can be switched on separately.
benchmarks/fuzz_harness.py runs a sequence against the server and checks the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

METHOD_INLINE = "textDocument/inlineCompletion"
METHOD_COMPLETION = "textDocument/completion"
METHOD_CODE_ACTION = "textDocument/codeAction"
METHOD_STATUS = "qwenLsp/status"


@dataclass(frozen=True)
class Profile:
    """Bounds of the generated cases."""

    max_steps: int = 30
    max_edits: int = 12  # content changes in one didChange
    max_repeat: int = 2_000  # a big document: a snippet repeated this often (~100 KB)
    lone_surrogates: bool = False
    docs: int = 3  # documents per sequence


# -- steps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Open:
    doc: int
    language: str
    version: int
    text: str
    repeat: int = 1  # the text repeated: big documents without generating megabytes


@dataclass(frozen=True)
class Change:
    doc: int
    version: int
    # (start_line, start_char, end_line, end_char) or None for the whole text, and the text
    edits: tuple[tuple[tuple[int, int, int, int] | None, str], ...]


@dataclass(frozen=True)
class Close:
    doc: int


@dataclass(frozen=True)
class Ask:
    """A request at a position: inline completion, completion or code actions."""

    method: str
    doc: int
    line: int
    character: int
    string_id: bool = False


@dataclass(frozen=True)
class Status:
    string_id: bool = False


@dataclass(frozen=True)
class Cancel:
    back: int  # cancels the request sent this many requests ago (past the first: unknown)
    as_string: bool = False


@dataclass(frozen=True)
class Config:
    settings: Any


@dataclass(frozen=True)
class Unknown:
    method: str
    params: Any
    request: bool


@dataclass(frozen=True)
class Mutated:
    """A valid message with one of its values (chosen by ``index``) replaced by ``value``."""

    base: Open | Change | Ask | Close | Config
    index: int
    value: Any


@dataclass(frozen=True)
class Raw:
    """Broken bytes. ``kind`` says how; see `raw_bytes` in the harness."""

    kind: str
    payload: bytes = b""
    number: int = 0


Step = Open | Change | Close | Ask | Status | Cancel | Config | Unknown | Mutated | Raw

# -- text ------------------------------------------------------------------------------

SNIPPETS = [
    "def add(a, b):\n    return a + b\n",
    'label = "😀漢字 ok" + \n',
    "x = 1\r\ny = 2\r\n",
    "class A:\n\tdef f(self):\n\t\tpass\n",
    "if (x) {\n  y();\n}\n",
    "s = '🎉🎉' # 👍🏽 family 👨‍👩‍👧\n",
    "\r\r\n\n\r",
    "",
    "    ",
    "import os\n\n\ndef main() -> None:\n    print(os.getcwd())\n",
]
LANGUAGES = ["python", "javascript", "typescript", "c", "rust", "go", "plaintext", "", "x-nope"]
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff\ufffe\uffff"
LONE = "\ud800\udbff\udc00\udfff"


def texts(profile: Profile, max_size: int = 80) -> st.SearchStrategy[str]:
    blacklist = () if profile.lone_surrogates else ("Cs",)
    chars = st.characters(codec=None, blacklist_categories=blacklist)
    parts = [
        st.sampled_from(SNIPPETS),
        st.text(chars, max_size=max_size),
        st.text(st.sampled_from("ab \t\n\r😀漢(){}:;'\"\\" + CONTROL), max_size=max_size),
    ]
    if profile.lone_surrogates:
        parts.append(st.text(st.sampled_from("ab\n😀" + LONE), min_size=1, max_size=max_size))
    return st.one_of(*parts)


def positions() -> st.SearchStrategy[int]:
    """Mostly small (inside the document or just past it), sometimes wild."""
    return st.one_of(
        st.integers(0, 12),
        st.integers(0, 12),
        st.sampled_from([-1, -(2**31), 2**31 - 1, 2**31, 2**53, 10**6]),
    )


def versions() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(-3, 50), st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1]))


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)

# Settings a sequence may change (those that would load another model are left out: the
# check at the end needs the fake backend), with values that fit and values that do not.
CONFIG_KEYS = [
    "multiline",
    "blockPrompt",
    "disabledLanguages",
    "prefixTokens",
    "suffixTokens",
    "crossFileTokens",
    "maxTokensLine",
    "maxTokensBlock",
    "maxSeconds",
    "customActions",
    "actionMaxSeconds",
    "actionContextTokens",
    "promptLookup",
    "kvReuse",
    "suggestionCache",
    "speculation",
    "cancelStale",
    "followTyping",
    "disableRules",
    "noSuchSetting",
]
config_values = st.one_of(
    st.integers(-5, 100_000),
    st.booleans(),
    st.sampled_from(["chat", "fim", "python", "", "bogus"]),
    st.lists(st.sampled_from(["python", "c", "reparse", "x"]), max_size=3),
    json_values,
)


def configs() -> st.SearchStrategy[Any]:
    mapping = st.dictionaries(st.sampled_from(CONFIG_KEYS), config_values, max_size=4)
    return st.one_of(
        mapping,
        st.builds(lambda m: {"qwenLsp": m}, mapping),
        json_values,
    )


# -- steps -----------------------------------------------------------------------------


def steps(profile: Profile) -> st.SearchStrategy[Step]:
    doc = st.integers(0, profile.docs)  # the last one is never opened
    rng = st.tuples(positions(), positions(), positions(), positions())
    edit = st.tuples(st.one_of(st.none(), rng, rng, rng), texts(profile, 12))
    opened = st.builds(
        Open,
        doc,
        st.sampled_from(LANGUAGES),
        versions(),
        texts(profile),
        st.one_of(st.just(1), st.just(1), st.integers(1, profile.max_repeat)),
    )
    changed = st.builds(
        Change, doc, versions(), st.lists(edit, max_size=profile.max_edits).map(tuple)
    )
    asked = st.builds(
        Ask,
        st.sampled_from([METHOD_INLINE, METHOD_INLINE, METHOD_COMPLETION, METHOD_CODE_ACTION]),
        doc,
        positions(),
        positions(),
        st.booleans(),
    )
    mutable = st.one_of(opened, changed, asked, st.builds(Close, doc), st.builds(Config, configs()))
    raw = st.one_of(
        st.builds(Raw, st.sampled_from(["bad_json", "not_object", "no_jsonrpc", "bad_id"])),
        st.builds(Raw, st.just("extra_headers")),
        st.builds(
            Raw, st.sampled_from(["short_length", "long_length"]), st.just(b""), st.integers(1, 200)
        ),
        st.builds(Raw, st.just("garbage"), st.binary(max_size=64)),
        st.builds(
            Raw,
            st.just("bad_header"),
            st.sampled_from(
                [
                    b"Content-Length: abc\r\n\r\n{}",
                    b"Content-Length: -5\r\n\r\n",
                    b"Content-Length: 99999999999999999999\r\n\r\n",
                    b"Content-Type: application/json\r\n\r\n{}",
                    b"content-length: 2\r\n\r\n{}",
                    b"Content-Length: 2\n\n{}",
                    b"\r\n\r\n",
                ]
            ),
        ),
    )
    return st.one_of(
        opened,
        opened,
        changed,
        changed,
        changed,
        asked,
        asked,
        asked,
        st.builds(Close, doc),
        st.builds(Status, st.booleans()),
        st.builds(Cancel, st.integers(0, 4), st.booleans()),
        st.builds(Config, configs()),
        st.builds(
            Unknown,
            st.sampled_from(
                ["qwenLsp/nothing", "$/nothing", "textDocument/nothing", "", "x" * 300]
            ),
            json_values,
            st.booleans(),
        ),
        st.builds(Mutated, mutable, st.integers(0, 50), json_values),
        raw,
    )


def sequences(profile: Profile) -> st.SearchStrategy[list[Step]]:
    return st.lists(steps(profile), min_size=1, max_size=profile.max_steps)
