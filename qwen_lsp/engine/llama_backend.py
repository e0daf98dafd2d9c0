"""The llama-cpp-python engine (with engine/checkpoints.py and engine/draft.py, the only
modules that import llama_cpp).

Performance on one CPU core is decided by the KV cache: consecutive prompts that share a
long token prefix only pay for their new tail. We do the prefix matching and the prompt
evaluation ourselves, in small chunks, so that a cancelled request stops between chunks
instead of finishing a multi-second prompt nobody will see.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qwen_lsp.engine import (
    Generation,
    GenerationLimits,
    KeepGoing,
    KvReuse,
    PromptPart,
    Special,
    StopReason,
)
from qwen_lsp.engine.abort import AbortSwitch
from qwen_lsp.engine.checkpoints import SequenceMemory, checkpoint_marks
from qwen_lsp.engine.draft import DraftModel, open_draft
from qwen_lsp.engine.kv_pool import KvPool, common_prefix
from qwen_lsp.engine.lookup import PromptLookup
from qwen_lsp.engine.state_buffer import first_bytes, state_buffer
from qwen_lsp.engine.threads import PromptSpeed, ThreadGovernor

log = logging.getLogger(__name__)

# Prompt tokens evaluated per model call: about 0.3 s of work on one core. Threads adapt
# and the time cap is checked between calls; a cancel also stops a call in the middle.
PREFILL_CHUNK = 32
# A background prompt (a warm-up) is preempted by every keystroke, and the call it was in
# loses what it had read: smaller chunks lose less, at some cost in speed.
BACKGROUND_PREFILL_CHUNK = 16
# Saved KV states (about 12 KB per token for the 0.5B model, so a few MB each; 57 KB per
# token for a 7B one): other documents, the typing position while a speculation or a code
# action runs elsewhere. At most this many, within the kvCacheBytes budget.
KEPT_STATES = 8
# Saving or restoring a state costs a copy of it; only worth it when it spares this many
# tokens of prompt evaluation.
MIN_TOKENS_SAVED_BY_RESTORE = 48
# A held head (a chat prompt's first 40-odd tokens) is restored when it spares this many.
MIN_TOKENS_SAVED_BY_HEAD = 16
# A prompt that leaves fewer tokens than this for the answer is refused, with a message;
# otherwise the answer is cut to the room left.
MIN_ANSWER_TOKENS = 16
# Measured at load with one thread, so that a stall of more threads is caught from the first
# request on: code of the kind the server reads, as a prompt and as decoding steps.
# It is also the first figure of the prompt rate (PromptSpeed: long enough to tell).
CALIBRATION_TEXT = (
    "def area(width, height):\n    return width * height\n\n\n"
    "def perimeter(width, height):\n    return 2 * (width + height)\n"
)
CALIBRATION_STEPS = 2


@dataclass(frozen=True)
class LlamaOptions:
    n_ctx: int = 4096
    n_threads: int = 0  # 0 = all available cores
    n_gpu_layers: int = 0
    n_batch: int = 512
    kv_cache_bytes: int = 512 << 20  # the budget of the saved KV states (kvCacheBytes)
    checkpoint_bytes: int = 1 << 30  # hybrid models' state checkpoints (checkpointBytes)
    adapt_threads: bool = True  # fewer threads while other programs keep the CPU busy
    draft_model: Path | None = None  # a small model of the same vocabulary (draftModel)
    draft_tokens: int = 6  # tokens it guesses per step (draftTokens)


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class LlamaBackend:
    def __init__(self, model_path: Path, stop_tokens: Sequence[str], options: LlamaOptions):
        import llama_cpp  # heavy import, kept inside so unit tests never pay for it

        threads = options.n_threads or default_threads()
        self._llm: Any = llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=options.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=options.n_batch,
            n_gpu_layers=options.n_gpu_layers,
            verbose=False,
        )
        # llama.cpp logs a warning for every aborted call; what it says at load time (the
        # errors of a bad model file) was printed above.
        logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
        self._path = model_path
        self._pool: KvPool[Any] = KvPool(options.kv_cache_bytes, len, KEPT_STATES)
        # Every cut of the live sequence goes through it: a hybrid model's cannot be cut.
        self.memory = SequenceMemory(self._llm, options.checkpoint_bytes)
        self._healer = TokenHealer([self._llm.detokenize([i]) for i in range(self._llm.n_vocab())])
        # The last prompt tokenized (kv_reuse then generate ask for the same one).
        self._tokenized: tuple[tuple[PromptPart, ...], list[int], list[int]] = ((), [], [])
        self._special_ids: dict[str, int] = {}
        self._stop_ids = {self._llm.token_eos()}
        for text in stop_tokens:
            token = self._special_id(text)
            if token is not None:
                self._stop_ids.add(token)
        self._abort = AbortSwitch()
        if self._abort.callback_address is not None:
            # Kept on self: llama.cpp holds only the pointer.
            self._abort_callback = llama_cpp.ggml_abort_callback(self._abort.callback_address)
            llama_cpp.llama_set_abort_callback(
                self._llm.ctx, self._abort_callback, self._abort.data
            )
        # Prompt chunks and decoding steps, each with its own thread count (all of them
        # always when adaptThreads is off).
        self._prefill_threads = ThreadGovernor(threads)
        self._decode_threads = ThreadGovernor(threads)
        self._adapt = options.adapt_threads and threads > 1
        self._threads_set = (threads, threads)
        self.last_threads = threads
        self._speed = PromptSpeed()
        self._calibrate(1 if self._adapt else threads)
        if self._adapt:
            log.info(
                "threads: up to %d, fewer while the CPU is busy (one thread reads %.0f "
                "prompt tokens/s)",
                threads,
                self._speed.tokens_per_second,
            )
        # Loaded last, with the same options; None when there is none or it was refused
        # (``draft_refusal`` says why: the server goes on without it).
        self.draft: DraftModel | None = None
        self.draft_refusal = ""
        if options.draft_model is not None:
            self.draft, self.draft_refusal = open_draft(
                self._llm,
                options.draft_model,
                options.draft_tokens,
                n_ctx=options.n_ctx,
                n_threads=threads,
                n_batch=options.n_batch,
                n_gpu_layers=options.n_gpu_layers,
                checkpoint_bytes=options.checkpoint_bytes,
            )

    @property
    def description(self) -> str:
        return f"llama.cpp: {self._path.name}"

    @property
    def chat_template(self) -> str | None:
        """The GGUF's Jinja chat template (tokenizer.chat_template), if it has one."""
        template = self._llm.metadata.get("tokenizer.chat_template")
        return template if isinstance(template, str) and template else None

    def _special_id(self, text: str) -> int | None:
        if text not in self._special_ids:
            ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(ids) != 1:
                log.warning("%s is not a single special token in this model", text)
                return None
            self._special_ids[text] = ids[0]
        return self._special_ids[text]

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        tokens: list[int] = self._llm.tokenize(text.encode(), add_bos=False, special=False)
        return tokens

    @property
    def prompt_rate(self) -> float:
        return self._speed.tokens_per_second

    @property
    def keeps_states(self) -> bool:
        return self._pool.budget_bytes > 0

    @property
    def saved_state_bytes(self) -> int:
        return self._pool.bytes + self.memory.store.bytes

    def prompt_tokens(
        self, prompt: Sequence[PromptPart], special_ends: list[int] | None = None
    ) -> list[int]:
        """The prompt's tokens; ``special_ends`` gets the count after each special token."""
        key = tuple(prompt)
        if key != self._tokenized[0]:
            self._tokenized = (key, *self._tokenize_parts(prompt))
        if special_ends is not None:
            special_ends.extend(self._tokenized[2])
        return list(self._tokenized[1])

    def _tokenize_parts(self, prompt: Sequence[PromptPart]) -> tuple[list[int], list[int]]:
        """(the prompt's tokens, the count after each special token)."""
        tokens: list[int] = []
        ends: list[int] = []
        for part in prompt:
            if isinstance(part, Special):
                token = self._special_id(part.text)
                if token is None:
                    raise ValueError(f"the model has no special token {part.text}")
                tokens.append(token)
                ends.append(len(tokens))
            else:
                tokens.extend(self.tokenize(part))
        return tokens, ends

    def _evaluated(
        self, prompt: Sequence[PromptPart], special_ends: list[int] | None = None
    ) -> tuple[list[int], bytes]:
        """The tokens generate() evaluates for ``prompt``, and the text of the one it takes
        off for token healing (``special_ends`` as for prompt_tokens)."""
        # Token healing: the prompt's last text token is dropped and the model must
        # regenerate it (or a longer token starting with it). Otherwise a prompt ending in
        # "    " (one 4-space token) makes the model add the space that the usual
        # tokenization "   " + ' """' would put in front of the next token.
        tokens = self.prompt_tokens(prompt, special_ends)
        heal = b""
        if prompt and not isinstance(prompt[-1], Special) and prompt[-1]:
            heal = self._llm.detokenize([tokens.pop()])
        return tokens, heal

    def _closest(self, tokens: list[int]) -> tuple[int, int, int]:
        """(tokens shared with the live state, index of the saved state to restore or -1,
        tokens shared with that one): a saved state is restored only when it spares enough
        evaluation to pay for the copy."""
        llm = self._llm
        live_shared = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        index, shared = self._pool.best(tokens)
        if index >= 0 and shared >= live_shared + MIN_TOKENS_SAVED_BY_RESTORE:
            return live_shared, index, shared
        # A held head is a small state, a cheap copy (an ordinary state sharing as much
        # may be thousands of tokens long).
        index, shared = self._pool.best(tokens, pinned=True)
        if index >= 0 and shared >= live_shared + MIN_TOKENS_SAVED_BY_HEAD:
            return live_shared, index, shared
        return live_shared, -1, 0

    def kv_reuse(self, prompt: Sequence[PromptPart]) -> KvReuse:
        tokens, _ = self._evaluated(prompt)
        live_shared, index, shared = self._closest(tokens)
        cached = shared if index >= 0 else live_shared
        # The last token is always evaluated again: sampling needs its logits.
        return KvReuse(len(tokens), min(cached, max(0, len(tokens) - 1)))

    def hold(self, prompt: Sequence[PromptPart], limits: GenerationLimits) -> bool:
        tokens = self.prompt_tokens(prompt)
        if self._pool.holds(tokens):
            return True
        _, stopped = self._prefill(tokens, limits, whole=True)
        if stopped:
            return False
        self._pool.put(tokens, self._save_kv(), pinned=True)
        return True

    def _bring_closest_state(self, tokens: list[int]) -> None:
        """Before evaluating ``tokens``: restore the saved KV state that spares the most
        evaluation, and save the live one first if this prompt would throw much of it away.
        """
        llm = self._llm
        live: list[int] = llm.input_ids[: llm.n_tokens].tolist()
        live_shared, index, _ = self._closest(tokens)
        kept = self._pool.take(index) if index >= 0 else None
        if len(live) - live_shared >= MIN_TOKENS_SAVED_BY_RESTORE:
            self._pool.put(live, self._save_kv())
        if kept is not None:
            self._load_kv(list(kept.tokens), kept.state)

    # Llama.save_state() would also copy up to n_batch x n_vocab logits (300 MB for
    # Qwen's vocabulary); the KV cells of sequence 0 are all a prompt needs.
    # The state stays a ctypes array: slicing one into bytes builds a list of ints first
    # (0.1 s for a 6 MB state, measured), a copy more than llama.cpp's own.
    def _save_kv(self) -> Any:
        import llama_cpp

        ctx = self._llm.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = state_buffer(size)  # mapped on its own: given back when dropped
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return first_bytes(buffer, written)

    def _load_kv(self, tokens: list[int], state: Any) -> None:
        import llama_cpp

        llm = self._llm
        llm.n_tokens = 0
        llm.eval([])  # clears the live KV cells before the kept ones come back
        if llama_cpp.llama_state_seq_set_data(llm.ctx, state, len(state), 0) != len(state):
            log.warning("could not restore a kept KV state; evaluating the prompt instead")
            return
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)

    def _keep_live(self) -> None:
        """Save the live KV state in the pool, if it holds enough to be worth a copy."""
        llm = self._llm
        if llm.n_tokens >= MIN_TOKENS_SAVED_BY_RESTORE:
            self._pool.put(llm.input_ids[: llm.n_tokens].tolist(), self._save_kv())

    def _let_others_run(self, limits: GenerationLimits) -> bool:
        """Let model work that waits (a keystroke's completion) run now, in the middle of
        this generation's prompt or answer; True when some ran.

        The live KV state is put aside just before that work starts and brought back
        after it, so this generation goes on where it stopped; the other work's own state
        goes to the pool (the next keystroke starts from it). An interruption costs three
        state copies (tens of milliseconds for thousands of tokens), not a re-evaluation.
        """
        if limits.yield_point is None:
            return False
        llm = self._llm
        aside: tuple[list[int], Any] | None = None

        def put_aside() -> None:
            nonlocal aside
            aside = (llm.input_ids[: llm.n_tokens].tolist(), self._save_kv())
            self.memory.clear()  # the other work finds no live state: it restores its own

        ran = limits.yield_point(put_aside)
        if aside is not None:
            self._keep_live()
            self._load_kv(*aside)
        return ran

    # -- model calls: thread count, time cap, cancel ---------------------------------------

    def _call(
        self, run: Callable[[], None], units: int, decoding: bool, limits: GenerationLimits
    ) -> StopReason | None:
        """One model call (``run()`` evaluates ``units`` prompt tokens, or decodes a batch of
        ``units`` tokens: a step and its guesses) with the thread count the load allows;
        None when it ran, else why it was stopped. A call that stalls is taken back by
        llama.cpp and run again with fewer threads."""
        governor = self._decode_threads if decoding else self._prefill_threads
        while True:
            count = governor.next_count() if self._adapt else governor.most
            stopped = self._timed(run, units, decoding, count, limits)
            if stopped != "stalled":
                return stopped
            log.info("a model call stalled at %d threads; now %d", count, governor.current)

    def _timed(
        self,
        run: Callable[[], None],
        units: int,
        decoding: bool,
        count: int,
        limits: GenerationLimits,
    ) -> Literal["cancelled", "time_cap", "stalled"] | None:
        """``run()`` at ``count`` threads, measured for the governor, stopped in the middle
        when cancelled, out of time or stalled (the governor says how long is a stall)."""
        governor = self._decode_threads if decoding else self._prefill_threads
        # A stalled call is run again from where it started, which a hybrid model's state
        # cannot go back to: there a slow call is left to finish.
        adapt = self._adapt and not self.memory.hybrid
        stall = governor.stall_seconds(count, units) if adapt else None
        if decoding:
            self._use_threads(count, count)
        else:
            self._use_threads(self._decode_threads.current, count)
        self._abort.arm(limits.cancel, limits.deadline, stall)
        start = time.monotonic()
        try:
            run()
        except RuntimeError:  # llama_decode returned 2: aborted, its tokens taken back
            reason = self._abort.disarm()
            if reason not in ("cancelled", "time_cap", "stalled"):
                raise
            self.memory.repair()
            if reason == "stalled":
                governor.record(count, units, time.monotonic() - start, stalled=True)
            return reason  # type: ignore[return-value]
        self._abort.disarm()  # a reason found after the call ended does not matter
        seconds = time.monotonic() - start
        # A decoding batch of several tokens says little about one step's time (it costs
        # less than that many steps): only single steps and prompt chunks are rates.
        if not decoding or units == 1:
            governor.record(count, units, seconds)
        if not decoding:
            self._speed.record(units, seconds)
        self.last_threads = count
        return None

    def _use_threads(self, decoding: int, batch: int) -> None:
        if (decoding, batch) != self._threads_set:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self._llm.ctx, decoding, batch)
            self._threads_set = (decoding, batch)

    def _calibrate(self, threads: int) -> None:
        """Time a short prompt and two decoding steps (at one thread when the count adapts):
        the figure a stall at more threads is judged by from the first request on, and the
        first prompt rate. Then each once more at the most threads, as a probe (stopped at
        1.5x the time of one thread): a machine already busy then starts at the count that
        runs, instead of the first request stalling at all of them for 4x a chunk's time
        (about 0.5 s for the 0.5B model; the other counts are measured by the requests)."""
        llm = self._llm
        tokens = self.tokenize(CALIBRATION_TEXT)
        limits = GenerationLimits(max_tokens=0, max_seconds=60.0)

        def prompt(count: int) -> None:
            self.memory.clear()
            self._timed(functools.partial(llm.eval, tokens), len(tokens), False, count, limits)

        def steps(count: int, many: int) -> None:
            self.memory.clear()
            for token in tokens[:many]:
                self._timed(functools.partial(self._eval, [token]), 1, True, count, limits)

        prompt(threads)
        steps(threads, CALIBRATION_STEPS)
        if self._adapt:
            prompt(self._prefill_threads.probe_from(threads))
            steps(self._decode_threads.probe_from(threads), 1)
        self.memory.clear()

    def _prefill(
        self,
        tokens: list[int],
        limits: GenerationLimits,
        marks: Sequence[int] = (),
        whole: bool = False,
    ) -> tuple[int, StopReason | None]:
        """Evaluate the part of ``tokens`` the KV cache does not hold yet.

        Returns (reused token count, None when finished or why it stopped). The last token is
        always evaluated again when everything is cached, because sampling needs its logits
        (not when ``whole``: nothing is sampled after it).
        Between chunks the evaluation stops when cancelled or out of time, and lets waiting
        work run (``yield_point``): a prompt of thousands of tokens takes many seconds on a
        CPU, and a keystroke must not wait for it. Chunks end at ``marks``, where a hybrid
        model's state is checkpointed.
        """
        llm = self._llm
        if limits.reuse_kv:
            self._bring_closest_state(tokens)
        common = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if not limits.reuse_kv:
            common = 0
        elif not whole:
            common = min(common, len(tokens) - 1)
        common = self.memory.cut(common)  # fewer on a hybrid model: its last checkpoint
        start = common
        size = BACKGROUND_PREFILL_CHUNK if limits.background else PREFILL_CHUNK
        while start < len(tokens):
            if limits.cancel.cancelled:
                return common, "cancelled"
            if time.monotonic() >= limits.deadline:
                return common, "time_cap"
            if self._let_others_run(limits):
                # Normally the state is back as it was; if it could not be restored, go
                # on from what the cache holds.
                start = min(start, common_prefix(llm.input_ids[: llm.n_tokens], tokens))
                start = self.memory.cut(start)
                continue
            end = min([start + size, *(m for m in marks if m > start)])
            chunk = tokens[start:end]
            stopped = self._call(functools.partial(llm.eval, chunk), len(chunk), False, limits)
            if stopped:
                return common, stopped
            start = llm.n_tokens
            if start in marks:
                self.memory.checkpoint(tail=start == len(tokens) - 1)
        return common, None

    def generate(
        self, prompt: Sequence[PromptPart], limits: GenerationLimits, keep_going: KeepGoing
    ) -> Generation:
        special_ends: list[int] = []
        tokens, heal = self._evaluated(prompt, special_ends)
        room = self._llm.n_ctx() - len(tokens) - 1  # one cell spare, to be safe
        if room < MIN_ANSWER_TOKENS:
            raise ValueError(
                f"a prompt of {len(tokens)} tokens does not fit the model's context of "
                f"{self._llm.n_ctx()} tokens (contextSize)"
            )
        if limits.max_tokens > room:  # the answer gets what is left rather than nothing
            limits = dataclasses.replace(limits, max_tokens=room)
        started = time.monotonic()
        marks = checkpoint_marks(special_ends, len(tokens)) if self.memory.hybrid else []
        reused, stopped = self._prefill(tokens, limits, marks)
        prompt_done = time.monotonic()
        result = Generation(
            text="",
            stop_reason="cancelled",
            prompt_tokens=len(tokens),
            reused_tokens=reused,
            prompt_seconds=prompt_done - started,
        )
        if stopped:
            result.stop_reason = stopped
        else:
            out = _Output(self._llm, heal, result, limits, keep_going, prompt_done, self._stop_ids)
            out.finish(self._decode(tokens, out, limits))
        result.threads = self.last_threads
        return result

    def _decode(self, tokens: list[int], out: _Output, limits: GenerationLimits) -> StopReason:
        """Greedy decoding, with drafts verified in one batch per step: prompt lookup's
        (none when ``limits.prompt_lookup`` is 0), else the draft model's when one is
        loaded; other work may run between steps.

        The KV cache then holds the prompt and every accepted token, so the next prompt
        reuses it the same way.
        """
        import numpy as np

        llm = self._llm
        lookup = PromptLookup(limits.prompt_lookup)
        history = list(tokens)
        bias = _bias_row(limits.logit_bias, llm.n_vocab())
        logits = self._logits(-1, 1)[0]
        if out.pending:
            logits = self._healer.constrain(out.pending, logits)
        if bias is not None:
            logits = logits + bias
        token = int(np.argmax(logits))
        chance = _chance(logits, token)
        while True:
            # Here the KV cache holds exactly ``history``; other work may run now.
            if self._let_others_run(limits) and (
                llm.n_tokens != len(history)
                or common_prefix(llm.input_ids[: llm.n_tokens], history) != len(history)
            ):  # the state could not be brought back: evaluate it again
                _, stopped = self._prefill(history, limits)
                if stopped:
                    return stopped
            reason = out.push(token, chance)
            if reason is not None:
                return reason
            history.append(token)
            # While healing is still pending every step must be constrained: no drafts.
            room = max(0, llm.n_ctx() - llm.n_tokens - 1)
            draft = [] if out.pending else lookup.draft(history)[:room]
            drafter = self.draft if not draft and not out.pending else None
            if drafter is not None:
                draft = drafter.propose(history, room, limits, self._decode_threads.current)
            n_past = llm.n_tokens
            batch = [token, *draft]
            before = self.memory.before_draft() if draft else None
            # A batch of n tokens is judged as at most n steps' work (a guessed batch
            # costs more than a step, and is no stall for it).
            stopped = self._call(functools.partial(self._eval, batch), len(batch), True, limits)
            if stopped:
                return stopped
            rows = self._logits(0, len(batch), all_rows=True)
            if out.pending:
                rows = self._healer.constrain(out.pending, rows[0])[None, :]
            if bias is not None:  # every row: a guess is checked against the biased pick
                rows = rows + bias
            predicted = [int(t) for t in np.argmax(rows, axis=1)]
            accepted = 0
            while accepted < len(draft) and draft[accepted] == predicted[accepted]:
                accepted += 1
            # Keep the KV entries of the token and the accepted guesses; drop the rest.
            again = self.memory.undo_rejected(n_past + 1 + accepted, before)
            if again:  # a hybrid model's state went back to before the batch
                stopped = self._call(functools.partial(self._eval, again), len(again), True, limits)
                if stopped:
                    return stopped
            if llm.n_tokens != n_past + 1 + accepted:  # nothing to go back to: all again
                _, stopped = self._prefill([*history, *draft[:accepted]], limits)
                if stopped:
                    return stopped
            if drafter is not None and draft:
                drafter.feedback(len(draft), accepted)
                lookup.feedback(0, 0)  # it guessed nothing: it only moves along
            else:
                lookup.feedback(len(draft), accepted)
            out.result.drafted_tokens += len(draft)
            out.result.accepted_tokens += accepted
            for row, guess in enumerate(draft[:accepted]):
                reason = out.push(guess, _chance(rows[row], guess))
                if reason is not None:
                    return reason
                history.append(guess)
            token = predicted[accepted]
            chance = _chance(rows[accepted], token)

    def _eval(self, batch: list[int]) -> None:
        """Evaluate ``batch`` after the cached tokens, keeping the logits of every position."""
        llm = self._llm
        n_past = llm.n_tokens  # the memory holds exactly these (SequenceMemory.cut)
        llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(batch)] = batch
        llm.n_tokens = n_past + len(batch)

    def _logits(self, index: int, rows: int, all_rows: bool = False) -> Any:
        import numpy as np

        n_vocab = self._llm.n_vocab()
        ctx = self._llm._ctx
        pointer = ctx.get_logits() if all_rows else ctx.get_logits_ith(index)
        return np.ctypeslib.as_array(pointer, shape=(rows * n_vocab,)).reshape(rows, n_vocab)

    def close(self) -> None:
        """Free the model, its context and the saved states; the memory comes back even
        if something still holds this object (idempotent)."""
        self._pool.clear()
        self.memory.store.clear()
        if self.draft is not None:
            self.draft.close()
            self.draft = None
        self._abort.close()  # its watchdog thread ends
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
        self._healer = TokenHealer([])


def _bias_row(bias: Mapping[int, float], n_vocab: int) -> Any:
    """``bias`` as a row to add to the logits (ids outside the vocabulary left out), or
    None when there is none."""
    import numpy as np

    known = {token: value for token, value in bias.items() if 0 <= token < n_vocab}
    if not known:
        return None
    row = np.zeros(n_vocab, dtype=np.float32)
    row[list(known)] = list(known.values())
    return row


def _chance(logits: Any, token: int) -> float:
    """The probability of ``token`` under ``logits`` (softmax of one row)."""
    import numpy as np

    top = float(np.max(logits))
    return float(np.exp(float(logits[token]) - top) / np.sum(np.exp(logits - top)))


class _Output:
    """Turns generated tokens into text and decides when to stop (shared by both decoders)."""

    def __init__(
        self,
        llm: Any,
        heal: bytes,
        result: Generation,
        limits: GenerationLimits,
        keep_going: KeepGoing,
        prompt_done: float,
        stop_ids: set[int],
    ) -> None:
        self._llm = llm
        self.pending = heal  # bytes the output must still start with (token healing)
        self.result = result
        self._limits = limits
        self._keep_going = keep_going
        self._prompt_done = prompt_done
        self._stop_ids = stop_ids
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pieces: list[str] = []
        self._length = 0  # characters decoded so far

    def push(self, token: int, chance: float = 1.0) -> StopReason | None:
        """Take one generated token (``chance``: the probability the model gave it); the
        reason to stop now, or None to go on."""
        if token in self._stop_ids:
            return "stop_token"
        result, limits = self.result, self._limits
        result.generated_tokens += 1
        piece = self._llm.detokenize([token])
        if self.pending:
            # Drop the part of the piece that re-creates the healed prompt text.
            consumed = min(len(self.pending), len(piece))
            piece, self.pending = piece[consumed:], self.pending[consumed:]
        self._pieces.append(self._decoder.decode(piece))
        self._length += len(self._pieces[-1])
        result.token_ends.append(self._length)
        result.token_chances.append(chance)
        if limits.cancel.cancelled:
            return "cancelled"
        if result.generated_tokens >= limits.max_tokens:
            return "max_tokens"
        if time.monotonic() > limits.deadline:
            return "time_cap"
        if not self._keep_going("".join(self._pieces)):
            return "cancelled" if limits.cancel.cancelled else "done"
        return None

    def finish(self, reason: StopReason) -> None:
        self._pieces.append(self._decoder.decode(b"", final=True))
        self.result.text = "".join(self._pieces)
        self.result.stop_reason = reason
        self.result.generate_seconds = time.monotonic() - self._prompt_done


class TokenHealer:
    """Restricts the next token to ones consistent with text that must come first."""

    def __init__(self, vocab: list[bytes]):
        self._sorted = sorted((piece, token) for token, piece in enumerate(vocab) if piece)
        self._keys = [piece for piece, _ in self._sorted]
        self._by_piece: dict[bytes, list[int]] = {}
        for piece, token in self._sorted:
            self._by_piece.setdefault(piece, []).append(token)
        self._cache: dict[bytes, Any] = {}

    def allowed(self, required: bytes) -> list[int]:
        """Tokens that start with ``required`` or are a non-empty prefix of it."""
        start = bisect.bisect_left(self._keys, required)
        tokens = []
        for piece, token in self._sorted[start:]:
            if not piece.startswith(required):
                break
            tokens.append(token)
        for length in range(1, len(required)):
            tokens.extend(self._by_piece.get(required[:length], []))
        return tokens

    def constrain(self, required: bytes, logits: Any) -> Any:
        if not required:
            return logits
        import numpy as np

        allowed = self._cache.get(required)
        if allowed is None:
            allowed = self._cache[required] = np.array(self.allowed(required), dtype=np.intc)
        masked = np.full_like(logits, -np.inf)
        masked[allowed] = logits[allowed]
        return masked


def system_info() -> str:
    import llama_cpp

    info: bytes = llama_cpp.llama_print_system_info()
    return info.decode(errors="replace")


def llama_cpp_version() -> str:
    import llama_cpp

    return str(llama_cpp.__version__)
