"""Code actions: "Qwen: Fix", "Add docstring", "Generate unit tests" and the user's own,
written by the local model and applied as minimal, checked edits.

The road of one action: the user's range (or, when it is empty, the enclosing function or
class, found with tree-sitter) becomes a target of whole lines; a chat prompt holds the
action's system prompt, some context (imports, enclosing signatures) within a token
budget, the code and the task; the answer is taken out of its wrapping (fences, prose),
re-indented to the target's indentation, turned into a line diff against the target
(minimal edits), and checked: a change that adds a syntax error to the file, drops a
definition, or does not do what the action claims (no docstring, no annotations, no
tests) is refused with a message instead.

Where each step lives, in the order of the road:

- ``catalogue``: the actions there are (built-in and the ``customActions`` setting's) and
  which are offered for a range; listing never runs the model.
- ``target``: the code an action works on, and the tree-sitter definition helpers.
- ``prompt``: the context within its budget, the placeholders, the chat prompt.
- ``answer``: the model's text made into code or comments, put where the action says.
- ``checks``: why a change must be refused.
- ``edits``: the changes as data: offset edits, line diffs, unified diffs.
- ``service``: the use case on the model worker (listing, running, cancelling, progress,
  LSP positions); the server's handlers call it.
- ``text``: line arithmetic they share.

What differs between languages (definition and import node types, comment syntax,
documentation convention, test style and marker, annotation nodes) is read from the
language's record in :mod:`qwen_lsp.languages`; these modules keep no tables of their own.

The headless ``qwen-lsp action`` command (no editor) is ``qwen_lsp.headless.run_file_action``.
All modules but ``service`` are pure: no model, no I/O, no LSP types. Coordinates are
code points into the snapshot's text; every conversion goes through
:class:`~qwen_lsp.documents.Snapshot`.

Nothing is re-exported here: import from the module that holds a name.
"""
