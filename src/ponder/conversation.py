"""The conversation runner: one turn, from whichever surface started it, in one order.

Every surface (``ponder ask``, ``ponder chat``, ``ponder listen``, ``/v1/chat/completions`` and the web page
behind it) describes a turn as a ``TurnSpec`` and hands it here; none runs a step of its own.

    Conversation.begin(spec)   the selection (mode, preset), routing once: auto's pick is the mode that runs
                               and the mode the turn is priced as; the preset (shopping: the store's tools,
                               policy and its session) applied; the mode built
    Turn.prepare(model)        identity and session (resumed or new), recall (history fitted, facts about the
                               user; ``Turn.resume``, which a surface may run earlier in a worker thread of
                               its own), then perception: images and audio as text, or images kept for a
                               vision model
    Turn.run()                 the mode's events, its ``Answer:`` scaffolding kept out of the text; a
                               structured output's schema told to the model, generated under and checked
                               (models/structured.py); then the turn stored in its session (the same rows
                               whichever surface ran it); then ``TurnDone`` with the result and the actions
                               waiting for the person
    Turn.learn()               post-turn learning: the durable facts the user stated (the surface says when:
                               the CLI at once, the server after the response)

It does not authenticate, rate-limit, hold slots, time out, render or speak a wire format: the surfaces do,
translating ``TurnEvent``s. Blocking work (the database, the store) runs through ``in_thread``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from ponder.config import Settings
from ponder.errors import BackendError, UserError
from ponder.memory.owner import DEFAULT_USER, LOCAL_ACCOUNT, Owner
from ponder.messages import Event, Message, PerceptionEvent, ResponseDone, TextDelta, TextPart
from ponder.models.base import Model, ModelSettings
from ponder.models.structured import OutputSchema, check
from ponder.modes.base import Mode
from ponder.modes.registry import ModeName, ModeOptions, PresetName, ReasoningMode, Selection, get_mode
from ponder.modes.router import route
from ponder.modes.scaffolding import AnswerPrefix, strip_answer_prefix
from ponder.perception import has_media
from ponder.turn import TurnResult

if TYPE_CHECKING:
    from ponder.commerce.shop import Shop
    from ponder.commerce.tools import Proposal
    from ponder.memory.memories import Change
    from ponder.memory.service import MemoryService, TurnMemory
    from ponder.modes.programs import ProgramSandbox
    from ponder.perception import Perception
    from ponder.tools.runner import ToolRunner

__all__ = [
    "Conversation",
    "InThread",
    "Preset",
    "Turn",
    "TurnDone",
    "TurnEvent",
    "TurnSpec",
    "mode_options",
]

InThread = Callable[..., Awaitable[Any]]  # how blocking work runs: asyncio.to_thread, or the server's turns


@dataclass(frozen=True)
class TurnSpec:
    """What a surface asks for: the turn's new messages and how to answer them."""

    messages: Sequence[Message]  # with a session: the new ones; without: the client's whole conversation
    selection: Selection = field(default_factory=lambda: Selection("auto"))
    options: ModeOptions = field(
        default_factory=ModeOptions
    )  # budget, effort, agents, prompt, tools, sandbox
    settings: ModelSettings = field(default_factory=ModelSettings)
    owner: Owner | None = None  # None: nobody's turn (ponder listen): no session, recall or learning
    session_id: str | None = None
    memory: bool = True  # recall and learning (the turn is stored all the same)
    store: str | None = None  # the account whose store a shopping turn shops in (default: the owner's)
    scope: str = ""  # perception's cache scope (the server's account)
    output: OutputSchema | None = None  # structured output: the reply is JSON under this schema


@dataclass(frozen=True)
class TurnDone:
    """The turn's last event: its result (stored, when it has a session) and what waits for the person."""

    result: TurnResult
    pending: tuple[Proposal, ...] = ()


TurnEvent = Event | TurnDone  # the mode's events (text, reasoning, agents, tools, perception), then TurnDone


def mode_options(
    settings: Settings,
    *,
    budget: int | None = None,
    effort: str | None = None,
    agents: int | None = None,
    tools: ToolRunner | None = None,
    sandbox: ProgramSandbox | None = None,
    samples: int = 1,
) -> ModeOptions:
    """The modes' options: the settings, with what one request asks for instead."""
    return ModeOptions(
        system_prompt=settings.system_prompt,
        budget=budget or settings.budget,
        effort=effort or settings.reasoning_effort,
        agents=agents or settings.agents,
        adaptive=settings.adaptive,
        tools=tools,
        sandbox=sandbox,
        samples=samples,
    )


class Conversation:
    """What turns share: the settings, memory, perception and the shop (each reached on first use; without
    ``memory``, only nobody's turns run)."""

    def __init__(
        self,
        settings: Settings,
        *,
        memory: Callable[[], MemoryService] | None = None,
        perception: Perception | None = None,
        shop: Callable[[], Shop] | None = None,
        in_thread: InThread = asyncio.to_thread,
    ) -> None:
        self.settings = settings
        self.memory = memory
        self.perception = perception
        self.shop = shop
        self.in_thread = in_thread

    def sessions(self) -> MemoryService:
        """Sessions and memory, for a turn with an owner; a surface without them runs nobody's turns only."""
        if self.memory is None:
            raise UserError("This surface stores no sessions: its turns have no owner.")
        return self.memory()

    def begin(self, spec: TurnSpec) -> Turn:
        """Route once, apply the preset and build the mode; a UserError (or the shop's NotFoundError) for a
        turn that cannot run. Blocking when a preset reads its store: run it in a worker thread."""
        requested = spec.selection.mode
        if spec.output is not None and spec.selection.preset is not None:
            raise UserError(f"Structured output is not available under the {spec.selection.preset} preset.")
        if spec.options.samples > 1 and (spec.output is not None or spec.selection.preset is not None):
            raise UserError("Several answers (n > 1) come without structured output and without a preset.")
        router: dict[str, str] | None = None
        chosen: ReasoningMode
        if requested == "auto" and spec.options.samples > 1:
            chosen, router = (
                "instant",
                {"mode": "instant", "reason": "several answers (n) are sampled in Instant"},
            )
        elif requested == "auto":
            chosen, reason = route(spec.messages)
            router = {"mode": chosen, "reason": reason}
        else:
            chosen = requested
        options, proposals = spec.options, list["Proposal"]()
        preset: Preset | None = None
        if spec.selection.preset is not None:
            preset = _PRESETS[spec.selection.preset](self, spec)
            options = preset.apply(options, proposals, spec.session_id)
            if router is not None:
                chosen, router["reason"] = preset.bias(chosen, router["reason"])
                router["mode"] = chosen
        mode = get_mode(chosen, options)
        if preset is not None:
            mode = preset.wrap(mode)
        return Turn(self, spec, mode, requested, chosen, router, proposals)


class Preset(Protocol):
    """What a preset gives a turn under any mode: tools and policy, and a bias on the router's pick."""

    def apply(self, options: ModeOptions, proposals: list[Proposal], session_id: str | None) -> ModeOptions:
        """``options`` with the preset's tools and policy; actions proposed land in ``proposals``."""
        ...

    def bias(self, mode: ReasoningMode, reason: str) -> tuple[ReasoningMode, str]:
        """The router's pick (and why) under this preset."""
        ...

    def wrap(self, mode: Mode) -> Mode:
        """The mode the turn runs under this preset (``mode`` itself, or a mode around it)."""
        ...


def _shopping(conversation: Conversation, spec: TurnSpec) -> Preset:
    """The store's tools and policy for the turn's customer (the store: ``spec.store``, or theirs)."""
    from ponder.commerce.mode import ShoppingPreset

    if conversation.shop is None:
        raise UserError("The shopping preset needs a store, and this surface has none.")
    who = spec.owner or Owner(LOCAL_ACCOUNT, DEFAULT_USER)
    writer = Owner(spec.store or who.account, who.user, who.project)
    shop, commerce = conversation.shop(), conversation.settings.commerce
    # How this store identifies the customers who write in: its own rules, else the server's setting.
    identify_by = shop.rules(writer.account).identify_by or tuple(commerce.identify_by)
    identified = None
    if identify_by and spec.session_id is not None:  # a conversation that said who it is
        identified = shop.identification.identified(writer.account, writer.user, spec.session_id)
    customer = writer if identified is None else Owner(writer.account, identified)
    return ShoppingPreset(shop, customer, commerce.assistant, writer=writer, identify_by=identify_by)


_PRESETS: dict[PresetName, Callable[[Conversation, TurnSpec], Preset]] = {"shopping": _shopping}


@dataclass
class Turn:
    """One turn in progress; made by ``Conversation.begin``."""

    conversation: Conversation
    spec: TurnSpec
    mode: Mode
    requested: ModeName  # what was asked for (auto, or a mode)
    mode_name: ReasoningMode  # what runs, and what the turn is priced as
    router: dict[str, str] | None  # auto: {"mode", "reason"}
    proposals: list[Proposal]  # a preset's actions proposed during the turn, for the person to settle
    model: Model | None = None
    memory: TurnMemory | None = None  # what memory prepared (history, recalled facts); None: nobody's turn
    messages: list[Message] = field(default_factory=list)  # what the mode runs on
    perception: list[dict[str, Any]] = field(default_factory=list)  # what perception did, per part
    perception_s: float = 0.0
    partial: str = ""  # the text the person has been shown so far
    result: TurnResult | None = None
    resumed: bool = False  # ``resume`` ran

    def resume(self) -> None:
        """Resume the session and recall (for an owner): blocking, for a surface that runs it in a worker
        thread of its own with other blocking work (``prepare`` runs it otherwise). Once only."""
        if self.resumed:
            return
        self.messages = list(self.spec.messages)
        owner, runner = self.spec.owner, self.conversation
        if owner is not None:
            context = runner.settings.context_length - self.spec.settings.max_tokens
            self.memory = runner.sessions().before_turn(
                owner, self.spec.session_id, self.messages, max(context, 0), enabled=self.spec.memory
            )
            self.messages = self.memory.messages
        self.resumed = True

    async def prepare(self, model: Model) -> None:
        """Resume the session and recall (``resume``, unless the surface did), then perceive the media; the
        turn then runs."""
        self.model = model
        runner = self.conversation
        if not self.resumed:
            await runner.in_thread(self.resume)
        perception = runner.perception
        if perception is not None and has_media(self.messages):
            started = time.perf_counter()
            self.messages, self.perception = await perception.perceive(
                self.messages, native_images=model.accepts_images, scope=self.spec.scope
            )
            self.perception_s = time.perf_counter() - started

    async def run(self) -> AsyncIterator[TurnEvent]:
        """The turn's events; it is stored before ``TurnDone``. Call ``prepare`` first."""
        assert self.model is not None, "prepare the turn first"
        for report in self.perception:
            yield PerceptionEvent(report)
        shown = AnswerPrefix()
        response = None
        messages, settings, output = self.messages, self.spec.settings, self.spec.output
        settings = replace(settings, routing_key=_routing_key(self.spec))
        if output is not None:
            messages = _told(messages, output)
            settings = replace(settings, json_schema=output.schema)
        async for event in self.mode.run(self.model, messages, settings):
            if isinstance(event, TextDelta):
                text = shown.feed(event.text)
                if text:
                    self.partial += text
                    yield TextDelta(text)
            elif isinstance(event, ResponseDone):
                response = event.response
            else:
                yield event
        if response is None:
            raise BackendError(f"{self.model.name} ended its stream without a final response")
        tail = shown.flush()
        if tail:
            self.partial += tail
            yield TextDelta(tail)
        result = TurnResult.from_response(response, self.requested)
        answered = not result.tool_calls  # a turn that ends calling the client's tools has no answer yet
        if output is not None and answered and (problem := check(result.text, output.schema)) is not None:
            raise BackendError(f"{self.model.name} did not give structured output: {problem}")
        details = dict(result.details)
        if self.router is not None:
            details["router"] = self.router
        if self.perception:
            details["perception"] = self.perception
        if self.spec.selection.preset is not None:
            details["preset"] = self.spec.selection.preset
        self.result = replace(result, text=strip_answer_prefix(result.text), details=details)
        await self._store(self.result)
        yield TurnDone(self.result, tuple(self.proposals))

    async def complete(self, on_event: Callable[[TurnEvent], None] | None = None) -> TurnResult:
        """Run the turn to its end, passing each event to ``on_event``; its result."""
        async for event in self.run():
            if on_event is not None:
                on_event(event)
        assert self.result is not None
        return self.result

    @property
    def learns(self) -> bool:
        """Whether ``learn`` may find something: a turn with memory on, and extraction configured."""
        settings = self.conversation.settings.memory
        return self.memory is not None and self.memory.enabled and settings.extract

    async def learn(self, model: Model | None = None) -> list[Change]:
        """Remember the durable facts the user stated (a model call when there may be some); ``model``: the
        one to ask (default: the turn's)."""
        if self.memory is None or not self.learns:
            return []
        model = model or self.model
        assert model is not None
        return await self.conversation.sessions().learn(self.memory, model)

    async def stated(self) -> tuple[str, str] | None:
        """What the turn states about the user, for learning it later as a durable job (memory/learning.py):
        None when there is nothing to learn (no memory, learning off, or nothing stated: most turns)."""
        if self.memory is None or not self.learns:
            return None
        return await self.conversation.sessions().stated(self.memory)

    def store_stopped(self) -> None:
        """Store what the person was shown of a turn stopped midway (marked stopped). Blocking."""
        if self.memory is None or not self.partial:
            return
        from ponder.memory.service import reply_of

        self.conversation.sessions().after_turn(
            self.memory, reply_of(self.partial), perceived=self._heard(), stopped=True, mode=self.mode_name
        )

    async def _store(self, result: TurnResult) -> None:
        if self.memory is None:
            return
        from ponder.memory.service import reply_of

        await self.conversation.in_thread(
            self.conversation.sessions().after_turn,
            self.memory,
            reply_of(result.text, result.tool_calls),
            perceived=self._heard(),
            mode=self.mode_name,
            model=result.model,
            usage=result.to_dict()["usage"],
        )
        result.details["memory"] = self.memory.report()

    def _heard(self) -> list[Message] | None:
        """The turn's new messages as perceived (media as text), for storing; None when nothing was."""
        assert self.memory is not None
        count = len(self.memory.new)
        if not self.perception or not count:
            return None
        return self.messages[len(self.messages) - count :]


def _routing_key(spec: TurnSpec) -> str:
    """A stable key of the turn's conversation, the same for every turn of a session (and every sub-agent
    of a turn), for an engine router that keeps a conversation on one engine: a hash, so nothing of who the
    person is reaches the engine's infrastructure. "" for a turn without a session or owner."""
    if spec.owner is None or spec.session_id is None:
        return ""
    owner = spec.owner
    return hashlib.sha256(f"{owner.account}\x00{owner.user}\x00{spec.session_id}".encode()).hexdigest()[:32]


def _told(messages: list[Message], output: OutputSchema) -> list[Message]:
    """``messages`` with the structured output's instruction after the last user message's text (the
    system prompt stays the mode's or the client's; what is stored stays as the person wrote it)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            last = messages[i]
            told = replace(last, parts=(*last.parts, TextPart(f"\n\n{output.instruction()}")))
            return [*messages[:i], told, *messages[i + 1 :]]
    return messages
