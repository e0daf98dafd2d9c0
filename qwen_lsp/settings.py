"""Typed settings with defaults: every setting declared once (settings_resolve.py reads
their values from the client and the environment).

Every setting is declared once, here: its type and default, the text users read, its
environment variable, its bounds and choices, whether changing it reloads the model, and
whether it is internal (a switch for tests and measurements that editors do not offer).
The VS Code extension's settings, the README table and the Neovim help table are
generated from these declarations (`scripts/generate.py`), and a test fails when one of
them is out of date.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

SECTION = "qwenLsp"

T = TypeVar("T")


@dataclass(frozen=True)
class SettingInfo:
    """What is known about one setting besides its type and default."""

    doc: str
    """What it does, for users (Markdown: `code` spans only)."""
    env: str = ""
    """The environment variable that sets it (the weakest layer), if any."""
    minimum: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    """Allowed values of a string setting, each with what it means."""
    reload: bool = False
    """Changing it loads the model again."""
    internal: bool = False
    """A switch for tests, benchmarks and ablations: not offered in editors' settings UIs,
    listed apart in the documentation."""
    test_choices: tuple[str, ...] = ()
    """Values also accepted, for tests only: never offered in editors' settings UIs."""


def setting(
    default: T,
    doc: str,
    *,
    env: str = "",
    minimum: float | None = None,
    choices: tuple[tuple[str, str], ...] = (),
    reload: bool = False,
    internal: bool = False,
    test_choices: tuple[str, ...] = (),
) -> T:
    """Declare a field of :class:`Settings` (or of :class:`CustomAction`) with its info."""
    info = SettingInfo(doc, env, minimum, choices, reload, internal, test_choices)
    return field(default=default, metadata={"info": info})


ACTION_TARGETS = ("replace", "above", "below", "newFile")


@dataclass(frozen=True)
class CustomAction:
    """A code action defined by the user (one entry of the ``customActions`` setting)."""

    title: str = setting("", "Shown in the Quick Fix / Refactor menu (required).")
    prompt: str = setting(
        "",
        "The request to the model (required). Placeholders: {selection}, {scope} (the "
        "enclosing function or class), {language}, {diagnostics}, {file}, {name}, {context}; "
        "without {selection} the selected code is appended in a fenced block.",
    )
    kind: str = setting(
        "refactor.rewrite", "The LSP code action kind (quickfix, refactor.rewrite, source...)."
    )
    target: str = setting(
        "replace",
        "Where the answer goes.",
        choices=(
            ("replace", "replaces the selection"),
            ("above", "goes above it"),
            ("below", "goes below it"),
            ("newFile", "becomes a new file next to the current one"),
        ),
    )
    system: str = setting("", "System prompt; empty = a generic one for code edits.")
    languages: tuple[str, ...] = setting((), "Language ids it is offered for; empty = all.")
    fileName: str = setting(
        "", "For target newFile: the new file's name next to the current one ({stem}, {ext})."
    )
    answer: str = setting(
        "code",
        "What the model's answer is.",
        choices=(
            ("code", "code, taken from a fenced block and syntax-checked"),
            ("text", "text, inserted as a comment block"),
        ),
    )


# Files whose text never goes to the model (admission.py): secrets by their usual names, and
# the key stores wherever they are (a "**/" glob also matches outside the workspace).
DEFAULT_EXCLUDES = (
    ".env*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "*credentials*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "**/.ssh/**",
    "**/.gnupg/**",
)


@dataclass(frozen=True)
class Settings:
    # -- the model
    model: str = setting(
        "",
        "Registry name (`qwen-lsp models list`) or path to a GGUF file; empty = the default "
        "model (`qwen2.5-coder-0.5b-instruct`).",
        env="QWEN_LSP_MODEL",
        reload=True,
    )
    contextSize: int = setting(
        4096,
        "The model's context window (KV cache size) in tokens.",
        env="QWEN_LSP_CONTEXT_SIZE",
        minimum=256,
        reload=True,
    )
    threads: int = setting(
        0,
        "Most CPU threads for the model; 0 = all cores the server may use.",
        env="QWEN_LSP_THREADS",
        minimum=0,
        reload=True,
    )
    adaptThreads: bool = setting(
        True,
        "Use fewer threads while other programs keep the CPU busy (the model's speed is "
        "measured as it runs); off = always `threads`.",
        reload=True,
    )
    gpuLayers: int = setting(
        0,
        "Layers offloaded to a GPU (-1 = all) when llama-cpp-python was built with one.",
        env="QWEN_LSP_GPU_LAYERS",
        minimum=-1,
        reload=True,
    )
    cacheDir: str = setting(
        "",
        "Folder of downloaded models; empty = `$XDG_CACHE_HOME/qwen-lsp/models`, else "
        "`~/.cache/qwen-lsp/models`.",
        env="QWEN_LSP_CACHE_DIR",
        reload=True,
    )
    hubUrl: str = setting(
        "",
        "Base address of the model hub (or a mirror of it) that registry models with a hub "
        "source are downloaded from; empty = `https://huggingface.co`.",
        env="QWEN_LSP_HUB_URL",
    )
    # -- inline completion
    multiline: bool = setting(
        True, "Offer whole blocks after a line that opens one; off = always a single line."
    )
    blockPrompt: str = setting(
        "auto",
        "How a block (multi-line) suggestion is asked from the model.",
        choices=(
            (
                "auto",
                "`chat`, except when its prompt is cold (its window would be cut to what "
                "coldPromptSeconds reads) and the FIM prompt of the line requests is warm: "
                "then `fim`, which reads the whole window at once; and `fim` for a block "
                "that begins a function's body when the model's registry entry says so "
                "(the 1.5B: it writes whole functions better that way)",
            ),
            (
                "chat",
                "the chat template, the answer prefilled with the code up to the cursor: "
                "better bodies from instruct models",
            ),
            ("fim", "the fill-in-the-middle prompt single lines use: base models, least latency"),
        ),
    )
    disabledLanguages: tuple[str, ...] = setting((), "Language ids that get no suggestions.")
    prefixTokens: int = setting(
        384,
        "Prompt budget (tokens) for the text above the cursor; each new token costs about "
        "10 ms on one CPU core.",
        minimum=0,
    )
    suffixTokens: int = setting(
        96, "Prompt budget (tokens) for the text after the cursor.", minimum=0
    )
    widePrefixTokens: int = setting(
        1536,
        "A wider prompt budget (tokens) above the cursor, taken instead of prefixTokens when "
        "it costs no wait: when the part of that prompt the KV cache does not hold reads "
        "within coldPromptSeconds (a GPU or an inference server: at once; on a CPU: after it "
        "was read in the background while the cursor stayed in that part of the file). The "
        "model finds more of the file's own code to follow. At most what contextSize leaves "
        "beside the other budgets. 0 = never.",
        minimum=0,
    )
    similarTokens: int = setting(
        160,
        "Prompt budget (tokens) for the lines of the file, outside the window above and "
        "below the cursor, most like the code just above it (a pattern of the file's own to "
        "follow), put before the window; 0 = none.",
        minimum=0,
    )
    crossFileTokens: int = setting(
        256,
        "Prompt budget (tokens) for code from other open files (definitions of the names "
        "used near the cursor, recent edits), first in the prompt; 0 = off.",
        minimum=0,
    )
    maxTokensLine: int = setting(48, "Most tokens generated for a one-line suggestion.", minimum=1)
    maxTokensBlock: int = setting(160, "Most tokens generated for a block suggestion.", minimum=1)
    maxSeconds: float = setting(
        8.0,
        "Time cap (seconds) on one suggestion, from the request to the answer (prompt "
        "processing included).",
        env="QWEN_LSP_MAX_SECONDS",
        minimum=0.1,
    )
    # -- code actions
    customActions: tuple[CustomAction, ...] = setting(
        (),
        "Your own code actions, offered next to the built-in ones: a list of objects "
        "`{title, prompt, kind, target, system, languages, fileName, answer}` (see README).",
    )
    actionMaxSeconds: float = setting(
        300.0,
        "Time cap (seconds) on one code action, prompt processing included; it can be "
        "cancelled sooner.",
        minimum=1.0,
    )
    actionContextTokens: int = setting(
        384,
        "Prompt budget (tokens) for the context around a code action's code (imports, signatures).",
        minimum=0,
    )
    promptLookup: int = setting(
        10,
        "Draft tokens per step of prompt-lookup decoding for code actions that rewrite code "
        "(the answer repeats the input); 0 = plain decoding.",
        minimum=0,
    )
    # -- privacy and limits
    excludeFiles: tuple[str, ...] = setting(
        (),
        "Files that get no suggestions or code actions and whose text never enters a prompt, "
        "in addition to the built-in deny list ("
        + ", ".join(f"`{glob}`" for glob in DEFAULT_EXCLUDES)
        + "). Globs as in `.gitignore`: one without `/` matches a file or folder name at any "
        "depth, one with `/` the path from the workspace folder; `*`, `?`, `[...]`, `**`. "
        "A file outside every workspace folder is matched by its name, and by its whole path "
        "for globs starting with `**/`. A file opened through a symlink is also matched by "
        "its real path.",
    )
    allowFiles: tuple[str, ...] = setting(
        (),
        "Files the built-in deny list and `excludeGitignored` do not apply to (for example "
        "`src/credentials.py` when it holds code, not secrets); globs as in `excludeFiles`, "
        "which still applies to them.",
    )
    excludeGitignored: bool = setting(
        False,
        "Treat the files the workspace's `.gitignore` files (and `.git/info/exclude`) ignore "
        "like `excludeFiles`. A file follows the rules of the deepest workspace folder that "
        "holds it, as git does a nested repository's.",
    )
    maxDocumentBytes: int = setting(
        10_000_000,
        "Documents larger than this (UTF-8 bytes) get no suggestions or code actions and are "
        "not used as context for other files; a message says so once per document.",
        minimum=100_000,
    )
    kvCacheBytes: int = setting(
        512 << 20,
        "Memory (bytes) for saved KV-cache states: other files and the typing position kept "
        "warm while a code action or speculation runs; the oldest go first; 0 = keep none.",
        env="QWEN_LSP_KV_CACHE_BYTES",
        minimum=0,
        reload=True,
    )
    coldPromptSeconds: float = setting(
        1.0,
        "When the part of a prompt the KV cache does not hold (a file just opened, the cursor "
        "in another part of it) would take longer than this many seconds to read at the "
        "model's measured prompt rate, the window is cut to what that time reads, so the first "
        "suggestion comes soon; the whole window is then read in the background for the next "
        "keystroke. When "
        "a document is opened, the beginning its language's block prompts share is read in "
        "the background. 0 = always the whole window, nothing read ahead.",
        minimum=0.0,
    )
    coldPromptMinTokens: int = setting(
        64,
        "A cold prompt's cut window keeps at least this many tokens, however slow the "
        "machine: below it the answers stop being worth showing.",
        minimum=0,
        internal=True,
    )
    blockShowAfterSeconds: float = setting(
        0.3,
        "A block suggestion (or a line that opens a block, whose body the model writes "
        "too) still being written after this many seconds is shown with the lines complete "
        "so far (at least its first line), and the rest is written in the background for "
        "the next request. 0 = always wait for the whole block.",
        minimum=0.0,
    )
    checkpointBytes: int = setting(
        1 << 30,
        "Memory (bytes) for state checkpoints of hybrid models (Qwen3.5, Qwen3.6, "
        "Qwen3-Coder-Next), whose recurrent state cannot be cut back to a shorter prompt: a "
        "keystroke then restarts from the latest checkpoint instead of the whole prompt. "
        "One is about 160 MB for Qwen3.6-27B; the least recently used go first; 0 = none "
        "(every prompt evaluated whole). Other models take none.",
        env="QWEN_LSP_CHECKPOINT_BYTES",
        minimum=0,
        reload=True,
    )
    completionStyle: str = setting(
        "auto",
        "How completions are asked of the model.",
        env="QWEN_LSP_COMPLETION_STYLE",
        choices=(
            (
                "auto",
                "the model registry's entry says; for a GGUF file given by path, its metadata "
                "(architecture, name, vocabulary)",
            ),
            (
                "fim",
                "fill-in-the-middle tokens (Qwen2.5-Coder and Qwen3-Coder are trained on them)",
            ),
            (
                "chat",
                "the chat template with the code around the cursor, as blockPrompt `chat` does "
                "for blocks (Qwen3.5 and Qwen3.6 have the FIM tokens but no FIM training)",
            ),
        ),
        reload=True,
    )
    # -- the engine that runs the model: in this process (the default) or a shared one
    backend: str = setting(
        "llama",
        "Where the model runs.",
        env="QWEN_LSP_BACKEND",
        choices=(
            ("llama", "llama-cpp-python in the server process, on this machine"),
            (
                "openai",
                "an OpenAI-compatible server at `engineUrl` (vLLM, SGLang, "
                "`python -m llama_cpp.server`, Ollama, hosted APIs): `/v1/completions`",
            ),
            ("llama-server", "llama.cpp's `llama-server` at `engineUrl`: its `/completion`"),
        ),
        reload=True,
        test_choices=("fake",),  # a canned model (engine/fake.py)
    )
    engineUrl: str = setting(
        "",
        "The engine's address for the `openai` and `llama-server` backends: the API base "
        "for `openai` (e.g. `http://127.0.0.1:8000/v1`), the server for `llama-server` "
        "(e.g. `http://127.0.0.1:8080`). `https` is verified against the system's "
        "certificates (`SSL_CERT_FILE` names others). The API key is never a setting: "
        "the environment variable `QWEN_LSP_ENGINE_API_KEY`, or `engineApiKeyFile`.",
        env="QWEN_LSP_ENGINE_URL",
        reload=True,
    )
    engineModel: str = setting(
        "",
        "The model name the engine serves (the `model` field of its requests); empty = the "
        "engine's only model. Set `model` too (the served model's registry name or GGUF "
        "file, present here) to count tokens here and send prompts as token ids; otherwise "
        "tokens are counted by the engine's tokenize endpoint and prompts go as text.",
        env="QWEN_LSP_ENGINE_MODEL",
        reload=True,
    )
    engineApiKeyFile: str = setting(
        "",
        "A file holding the engine's API key (sent as a bearer token; read when the engine "
        "is set up, never logged). `QWEN_LSP_ENGINE_API_KEY` in the environment wins.",
        env="QWEN_LSP_ENGINE_API_KEY_FILE",
        reload=True,
    )
    engineConnectTimeout: float = setting(
        5.0,
        "Seconds to wait for a connection to the engine; connection errors are retried "
        "with back-off, other errors are shown.",
        minimum=0.1,
        reload=True,
    )
    engineReadTimeout: float = setting(
        30.0,
        "Seconds the engine may stay silent (before its answer starts or in the middle of "
        "it) before the request fails with a message; a suggestion's own time cap "
        "(`maxSeconds`) still applies.",
        minimum=0.1,
        reload=True,
    )
    engineFallback: str = setting(
        "none",
        "What serves while the `openai` or `llama-server` engine is down (no connection, "
        "a time-out, a 5xx, a broken stream; a 4xx such as a wrong key is shown instead).",
        env="QWEN_LSP_ENGINE_FALLBACK",
        choices=(
            ("none", "nothing: no suggestions until the engine answers again"),
            (
                "local",
                "the model in process (`model`, or the default one), loaded on the first "
                "request that finds the engine down, never while it answers; the engine is "
                "probed with growing waits and serves again as soon as it answers",
            ),
        ),
        reload=True,
        test_choices=("fake",),  # the canned model stands in for the local one
    )
    draftModel: str = setting(
        "",
        "A small model of the same vocabulary (registry name or path to a GGUF file) that "
        "guesses the model's next tokens; the model checks each guess in one batch and "
        "keeps what it would have written itself (the same answers, sooner when most "
        "guesses are right). Meant for a GPU with a big model, e.g. `qwen3.6-27b` with "
        "`qwen3.5-0.8b`. Empty = none (the default). A missing file or a model of another "
        "vocabulary is refused (a warning message says why) and the model serves without it.",
        env="QWEN_LSP_DRAFT_MODEL",
        reload=True,
    )
    draftTokens: int = setting(
        6,
        "Tokens the draft model (`draftModel`) guesses per step.",
        env="QWEN_LSP_DRAFT_TOKENS",
        minimum=1,
        reload=True,
    )
    # -- what each speed technique buys: switches for the benchmark, leave them on
    kvReuse: bool = setting(
        True,
        "Reuse the KV cache for the prompt's unchanged beginning (off: every prompt cold).",
        internal=True,
    )
    suggestionCache: bool = setting(
        True,
        "Same context, or typing through a shown suggestion: no model call.",
        internal=True,
    )
    speculation: bool = setting(
        True,
        "While idle, compute the suggestion that follows accepting the shown one.",
        internal=True,
    )
    cancelStale: bool = setting(
        True,
        "A newer keystroke or edit stops the running generation (off: every request runs).",
        internal=True,
    )
    followTyping: bool = setting(
        True,
        "A generation the user is typing along with goes on and answers the next keystroke.",
        internal=True,
    )
    refreshTypedThrough: bool = setting(
        True,
        "After a keystroke answered by typing through a suggestion computed earlier, ask the "
        "model again in the background with the current context; a different answer is "
        "shown from the next keystroke on.",
        internal=True,
    )
    # -- tests and ablations
    fakeAnswers: str = setting(
        "",
        "A JSON file of scripted answers for the `fake` backend "
        '(`{"contains": {...}, "suffix": {...}}`).',
        env="QWEN_LSP_FAKE_ANSWERS",
        reload=True,
        internal=True,
    )
    fakeSecondsPerToken: float = setting(
        0.0,
        "How slowly the `fake` backend writes (to test cancellation and stale edits).",
        env="QWEN_LSP_FAKE_SECONDS_PER_TOKEN",
        minimum=0.0,
        reload=True,
        internal=True,
    )
    registryFile: str = setting(
        "",
        "A model registry to use instead of the one shipped with qwen-lsp.",
        env="QWEN_LSP_REGISTRY",
        reload=True,
        internal=True,
    )
    disableRules: tuple[str, ...] = setting(
        (),
        "Post-processing and prompt rules to leave out, by name (to measure what each buys).",
        env="QWEN_LSP_DISABLE_RULES",
        internal=True,
    )
    fakePromptLog: str = setting(
        "",
        "A file the `fake` backend appends every prompt it is given to, one JSON string a "
        "line (to test what never reaches a prompt).",
        env="QWEN_LSP_FAKE_PROMPT_LOG",
        reload=True,
        internal=True,
    )


def info(name: str, owner: type = Settings) -> SettingInfo:
    """The declared info of one setting."""
    for declared in dataclasses.fields(owner):
        if declared.name == name:
            found: SettingInfo = declared.metadata["info"]
            return found
    raise KeyError(name)


def setting_fields(owner: type = Settings) -> list[dataclasses.Field[Any]]:
    """The declared settings, in declaration order."""
    return list(dataclasses.fields(owner))


def env_names() -> dict[str, str]:
    """Environment variable -> setting name."""
    return {info(f.name).env: f.name for f in setting_fields() if info(f.name).env}


def needs_reload(old: Settings, new: Settings) -> bool:
    """Whether going from ``old`` to ``new`` settings means loading the model again."""
    return any(
        getattr(old, f.name) != getattr(new, f.name)
        for f in setting_fields()
        if info(f.name).reload
    )
