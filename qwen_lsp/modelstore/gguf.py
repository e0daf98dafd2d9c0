"""The GGUF header check: is this file a GGUF, whole up to its metadata, and of which model
architecture?

llama.cpp reports a truncated or foreign file as a generic load error; reading the header
first turns that into a message that says what is wrong and how to fix it. Only the bytes
up to ``general.architecture`` are read: the check costs next to nothing on a 20 GB file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from qwen_lsp.modelstore.errors import LOCAL_FILE_FIX, ModelError, pull_command

_GGUF_MAGIC = b"GGUF"
# value type -> fixed byte size; 8 (string) and 9 (array) are variable.
_GGUF_FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_STRING = 8
_GGUF_ARRAY = 9
_MAX_KV = 1 << 20  # far above any real file; guards against garbage counts


class _GgufReader:
    """Sequential little-endian reader that knows how many bytes are left."""

    def __init__(self, f: BinaryIO, size: int, path: Path, fix: str, pull: str | None) -> None:
        self.f = f
        self.remaining = size
        self.path = path
        self.fix = fix
        self.pull = pull

    def error(self, message: str) -> ModelError:
        return ModelError(message, self.fix, pull=self.pull)

    def truncated(self) -> ModelError:
        return self.error(f"{self.path} is truncated (its GGUF header ends early)")

    def corrupt(self, what: str) -> ModelError:
        return self.error(f"{self.path} is corrupt: {what}")

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

    def kv_count(self) -> int:
        """After the version: skip the tensor count, read the metadata count."""
        self.u64()  # tensor count: not needed
        count = self.u64()
        if count > _MAX_KV:
            raise self.corrupt(f"impossible metadata count {count}")
        return count

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


def check_gguf_header(path: Path, *, fix: str | None = None, pull: str | None = None) -> str:
    """Parse the GGUF header up to ``general.architecture`` and return that architecture.

    Raises ModelError when the file is not a GGUF, is truncated or its metadata is corrupt.
    Only the bytes up to the architecture key are read (it is normally the first key).
    ``pull``: the registry model this file should be, whose pull is then the suggested fix;
    ``fix`` overrides the suggestion (default without ``pull``: what to do about a bad
    local file).
    """
    fix = fix or (pull_command(pull) if pull is not None else LOCAL_FILE_FIX)
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError:
        raise ModelError(f"{path} does not exist", fix, pull=pull) from None
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}", fix, pull=pull) from None
    with f:
        r = _GgufReader(f, size, path, fix, pull)
        magic = f.read(4)
        if magic != _GGUF_MAGIC:
            if len(magic) < 4 and _GGUF_MAGIC.startswith(magic):
                raise r.truncated()
            raise r.error(f"{path} is not a GGUF file (bad magic {magic!r})")
        r.remaining -= 4
        version = r.u32()
        if version not in (2, 3):
            if version in (0x02000000, 0x03000000):
                raise r.corrupt("big-endian GGUF files are not supported")
            raise r.corrupt(f"unsupported GGUF version {version} (expected 2 or 3)")
        for _ in range(r.kv_count()):
            key = r.string()
            vtype = r.u32()
            if key == "general.architecture":
                if vtype != _GGUF_STRING:
                    raise r.corrupt("general.architecture is not a string")
                return r.string()
            r.skip_value(vtype)
    raise r.error(f"{path} is corrupt: its GGUF metadata has no general.architecture")


_SCALAR_FORMATS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


@dataclass(frozen=True)
class MetadataValue:
    """One metadata value with its GGUF type (kept so that it can be written back as is).
    ``element_type`` is the type of an array's elements, None for a scalar or string."""

    value_type: int
    value: object
    element_type: int | None = None


def _read_value(r: _GgufReader, vtype: int) -> object:
    if vtype == _GGUF_STRING:
        return r.string()
    if vtype in _SCALAR_FORMATS:
        return struct.unpack(_SCALAR_FORMATS[vtype], r.read(_GGUF_FIXED_SIZES[vtype]))[0]
    raise r.corrupt(f"unsupported metadata value type {vtype}")


def read_metadata(path: Path, wanted: Callable[[str], bool]) -> dict[str, MetadataValue]:
    """The metadata values whose keys ``wanted`` accepts (the others are skipped), e.g. the
    tokenizer's tokens to tell a model's prompt style. Raises ModelError like
    ``check_gguf_header`` on a file that is not a sound GGUF."""
    fix = LOCAL_FILE_FIX
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror or e}", fix) from None
    found: dict[str, MetadataValue] = {}
    with f:
        r = _GgufReader(f, size, path, fix, None)
        if r.read(4) != _GGUF_MAGIC or r.u32() not in (2, 3):
            raise r.error(f"{path} is not a GGUF file this reader knows")
        for _ in range(r.kv_count()):
            key = r.string()
            vtype = r.u32()
            if not wanted(key):
                r.skip_value(vtype)
            elif vtype == _GGUF_ARRAY:
                etype, count = r.u32(), r.u64()
                if count > r.remaining:
                    raise r.truncated()
                items = [_read_value(r, etype) for _ in range(count)]
                found[key] = MetadataValue(vtype, items, etype)
            else:
                found[key] = MetadataValue(vtype, _read_value(r, vtype))
    return found
