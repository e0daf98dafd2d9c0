"""Issue 13, item 8: a lone surrogate (JSON lets a client send "\\ud800" alone) in a
document made every completion near it fail with an internal error (the tokenizer
encodes UTF-8), and completions in other files too once the recent-edit ring held it.
The real model's tokenizer decides: no text from a client may make a request fail."""

from __future__ import annotations

from lsprotocol import types

from tests.e2e.conftest import (
    RUNS_MODEL,
    finish,
    inline,
    insert_text,
    model_ready,
    open_doc,
    server_config,
    start,
)

pytestmark = RUNS_MODEL

BROKEN = "file:///tmp/qwen-lsp-surrogate/broken.py"
OTHER = "file:///tmp/qwen-lsp-surrogate/other.py"
# No cache, no speculation: every request reaches the tokenizer.
OPTIONS = {"suggestionCache": False, "speculation": False, "maxTokensLine": 4}


async def test_a_lone_surrogate_fails_no_completion_here_or_in_another_file() -> None:
    client = await server_config().start()
    try:
        await start(client, "visual-studio-code", OPTIONS)
        await model_ready(client)
        # in the text the document is opened with, and in an edit (which the ring records)
        open_doc(client, BROKEN, "python", 'name = "caf\ud800"\n\ndef greet():\n    \n')
        insert_text(client, BROKEN, 2, 1, "label = '\udc00x'\n")
        # the cursor right after the surrogate's line, and in the body below
        for position in (
            types.Position(line=1, character=12),
            types.Position(line=4, character=4),
        ):
            await inline(client, BROKEN, position)  # an internal error raises here
        # another file: its prompt's cross-file header takes the edited chunk of BROKEN
        open_doc(client, OTHER, "python", "from broken import greet\n\nlabel\n")
        await inline(client, OTHER, types.Position(line=2, character=5))
    finally:
        await finish(client)
