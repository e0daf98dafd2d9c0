"""The actions there are, and which of them a range is offered, without the model.

An action is data (:class:`ActionSpec`): its prompts, where its answer goes and what
checks it. The built-in ones are declared here; the user's ``customActions`` setting
adds more through :func:`custom_spec`. Listing (:func:`offers`) must be instant, so it
looks only at the target, its tree (an action with nothing to do there is not listed:
applicable.py, and Simplify where simplify_hints.py finds nothing) and the catalogue; the
model runs when one is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qwen_lsp import languages
from qwen_lsp.actions import applicable, simplify_hints
from qwen_lsp.actions.target import Target
from qwen_lsp.documents import Snapshot
from qwen_lsp.settings import CustomAction

Placement = Literal["replace", "above", "below", "newFile"]
AnswerKind = Literal["code", "text"]
# What the model is asked to write for a single definition: the code rewritten, or only
# the part the action changes (its documentation, its signatures), which is shorter,
# so faster, and what small models write anyway. The server puts it into the code.
# A fix of problems the editor reports on some lines: those lines, corrected.
# ("span": Simplify told what to change, simplify_hints.py: the lines that replace those.)
Reply = Literal["code", "doc", "signatures", "lines", "span"]
Check = Literal["", "docstring", "annotations", "tests"]

CUSTOM_PREFIX = "custom:"


# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """One code action: how it is offered, prompted, and how its answer is applied."""

    id: str
    title: str
    kind: str
    system: str
    prompt: str  # the user message, with {placeholders}
    placement: Placement
    answer: AnswerKind = "code"
    rewrite: bool = False  # the answer repeats the code: prompt-lookup decoding pays
    languages: frozenset[str] | None = None  # our language names or language ids; None: all
    check: Check = ""
    keep_names: bool = False  # the answer must still define what the code defined
    needs_definition: bool = False  # only offered for a function/class (or a selection)
    widen_line: bool = False  # a range within one line means the definition around it
    file_name: str = ""  # placement newFile: the new file's name pattern
    max_tokens: int = 0  # 0: derived from the size of the code
    preferred: bool = False
    reply: Reply = "code"
    # The answer must change the code itself: one that only reformats it, or drops its
    # comments, did not do what the action says (Simplify).
    changes_code: bool = False


CODE_REPLY = (  # what rewrites are asked for
    "Reply with the complete resulting code in a single fenced code block and nothing else: "
    "no explanations before or after it."
)
_CODE_BLOCK = "{context}Code:\n{code}\n\n"

BUILTIN_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        id="fix",
        title="Qwen: Fix",
        kind="quickfix",
        system=(
            "You are an expert {language} programmer who fixes bugs. Change as little as "
            "possible: keep names, structure, comments and formatting."
        ),
        prompt=_CODE_BLOCK
        + "{diagnostics}{reported}Task: fix the bugs in this code{fix_hint}. {reply}",
        placement="replace",
        rewrite=True,
        keep_names=True,
        widen_line=True,
        reply="lines",
    ),
    ActionSpec(
        id="explain",
        title="Qwen: Explain",
        kind="refactor.explain",
        system=(
            "You are an expert {language} programmer. You explain code to a colleague in "
            "plain text: short sentences, no Markdown headings, no code blocks."
        ),
        prompt=(
            _CODE_BLOCK + "Task: explain what this code does and how, in at most five short "
            "sentences."
        ),
        placement="above",
        answer="text",
        max_tokens=200,
    ),
    ActionSpec(
        id="docstring",
        title="Qwen: Add docstring",
        kind="refactor.rewrite.docstring",
        system=(
            "You are an expert {language} programmer who documents code in English. Add or "
            "complete documentation only; do not change the code itself."
        ),
        prompt=(
            # The name is not followed by the convention: the 0.5B model, its answer
            # started with "// name", wrote on with the words that followed the name here
            # ("- a Go doc comment (// lines) ..."); and in English: asked without it, it
            # wrote Go docs in Chinese.
            _CODE_BLOCK + "Task: say what {subject} does, in {doc_convention}. If it "
            "already has some, complete it. {reply}"
        ),
        placement="replace",
        rewrite=True,
        check="docstring",
        keep_names=True,
        needs_definition=True,
        reply="doc",
    ),
    ActionSpec(
        id="annotate",
        title="Qwen: Add type annotations",
        kind="refactor.rewrite.annotate",
        system=(
            "You are an expert {language} programmer who adds precise type annotations. "
            "Change nothing but the annotations."
        ),
        prompt=(
            _CODE_BLOCK + "Task: add type annotations to every parameter and return type "
            "that lacks one{annotate_hint}. {reply}"
        ),
        placement="replace",
        rewrite=True,
        languages=frozenset({"python", "typescript", "tsx"}),
        check="annotations",
        keep_names=True,
        needs_definition=True,
        reply="signatures",
    ),
    ActionSpec(
        id="simplify",
        title="Qwen: Simplify",
        kind="refactor.rewrite.simplify",
        system=(
            "You are an expert {language} programmer who refactors code to be simpler and "
            "more readable without changing its behaviour or its interface. " + CODE_REPLY
        ),
        # Asked only to "simplify", the 0.5B model mostly copies the code back, or changes
        # its layout; asked for the smallest change and shown what one looks like, it
        # makes one more often.
        prompt=(
            _CODE_BLOCK + "Task: simplify this code with the smallest change that makes it "
            "simpler: for example drop a redundant variable, branch or check, merge nested "
            "conditions, return early, or use a built-in or a comprehension. Keep its names, "
            "comments and behaviour, and every line you do not need to change exactly as it is."
        ),
        placement="replace",
        rewrite=True,
        keep_names=True,
        changes_code=True,
    ),
    ActionSpec(
        id="tests",
        title="Qwen: Generate unit tests",
        kind="source.generateTests",
        system=(
            "You are an expert {language} programmer who writes focused, correct unit tests. "
            "Reply with the complete test code in a single fenced code block and nothing else."
        ),
        prompt=(
            _CODE_BLOCK + "The code is in the file {file}. Task: write unit tests for "
            "{names}: at most four short test functions, each with one or two assertions "
            "on small inputs whose results are easy to work out by hand from the code as "
            "written. {test_guidance}"
        ),
        placement="newFile",
        check="tests",
        needs_definition=True,
        max_tokens=700,
    ),
)


_PLACEMENTS: dict[str, Placement] = {
    "replace": "replace",
    "above": "above",
    "below": "below",
    "newFile": "newFile",
}


def custom_spec(index: int, action: CustomAction) -> ActionSpec:
    placement = _PLACEMENTS.get(action.target, "replace")
    answer: AnswerKind = "text" if action.answer == "text" else "code"
    prompt = action.prompt
    if "{selection}" not in prompt and "{code}" not in prompt:
        prompt += "\n\n{code}"
    system = action.system or (
        "You are an expert {language} programmer working inside a code editor."
        + (" " + CODE_REPLY if answer == "code" else " Reply in plain text.")
    )
    return ActionSpec(
        id=f"{CUSTOM_PREFIX}{index}",
        title=action.title,
        kind=action.kind,
        system=system,
        prompt=prompt,
        placement=placement,
        answer=answer,
        rewrite=placement == "replace" and answer == "code",
        languages=frozenset(action.languages) if action.languages else None,
        file_name=action.fileName or "{stem}.qwen{ext}",
    )


def catalogue(custom: Sequence[CustomAction] = ()) -> list[ActionSpec]:
    return [*BUILTIN_ACTIONS, *(custom_spec(i, a) for i, a in enumerate(custom))]


def find_spec(action_id: str, custom: Sequence[CustomAction] = ()) -> ActionSpec | None:
    return next((s for s in catalogue(custom) if s.id == action_id), None)


def _offered_for(spec: ActionSpec, snapshot: Snapshot) -> bool:
    if spec.languages is None:
        return True
    return snapshot.language in spec.languages or snapshot.language_id in spec.languages


def _has_work(spec: ActionSpec, snapshot: Snapshot, target: Target) -> bool:
    """False where the action could only answer that there is nothing to do."""
    if spec.check == "docstring":
        return not applicable.is_documented(snapshot, target)
    if spec.check == "annotations":
        return not applicable.is_fully_typed(snapshot, target)
    if spec.check == "tests":
        return not applicable.is_private_to_its_class(snapshot, target)
    if spec.id == "simplify":  # it runs only on what the finder finds (service.py)
        return simplify_hints.first_hint(snapshot, target) is not None
    return True


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """One action to list: shown at once, computed only when chosen."""

    spec: ActionSpec
    title: str


def offers(
    snapshot: Snapshot,
    target: Target | None,
    custom: Sequence[CustomAction],
    only: Sequence[str] | None,
    has_diagnostics: bool,
) -> list[Offer]:
    """The actions for a target, filtered by the client's requested kinds (``only``)."""
    if target is None or snapshot.is_binary:
        return []
    found = []
    for spec in catalogue(custom):
        if only and not any(spec.kind == k or spec.kind.startswith(k + ".") for k in only):
            continue
        if not _offered_for(spec, snapshot):
            continue
        if spec.needs_definition and not target.names:
            continue
        if not _has_work(spec, snapshot, target):
            continue
        if spec.answer == "code" and snapshot.language is None and spec.check:
            continue
        if (
            spec.answer == "text"
            and languages.line_comment(snapshot.language, snapshot.language_id) is None
        ):
            continue
        title = spec.title
        if spec.id == "fix" and has_diagnostics:
            title = "Qwen: Fix the reported problems"
        found.append(Offer(spec, title))
    return found
