"""Several sequences decoded together in one llama.cpp batch, over a shared prompt prefix.

CPU decoding is bound by memory bandwidth: every step reads all the weights once, whether it computes one
sequence's next token or four. So the sub-agents of a Contemplating turn decode as rows of one batch:

1. the shared prefix is evaluated once, on sequence 0;
2. it is copied to sequences 1..N-1 with ``llama_memory_seq_cp`` (with a unified KV cache the copy only
   tags the existing cells with more sequence ids: no recomputation, no extra memory);
3. every sequence's own suffix (its angle on the problem) is evaluated in one batch;
4. then each step samples one token per live sequence (llama.cpp's C sampler chain, one per sequence, reading
   that sequence's logits row without copying the vocabulary-sized row into Python) and decodes all of them
   with a single ``llama_decode``.

A sequence ends on an end-of-generation token, a stop sequence, its own token budget, or when the caller
asks (``halt``, e.g. once the others already agree); the batch shrinks as sequences end.

This class runs on the engine's worker thread only; it owns its own context (created with ``n_seq_max`` and
``kv_unified``), separate from the single-sequence context that Instant mode uses, sharing the same weights.
"""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.errors import BackendError, ContextLengthError
from ponder.models.embedded.abort import AbortSwitch
from ponder.models.embedded.stops import StopMatcher

__all__ = ["BatchDecoder", "SequenceRequest", "SequenceResult"]


@dataclass(frozen=True)
class SequenceRequest:
    suffix: tuple[int, ...]  # tokens after the shared prefix; may be empty
    max_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    seed: int = 0
    stop: tuple[str, ...] = ()
    # Thought compression inside the batch: when max_tokens is spent without an end, these tokens (whose
    # text is ``closer_text``) are fed to the sequence, which then gets ``after_close`` more tokens.
    closer: tuple[int, ...] = ()
    closer_text: str = ""
    after_close: int = 0


@dataclass
class SequenceResult:
    text: str = ""
    completion_tokens: int = 0
    finish_reason: str = "length"  # "stop" | "length" | "cancelled"
    stop_sequence: str | None = None  # the stop sequence that ended it, if one did
    first_token_at: float | None = None
    last_token_at: float | None = None


@dataclass
class _Live:
    """A sequence still decoding."""

    seq: int
    request: SequenceRequest
    sampler: Any
    pos: int  # position of the next token in this sequence
    row: int  # batch row holding this sequence's latest logits
    limit: int  # completion tokens allowed (grows by after_close once the closer is fed)
    closed: bool = False  # the closer has been fed
    result: SequenceResult = field(default_factory=SequenceResult)
    stopper: StopMatcher = field(default_factory=lambda: StopMatcher(()))
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))


class BatchDecoder:
    def __init__(self, llama_cpp: Any, llm: Any, *, n_ctx: int, n_seq_max: int, n_batch: int = 512) -> None:
        self._lib = llama_cpp
        self._llm = llm
        self._vocab = llm._model.vocab
        self.n_ctx = n_ctx
        self.n_seq_max = n_seq_max
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = n_seq_max
        params.kv_unified = True
        self._ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not self._ctx:
            raise BackendError(f"llama.cpp could not create a {n_seq_max}-sequence context of {n_ctx} tokens")
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, n_seq_max)
        self._piece = ctypes.create_string_buffer(256)
        self._abort = AbortSwitch(llama_cpp, self._ctx)

    def close(self) -> None:
        if self._ctx:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None

    # --- the batch buffer -----------------------------------------------------------------------------

    def _fill(self, rows: Sequence[tuple[int, int, int, bool]]) -> None:
        """Put ``(token, pos, seq, wants_logits)`` rows into the batch buffer."""
        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(rows)

    def _decode(self, rows: Sequence[tuple[int, int, int, bool]]) -> None:
        self._fill(rows)
        code = self._lib.llama_decode(self._ctx, self._batch)
        if code != 0:
            if self._abort.cancelled:
                raise _Cancelled
            raise BackendError(f"llama.cpp failed to decode a batch (code {code})")

    def _evaluate(self, rows: list[tuple[int, int, int, bool]]) -> dict[int, int]:
        """Evaluate rows in chunks of n_batch; return seq -> row index (in the last chunk) of its logits."""
        where: dict[int, int] = {}
        for start in range(0, len(rows), self.n_batch):
            chunk = rows[start : start + self.n_batch]
            self._decode(chunk)
            where = {seq: i for i, (_t, _p, seq, logits) in enumerate(chunk) if logits} or where
        return where

    # --- sampling ---------------------------------------------------------------------------------------

    def _sampler(self, request: SequenceRequest) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if request.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(request.top_k))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(request.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(request.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(request.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(request.seed & 0xFFFFFFFF))
        return chain

    def _text(self, token: int) -> bytes:
        n = self._lib.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, False)
        return self._piece.raw[:n] if n > 0 else b""

    # --- generation -------------------------------------------------------------------------------------

    def generate(
        self,
        prefix: Sequence[int],
        requests: Sequence[SequenceRequest],
        *,
        threads: int,
        cancel: threading.Event,
        emit: Callable[[int, str], None],
        halt: Callable[[int], bool] = lambda _seq: False,
        on_finish: Callable[[int, SequenceResult], None] = lambda _seq, _result: None,
    ) -> list[SequenceResult]:
        """Decode ``requests`` together after ``prefix``; ``emit(i, text)`` streams sequence i's text.

        ``halt(i)`` is asked after every step: True ends sequence i early ("cancelled"). ``on_finish`` is
        called as each sequence ends, so the caller can decide to halt the others.
        """
        lib = self._lib
        n = len(requests)
        if not 1 <= n <= self.n_seq_max:
            raise ValueError(f"between 1 and {self.n_seq_max} sequences, not {n}")
        need = len(prefix) + sum(
            len(r.suffix) + r.max_tokens + len(r.closer) + r.after_close for r in requests
        )
        if need > self.n_ctx:
            raise ContextLengthError(
                f"{n} sequences need {need} tokens of context (a {len(prefix)}-token shared prompt, their "
                f"own prompts and answer budgets) but the batch context holds {self.n_ctx}: lower the "
                "per-agent budget or the number of agents, or raise context_length.",
                prompt_tokens=len(prefix),
                max_tokens=need - len(prefix),
                context_length=self.n_ctx,
            )
        lib.llama_set_n_threads(self._ctx, threads, threads)
        lib.llama_memory_clear(self._mem, True)
        live: list[_Live] = []
        results: list[SequenceResult] = []
        self._abort.arm(cancel)
        try:
            live = self._prefill(prefix, requests)
            results = [state.result for state in live]
            self._abort.disarm()
            while live:
                next_rows: list[tuple[int, int, int, bool]] = []
                for state in list(live):
                    token = lib.llama_sampler_sample(state.sampler, self._ctx, state.row)
                    done = self._advance(state, token, emit)
                    if (
                        done
                        and state.result.finish_reason == "length"
                        and self._close(state, token, next_rows, emit)
                    ):
                        continue
                    if done or cancel.is_set() or halt(state.seq):
                        if state.result.finish_reason == "length" and (cancel.is_set() or halt(state.seq)):
                            state.result.finish_reason = "cancelled"
                        live.remove(state)
                        self._end(state, emit, on_finish)
                        continue
                    state.row = len(next_rows)
                    next_rows.append((token, state.pos, state.seq, True))
                    state.pos += 1
                if next_rows:
                    self._decode(next_rows)
        except _Cancelled:
            for state in live:
                state.result.finish_reason = "cancelled"
                self._end(state, emit, on_finish)
        finally:
            self._abort.disarm()
            for state in live:
                self._free_sampler(state)
        return results

    def _close(
        self,
        state: _Live,
        token: int,
        rows: list[tuple[int, int, int, bool]],
        emit: Callable[[int, str], None],
    ) -> bool:
        """Feed the sequence its closer after the budget-reaching token; False when it has none (left)."""
        request = state.request
        if state.closed or not request.closer:
            return False
        state.closed = True
        state.limit = state.result.completion_tokens + request.after_close
        text = state.stopper.flush() + request.closer_text
        state.result.text += text
        emit(state.seq, text)
        feed = [token, *request.closer]
        for offset, tok in enumerate(feed):
            rows.append((tok, state.pos + offset, state.seq, offset == len(feed) - 1))
        state.row = len(rows) - 1
        state.pos += len(feed)
        return True

    def _free_sampler(self, state: _Live) -> None:
        if state.sampler is not None:
            self._lib.llama_sampler_free(state.sampler)
            state.sampler = None

    def _prefill(self, prefix: Sequence[int], requests: Sequence[SequenceRequest]) -> list[_Live]:
        lib = self._lib
        any_suffix = any(r.suffix for r in requests)
        rows = [(tok, pos, 0, not any_suffix and pos == len(prefix) - 1) for pos, tok in enumerate(prefix)]
        prefix_row = self._evaluate(rows).get(0, -1) if rows else -1
        for seq in range(1, len(requests)):
            lib.llama_memory_seq_cp(self._mem, 0, seq, -1, -1)
        # Each sequence's own tokens; the last one of each goes in a final batch of its own, because only
        # the last decode's logits survive and long suffixes (a sub-agent's tool results) span chunks.
        body: list[tuple[int, int, int, bool]] = []
        last: list[tuple[int, int, int, bool]] = []
        for seq, request in enumerate(requests):
            for offset, tok in enumerate(request.suffix):
                final = offset == len(request.suffix) - 1
                (last if final else body).append((tok, len(prefix) + offset, seq, final))
        if body:
            self._evaluate(body)
        where = self._evaluate(last) if last else {}
        live = []
        for seq, request in enumerate(requests):
            row = where.get(seq, prefix_row)
            if row < 0:
                raise BackendError(
                    "nothing to generate from: the prompt and the sequence's own prompt are empty"
                )
            pos = len(prefix) + len(request.suffix)
            state = _Live(seq, request, self._sampler(request), pos, row, limit=request.max_tokens)
            state.stopper = StopMatcher(request.stop)
            live.append(state)
        return live

    def _advance(self, state: _Live, token: int, emit: Callable[[int, str], None]) -> bool:
        """Take one sampled token; True when the sequence is finished."""
        result = state.result
        now = time.perf_counter()
        if result.first_token_at is None:
            result.first_token_at = now
        result.last_token_at = now
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            result.finish_reason = "stop"
            return True
        result.completion_tokens += 1
        text, stopped = state.stopper.feed(state.decoder.decode(self._text(token)))
        if text:
            result.text += text
            emit(state.seq, text)
        if stopped:
            result.finish_reason = "stop"
            result.stop_sequence = state.stopper.matched
            return True
        return result.completion_tokens >= state.limit

    def _end(
        self, state: _Live, emit: Callable[[int, str], None], on_finish: Callable[[int, SequenceResult], None]
    ) -> None:
        if state.result.finish_reason != "cancelled":
            tail = state.stopper.flush() + state.decoder.decode(b"", final=True)
            if tail:
                state.result.text += tail
                emit(state.seq, tail)
        # Free this sequence's cells and sampler now: the others keep decoding in a smaller batch.
        self._lib.llama_memory_seq_rm(self._mem, state.seq, -1, -1)
        self._free_sampler(state)
        on_finish(state.seq, state.result)


class _Cancelled(Exception):
    """llama.cpp's abort callback stopped a decode because the caller cancelled."""
