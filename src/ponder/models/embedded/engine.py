"""The llama.cpp engine: one loaded GGUF, one context, and the one thread allowed to touch them.

llama.cpp contexts are not thread-safe, so every call into the model runs on the engine's single worker
thread; async callers reach it through ``EmbeddedModel``. A generation streams text pieces through a
callback and can be cancelled at any moment through a ``threading.Event``:

* while decoding, the event is checked after every token;
* while evaluating the prompt (which can take seconds for a long one), llama.cpp's abort callback checks it
  between graph nodes, so even a long prefill stops at once.

Each generation asks the ``ThreadAdvisor`` how many cores are idle and sets llama.cpp's thread count to
match, at the start and again every few dozen tokens. The KV cache is reused across calls for the longest
common prompt prefix (a chat that grows turn by turn only evaluates the new turn).

A prompt may name a stable prefix (``GenerationParams.prefix_tokens``: the backend gives the rendered
system turn). With a ``PrefixStore`` (prefix_cache.py), when the KV in memory does not cover that prefix, its
state is loaded from disk if stored there, or else evaluated first and its state written there (the copy
out of llama.cpp on this thread, the file on the store's writer thread), then the rest is evaluated. So the
first request of a fresh process evaluates only what follows the system turn. ``warm`` does the same for a
prefix alone. The batched decoder (batch.py, its own context) does not use the store.

With ``KvStates`` (kv_states.py), a prompt that would push a conversation's KV out of the context first keeps
a copy of it in memory, and a later prompt of that conversation restores it and evaluates only what is new.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import BackendError, RuntimeMissingError
from ponder.models.embedded.abort import AbortSwitch
from ponder.models.embedded.batch import BatchDecoder
from ponder.models.embedded.kv_states import MIN_GAIN, KvStates, common_prefix
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.models.embedded.stops import StopMatcher
from ponder.models.embedded.threads import ThreadAdvisor

__all__ = ["GenerationParams", "GenerationStats", "LlamaEngine", "PrefixReport", "import_llama_cpp"]

_READVISE_EVERY = 32  # tokens between two looks at how busy the other cores are

log = logging.getLogger(__name__)


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as err:
        raise RuntimeMissingError(
            "The embedded engine is not installed (the llama.cpp runtime, llama-cpp-python, and the models' "
            "weights): this is an API-only install. Install it with:\n"
            '  pip install "ponder[embedded]"\n'
            "(it compiles llama.cpp from source, about 20 minutes on 2 cores), or use a model on an "
            f"OpenAI-compatible engine (--model openai:http://host:8000/v1#NAME). Import error: {err}"
        ) from None
    return llama_cpp


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: Any = None  # a llama_cpp.LlamaGrammar, for constrained output
    prefix_tokens: int = 0  # the prompt's first N tokens are stable across requests: worth keeping on disk
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias added to its logit)
    logprobs: int | None = None  # None: none kept; N: each chosen token's and the N likeliest


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    cached_tokens: int  # prompt tokens whose KV was reused from the previous call
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "cancelled"
    stop_sequence: str | None  # the stop sequence that ended it, if one did
    threads: int  # in use at the end (a long generation re-adapts every _READVISE_EVERY tokens)
    started_at: float  # perf_counter when the call began
    first_token_at: float | None
    last_token_at: float | None
    finished_at: float
    restored_tokens: int = 0  # prompt tokens whose KV was loaded from the prefix store
    evaluated_tokens: int = 0  # prompt tokens llama.cpp evaluated for this call (counted at each decode)
    logprobs: tuple[dict[str, Any], ...] = ()  # per token generated, when asked: OpenAI's shape


@dataclass(frozen=True)
class PrefixReport:
    """What bringing a prefix's KV into the context took (``LlamaEngine.warm``, and each generation)."""

    source: str  # "memory" (already there), "disk" (restored) or "evaluated" (and stored, unless too big)
    tokens: int
    seconds: float  # to restore it, or to evaluate it
    state_bytes: int = 0  # the sequence state, read or written
    copy_seconds: float = 0.0  # copying the state out of llama.cpp (on the engine thread), when evaluated


class LlamaEngine:
    def __init__(
        self,
        path: Path,
        *,
        context_length: int,
        advisor: ThreadAdvisor,
        n_batch: int = 512,
        prefixes: PrefixStore | None = None,
        weights_id: str | None = None,
        states: KvStates | None = None,
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.advisor = advisor
        self.n_batch = n_batch
        # Prefix states on disk, for weights known by ``weights_id`` (their sha256); either None: not used.
        self.prefixes = prefixes if weights_id is not None else None
        self.weights_id = weights_id
        self.states = states  # conversations' KV states the context had to let go of, in memory
        self.last_prefix: PrefixReport | None = None  # how the last generation got its stable prefix, if any
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ponder-llama")
        self._llm: Any = None
        self._llama_cpp: Any = None
        self._batch: BatchDecoder | None = None
        self._abort: AbortSwitch | None = None
        self._evaluated = 0  # tokens decoded in this context so far, prompts and answers

    # --- loading (on the worker thread) ---------------------------------------------------------------

    def load(self) -> None:
        """Load the model and create its context; idempotent. Call on the worker thread."""
        if self._llm is not None:
            return
        llama_cpp = import_llama_cpp()
        threads = self.advisor.threads()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=self.context_length,
                n_batch=self.n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            raise BackendError(f"llama.cpp could not load {self.path}: {err}") from None
        self._llama_cpp = llama_cpp
        # llama.cpp reports problems to us as return codes (raised as BackendError); its log lines, such as
        # the one every cancelled prompt prints, are noise on a user's terminal unless debugging.
        if not os.environ.get("PONDER_DEBUG"):
            logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)
        self._abort = AbortSwitch(llama_cpp, self._llm._ctx.ctx)
        self._count_decodes(self._llm._ctx)

    def _count_decodes(self, context: Any) -> None:
        """Count the tokens every decode of ``context`` evaluates (``GenerationStats.evaluated_tokens``).

        Both the prompt (in ``Llama.eval``) and the prefix (``_bring_prefix``) go through
        ``LlamaContext.decode``; llama.cpp's own counters (``llama_perf_context``) report a count of 0 as 1.
        """
        decode = context.decode

        def counted(batch: Any) -> None:
            decode(batch)
            self._evaluated += int(batch.n_tokens())

        context.decode = counted

    def identity(self) -> dict[str, str | int]:
        """What a stored prefix state must have been saved under to fit this engine's KV cache."""
        return {
            "format": 1,
            "weights": self.weights_id or "",
            "llama_cpp": str(getattr(self._llama_cpp, "__version__", "")),
            "n_ctx": int(self.llm.n_ctx()),
            "n_batch": self.n_batch,  # the prefix is evaluated in batches of this size: the same numbers
        }

    @property
    def llm(self) -> Any:
        if self._llm is None:
            raise RuntimeError("LlamaEngine.load() has not run")
        return self._llm

    def metadata(self) -> dict[str, str]:
        return dict(self.llm.metadata)

    def token_text(self, token: int) -> str:
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    # --- generation (on the worker thread) ------------------------------------------------------------

    def generate(
        self,
        prompt: Sequence[int],
        params: GenerationParams,
        cancel: threading.Event,
        emit: Callable[[str], None],
        on_logprob: Callable[[dict[str, Any]], None] | None = None,
    ) -> GenerationStats:
        """Generate from ``prompt`` tokens, calling ``emit`` with each piece of text (and ``on_logprob`` with
        each token's log probabilities, when ``params.logprobs`` asks for them). Worker thread only."""
        llm = self.llm
        started = time.perf_counter()
        threads = self._adapt_threads(None)
        llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
        cached = common_prefix(llm.input_ids[: llm.n_tokens], prompt)
        decoded_before = self._evaluated
        evaluated = 0
        restored = 0
        vocab = llm._model.vocab
        is_eog = self._llama_cpp.llama_vocab_is_eog
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stopper = StopMatcher(params.stop)
        first_at: float | None = None
        last_at: float | None = None
        count = 0
        finish = "length"
        # The abort callback runs on every graph node: worth it for the prompt (seconds of work that
        # Ctrl-C must interrupt), not for single-token decode steps, where the event is checked per token.
        abort = self._abort
        assert abort is not None
        abort.arm(cancel)
        tokens = None
        self.last_prefix = None
        scoring = _Scoring(params, llm.n_vocab())
        try:
            if (switched := self._switch(prompt, cached)) is not None:
                restored, cached = switched, 0
            if self._keeps_prefix(prompt, params.prefix_tokens):
                report = self.last_prefix = self._bring_prefix(prompt[: params.prefix_tokens])
                if report.source == "disk":
                    restored, cached = report.tokens, 0
            tokens = llm.generate(
                prompt,
                top_k=params.top_k,
                top_p=params.top_p,
                min_p=params.min_p,
                temp=params.temperature,
                repeat_penalty=1.0,
                frequency_penalty=params.frequency_penalty,
                presence_penalty=params.presence_penalty,
                logits_processor=scoring.processors(),
                grammar=params.grammar,
            )
            for token in tokens:
                if params.logprobs is not None and not is_eog(vocab, token):
                    scoring.chose(token, lambda t: llm.detokenize([t]))
                    if on_logprob is not None and scoring.chosen:
                        on_logprob(scoring.chosen[-1])
                now = time.perf_counter()
                if first_at is None:
                    first_at = now
                    evaluated = self._evaluated - decoded_before
                    abort.disarm()
                last_at = now
                if is_eog(vocab, token):
                    finish = "stop"
                    break
                count += 1
                text, stopped = stopper.feed(decoder.decode(llm.detokenize([token])))
                if text:
                    emit(text)
                if stopped:
                    finish = "stop"
                    break
                if cancel.is_set():
                    finish = "cancelled"
                    break
                if count >= params.max_tokens:
                    break
                if count % _READVISE_EVERY == 0:
                    threads = self._adapt_threads(threads)
        except RuntimeError as err:
            if not cancel.is_set():
                raise BackendError(f"llama.cpp failed while generating: {err}") from None
            finish = "cancelled"
        finally:
            if tokens is not None:
                tokens.close()
            abort.disarm()
        if finish != "cancelled":
            tail = stopper.flush() + decoder.decode(b"", final=True)
            if tail:
                emit(tail)
        return GenerationStats(
            prompt_tokens=len(prompt),
            cached_tokens=cached,
            completion_tokens=count,
            finish_reason=finish,
            stop_sequence=stopper.matched,
            threads=threads,
            started_at=started,
            first_token_at=first_at,
            last_token_at=last_at,
            finished_at=time.perf_counter(),
            restored_tokens=restored,
            evaluated_tokens=evaluated or self._evaluated - decoded_before,
            logprobs=tuple(scoring.chosen),
        )

    # --- conversations' states in memory (on the worker thread) -----------------------------------------

    def _switch(self, prompt: Sequence[int], cached: int) -> int | None:
        """Before ``prompt`` overwrites the context: keep what it would push out (when that is worth it),
        and bring back a kept state that covers more of ``prompt`` than the context does. The number of
        prompt tokens restored, or None when the context stays as it is."""
        states = self.states
        if states is None:
            return None
        llm = self.llm
        held = int(llm.n_tokens)
        if held - cached >= MIN_GAIN:
            data = self._get_state()
            if data is not None:
                states.keep(llm.input_ids[:held].tolist(), bytearray(data))
        found = states.best(prompt, cached)
        if found is None:
            return None
        state, shared = found
        if not self._set_state(state.tokens, state.data):
            log.warning("llama.cpp refused a conversation's kept state: evaluating its prompt")
            return None
        return shared

    # --- prefix states (on the worker thread) ---------------------------------------------------------

    def warm(self, prefix: Sequence[int], cancel: threading.Event | None = None) -> PrefixReport:
        """Bring ``prefix``'s KV into the context (from memory, from disk, or evaluated) and, with a prefix
        store, make sure its state is on disk (waits for the file). Worker thread only."""
        abort = self._abort
        assert abort is not None
        self._adapt_threads(None)
        abort.arm(cancel or threading.Event())
        try:
            report = self._bring_prefix(prefix)
        except RuntimeError as err:
            raise BackendError(f"llama.cpp failed while evaluating a prefix: {err}") from None
        finally:
            abort.disarm()
        if self.prefixes is not None:
            self.prefixes.flush()
        return report

    def _keeps_prefix(self, prompt: Sequence[int], prefix_tokens: int) -> bool:
        """Whether ``prompt``'s first ``prefix_tokens`` go through the prefix store."""
        store = self.prefixes
        return store is not None and store.min_tokens <= prefix_tokens < len(prompt)

    def _bring_prefix(self, prefix: Sequence[int]) -> PrefixReport:
        """Make the context hold ``prefix``'s KV: kept if memory has it, else restored from the store, else
        evaluated (on top of what memory has of it) and its state handed to the store's writer."""
        llm = self.llm
        store = self.prefixes
        started = time.perf_counter()
        cached = common_prefix(llm.input_ids[: llm.n_tokens], prefix)
        if cached == len(prefix):
            return PrefixReport("memory", len(prefix), 0.0)
        identity = self.identity()
        state = store.load(identity, prefix) if store is not None else None
        if state is not None:
            if self._set_state(prefix, state):
                return PrefixReport("disk", len(prefix), time.perf_counter() - started, len(state))
            assert store is not None
            log.warning("llama.cpp refused a stored prefix state: removed, evaluating the prefix")
            store.discard(store.path_for(identity, prefix))
            cached = 0
        llm.n_tokens = cached  # eval() first drops the KV cells past this
        llm.eval(prefix[cached:])
        evaluated = time.perf_counter()
        if store is None:
            return PrefixReport("evaluated", len(prefix), evaluated - started)
        data = self._get_state()
        copied = time.perf_counter()
        if data is not None:
            store.save_later(identity, prefix, data)
        size = len(data) if data is not None else 0
        return PrefixReport("evaluated", len(prefix), evaluated - started, size, copied - evaluated)

    def _get_state(self) -> memoryview | None:
        """A copy of sequence 0's state (its KV cells), or None if llama.cpp gives none."""
        lib, ctx = self._llama_cpp, self.llm._ctx.ctx
        size = int(lib.llama_state_seq_get_size(ctx, 0))
        data = bytearray(size)
        written = int(lib.llama_state_seq_get_data(ctx, (ctypes.c_uint8 * size).from_buffer(data), size, 0))
        return memoryview(data)[:written] if written else None

    def _set_state(self, prefix: Sequence[int], state: bytearray) -> bool:
        """Restore sequence 0 from ``state`` as the KV of ``prefix``; on failure the context is left empty."""
        llm = self.llm
        buffer = (ctypes.c_uint8 * len(state)).from_buffer(state)
        if not self._llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state), 0):
            llm.n_tokens = 0
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            return False
        llm.input_ids[: len(prefix)] = prefix
        llm.n_tokens = len(prefix)
        llm._requires_eval = True  # no logits yet: generate() evaluates at least one token after it
        return True

    def _adapt_threads(self, current: int | None) -> int:
        """Give llama.cpp as many threads as there are idle cores now (changed only when it differs)."""
        threads = self.advisor.threads()
        if threads != current:
            self._llama_cpp.llama_set_n_threads(self.llm._ctx.ctx, threads, threads)
        return threads

    def batch_decoder(self, sequences: int) -> BatchDecoder:
        """The multi-sequence decoder (its own context over the same weights), made on first use."""
        if self._batch is None or self._batch.n_seq_max < sequences:
            if self._batch is not None:
                self._batch.close()
            self._batch = BatchDecoder(
                self._llama_cpp, self.llm, n_ctx=self.context_length, n_seq_max=max(4, sequences)
            )
        return self._batch

    def threads(self) -> int:
        return self.advisor.threads()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.prefixes is not None:
            self.prefixes.flush()
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        if self._llm is not None:
            with contextlib.suppress(Exception):
                self._llm.close()
            self._llm = None


class _Scoring:
    """The logits processors of one generation: a request's ``logit_bias``, and, when log probabilities
    were asked for, a look at the model's own distribution at each step (before the bias and sampling)."""

    def __init__(self, params: GenerationParams, vocabulary: int) -> None:
        self.params = params
        self.vocabulary = vocabulary
        self.bias = [(t, b) for t, b in params.logit_bias if 0 <= t < vocabulary]
        self.last: np.ndarray | None = None
        self.chosen: list[dict[str, Any]] = []

    def processors(self) -> list[Callable[[Any, Any], Any]] | None:
        found: list[Callable[[Any, Any], Any]] = []
        if self.params.logprobs is not None:
            found.append(self._look)
        if self.bias:
            found.append(self._biased)
        return found or None

    def _look(self, _ids: Any, scores: Any) -> Any:
        if len(scores) == self.vocabulary:  # the first sampler: every token, in id order
            self.last = np.array(scores, dtype=np.float32, copy=True)
        return scores

    def _biased(self, _ids: Any, scores: Any) -> Any:
        if len(scores) == self.vocabulary:
            for token, bias in self.bias:
                scores[token] += bias
        return scores

    def chose(self, token: int, piece: Callable[[int], bytes]) -> None:
        """Record ``token``'s log probability and the likeliest alternatives, from the step's logits."""
        if self.last is None:
            return
        logits = self.last.astype(np.float64)
        top = logits.max()
        logsum = top + math.log(float(np.exp(logits - top).sum()))
        n = self.params.logprobs or 0
        best = np.argpartition(-logits, n)[:n] if n else np.empty(0, np.int64)
        best = best[np.argsort(-logits[best])]
        self.chosen.append(
            {
                **_token_entry(piece(token), float(logits[token] - logsum)),
                "top_logprobs": [_token_entry(piece(int(t)), float(logits[t] - logsum)) for t in best],
            }
        )
        self.last = None


def _token_entry(raw: bytes, logprob: float) -> dict[str, Any]:
    return {"token": raw.decode("utf-8", errors="replace"), "logprob": logprob, "bytes": list(raw)}
