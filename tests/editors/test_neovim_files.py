"""Neovim 0.11 applies the edits of an action that writes another file (issue 13, item 6):
an existing test file is never emptied.

Neovim's `create_file` truncates a file that exists unless the `CreateFile` says
`ignoreIfExists`, so a server that wrongly believes a test file absent empties it. The
real Neovim, the plugin and the real server run here with the fake model answering the
"Generate unit tests" prompt (the model's words do not matter: where they go does), so
these tests need Neovim but not the model.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_action_files import ANSWERS_FILE, GEOMETRY, LATIN1_TESTS, ODD, OLD_TESTS
from tests.editors.conftest import needs, read_report, run_editor
from tests.editors.test_neovim import _VERSION, NVIM, SCRIPT, _env

pytestmark = needs(
    _VERSION.startswith("NVIM v0.1") and _VERSION >= "NVIM v0.11",
    f"Neovim 0.11+ ({_VERSION or 'no nvim'})",
)

TESTS_ACTION = "Qwen: Generate unit tests"


def _run_tests_action(workdir: Path, project: Path) -> dict[str, object]:
    """`gra` on circle_area in ``project``/geometry.py, "Generate unit tests" picked."""
    assert NVIM is not None
    env = _env(
        workdir,
        QWEN_LSP_FILE=str(project / "geometry.py"),
        QWEN_LSP_SCENARIO="new_file",
        QWEN_LSP_ACTION=TESTS_ACTION,
        QWEN_LSP_LINES="4-5",
        QWEN_LSP_NEW_FILE=str(project / "test_geometry.py"),
        QWEN_LSP_BACKEND="fake",
        QWEN_LSP_FAKE_ANSWERS=str(ANSWERS_FILE),
    )
    run_editor([NVIM, "--headless", "--clean", "-S", str(SCRIPT)], workdir, env, "nvim")
    return read_report(workdir / "nvim-report.json")


def test_neovim_never_empties_a_non_utf8_test_file(workdir: Path) -> None:
    (workdir / "geometry.py").write_text(GEOMETRY)
    tests = workdir / "test_geometry.py"
    tests.write_bytes(LATIN1_TESTS)
    report = _run_tests_action(workdir, workdir)
    assert tests.read_bytes() == LATIN1_TESTS
    assert report["outcome"] == "message", report
    assert any("is not UTF-8" in str(m) for m in report["messages"]), report  # type: ignore[attr-defined]
    assert (workdir / "geometry.py").read_text() == GEOMETRY


def test_neovim_extends_a_test_file_in_a_folder_named_with_uri_characters(workdir: Path) -> None:
    """`#`, `?`, `%`, a space and `ü` in the folder: Neovim appends the new test to the
    existing file, which keeps what it had."""
    project = workdir / ODD
    project.mkdir()
    (project / "geometry.py").write_text(GEOMETRY)
    tests = project / "test_geometry.py"
    tests.write_text(OLD_TESTS)
    report = _run_tests_action(workdir, project)
    assert report["outcome"] == "edit", report
    assert report["edited"] == str(tests), report  # the buffer of that very file
    saved = tests.read_text()
    assert saved.startswith(OLD_TESTS) and "def test_unit_circle():" in saved, saved
    assert sorted(p.name for p in project.iterdir()) == ["geometry.py", "test_geometry.py"]
