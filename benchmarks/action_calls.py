"""Same behaviour on generated calls: whether a rewritten Python function (Simplify, a Fix
that is not the original) still does what the original did, where that can be checked.

For a top-level function whose required parameters are positional, seeded argument
tuples are made from a pool of small values (ints, strings, lists, a dict, None); the
original module and the rewritten one are each imported in a sandbox (a fresh temporary
folder, a subprocess with time, memory and CPU limits: action_verdicts.run_sandboxed)
and the function is called with every tuple. Per call the result's repr, the arguments'
repr after the call (in-place changes count), what it printed, or the exception's type is
recorded; the two modules must agree on every call, and at least a few calls must have
returned normally on the original for the verdict to say anything. Functions that touch
the outside world (files, processes, the clock, randomness) are not run: "unchecked".

Making the calls and comparing the records is pure; running them is not.
"""

from __future__ import annotations

import ast
import itertools
import json
import random
import sys
import textwrap
from typing import Any

from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED, Verdict, run_sandboxed

# The values arguments are made of: small, printable, not paths.
POOL: tuple[Any, ...] = (
    0,
    1,
    3,
    -2,
    10,
    2.5,
    True,
    None,
    "",
    "a",
    "abc",
    "Hello world",
    "x_y-z 1",
    [],
    [3, 1, 2],
    [0, 5, -1, 3],
    ["b", "a"],
    (1, 2),
    {"a": 1},
)
MAX_CALLS = 40
MIN_RETURNED = 3  # calls that returned on the original, for a verdict
MAX_REQUIRED = 3
# Names whose use means the function reaches outside the sandbox's reach or is not
# deterministic: not run.
WORLDLY = frozenset(
    "open exec eval compile input __import__ breakpoint globals os sys subprocess shutil "
    "socket signal threading multiprocessing time random tempfile pathlib io select "
    "asyncio urllib http ftplib smtplib webbrowser ctypes gc weakref id hash".split()
)
_MARK = "@@qwen-calls@@"

RUNNER = textwrap.dedent(
    """
    import ast, contextlib, importlib.util, inspect, io, json, re, signal, sys, types

    def repr_of(value):
        text = re.sub(r" at 0x[0-9a-f]+", " at 0x", repr(value))
        return text[:400]

    class Late(Exception):
        pass

    def late(*_):
        raise Late()

    spec = importlib.util.spec_from_file_location("qwen_subject", "subject.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["qwen_subject"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        print({mark!r} + json.dumps({{"error": "import: " + type(exc).__name__}}))
        raise SystemExit(0)
    function = getattr(module, {name!r}, None)
    code = getattr(function, "__code__", None)
    if code is None or not code.co_filename.endswith("subject.py"):
        print({mark!r} + json.dumps({{"error": "not a Python function of the module"}}))
        raise SystemExit(0)
    signal.signal(signal.SIGALRM, late)
    records = []
    for text in json.load(open("calls.json")):
        args = ast.literal_eval(text)
        out = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                result = function(*args)
                if inspect.isgenerator(result):
                    result = [x for _, x in zip(range(100), result)]
            records.append(["ok", repr_of(result), repr_of(args), out.getvalue()[:200]])
        except Late:
            records.append(["timeout"])
        except BaseException as exc:
            records.append(["raise", type(exc).__name__])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    print({mark!r} + json.dumps({{"records": records}}))
    """
)


def _function(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None


def call_plan(function_source: str, seed: int = 1) -> tuple[list[str], str]:
    """The calls to make (argument tuples as Python literals), or none and why not.

    ``function_source`` is the original function as it stands in its file (a method, or
    a function nested in a block, is indented: it is not the module's attribute)."""
    if function_source[:1] in (" ", "\t"):
        return [], "not a top-level function"
    function = _function(function_source)
    if function is None:
        return [], "not a function"
    if isinstance(function, ast.AsyncFunctionDef):
        return [], "a coroutine"
    # Names the function binds itself (a loop variable called `input`) are its own.
    args = function.args
    own = {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if a
    }
    own |= {
        n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)} - own
    used |= {n.attr for n in ast.walk(function) if isinstance(n, ast.Attribute)}
    worldly = sorted(used & WORLDLY)
    if worldly:
        return [], f"uses {worldly[0]}"
    if any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(function)):
        return [], "changes global state"
    if args.kwonlyargs and len(args.kw_defaults) != len(args.kwonlyargs):
        return [], "has required keyword-only parameters"
    if any(d is None for d in args.kw_defaults):
        return [], "has required keyword-only parameters"
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    if positional and positional[0].arg in ("self", "cls"):
        return [], "a method"
    if required > MAX_REQUIRED:
        return [], f"{required} required parameters"
    rng = random.Random(f"{seed}:{function.name}")
    every = list(itertools.product(range(len(POOL)), repeat=required))
    chosen = every if len(every) <= MAX_CALLS else rng.sample(every, MAX_CALLS)
    return [repr(tuple(POOL[i] for i in combo)) for combo in sorted(chosen)], ""


def compare_records(
    calls: list[str], old: dict[str, Any] | None, new: dict[str, Any] | None, name: str
) -> Verdict:
    """The verdict on the two runs' records (None: the run gave no records)."""
    if old is None or "records" not in old:
        why = (old or {}).get("error", "no output")
        return Verdict(UNCHECKED, f"the original could not be called: {why}")
    if new is None or "records" not in new:
        why = (new or {}).get("error", "no output")
        return Verdict(BAD, f"the new code could not be called: {why}")
    returned = 0
    compared = 0
    for call, before, after in zip(calls, old["records"], new["records"], strict=False):
        if before[0] == "timeout":
            continue  # too slow to say
        compared += 1
        returned += before[0] == "ok"
        if before != after:
            args = call[1:-1].rstrip(",")
            was = before[1] if before[0] != "timeout" else "a timeout"
            now = after[1] if after[0] != "timeout" else "a timeout"
            return Verdict(
                BAD,
                f"{name}({args[:60]}): {after[0]} {str(now)[:60]}, was {before[0]} {str(was)[:60]}",
            )
    if len(new["records"]) < len(old["records"]):
        return Verdict(BAD, "the new code stopped before the last call")
    if returned < MIN_RETURNED:
        return Verdict(UNCHECKED, f"only {returned} generated calls returned on the original")
    details: dict[str, object] = {"calls": compared, "returned": returned}
    return Verdict(GOOD, f"same results on {compared} generated calls", details)


def _records(output: str) -> dict[str, Any] | None:
    for line in output.split("\n"):
        if line.startswith(_MARK):
            found: dict[str, Any] = json.loads(line[len(_MARK) :])
            return found
    return None


def calls_verdict(old: str, new: str, name: str, function_source: str, timeout: float) -> Verdict:
    """Whether function ``name`` of module text ``new`` gives what it gave in ``old`` on
    generated calls (run only in the sandbox)."""
    calls, why = call_plan(function_source)
    if not calls:
        return Verdict(UNCHECKED, f"no generated calls: {why}")
    script = RUNNER.format(mark=_MARK, name=name)
    runs = []
    for text in (old, new):
        run = run_sandboxed(
            {"subject.py": text, "run_calls.py": script, "calls.json": json.dumps(calls)},
            [sys.executable, "run_calls.py"],
            timeout,
        )
        runs.append(_records(run.output))
    return compare_records(calls, runs[0], runs[1], name)
