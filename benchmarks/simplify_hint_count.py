"""How many corpus functions the Simplify finder finds something in (no model).

    python -m benchmarks.simplify_hint_count --languages python,javascript --per-language 20

The same seeded sample as benchmarks/bench_action_success.py; for each function, the
simplifications qwen_lsp/actions/simplify_hints.py finds (what Simplify is then asked).
``--judge``: the first one put in place as it is suggested (what an answer that is the
suggestion gives) and judged as bench_action_success judges an offered edit.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from benchmarks import action_verdicts
from benchmarks.action_corpus import LANGUAGE_IDS, FunctionSample, load_corpus
from benchmarks.bench_action_success import judge
from qwen_lsp.actions import simplify_hints
from qwen_lsp.actions.target import Target, find_target
from qwen_lsp.documents import Snapshot


def _judged(
    sample: FunctionSample, text: str, uri: str, target: Target, hint: simplify_hints.Hint
) -> action_verdicts.Verdict:
    body = simplify_hints.with_span_replaced(text, target.start, target.end, hint, hint.replacement)
    if body is None:
        return action_verdicts.Verdict(action_verdicts.BAD, "the suggestion does not fit")
    new = text[: target.start] + body + text[target.end :]
    return judge(sample, "simplify", uri, text, {uri: new})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="python,javascript")
    parser.add_argument("--per-language", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--judge", action="store_true", help="judge the first suggestion")
    args = parser.parse_args()
    samples, notes = load_corpus(args.languages.split(","), args.per_language, args.seed)
    found: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    verdicts: collections.Counter[str] = collections.Counter()
    for sample in samples:
        text = Path(sample.path).read_text(encoding="utf-8")
        snapshot = Snapshot.build(
            Path(sample.path).as_uri(), LANGUAGE_IDS[sample.language], 1, text
        )
        offset = snapshot.offset_at(sample.line, sample.utf16_col)
        target = find_target(snapshot, offset, offset)
        total[sample.language] += 1
        hints = simplify_hints.find_hints(snapshot, target) if target is not None else []
        if hints:
            found[sample.language] += 1
        if hints and args.judge and target is not None:
            verdict = _judged(sample, text, snapshot.uri, target, hints[0])
            verdicts[f"{sample.language} {verdict.outcome}"] += 1
            print(f"{sample.name}: {hints[0].kind}: {verdict.outcome} {verdict.note}")
        for hint in hints:
            kinds[f"{sample.language} {hint.kind}"] += 1
            if args.verbose:
                print(f"{sample.name} ({Path(sample.path).name}:{hint.first + 1}): {hint.kind}")
                print("    " + hint.replacement.replace("\n", "\n    "))
    for language, note in notes.items():
        print(f"{language}: {found[language]} of {total[language]} functions ({note})")
    for kind, count in sorted(kinds.items()):
        print(f"  {count:3d} {kind}")
    for outcome, count in sorted(verdicts.items()):
        print(f"  {count:3d} judged {outcome}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
