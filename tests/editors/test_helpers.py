"""The shared check of the code-action tests rejects what a broken action would save."""

from __future__ import annotations

import pytest

from tests.editors.conftest import GEOMETRY, assert_docstring_added

GOOD = GEOMETRY.replace(
    "def circle_area(radius):\n",
    'def circle_area(radius):\n    """Return the area of a circle of the given radius."""\n',
)


def test_a_docstring_added_passes() -> None:
    assert assert_docstring_added(GOOD, GEOMETRY, "circle_area").startswith("Return the area")


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param(GEOMETRY, id="unchanged"),
        pytest.param(GOOD.replace("radius ** 2", "radius * radius"), id="body rewritten"),
        pytest.param(GOOD.replace("(radius)", "(radius: float)"), id="signature changed"),
        pytest.param(GOOD.replace("return a + b", "return b + a"), id="other function changed"),
        pytest.param(GOOD.replace("    return math", "return math"), id="does not parse"),
        pytest.param(GOOD.replace("** 2", "**2"), id="code line reformatted"),
        pytest.param(GOOD.replace('"""Return', '# """Return'), id="a comment, not a docstring"),
    ],
)
def test_a_broken_action_fails(saved: str) -> None:
    with pytest.raises(AssertionError):
        assert_docstring_added(saved, GEOMETRY, "circle_area")
