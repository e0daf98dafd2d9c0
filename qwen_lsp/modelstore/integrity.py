"""Integrity of the cached weights: digests, verification stamps, and ``verify``.

Hashing a 0.5-20 GB file costs seconds to minutes, so a successful check writes a
``<file>.verified`` stamp (size, mtime_ns, sha256) and later checks trust the stamp while
size and mtime are unchanged. A registry entry without a pinned sha256 is trusted on first
use: the digest of its first download is recorded in ``recorded-hashes.json`` and enforced
from then on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwen_lsp.modelstore.config import StoreConfig
from qwen_lsp.modelstore.errors import LOCAL_FILE_FIX, ModelError, pull_command
from qwen_lsp.modelstore.gguf import check_gguf_header
from qwen_lsp.modelstore.registry import ModelSpec, Registry, ResolvedModel, registry_and_default

log = logging.getLogger(__name__)

STAMP_SUFFIX = ".verified"
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    path: Path
    present: bool
    verified: bool | None  # True: stamp is current; False: known bad (size); None: unknown
    is_default: bool


# --------------------------------------------------------------------------- hashes, stamps


def stamp_path(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
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
    stamp = _read_json_object(stamp_path(path))
    return (
        stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("sha256") == expected_sha
    )


def write_stamp(path: Path, st: os.stat_result, sha: str) -> None:
    try:
        _write_json_atomic(
            stamp_path(path), {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
        )
    except OSError as e:  # a read-only cache only costs a re-hash next time
        log.warning("cannot write verification stamp for %s: %s", path, e)


def recorded_hash(spec: ModelSpec, config: StoreConfig) -> tuple[str, int] | None:
    """(sha256, size) recorded at the first download of a model without a pinned digest."""
    entry = _read_json_object(config.recorded_hashes).get(spec.name)
    if not isinstance(entry, dict) or entry.get("file") != spec.file:
        return None  # never pulled, or the registry now points at another file
    sha, size = entry.get("sha256"), entry.get("size")
    if not isinstance(sha, str) or not isinstance(size, int):
        return None
    return sha, size


def record_hash(spec: ModelSpec, sha: str, size: int, config: StoreConfig) -> None:
    path = config.recorded_hashes
    data = _read_json_object(path)
    data[spec.name] = {"file": spec.file, "sha256": sha, "size": size}
    _write_json_atomic(path, data)


def forget_recorded_hash(name: str, config: StoreConfig) -> bool:
    """Drop the trust-on-first-use digest of ``name``; True if there was one."""
    path = config.recorded_hashes
    data = _read_json_object(path)
    if name not in data:
        return False
    del data[name]
    _write_json_atomic(path, data)
    return True


def forget_fix(name: str) -> str:
    """Accepting a changed upstream file is explicit: forget its digest, then pull it."""
    return f"qwen-lsp models forget {name} && {pull_command(name)}"


def expected_digest(spec: ModelSpec, config: StoreConfig) -> tuple[str | None, int | None, bool]:
    """(sha256, size, from_record) the file must match: pinned, else recorded, else unknown."""
    if spec.sha256 is not None:
        return spec.sha256, spec.size, False
    recorded = recorded_hash(spec, config)
    if recorded is not None:
        sha, size = recorded
        return sha, spec.size if spec.size is not None else size, True
    return None, spec.size, False


# --------------------------------------------------------------------------- verify


def verify(resolved: ResolvedModel, config: StoreConfig, *, full_hash: bool | None = None) -> None:
    """Check that the model file is present and intact; raise ModelError otherwise.

    ``full_hash``: None trusts a current ``.verified`` stamp, True always re-hashes, False
    skips hashing (size and header only). For an arbitrary local path (spec None) only
    existence and the GGUF header are checked.
    """
    path, spec = resolved.path, resolved.spec
    if spec is None:
        if not path.exists():
            raise ModelError(f"model file {path} does not exist", LOCAL_FILE_FIX)
        if not path.is_file():
            raise ModelError(f"model path {path} is not a file", LOCAL_FILE_FIX)
        check_gguf_header(path)
        return

    name = spec.name
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError.fixed_by_pull(
            f"model {name!r} is not downloaded yet ({path} is missing)", name
        ) from None
    if not path.is_file():
        raise ModelError.fixed_by_pull(f"model path {path} is not a file", name)
    expected_sha, expected_size, from_record = expected_digest(spec, config)
    if expected_size is not None and st.st_size != expected_size:
        what = "is truncated" if st.st_size < expected_size else "has the wrong size"
        raise ModelError.fixed_by_pull(
            f"model file {path} {what}: {st.st_size} bytes, expected {expected_size}", name
        )
    arch = check_gguf_header(path, pull=name)
    if arch != spec.architecture:
        raise ModelError.fixed_by_pull(
            f"model file {path} is a {arch!r} model, but {name!r} must be {spec.architecture!r}",
            name,
        )
    if expected_sha is None or full_hash is False:
        return
    if full_hash is None and _stamp_matches(path, st, expected_sha):
        return
    log.info("verifying sha256 of %s (%d MB); this happens once", path, st.st_size >> 20)
    actual = sha256_file(path)
    if actual != expected_sha:
        if from_record:
            raise ModelError(
                f"model file {path} changed since its first download: sha256 {actual}, "
                f"recorded {expected_sha}",
                forget_fix(name),
            )
        raise ModelError.fixed_by_pull(
            f"model file {path} is corrupt: sha256 {actual}, expected {expected_sha}", name
        )
    write_stamp(path, st, actual)


# --------------------------------------------------------------------------- listing


def _quick_status(spec: ModelSpec, path: Path, config: StoreConfig) -> tuple[bool, bool | None]:
    try:
        st = path.stat()
    except OSError:
        return False, None
    expected_sha, expected_size, _ = expected_digest(spec, config)
    if expected_size is not None and st.st_size != expected_size:
        return True, False
    if expected_sha is not None and _stamp_matches(path, st, expected_sha):
        return True, True
    return True, None


def list_models(config: StoreConfig, *, registry: Registry | None = None) -> list[ModelStatus]:
    """Every registry model with its cache state, without hashing anything."""
    reg, default = registry_and_default(registry, config)
    statuses = []
    for spec in reg.values():
        path = config.model_path(spec)
        present, verified = _quick_status(spec, path, config)
        statuses.append(ModelStatus(spec, path, present, verified, spec.name == default))
    return statuses
