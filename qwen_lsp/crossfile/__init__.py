"""Cross-file context: code from other files, put before the FIM prompt as a repository.

Two sources, both from documents the editor has open (the server reads no files):

- recent edits: a small ring of chunks (a few dozen lines around each edit) of other
  files, the code the user is working on elsewhere;
- definitions: functions, classes, types and methods of other open documents whose names
  appear near the cursor or in the current file's imports, found with their syntax trees.

They are written in Qwen2.5-Coder's repository-level layout, which it was trained on::

    <|repo_name|>{repo}
    <|file_sep|>{path}
    {code}
    <|file_sep|>{current path}
    <|fim_prefix|>...

The header sits at the very start of the prompt, so the KV cache keeps it only while it
does not change. Everything that decides it is chosen to move rarely: the ring changes
when another file is edited, the names near the cursor come from a snapped block of
lines that leaves out the cursor line itself (typing there changes nothing), and the
chosen snippets are written in an order that does not depend on their ranking (files by
path, snippets by line). With nothing to add the header is empty and the prompt is the
single-file one, byte for byte.

Where each part lives, in the order a prompt needs them:

- ``ring``: :class:`~.ring.RecentChunks`, the chunks of recent edits (written on
  didChange, read by the model worker), and :func:`~.ring.similarity`, which keeps
  near-copies out.
- ``definitions``: :func:`~.definitions.definitions`, a document's definitions from its
  syntax tree, each as the prompt shows it (whole, its head, or a class outline); what a
  definition is comes from the language's record in :mod:`qwen_lsp.languages`.
- ``header``: :class:`~.header.CrossFileContext`, the entry point (the app builds one, the
  completion service asks it for each prompt's header): it keeps the ring and an index of
  the open documents' definitions, chooses the snippets within the token budget
  (:func:`~.header.choose_snippets`, from the names near the cursor:
  :func:`~.header.names_near`) and renders the header.

Pure but for the ring's lock: no model, no I/O, no LSP types. Nothing is re-exported
here: import from the module that holds a name.
"""
