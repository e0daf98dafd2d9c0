"""The import graph has no upward arrow (docs/architecture.md, "Layers").

Each module of qwen_lsp belongs to one layer and may import only from its own layer or
lower ones; pygls and lsprotocol are imported only at the LSP edge, llama_cpp only by its
engine. A new module must be placed in LAYERS, which is the point: where it goes is a
decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "qwen_lsp"

# Module (dotted, without the "qwen_lsp." prefix) or package prefix -> layer. The longest
# matching prefix decides.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "settings": 0,
    "settings_resolve": 0,  # settings' values from the client and the environment
    "protocol": 0,
    "uris": 0,  # file URIs <-> paths: pure, imports nothing of ours
    "engine": 1,  # the port: engine/__init__.py
    "languages": 1,
    "brackets": 0,  # what a piece of code leaves open: pure text
    "engine.worker": 2,
    "engine.llama_backend": 2,
    "engine.fake": 2,
    "engine.kv_pool": 2,
    "engine.state_buffer": 2,  # saved model states, each mapped on its own
    "engine.checkpoints": 2,
    "engine.lookup": 2,
    "engine.draft": 2,
    "engine.http_stream": 2,  # HTTP for separate engines, stoppable at every wait
    "engine.remote": 2,  # an engine over HTTP (backend openai, llama-server)
    "engine.fallback": 2,  # the local model while a separate engine is down
    "engine.llama_slots": 2,  # which llama-server slot an editor keeps
    "engine.remote_tokenizer": 2,  # its token counts: a GGUF's vocabulary or the engine's
    "modelstore": 2,
    "modelstore.style": 2,
    "admission": 3,
    "documents": 3,
    "text_index": 3,
    "syntax": 3,
    "context": 3,
    "similar_code": 3,  # the chunk of a file most like the code at the cursor
    "chat": 3,
    "crossfile": 3,
    "cache": 3,
    "prompt_tools": 3,
    "postprocess": 3,
    "completion": 4,
    "background": 4,
    "inflight": 4,
    "actions": 4,
    "actions.applicable": 4,  # whether an action has anything to do, when listing
    "actions.reconcile": 4,  # the part of an answer asked for, put into the original code
    "actions.pytypes": 4,  # Python annotations the module can evaluate
    "actions.linefix": 4,  # a fix's corrected lines put in the place of the reported ones
    "actions.nearby": 4,  # names spelled almost like an undefined one ("did you mean")
    "actions.simplify_hints": 4,  # simplifications found in the code, for Simplify's prompt
    "actions.simplify_patterns": 4,  # what the Simplify finders share
    "actions.simplify_py": 4,  # the Python simplifications
    "actions.simplify_js": 4,  # the JavaScript/TypeScript simplifications
    "actions.testcut": 4,  # where a test answer has the tests asked for, and is cut
    "actions.testimports": 4,  # the imports a generated Python test file lacks
    "actions.testrequire": 4,  # how a JavaScript test file binds its module, calls a method
    "app": 5,
    "headless": 5,
    "doctor": 5,
    "engine_setup": 5,  # a separate engine from the settings (backend openai, llama-server)
    "engine_check": 5,  # doctor's checks of a separate engine
    "engine_notices": 3,  # when to tell the user the engine failed, and is back
    "framing": 3,
    "server": 6,
    "lsp_protocol": 6,  # JSON-RPC hardened under pygls
    "lsp_client": 6,  # a code action's edit and progress in the client's terms
    "transport": 6,
    "stdio": 6,
    "cli": 6,
    "__main__": 6,
}
EDGE = {"server", "lsp_protocol", "lsp_client", "cli", "stdio"}  # may import pygls / lsprotocol
LLAMA = {
    "engine.llama_backend",
    "engine.checkpoints",
    "engine.draft",
    "engine.remote_tokenizer",
}  # may import llama_cpp


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    candidates = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    if not candidates:
        raise KeyError(f"qwen_lsp.{module} has no layer: add it to LAYERS in {__file__}")
    return LAYERS[max(candidates, key=len)]


def _imports(path: Path, module: str) -> set[str]:
    """Every module the file imports, dotted, relative imports resolved."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["qwen_lsp", *package.split(".")] if package else ["qwen_lsp"]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from qwen_lsp import settings` imports a module, not a name
            if prefix == "qwen_lsp" or prefix.startswith("qwen_lsp."):
                found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "qwen_lsp" for p in MODULES])
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    module = _module_name(path)
    own = _layer(module or "__init__")
    known = {_module_name(p) for p in MODULES}
    upward = []
    for imported in _imports(path, module):
        if not imported.startswith("qwen_lsp."):
            continue
        target = imported.removeprefix("qwen_lsp.")
        if target not in known:
            continue  # a name imported from a module (`from qwen_lsp.x import Name`)
        if _layer(target) > own:
            upward.append(f"{target} (layer {_layer(target)})")
    assert upward == [], f"qwen_lsp.{module} (layer {own}) imports {', '.join(upward)}"


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "qwen_lsp" for p in MODULES])
def test_frameworks_stay_at_their_edges(path: Path) -> None:
    module = _module_name(path)
    roots = {name.split(".")[0] for name in _imports(path, module)}
    if module not in EDGE:
        assert not roots & {"pygls", "lsprotocol"}, f"qwen_lsp.{module} imports the LSP library"
    if module not in LLAMA:
        assert "llama_cpp" not in roots, f"qwen_lsp.{module} imports llama_cpp"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a core module importing the server is caught."""
    source = tmp_path / "context.py"
    source.write_text("from qwen_lsp.server import server\nfrom . import completion\n")
    imports = _imports(source, "context")
    assert "qwen_lsp.server" in imports and "qwen_lsp.completion" in imports
    assert _layer("server") > _layer("context") and _layer("completion") > _layer("context")
