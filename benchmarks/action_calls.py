"""Same behaviour on generated calls: whether a rewritten Python function (Simplify, a Fix
that is not the original) still does what the original did, where that can be checked.

For a top-level function, or a method of a top-level class, whose required parameters
are positional, seeded argument tuples are made from a pool of small values (ints,
strings, lists, a dict, None); the original module and the rewritten one are each
imported in a sandbox (a fresh temporary folder, a subprocess with time, memory and CPU
limits: action_verdicts.run_sandboxed), so the function runs with its module's globals,
and it is called with every tuple. A method is called on a fresh instance per call (made
by the class's constructor without arguments where it accepts that and its ``__init__``
is the module's own and uses nothing worldly, else without ``__init__``), a static or
class method on the class. Per call the result's repr, the arguments' repr after the
call when it changed them, the instance's attributes after it, what it printed, or the
exception's type is recorded. The original runs twice (what
differs between its two runs proves nothing); the two modules must agree on every call,
and at least a few calls must have returned normally on the original, not all with the
same record, for the verdict to say anything. Functions that touch the outside world
(files, processes, the clock, randomness, the call stack) are not run: "unchecked".

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
# (``sys`` itself is not: the module's own, in a process of its own; but the frames it
# reads hold line numbers, which an edit moves.)
WORLDLY = frozenset(
    "open exec eval compile input __import__ breakpoint globals os subprocess shutil "
    "socket signal threading multiprocessing time random tempfile pathlib io select "
    "asyncio urllib http ftplib smtplib webbrowser ctypes gc weakref id hash "
    "_getframe currentframe getrefcount settrace setprofile".split()
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
    owner = getattr(module, {owner!r}, None) if {owner!r} else None
    raw = inspect.getattr_static(owner, {name!r}, None) if owner else None
    function = getattr(module, {name!r}, None) if owner is None else getattr(raw, "__func__", raw)
    code = getattr(function, "__code__", None)
    if code is None or not code.co_filename.endswith("subject.py"):
        print({mark!r} + json.dumps({{"error": "not a Python function of the module"}}))
        raise SystemExit(0)

    def fresh():
        # what the method is called on, new for every call
        if owner is None or isinstance(raw, (staticmethod, classmethod)):
            return None
        init = owner.__init__
        code = getattr(init, "__code__", None)
        own = code is not None and code.co_filename.endswith("subject.py")
        if init is object.__init__ or (own and init.__qualname__.split(".")[0] in {calm!r}):
            try:
                return owner()
            except Exception:
                pass
        return owner.__new__(owner)

    def state(instance):
        attributes = getattr(instance, "__dict__", None)
        return repr_of(sorted(attributes.items())) if attributes is not None else ""

    signal.signal(signal.SIGALRM, late)
    records = []
    for text in json.load(open("calls.json")):
        args = ast.literal_eval(text)
        given = repr_of(args)
        out = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        try:
            instance = fresh()
            if owner is None:
                call = function
            elif instance is None:
                call = getattr(owner, {name!r})
            else:
                call = getattr(instance, {name!r})
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                result = call(*args)
                if inspect.isgenerator(result):
                    result = [x for _, x in zip(range(100), result)]
            after = repr_of(args)
            records.append(
                ["ok", repr_of(result), after if after != given else "", out.getvalue()[:200],
                 state(instance)]
            )
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


def method_owner(module_text: str, function_source: str, name: str) -> str:
    """The top-level class of ``module_text`` whose method ``name`` is the one whose
    source is ``function_source``; "" if none."""
    try:
        tree = ast.parse(module_text)
    except (SyntaxError, ValueError):
        return ""
    lines = module_text.split("\n")
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for member in node.body:
            if isinstance(member, ast.FunctionDef) and member.name == name:
                text = "\n".join(lines[member.lineno - 1 : member.end_lineno])
                if text in function_source:
                    return node.name
    return ""


def _worldly(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A name the function uses that reaches outside the sandbox's reach ("" if none)."""
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
    return min(used & WORLDLY, default="")


def calm_classes(module_text: str) -> list[str]:
    """The top-level classes whose own ``__init__``, if any, uses nothing worldly: those
    the judge may construct (another, imaplib's IMAP4 connecting to a server, is made
    without ``__init__``)."""
    try:
        tree = ast.parse(module_text)
    except (SyntaxError, ValueError):
        return []
    calm = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            inits = [
                m
                for m in node.body
                if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and m.name == "__init__"
            ]
            if not any(_worldly(m) for m in inits):
                calm.append(node.name)
    return calm


def call_plan(function_source: str, seed: int = 1, owner: str = "") -> tuple[list[str], str]:
    """The calls to make (argument tuples as Python literals), or none and why not.

    ``function_source`` is the original function as it stands in its file (a method, or
    a function nested in a block, is indented: it is not the module's attribute);
    ``owner``, the top-level class of which it is a method."""
    if function_source[:1] in (" ", "\t") and not owner:
        return [], "not a top-level function"
    function = _function(function_source)
    if function is None:
        return [], "not a function"
    if isinstance(function, ast.AsyncFunctionDef):
        return [], "a coroutine"
    args = function.args
    if worldly := _worldly(function):
        return [], f"uses {worldly}"
    if any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(function)):
        return [], "changes global state"
    if args.kwonlyargs and len(args.kw_defaults) != len(args.kwonlyargs):
        return [], "has required keyword-only parameters"
    if any(d is None for d in args.kw_defaults):
        return [], "has required keyword-only parameters"
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    static = any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in function.decorator_list
    )
    if owner and function.name in ("__init__", "__new__"):
        return [], "a constructor"
    if owner and not static:  # `self` or `cls` is given by the call
        if not positional:
            return [], "a method without self"
        required -= 1
    elif positional and positional[0].arg in ("self", "cls"):
        return [], "a method"
    if required > MAX_REQUIRED:
        return [], f"{required} required parameters"
    rng = random.Random(f"{seed}:{function.name}")
    # (a function taking *args is called with a few more arguments too)
    counts = range(required, min(required + 2, MAX_REQUIRED) + 1) if args.vararg else [required]
    every = [c for n in counts for c in itertools.product(range(len(POOL)), repeat=n)]
    if len(every) <= MAX_CALLS:
        chosen = every
    else:
        # A third of the calls give two arguments the same value: where `<` and `<=` part
        # (a rewrite's usual slip), random tuples seldom go.
        ties = [c for c in every if len(set(c)) < len(c)]
        rest = [c for c in every if len(set(c)) == len(c)]
        tied = rng.sample(ties, min(len(ties), MAX_CALLS // 3))
        chosen = tied + rng.sample(rest, MAX_CALLS - len(tied))
    return [repr(tuple(POOL[i] for i in combo)) for combo in sorted(chosen)], ""


def compare_records(
    calls: list[str],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    name: str,
    again: dict[str, Any] | None = None,
) -> Verdict:
    """The verdict on the two runs' records (None: the run gave no records); ``again``,
    the original's second run, when there was one."""
    if old is None or "records" not in old:
        why = (old or {}).get("error", "no output")
        return Verdict(UNCHECKED, f"the original could not be called: {why}")
    if again is not None and again != old:
        return Verdict(UNCHECKED, "the original gives other results when run again")
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
    if len({json.dumps(r) for r in old["records"] if r[0] == "ok"}) < 2:
        # (a function that always returns None would pass as well)
        return Verdict(UNCHECKED, "every call that returned on the original gave the same")
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
    owner = method_owner(old, function_source, name) if function_source[:1] in " \t" else ""
    calls, why = call_plan(function_source, owner=owner)
    if not calls:
        return Verdict(UNCHECKED, f"no generated calls: {why}")
    script = RUNNER.format(mark=_MARK, name=name, owner=owner, calm=set(calm_classes(old)))
    runs = []
    for text in (old, old, new):
        run = run_sandboxed(
            {"subject.py": text, "run_calls.py": script, "calls.json": json.dumps(calls)},
            [sys.executable, "run_calls.py"],
            timeout,
        )
        runs.append(_records(run.output))
    return compare_records(calls, runs[0], runs[2], name, again=runs[1])
