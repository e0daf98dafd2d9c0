"""Benchmarks and evaluations of qwen-lsp: programs that print figures, not tests.

Each module is run from the repository root as ``python -m benchmarks.<name>`` (see
README.md in this folder for what each measures and which figures of the project README
it produced). They drive the real server over stdio, or the model in process, and need
the ``bench`` extra (``pip install -e '.[bench]'``). The test suite imports the pure parts
(task sets, scoring, keystroke plans) and runs the two evaluation floors.
"""
