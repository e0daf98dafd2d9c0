"""vLLM on this CPU for the benchmarks (benchmarks/vllm_engine.py, engines.start_vllm's
pure parts): the serve line, the offline environment it runs in, where it is installed."""

from __future__ import annotations

from pathlib import Path

from benchmarks import vllm_engine
from benchmarks.engines import origin


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_serve_line_runs_the_api_server_module_on_cpu() -> None:
    python, model = Path("/venv/bin/python"), Path("/hf/qwen")
    command = vllm_engine.serve_command(python, model, 8095)
    # Not `vllm serve`: the community build's command dies looking up its own version.
    assert command[:3] == [str(python), "-m", "vllm.entrypoints.openai.api_server"]
    assert _option(command, "--model") == str(model)
    assert _option(command, "--served-model-name") == "qwen-coder"
    assert _option(command, "--port") == "8095" and _option(command, "--host") == "127.0.0.1"
    assert _option(command, "--max-model-len") == "4096"
    assert _option(command, "--dtype") == "bfloat16"
    # Cached prompt tokens are reported only on request; eager mode skips graph capture.
    assert {"--enforce-eager", "--enable-prompt-tokens-details"} <= set(command)
    assert "--enable-prefix-caching" in command and "--max-num-seqs" not in command


def test_the_serve_line_turns_prefix_caching_off_and_caps_batches() -> None:
    command = vllm_engine.serve_command(
        Path("p"), Path("m"), 1, prefix_caching=False, max_num_seqs=4, served_name="x"
    )
    assert "--no-enable-prefix-caching" in command and "--enable-prefix-caching" not in command
    assert _option(command, "--max-num-seqs") == "4"
    assert _option(command, "--served-model-name") == "x"


def test_vllm_runs_offline_with_its_cpu_cache_size() -> None:
    env = vllm_engine.offline_env({"PATH": "/bin", "HF_HUB_OFFLINE": "0"})
    assert env["PATH"] == "/bin"
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == str(vllm_engine.KV_CACHE_GB)
    assert "VLLM_CPU_OMP_THREADS_BIND" not in env
    assert vllm_engine.offline_env({}, threads=2)["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    assert vllm_engine.offline_env({}, threads=1)["VLLM_CPU_OMP_THREADS_BIND"] == "0-0"


def test_setup_state_is_read_from_the_venv_and_the_model_folder(tmp_path: Path) -> None:
    assert not vllm_engine.is_installed(tmp_path)
    server = tmp_path / "lib/python3.11/site-packages/vllm/entrypoints/openai/api_server.py"
    server.parent.mkdir(parents=True)
    server.write_text("")
    assert vllm_engine.is_installed(tmp_path)
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert not vllm_engine.is_converted(folder)
    (folder / "model.safetensors").write_bytes(b"")
    assert vllm_engine.is_converted(folder)


def test_an_engines_origin() -> None:
    assert origin("http://127.0.0.1:8095/v1") == "http://127.0.0.1:8095"
    assert origin("http://127.0.0.1:8095/v1/") == "http://127.0.0.1:8095"
    assert origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_the_prefix_cache_prompts_repeat_then_grow_at_their_end() -> None:
    from benchmarks.engine_prefix_cache import long_prompt, steps_of

    text = long_prompt(500)
    assert len(text) == 500 and "def " in long_prompt(9000)
    steps = steps_of(text)
    assert [name for name, _ in steps][:2] == ["cold", "same again"]
    texts = [prompt[0] for _, prompt in steps]
    assert texts[0] == texts[1] == text
    for before, after in zip(texts[1:], texts[2:], strict=False):
        assert after.startswith(before) and len(after) > len(before)
