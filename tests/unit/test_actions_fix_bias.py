"""A fix kept from writing an undefined name back: the logit bias, from the action down to
the engines."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qwen_lsp.actions.answer import result_for_answer
from qwen_lsp.actions.catalogue import find_spec
from qwen_lsp.actions.edits import ActionResult
from qwen_lsp.actions.linefix import (
    NEVER,
    TOWARD_CLOSING,
    avoided_tokens,
    closing_tokens,
    open_brackets,
)
from qwen_lsp.actions.prompt import ActionInput, Diagnostic, build_prompt
from qwen_lsp.actions.service import ActionRequest
from qwen_lsp.actions.target import find_target
from qwen_lsp.chat import ChatTemplate
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import GenerationLimits
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.llama_backend import _bias_row
from tests.scripted_engine import ScriptedEngine
from tests.unit.test_actions_service import service, snapshot
from tests.unit.test_remote_engine import PROMPT, IdTokenizer, backend_for, engine, limits

__all__ = ["engine"]  # the fixture

# Recorded from the 0.5B model (stdlib's asyncio __anext__ and pdb's clear_all_file_breaks
# with `self` misspelled): told "Undefined name `sel`. Did you mean `self`?", it copied the
# whole method back with `sel`, and asked again with its answer started up to the name,
# wrote `sel` again.
CODE = (
    "class Breaks:\n"
    "    def clear(self, filename):\n"
    "        filename = self.canonic(filename)\n"
    "        del sel.breaks[filename]\n"
    "        return None\n"
)


class Words:
    """A tokenizer that reads like a BPE one on code: a word with the one space or
    punctuation mark before it, cut into pieces of at most five characters."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> list[int]:
        pieces: list[str] = []
        for chunk in re.findall(r"[^\w\n]?\w+|\s+|[^\w\s]+", text):
            pieces.extend(chunk[i : i + 5] for i in range(0, len(chunk), 5))
        return [self.ids.setdefault(piece, len(self.ids)) for piece in pieces]

    def piece(self, token: int) -> str:
        return next(piece for piece, i in self.ids.items() if i == token)


def _fix(text: str, name: str, message: str) -> ActionInput:
    snap = Snapshot.build("file:///w/breaks.py", "python", 1, text)
    at = text.index(name)
    line = text[:at].count("\n")
    column = at - (text.rfind("\n", 0, at) + 1)
    target = find_target(snap, at, at + len(name), widen_line=True, line_fallback=True)
    spec = find_spec("fix")
    assert target is not None and spec is not None
    return ActionInput(spec, snap, target, (Diagnostic(line, message, "ruff", "F821", column),))


def test_the_undefined_names_first_token_is_kept_out_of_the_answer() -> None:
    words = Words()
    avoided = avoided_tokens(_fix(CODE, "sel.", "Undefined name `sel`"), words)
    # After a space (as the model writes it) and alone; never a token the code needs.
    assert {words.piece(t) for t in avoided} == {" sel", "sel"}
    assert set(avoided.values()) == {NEVER}
    needed = set(words(CODE.replace("sel.", "self.")))
    assert not needed & set(avoided)


def test_a_token_the_rest_of_the_code_needs_stays_allowed() -> None:
    # `selff` starts with the token `self` is (" self" + "f" in this vocabulary): keeping
    # it out would keep the model from writing `self` anywhere.
    words = Words()
    text = CODE.replace("del sel.", "del selff.")
    found = avoided_tokens(_fix(text, "selff.", "Undefined name `selff`"), words)
    assert " self" not in {words.piece(t) for t in found}
    # After a bracket: the bracket and the name's start are one token.
    call = CODE.replace("del sel.breaks[filename]", "print(sle.breaks)")
    found = avoided_tokens(_fix(call, "sle.", "Undefined name `sle`"), words)
    assert {words.piece(t) for t in found} == {"(sle", " sle", "sle"}


def test_no_undefined_name_or_not_where_the_diagnostic_says_nothing_is_avoided() -> None:
    words = Words()
    colon = _fix(CODE, "del sel.", "expected ':'")
    assert avoided_tokens(colon, words) == {}
    action = _fix(CODE, "sel.", "Undefined name `sel`")
    moved = Diagnostic(action.diagnostics[0].line, "Undefined name `sel`", "ruff", "F821", 0)
    assert (
        avoided_tokens(ActionInput(action.spec, action.snapshot, action.target, (moved,)), words)
        == {}
    )


class WordBackend(FakeBackend):
    words = Words()

    def tokenize(self, text: str) -> list[int]:
        return self.words(text)


async def test_the_service_sends_the_bias_with_both_attempts_of_a_fix() -> None:
    backend = WordBackend({"```python\n": "del sel.breaks[filename]\n```\n"})
    svc = await service(backend)
    line = CODE.split("\n").index("        del sel.breaks[filename]")
    found = (Diagnostic(line, "Undefined name `sel`", "ruff", "F821", 12),)
    request = ActionRequest("fix", "file:///w/calc.py", 1, ((line, 12), (line, 15)), found)
    run = await svc.run(request, snapshot(CODE), lambda: True)
    assert not run.result.ok  # the fake copies the line back whatever the bias
    assert len(backend.limits) == 2
    first, second = (limits.logit_bias for limits in backend.limits)
    assert {backend.words.piece(t) for t in first} == {" sel", "sel"} and first == second
    # Other actions: no bias.
    explain = ActionRequest("explain", "file:///w/calc.py", 1, ((1, 4), (1, 4)))
    await svc.run(explain, snapshot(CODE), lambda: True)
    assert backend.limits[-1].logit_bias == {}


@pytest.mark.parametrize("dialect", ["openai", "llama-server"])
def test_a_remote_engine_is_sent_the_bias_in_its_dialect(
    engine: ScriptedEngine, dialect: str
) -> None:
    url = engine.url if dialect == "openai" else engine.origin
    backend = backend_for(engine, url=url, dialect=dialect)
    biased = GenerationLimits(max_tokens=8, max_seconds=60.0, logit_bias={205: NEVER, 7: -300.0})
    backend.generate(PROMPT, biased, lambda text: True)
    body = engine.requests[-1][2]
    if dialect == "openai":  # -100..100, the id as a string
        assert body["logit_bias"] == {"7": -100.0, "205": -100.0}
    else:
        assert body["logit_bias"] == [[7, -100.0], [205, -100.0]]
    backend.generate(PROMPT, limits(), lambda text: True)
    assert "logit_bias" not in engine.requests[-1][2]
    # Ids of another vocabulary (a tokenizer that only guesses them) would bias other
    # tokens: none sent.
    guessing = IdTokenizer()
    guessing.exact_ids = False
    backend = backend_for(engine, url=url, dialect=dialect, tokenizer=guessing)
    backend.generate(PROMPT, biased, lambda text: True)
    assert "logit_bias" not in engine.requests[-1][2]


def test_the_in_process_engine_adds_the_bias_to_every_row_of_logits() -> None:
    row = _bias_row({3: NEVER, 7: 2.5, 99: NEVER, -1: NEVER}, 10)  # 99, -1: not in the vocabulary
    assert row is not None and row.shape == (10,)
    assert row[3] == NEVER and row[7] == 2.5 and row.sum() == NEVER + 2.5
    logits = np.zeros((2, 10), dtype=np.float32)
    logits[:, 3] = 5.0
    assert list(np.argmax(logits + row, axis=1)) == [7, 7]
    assert _bias_row({}, 10) is None and _bias_row({12: NEVER}, 10) is None
    assert GenerationLimits(1, 1.0).logit_bias == {}


# -- a whole function answered where the corrected lines were asked for ---------------------

POOL = """class Pool {
  [kRemoveClient] (client) {
    cilent.close(() => {
      const idx = this[kClients].indexOf(client)
      if (idx !== -1) {
        this[kClients].splice(idx, 1)
      }
    })

    this[kNeedDrain] = this[kClients].some(dispatcher => (
      !dispatcher[kNeedDrain] &&
      dispatcher.closed !== true
    ))
  }
}
"""
# Recorded from the 0.5B model (undici's pool-base.js, `client` misspelled): the method
# whole, fixed, but its computed name written without its brackets.
POOL_ANSWER = """kRemoveClient (client) {
  client.close(() => {
    const idx = this[kClients].indexOf(client)
    if (idx !== -1) {
      this[kClients].splice(idx, 1)
    }
  })

  this[kNeedDrain] = this[kClients].some(dispatcher => (
    !dispatcher[kNeedDrain] &&
    dispatcher.closed !== true
  ))
}
```
"""


def _js_fix(text: str, needle: str, message: str) -> ActionInput:
    snap = Snapshot.build("file:///w/pool.js", "javascript", 1, text)
    at = text.index(needle)
    line = text[:at].count("\n")
    column = at - (text.rfind("\n", 0, at) + 1)
    target = find_target(snap, at, at + len(needle), widen_line=True, line_fallback=True)
    spec = find_spec("fix")
    assert target is not None and spec is not None
    return ActionInput(
        spec, snap, target, (Diagnostic(line, message, "eslint", "no-undef", column),)
    )


def _answered(action: ActionInput, answer: str) -> ActionResult:
    plan = build_prompt(action, ChatTemplate.from_template(None), lambda s: len(s) // 4 + 1, 100)
    return result_for_answer(action, answer, plan)


def test_a_whole_method_answered_gives_only_its_reported_line() -> None:
    action = _js_fix(POOL, "cilent", "'cilent' is not defined.")
    result = _answered(action, POOL_ANSWER)
    assert result.ok, result.message
    assert result.changes[0].new_text() == POOL.replace("cilent", "client")


def test_what_else_a_whole_function_answer_changed_is_not_taken() -> None:
    # The model also "improved" the docstring: only the reported line is the fix.
    text = CODE.replace(
        "        filename = self", '        """Forget them."""\n        filename = self'
    )
    action = _fix(text, "sel.", "Undefined name `sel`")
    answer = (
        "def clear(self, filename):\n"
        '    """Forget the breakpoints of a file."""\n'
        "    filename = self.canonic(filename)\n"
        "    del self.breaks[filename]\n"
        "    return None\n```\n"
    )
    result = _answered(action, answer)
    assert result.ok, result.message
    assert result.changes[0].new_text() == text.replace("del sel.", "del self.")
    # The reported line copied back as it was: nothing taken from the rest either.
    copied = answer.replace("del self.", "del sel.")
    assert not _answered(action, copied).ok


# -- a bracket left open at the end of a line ----------------------------------------------


def test_the_brackets_a_line_leaves_open() -> None:
    assert open_brackets("    encoder = getincrementalencoder(encoding)(errors, **kwargs") == ")"
    js = "    const arb = new Arborist({ path: this.npm.prefix, ...this.npm.flatOptions }"
    assert open_brackets(js, "//") == ")"
    assert open_brackets("x = f([a, (b") == ")])"
    # In strings and comments they do not count.
    assert open_brackets("throw new Error('run `node-gyp (configure`.'", "//") == ")"
    assert open_brackets("s = '(' + t  # (") == ""
    assert open_brackets('s = "\\"(" + t') == ""
    assert open_brackets("if value > limit") == ""


# Recorded from the 0.5B model (codecs.iterencode, its last `)` removed): asked again
# with the line started whole, it ended the line there again, every time.
ENCODE = """def iterencode(iterator, encoding, errors='strict', **kwargs):
    encoder = getincrementalencoder(encoding)(errors, **kwargs
    for input in iterator:
        output = encoder.encode(input)
        if output:
            yield output
"""


def test_a_second_attempt_is_led_to_close_the_bracket() -> None:
    words = Words()
    action = _fix(ENCODE, "encoder =", "'(' was never closed")
    led = closing_tokens(action, words)
    assert {words.piece(t) for t in led} == {")", "),", "):"}
    # A `;` only where the code ends its statements with one.
    js = "function f (handler) {\n  super(handler\n  this.x = 1;\n}\n"
    semicolons = _js_fix(js, "super", "missing ) after argument list")
    assert {words.piece(t) for t in closing_tokens(semicolons, words)} == {")", "),", "):", ");"}
    without = _js_fix(js.replace("1;", "1"), "super", "missing ) after argument list")
    assert ");" not in {words.piece(t) for t in closing_tokens(without, words)}
    assert set(led.values()) == {TOWARD_CLOSING}
    # A line that ends with a closing bracket: its last token is written again (token
    # healing), where a lead to a lone `)` beats the `))` it needs.
    nested = _fix(
        ENCODE.replace("**kwargs\n", "**f(kwargs)\n"), "encoder =", "'(' was never closed"
    )
    assert closing_tokens(nested, words) == {}
    # A problem that names no bracket, or an undefined name: not led.
    assert closing_tokens(_fix(ENCODE, "encoder =", "invalid syntax"), words) == {}
    named = _fix(ENCODE.replace("(errors", "(erors"), "erors", "Undefined name `erors`")
    assert closing_tokens(named, words) == {}


async def test_the_service_leads_only_the_second_attempt() -> None:
    backend = WordBackend(
        {"```python\n": "encoder = getincrementalencoder(encoding)(errors, **kwargs\n```\n"}
    )
    svc = await service(backend)
    line = 1
    found = (Diagnostic(line, "'(' was never closed", "python", "", 4),)
    request = ActionRequest("fix", "file:///w/calc.py", 1, ((line, 4), (line, 10)), found)
    await svc.run(request, snapshot(ENCODE), lambda: True)
    first, second = (limits.logit_bias for limits in backend.limits)
    assert first == {} and second and set(second.values()) == {TOWARD_CLOSING}
