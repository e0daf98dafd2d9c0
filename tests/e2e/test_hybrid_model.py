"""The tiny random-weight hybrid (qwen35) model: what the hybrid code paths are tested with.

It must be what a real Qwen3.5 / Qwen3.6 file is to llama.cpp: a hybrid model whose
recurrent state cannot be cut back to a shorter prefix. Cheap (a few MB): no model mark.
"""

from __future__ import annotations

from pathlib import Path

from qwen_lsp.modelstore import detect_style


def test_tiny_hybrid_model_loads_and_behaves_like_a_hybrid(tiny_hybrid_model: Path) -> None:
    import llama_cpp
    import numpy as np

    from qwen_lsp.modelstore.gguf import check_gguf_header

    assert check_gguf_header(tiny_hybrid_model) == "qwen35"
    assert tiny_hybrid_model.stat().st_size < 32 << 20
    llm = llama_cpp.Llama(model_path=str(tiny_hybrid_model), n_ctx=512, n_threads=1, verbose=False)
    try:
        assert llama_cpp.llama_model_is_hybrid(llm.model)

        def greedy(prompt: bytes, steps: int) -> list[int]:
            llm.reset()
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
            llm.eval(llm.tokenize(prompt, add_bos=False))
            out = []
            for _ in range(steps):
                row = llm._ctx.get_logits_ith(-1)
                token = int(np.argmax(np.ctypeslib.as_array(row, shape=(llm.n_vocab(),))))
                out.append(token)
                llm.eval([token])
            return out

        first = greedy(b"def area(width, height):\n    return", 12)
        assert len(set(first)) > 3  # not one token forever: a next-token map with variety
        assert greedy(b"def area(width, height):\n    return", 12) == first  # deterministic

        memory = llama_cpp.llama_get_memory(llm.ctx)
        held = llm.n_tokens
        # The fact the engine must handle: a recurrent state cannot be cut back...
        assert not llama_cpp.llama_memory_seq_rm(memory, 0, held - 3, -1)
        assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == held - 1
        # ...while removing nothing, or everything, works.
        assert llama_cpp.llama_memory_seq_rm(memory, 0, held, -1)
        assert llama_cpp.llama_memory_seq_rm(memory, 0, 0, -1)
    finally:
        llm.close()


def test_tiny_hybrid_model_is_the_same_file_every_time(
    tiny_hybrid_model: Path, tmp_path: Path
) -> None:
    from tests.fixtures.tiny_hybrid import build

    again = build(tmp_path / "again.gguf", _tokenizer_source())
    assert again.read_bytes() == tiny_hybrid_model.read_bytes()


def _tokenizer_source() -> Path:
    import os

    from qwen_lsp.modelstore import StoreConfig, resolve
    from qwen_lsp.settings_resolve import resolve_settings

    return resolve(None, StoreConfig.from_settings(resolve_settings(os.environ).settings)).path


def test_the_tiny_hybrid_model_given_by_path_is_asked_through_chat(
    tiny_hybrid_model: Path,
) -> None:
    from qwen_lsp import app
    from qwen_lsp.settings import Settings

    verdict = detect_style(tiny_hybrid_model)
    assert verdict.style == "chat" and "qwen35" in verdict.reason
    markers = app.fim_tokens_of(Settings(model=str(tiny_hybrid_model)))
    assert not markers.trained
    assert app.fim_tokens_of(Settings(model=str(tiny_hybrid_model), completionStyle="fim")).trained
    # The default model's file, by path: a Coder with trained FIM tokens.
    assert detect_style(_tokenizer_source()).style == "fim"
