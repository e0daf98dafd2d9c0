"""Add type annotations: a name the annotations use that the module does not bind is
imported (a second edit, above the code), never anything else changed outside the
function. (And the tests prompt of a function with doctests.)"""

from __future__ import annotations

import pytest

from qwen_lsp.actions import pytypes
from qwen_lsp.actions.checks import check_change
from qwen_lsp.actions.edits import ActionResult, FileChange, OffsetEdit
from qwen_lsp.actions.prompt import ActionInput
from qwen_lsp.actions.target import find_target
from tests.unit.test_actions import PY, at, new_text, run, snap, spec


def edits_of(result: ActionResult) -> tuple[OffsetEdit, ...]:
    assert result.ok, result.message
    [change] = result.changes
    return change.edits


def test_a_missing_abc_name_is_imported_after_the_imports() -> None:
    # PY imports math and typing.Any; the answer continues "def free(x: ".
    result = run(PY, "return x", "annotate", "Any) -> Iterable[int]:\n```")
    new = new_text(result)
    assert new.startswith(
        "import math\nfrom typing import Any\nfrom collections.abc import Iterable\n\n\nclass"
    )
    assert "def free(x: Any) -> Iterable[int]:\n    return x\n" in new
    # Two edits: the import, inserted, and the signature; nothing else.
    first, second = sorted(edits_of(result), key=lambda e: e.start)
    assert first.start == first.end == at(PY, "\n\n\nclass") + 1
    assert first.text == "from collections.abc import Iterable\n"
    assert second.start == at(PY, "def free")


def test_names_of_typing_and_of_collections_abc_go_to_one_line_each() -> None:
    text = "def free(x, f):\n    return f(x)\n"
    result = run(text, "return", "annotate", "Any, f: Callable[[Any], T]) -> Iterator[T]:\n```")
    # T is bound nowhere and comes from no module: the edit is refused as before.
    assert not result.ok and "use `T`" in result.message
    answer = "Any, f: Callable[[Any], Any]) -> Iterator[Any]:\n```"
    new = new_text(run(text, "return", "annotate", answer))
    assert new == (
        "from collections.abc import Callable, Iterator\nfrom typing import Any\n\n\n"
        "def free(x: Any, f: Callable[[Any], Any]) -> Iterator[Any]:\n    return f(x)\n"
    )


@pytest.mark.parametrize(
    "head, expected",
    [
        # After the module docstring and the __future__ import.
        (
            '"""Tools."""\nfrom __future__ import annotations\n\n\n',
            '"""Tools."""\nfrom __future__ import annotations\n'
            "from collections.abc import Iterable\n\n\n",
        ),
        ('"""Tools."""\n\n\n', '"""Tools."""\n\nfrom collections.abc import Iterable\n\n\n'),
        # After the last import of the first block (comments between imports are theirs).
        (
            "import os\n# paths\nimport sys\n\nX = 1\nimport re\n\n\n",
            "import os\n# paths\nimport sys\nfrom collections.abc import Iterable\n\nX = 1\n"
            "import re\n\n\n",
        ),
        # Below the header comments (a shebang must stay on the first line).
        (
            "#!/usr/bin/env python\n# Copyright.\n\nX = 1\n\n\n",
            "#!/usr/bin/env python\n# Copyright.\n\nfrom collections.abc import Iterable\n\n"
            "X = 1\n\n\n",
        ),
    ],
)
def test_the_import_goes_where_imports_go(head: str, expected: str) -> None:
    text = head + "def free(x):\n    return x\n"
    new = new_text(run(text, "return x", "annotate", "Iterable[int]) -> int:\n```"))
    assert new == expected + "def free(x: Iterable[int]) -> int:\n    return x\n"


def test_typing_written_as_a_module_is_imported_as_one() -> None:
    text = "import os\n\n\nclass A:\n    def m(self, x):\n        return x\n"
    new = new_text(run(text, "return x", "annotate", "typing.Any) -> typing.Any:\n```"))
    assert new.startswith("import os\nimport typing\n\n\nclass A:\n")
    assert "    def m(self, x: typing.Any) -> typing.Any:\n" in new


def test_no_import_for_names_the_module_binds_or_for_builtins() -> None:
    result = run(PY, "return x", "annotate", "Any) -> list[int]:\n```")
    [edit] = edits_of(result)
    assert edit.start == at(PY, "def free")


def target_change(text: str, needle: str, old: str, new: str, *extra: OffsetEdit) -> FileChange:
    """The annotate action's change of ``text``: ``old`` made ``new``, and ``extra``."""
    edits = (OffsetEdit(at(text, old), at(text, old) + len(old), new), *extra)
    return FileChange("file:///w/geo.py", text, edits, 1, language="python")


def action_for(text: str, needle: str, action_id: str = "annotate") -> ActionInput:
    s = snap(text)
    target = find_target(s, at(text, needle), at(text, needle), line_fallback=True)
    assert target is not None
    return ActionInput(spec(action_id), s, target)


def test_edits_outside_the_function_are_refused_unless_they_import_its_annotations() -> None:
    text = "import math\n\n\ndef free(x):\n    return x\n\n\ndef other(y):\n    return y\n"
    action = action_for(text, "return x")
    signature = ("def free(x):", "def free(x: Iterable[int]) -> int:")
    top = at(text, "\n\n\ndef free") + 1

    def problem(*extra: OffsetEdit) -> str:
        return check_change(action, target_change(text, "return x", *signature, *extra))

    assert problem(OffsetEdit(top, top, "from collections.abc import Iterable\n")) == ""
    assert "does not import" in problem()
    # Anything else outside the function is code the action did not claim to change.
    refused = [
        OffsetEdit(top, top, "import os\nfrom collections.abc import Iterable\n"),
        OffsetEdit(top, top, "from collections.abc import Iterable\nX = 1\n"),
        OffsetEdit(top, top, "from mylib import Iterable\n"),
        OffsetEdit(0, len("import math"), "from collections.abc import Iterable"),
        OffsetEdit(len(text), len(text), "from collections.abc import Iterable\n"),
    ]
    for edit in refused:
        assert "outside `free`" in problem(edit), edit
    unused = OffsetEdit(top, top, "from collections.abc import Iterable, Sized\n")
    assert "imports what the annotations of geo.py do not use" in problem(unused)
    other = at(text, "def other(y)")
    edit = OffsetEdit(other, other + len("def other(y)"), "def other(y: int)")
    assert "outside `free`" in problem(OffsetEdit(top, top, "from typing import Any\n"), edit)
    # A name the module binds already is not imported again.
    bound = text.replace("import math", "from typing import Iterable")
    action = action_for(bound, "return x")
    change = target_change(
        bound, "return x", *signature, OffsetEdit(top + 5, top + 5, "from typing import Iterable\n")
    )
    assert "outside `free`" in check_change(action, change)


def test_only_annotate_may_add_an_import() -> None:
    text = "import math\n\n\ndef free(x):\n    return x\n"
    top = at(text, "\n\n\ndef free") + 1
    action = action_for(text, "return x", "docstring")
    change = target_change(
        text,
        "return x",
        "    return x",
        '    """Free."""\n    return x',
        OffsetEdit(top, top, "from typing import Any\n"),
    )
    assert "outside `free`" in check_change(action, change)


def test_import_lines_name_their_modules() -> None:
    assert pytypes.import_lines(["Iterable", "Any", "Callable", "typing"]) == [
        "from collections.abc import Callable, Iterable",
        "from typing import Any",
        "import typing",
    ]
    assert pytypes.import_lines(["Foo"]) == []
    assert pytypes.added_imports("from typing import Any, Optional\nimport typing\n") == [
        "Any",
        "Optional",
        "typing",
    ]
    for text in ("import os\n", "from typing import Foo\n", "x = 1\n", "from typing import *\n"):
        assert pytypes.added_imports(text) is None, text


def test_a_union_with_a_forward_reference_keeps_its_typing_spelling() -> None:
    # `"Node" | None` raises TypeError when the def runs: Optional is imported instead.
    assert pytypes.builtin_generics('def f(x: Optional["Node"]) -> None:', set()) == (
        'def f(x: Optional["Node"]) -> None:'
    )
    assert pytypes.builtin_generics('def f(x: List["Node"]) -> None:', set()) == (
        'def f(x: list["Node"]) -> None:'
    )
    text = "class Node:\n    def link(self, other):\n        return other\n"
    new = new_text(run(text, "return other", "annotate", 'Optional["Node"]) -> None:\n```'))
    assert new.startswith("from typing import Optional\n\n\nclass Node:\n")
    assert '    def link(self, other: Optional["Node"]) -> None:\n' in new


def test_tests_of_a_function_with_doctests_are_asked_to_use_them() -> None:
    from qwen_lsp.actions.prompt import build_prompt, new_file_uri
    from qwen_lsp.chat import ChatTemplate
    from tests.unit.test_actions import count

    def user_prompt(text: str) -> str:
        s = snap(text)
        target = find_target(s, at(text, "return"), at(text, "return"), line_fallback=True)
        assert target is not None
        action = ActionInput(spec("tests"), s, target, new_file_uri=new_file_uri(spec("tests"), s))
        plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
        return "".join(p for p in plan.parts if isinstance(p, str))

    documented = (
        'def double(x):\n    """Twice x.\n\n    >>> double(2)\n    4\n    """\n    return 2 * x\n'
    )
    assert "examples in its docstring" in user_prompt(documented)
    plain = "def double(x):\n    return 2 * x\n"
    assert "examples in its docstring" not in user_prompt(plain)


def test_builtin_functions_written_as_types_become_the_types() -> None:
    # `callable | None` raises TypeError when the def runs (a function is no type).
    text = "import os\n\n\ndef free(members, filter=None):\n    return members\n"
    answer = "list | None, filter: callable | None = None) -> any:\n```"
    new = new_text(run(text, "return", "annotate", answer))
    assert new.startswith(
        "import os\nfrom collections.abc import Callable\nfrom typing import Any\n"
    )
    assert "def free(members: list | None, filter: Callable | None = None) -> Any:\n" in new
    # A parameter named so, or a call in a default, is code: left as it is.
    assert pytypes.builtin_generics("def f(any: int, k=lambda x: any(x)):", set()) == (
        "def f(any: int, k=lambda x: any(x)):"
    )
