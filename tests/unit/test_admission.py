"""Which documents take part (admission.py): the deny list, the user's globs, .gitignore
as git reads it, the size limit, and the one notice per document."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.admission import (
    Gate,
    Pattern,
    first_match,
    gitignored,
    parse_pattern,
    parse_patterns,
    utf8_size_over,
)
from qwen_lsp.settings import DEFAULT_EXCLUDES, Settings
from qwen_lsp.settings_resolve import resolve_settings

ROOT = "/work/shop"


def gate(settings: Settings | None = None, files: dict[str, str] | None = None, **kw: Any) -> Gate:
    chosen = settings or Settings()
    found = files or {}
    return Gate(lambda: chosen, lambda: [ROOT], found.get, **kw)


def uri(path: str) -> str:
    return Path(path if path.startswith("/") else f"{ROOT}/{path}").as_uri()


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (".env", ".env*"),
        (".env.local", ".env*"),
        ("deploy/.env.production", ".env*"),
        (".env/lib/python3.11/site.py", ".env*"),  # a virtualenv named .env
        ("tls/server.pem", "*.pem"),
        ("tls/SERVER.KEY", "*.key"),  # deny lists ignore case: fail closed
        ("id_rsa", "id_rsa*"),
        ("home/.ssh/id_ed25519", "id_ed25519*"),
        ("aws/credentials", "*credentials*"),
        ("src/google_credentials.json", "*credentials*"),
        (".netrc", ".netrc"),
        ("web/.npmrc", ".npmrc"),
        (".pypirc", ".pypirc"),
        ("/home/u/.ssh/id_rsa", "id_rsa*"),  # outside the workspace: by its name
        ("/etc/ssl/private/site.key", "*.key"),
        ("app.py", None),
        ("environment.py", None),
        ("src/keyboard.py", None),
        ("docs/monkey.keys.md", None),
        ("id_rsa_tools/README.md", "id_rsa*"),
        ("/srv/credentials-api/app.py", None),  # outside: only the file name counts
        ("/home/u/.ssh/config", "**/.ssh/**"),  # ... and the "at any depth" globs
        ("/home/u/.gnupg/private-keys-v1.d/a.key", "*.key"),
        ("/home/u/.gnupg/pubring.kbx", "**/.gnupg/**"),
        (".ssh/known_hosts", "**/.ssh/**"),
        ("deploy/.ssh/config", "**/.ssh/**"),
        ("docs/ssh/config.md", None),
    ],
)
def test_the_default_deny_list(path: str, pattern: str | None) -> None:
    verdict = gate().verdict(uri(path))
    assert verdict.admitted is (pattern is None)
    if pattern is not None:
        assert verdict.reason == "private" and verdict.detail == pattern


def test_the_workspace_folder_name_itself_is_not_matched() -> None:
    root = "/home/u/credentials-service"
    admission = Gate(lambda: Settings(), lambda: [root])
    assert admission.verdict(Path(f"{root}/app.py").as_uri()).admitted
    assert not admission.verdict(Path(f"{root}/.env").as_uri()).admitted


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "matches"),
    [
        ("*.py", "a/b.py", False, True),
        ("*.py", "a/b.pyc", False, False),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("doc/*.txt", "doc/a.txt", False, True),
        ("doc/*.txt", "doc/x/a.txt", False, False),
        ("**/logs", "logs", True, True),
        ("**/logs", "a/b/logs", True, True),
        ("a/**/b", "a/b", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("a/**/b", "a/xb", False, False),
        ("abc/**", "abc/x/y", False, True),
        ("abc/**", "abc", True, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("[!a]*.py", "b.py", False, True),
        ("[!a]*.py", "a.py", False, False),
        ("[a-c]x", "bx", False, True),
        ("[]]x", "]x", False, True),
        ("[unclosed", "[unclosed", False, True),
        ("\\#hash", "#hash", False, True),
        ("\\!bang", "!bang", False, True),
        ("foo?", "fooa", False, True),
        ("foo?", "foo", False, False),
        ("*", "x/y", False, True),  # a name pattern: "y"
        ("trailing   ", "trailing", False, True),
        ("space\\ ", "space ", False, True),
        ("a**b", "axxb", False, True),
        ("a.b+c(d)", "a.b+c(d)", False, True),  # regex characters are literal
    ],
)
def test_gitignore_globs(pattern: str, path: str, is_dir: bool, matches: bool) -> None:
    parsed = parse_pattern(pattern)
    assert parsed is not None
    assert parsed.matches(path, is_dir) is matches


@pytest.mark.parametrize("line", ["", "# a comment", "   ", "/", "!"])
def test_lines_that_are_no_pattern(line: str) -> None:
    assert parse_pattern(line) is None


def test_negation_is_read_but_a_deny_list_ignores_it() -> None:
    parsed = parse_pattern("!keep.log")
    assert parsed is not None and parsed.negated and parsed.matches("keep.log", False)


RULES = {
    "": parse_patterns(["*.log", "!keep.log", "build/", "/secret.txt", "deep/**/x.cfg"]),
    "sub": parse_patterns(["!important.log", "local.cfg", "/only-here"]),
}


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("a.log", "*.log"),
        ("keep.log", None),
        ("sub/important.log", None),  # a deeper .gitignore wins
        ("sub/other.log", "*.log"),
        ("build/x.py", "build/"),
        ("src/build/x.py", "build/"),  # a folder rule without "/" in front: any depth
        ("build", None),  # a file named build: the rule is for folders
        ("build/keep.log", "build/"),  # nothing inside an ignored folder comes back
        ("secret.txt", "/secret.txt"),
        ("sub/secret.txt", None),
        ("sub/local.cfg", "local.cfg"),
        ("local.cfg", None),  # sub's rule is for sub
        ("sub/only-here", "/only-here"),
        ("sub/x/only-here", None),
        ("deep/a/b/x.cfg", "deep/**/x.cfg"),
        ("app.py", None),
    ],
)
def test_gitignore_as_git_reads_it(path: str, ignored: str | None) -> None:
    rule = gitignored(path, lambda folder: RULES.get(folder, ()))
    assert (rule.source if rule else None) == ignored


def test_first_match_checks_every_folder_on_the_way() -> None:
    patterns = parse_patterns(["secrets", "*.key"])
    found = first_match(patterns, "a/secrets/b/c.py")
    assert isinstance(found, Pattern) and found.source == "secrets"
    assert first_match(patterns, "a/b/c.py") is None


def test_user_globs_allow_and_gitignore() -> None:
    settings = dataclasses.replace(
        Settings(),
        excludeFiles=("vault/**", "*.secret.py"),
        allowFiles=("src/credentials.py", "vault/**", ".env.example"),
    )
    admission = gate(settings)
    assert admission.verdict(uri("src/credentials.py")).admitted  # a default lifted
    assert admission.verdict(uri(".env.example")).admitted
    assert not admission.verdict(uri("lib/credentials.py")).admitted  # only what is named
    assert admission.verdict(uri("vault/a.py")).reason == "excluded"  # the user's own stays
    assert admission.verdict(uri("db.secret.py")).detail == "*.secret.py"
    assert not admission.verdict(uri("x/.env")).admitted

    files = {f"{ROOT}/.gitignore": "local/\n", f"{ROOT}/.git/info/exclude": "scratch.py\n"}
    assert gate(Settings(), files).verdict(uri("local/settings.py")).admitted  # setting off
    on = dataclasses.replace(Settings(), excludeGitignored=True)
    assert gate(on, files).verdict(uri("local/settings.py")).reason == "gitignored"
    assert gate(on, files).verdict(uri("scratch.py")).detail == "scratch.py"
    assert gate(on, files).verdict(uri("app.py")).admitted
    assert gate(on, files).verdict(uri("/elsewhere/local/x.py")).admitted  # not in the workspace
    allowed = dataclasses.replace(on, allowFiles=("local/settings.py",))
    assert gate(allowed, files).verdict(uri("local/settings.py")).admitted


def test_an_edited_gitignore_applies_after_the_recheck_interval() -> None:
    files = {f"{ROOT}/.gitignore": ""}
    now = [0.0]
    reads: list[str] = []

    def read(path: str) -> str | None:
        reads.append(path)
        return files.get(path)

    on = dataclasses.replace(Settings(), excludeGitignored=True)
    admission = Gate(lambda: on, lambda: [ROOT], read, clock=lambda: now[0])
    assert admission.verdict(uri("notes.py")).admitted
    count = len(reads)
    files[f"{ROOT}/.gitignore"] = "notes.py\n"
    assert admission.verdict(uri("notes.py")).admitted  # cached for a moment
    assert len(reads) == count
    now[0] += 5
    assert admission.verdict(uri("notes.py")).reason == "gitignored"


def test_the_size_limit_counts_utf8_bytes() -> None:
    limit = 100_000
    admission = gate(dataclasses.replace(Settings(), maxDocumentBytes=limit))
    assert admission.verdict(uri("a.py"), "x" * limit).admitted
    assert admission.verdict(uri("a.py"), "x" * (limit + 1)).reason == "too large"
    wide = "é" * (limit // 2 + 1)  # fewer code points than the limit, more bytes
    assert admission.verdict(uri("a.py"), wide).reason == "too large"
    assert admission.verdict(uri("a.py"), wide[:-2]).admitted
    assert admission.verdict(uri("a.py"), "\ud800" * 10).admitted  # a lone surrogate is no error
    assert admission.verdict(uri("a.py"), None).admitted  # size unknown: the path decides
    assert utf8_size_over("😀" * 30_000, limit) and not utf8_size_over("😀" * 25_000, limit)


def test_the_limit_has_a_floor() -> None:
    resolved = resolve_settings({}, {"maxDocumentBytes": 10})
    assert resolved.settings.maxDocumentBytes == Settings().maxDocumentBytes
    assert resolved.problems and "maxDocumentBytes" in resolved.problems[0]


def test_one_notice_per_open_document() -> None:
    settings = dataclasses.replace(Settings(), maxDocumentBytes=100_000)
    admission = gate(settings)
    big = "x" * 200_000
    notice = admission.notice(uri("big.py"), big)
    assert notice is not None and notice[0] == "show"
    assert "big.py" in notice[1] and "maxDocumentBytes" in notice[1]
    assert admission.notice(uri("big.py"), big + "y") is None
    assert admission.notice(uri("small.py"), "x = 1") is None
    private = admission.notice(uri(".env"), "A=1")
    assert private is not None and private[0] == "log" and "allowFiles" in private[1]
    admission.forget(uri("big.py"))
    assert admission.notice(uri("big.py"), big) is not None


def test_the_defaults_are_the_documented_ones() -> None:
    expected = {".env*", "*.pem", "*.key", "id_rsa*", "id_ed25519*", "*credentials*"}
    stores = {"**/.ssh/**", "**/.gnupg/**"}
    assert expected | {".netrc", ".npmrc", ".pypirc"} | stores == set(DEFAULT_EXCLUDES)
    from qwen_lsp.settings import info

    assert all(f"`{glob}`" in info("excludeFiles").doc for glob in DEFAULT_EXCLUDES)


# -- symlinks and several workspace folders -------------------------------------------------

LINKS = {  # a fake file system's symlinks, resolved as os.path.realpath would
    f"{ROOT}/notes.txt": f"{ROOT}/.env",
    f"{ROOT}/cfg": "/home/u/.ssh",
    f"{ROOT}/keys": f"{ROOT}/secrets",
    f"{ROOT}/conf": f"{ROOT}/private",
    f"{ROOT}/lib": "/srv/shared-lib",
    "/link/shop": ROOT,
}


def resolve(path: str) -> str:
    for link, target in LINKS.items():
        if path == link or path.startswith(link + "/"):
            return resolve(target + path[len(link) :])
    return path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("notes.txt", "private"),  # -> .env
        ("cfg/config", "private"),  # -> /home/u/.ssh/config
        ("keys/db.py", "excluded"),  # -> secrets/db.py, in excludeFiles
        ("conf/local.py", "gitignored"),  # -> private/local.py, gitignored
        ("lib/util.py", ""),  # a link out of the workspace to ordinary code
        ("app.py", ""),
        ("/link/shop/secrets/db.py", "excluded"),  # the workspace folder through a link
        ("/link/shop/private/local.py", "gitignored"),
    ],
)
def test_a_symlink_is_judged_by_its_real_path_too(path: str, reason: str) -> None:
    settings = dataclasses.replace(Settings(), excludeFiles=("secrets/",), excludeGitignored=True)
    files = {f"{ROOT}/.gitignore": "private/\n"}
    assert gate(settings, files, resolve=resolve).verdict(uri(path)).reason == reason
    # a document in the real folder, the workspace opened through the link: the same
    linked = Gate(lambda: settings, lambda: ["/link/shop"], files.get, resolve)
    assert linked.verdict(uri(path)).reason == reason


def test_a_re_aimed_symlink_applies_after_the_recheck_interval() -> None:
    links = {f"{ROOT}/notes.txt": f"{ROOT}/notes.md"}
    now = [0.0]
    admission = gate(resolve=lambda p: links.get(p, p), clock=lambda: now[0])
    assert admission.verdict(uri("notes.txt")).admitted
    links[f"{ROOT}/notes.txt"] = f"{ROOT}/.env"
    now[0] += 5
    assert admission.verdict(uri("notes.txt")).reason == "private"


FOLDERS = ["/w/one", "/w/two", "/w/one/nested"]
IGNORES = {
    "/w/one/.gitignore": "gen/\none_only.py\n",
    "/w/two/.gitignore": "two_only.py\n",
    "/w/two/sub/.gitignore": "deeper.py\n",
    "/w/one/nested/.gitignore": "nested_only.py\n",
}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/w/one/one_only.py", "gitignored"),
        ("/w/one/gen/x.py", "gitignored"),
        ("/w/two/two_only.py", "gitignored"),  # the second folder's .gitignore
        ("/w/two/sub/deeper.py", "gitignored"),
        ("/w/two/one_only.py", ""),  # the first folder's rules stay in the first folder
        ("/w/one/nested/nested_only.py", "gitignored"),
        ("/w/one/nested/gen/x.py", ""),  # a nested folder: its own rules, as git does
        ("/w/one/nested/one_only.py", ""),
        ("/elsewhere/two_only.py", ""),  # outside every folder: no .gitignore
    ],
)
def test_each_workspace_folder_has_its_own_gitignore(path: str, reason: str) -> None:
    on = dataclasses.replace(Settings(), excludeGitignored=True)
    admission = Gate(lambda: on, lambda: FOLDERS, IGNORES.get)
    assert admission.verdict(uri(path)).reason == reason


def test_a_folder_added_later_applies_at_once() -> None:
    on = dataclasses.replace(Settings(), excludeGitignored=True)
    folders = ["/w/one"]
    admission = Gate(lambda: on, lambda: folders, IGNORES.get)
    assert admission.verdict(uri("/w/two/two_only.py")).admitted
    folders.append("/w/two")
    assert admission.verdict(uri("/w/two/two_only.py")).reason == "gitignored"
    notice = admission.notice(uri("/w/two/sub/deeper.py"), "x = 1")
    assert notice is not None and "sub/deeper.py" in notice[1]  # named within its folder


class _CountedEncodes(str):
    """A text that counts how often it is encoded."""

    encodes = 0

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        _CountedEncodes.encodes += 1
        return super().encode(encoding, errors)


def test_the_size_of_an_open_document_is_not_encoded_per_keystroke() -> None:
    limit = 100_000
    settings = dataclasses.replace(Settings(), maxDocumentBytes=limit)
    text = _CountedEncodes("é" * 40_000)  # 80,000 bytes: only encoding would tell
    _CountedEncodes.encodes = 0
    assert gate(settings).verdict(uri("a.py"), text).admitted
    assert _CountedEncodes.encodes == 1  # without a size from the documents: encoded
    sizes = {uri("a.py"): 80_000, uri("b.py"): limit + 1}
    known = gate(settings, utf8_size=lambda u, t: sizes.get(u))
    assert known.verdict(uri("a.py"), text).admitted
    assert known.verdict(uri("b.py"), text).reason == "too large"  # the size it was given
    assert _CountedEncodes.encodes == 1
