"""Running turns from the terminal: streaming answers to stdout, and Ctrl-C that stops decoding at once.

A turn is the conversation runner's (``ponder.conversation``: session, recall, perception, routing, the
mode and its preset, storing, learning); ``TerminalSession`` holds what the terminal keeps across turns (the
model, the tools and the program sandbox, the database) and only translates the runner's events into
rendering, its pending actions into prompts, and Ctrl-C into a stopped turn.

Each turn runs on a long-lived ``asyncio.Runner``: on Ctrl-C the runner cancels the turn's task, the
cancellation travels down to the model (the embedded engine stops between tokens, or inside llama.cpp
during the prompt), and ``KeyboardInterrupt`` comes back here once the engine has stopped; the runner's turn
then stores what the person was shown, marked stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ponder.config import Settings
from ponder.conversation import Conversation, Turn, TurnEvent, TurnSpec, mode_options
from ponder.errors import PaymentProviderError, SandboxUnavailableError, UserError
from ponder.memory.owner import Owner
from ponder.messages import (
    AgentEvent,
    Message,
    PerceptionEvent,
    ReasoningDelta,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from ponder.models.base import Model, ModelSettings
from ponder.modes.registry import Selection, select
from ponder.tools.loading import load_toolsets
from ponder.tools.runner import ToolRunner
from ponder.tools.toolset import Toolset
from ponder.turn import TurnResult

if TYPE_CHECKING:
    from ponder.commerce.shop import Shop
    from ponder.commerce.tools import Proposal
    from ponder.memory.memories import Change
    from ponder.memory.service import MemoryService
    from ponder.sandbox.lazy import LazySandbox

from .context import CliContext
from .render import (
    AssemblyProgress,
    err_console,
    print_agent,
    print_error,
    print_perception,
    print_proposal,
    print_tool_event,
    usage_line,
    write_json,
    write_stdout,
)
from .sanitize import ControlFilter, plain

__all__ = ["TerminalSession"]


T = TypeVar("T")


async def _inline(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The terminal's blocking work (its database) runs where the turn runs: one person, one turn."""
    return work(*args, **kwargs)


def _program_sandbox(settings: Settings, selection: Selection) -> LazySandbox | None:
    """The session's one jail pool, shared by Contemplating's program agents and the python tool (None where
    programs are off or the mode runs none). It starts with the first program, so auto turns routed
    elsewhere never wait for it. A preset's turns (shopping: never Contemplating) run none."""
    if not settings.programs or selection.preset is not None:
        return None
    if selection.mode not in ("contemplating", "auto"):
        return None
    from ponder.sandbox.lazy import LazySandbox

    return LazySandbox(
        pool_size=settings.sandbox.pool_size, wait_s=settings.sandbox.wait_s, on_unavailable=_programs_off
    )


def _programs_off(err: SandboxUnavailableError) -> None:
    err_console.print(f"note: program agents are off: {err}", style="dim", markup=False)


class TerminalSession:
    """One model, one mode (or auto) and its preset, used for one or more turns; a context manager."""

    def __init__(
        self, obj: CliContext, settings: Settings, *, stream: bool, show_thinking: bool = False
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.show_thinking = show_thinking
        self.selection = select(settings.mode, settings.preset)
        self._runner = asyncio.Runner()
        self.toolsets: list[Toolset] = []
        self.sandbox: LazySandbox | None = None
        self.proposals: list[Proposal] = []  # a preset's actions proposed in the current turn
        self._shop: Shop | None = None
        self._obj = obj
        self._memory: MemoryService | None = None
        try:
            self.sandbox = _program_sandbox(settings, self.selection)
            if self.sandbox is not None and self.selection.mode == "contemplating":
                try:  # every turn runs program agents: start now (without a jail, agents reason in words)
                    self._runner.run(self.sandbox.start())
                except SandboxUnavailableError:  # on_unavailable said why
                    self.sandbox = None
            self.toolsets = load_toolsets(settings.tools, settings, sandbox=self.sandbox)
            tools = self._runner.run(ToolRunner.from_toolsets(self.toolsets)) if self.toolsets else None
        except BaseException:  # a tool source that cannot start: release what did, then report it
            self._close_toolsets()
            self._runner.close()
            raise
        from ponder.perception import Perception  # engines load on the first image or clip, not here

        self.options = mode_options(settings, tools=tools, sandbox=self.sandbox)
        self.conversation = Conversation(
            settings,
            memory=lambda: self.memory,
            perception=obj.perception or Perception(settings.perception, settings.models_dir),
            shop=lambda: self.shop,
            in_thread=_inline,
        )
        self._progress = AssemblyProgress()
        self.model: Model = obj.model_factory(settings.model, settings, self._progress)
        self._answer_filter = ControlFilter()  # per stream: a sequence may be split across deltas
        self._reasoning_filter = ControlFilter()
        self._thinking_shown = False  # reasoning was printed and the answer has not started yet

    def __enter__(self) -> TerminalSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.close()
        # Closing must not hide the error that brought us here.
        with contextlib.suppress(Exception, KeyboardInterrupt):
            self._runner.run(self.model.aclose())
        self._close_toolsets()
        self._runner.close()
        if self._memory is not None:
            self._memory.db.close()

    @property
    def memory(self) -> MemoryService:
        """Sessions and memory, opened on first use (the database, and the embedding model when recalling)."""
        if self._memory is None:
            from ponder.memory.service import MemoryService
            from ponder.store import open_database

            self._memory = MemoryService(
                open_database(self.settings.database), self.settings.memory, self._obj.embedder
            )
        return self._memory

    @property
    def shop(self) -> Shop:
        """The store of ``commerce.account``, on this session's database (opened on first use)."""
        if self._shop is None:
            from ponder.commerce.mode import open_shop
            from ponder.memory.embeddings import E5Embedder

            self._shop = open_shop(self.settings, self.memory.db, self._obj.embedder or E5Embedder())
        return self._shop

    def run(
        self,
        messages: Sequence[Message],
        model_settings: ModelSettings,
        *,
        owner: Owner | None = None,
        session_id: str | None = None,
    ) -> Turn:
        """Run one turn through the conversation runner (stored in ``session_id`` for ``owner``; no owner:
        nobody's turn, nothing stored). On Ctrl-C what was shown is stored (marked stopped), then
        KeyboardInterrupt propagates once the engine has stopped."""
        spec = TurnSpec(
            messages,
            self.selection,
            self.options,
            model_settings,
            owner=owner,
            session_id=session_id,
            store=self.settings.commerce.account,
        )
        self._answer_filter.reset()
        self._reasoning_filter.reset()
        turn = self.conversation.begin(spec)
        self.proposals = turn.proposals
        try:
            self._runner.run(turn.prepare(self.model))
            self._runner.run(turn.complete(self._on_event))
        except KeyboardInterrupt:
            turn.store_stopped()
            raise
        return turn

    def learn(self, turn: Turn) -> list[Change]:
        """Remember the durable facts the user stated in the turn (one model call when there may be some)."""
        return self._runner.run(turn.learn())

    def settle_proposals(self, *, ask: bool) -> list[dict[str, object]]:
        """Put the turn's proposed actions before the person: a yes/no prompt each (``ask``), or the command
        that confirms it. The model never sees what is printed here. Returns them as JSON (token included:
        for the person's client)."""
        from ponder.commerce.actions import money

        settled: list[dict[str, object]] = []
        for proposal in self.proposals:
            action, token, owner = proposal.action, proposal.token, proposal.owner
            print_proposal(action.summary, action.assistant_note)
            if proposal.held:  # a customer identified in the conversation decides in their own app
                err_console.print(
                    f"held for {owner.user}'s own confirmation: ponder shop pending --user {owner.user}",
                    style="dim",
                    markup=False,
                )
                settled.append(self.shop.actions.get(owner, action.id).to_dict())
                continue
            if ask:
                import click

                if click.confirm("Do it", default=False, err=True):
                    try:
                        done = self.shop.actions.confirm(owner, action.id, token)
                    except (UserError, PaymentProviderError) as error:
                        print_error(f"not done: {error}")
                    else:
                        what = done.result or {}
                        order = what.get("id", action.target)
                        err_console.print(
                            plain(
                                f"done: {action.kind.replace('_', ' ')} · order {order} · "
                                f"{what.get('status', '')} · {money(action.amount, action.currency)}"
                            ),
                            markup=False,
                        )
                else:
                    self.shop.actions.decline(owner, action.id, token)
                    err_console.print("declined: nothing was done.", style="dim")
            else:
                err_console.print(
                    f"to confirm it: ponder shop confirm {action.id} --token {token} --user {owner.user}",
                    style="dim",
                    markup=False,
                )
            settled.append(self.shop.actions.get(owner, action.id).to_dict() | {"token": token})
        self.proposals.clear()
        return settled

    def _close_toolsets(self) -> None:
        if self.sandbox is not None:
            with contextlib.suppress(Exception, KeyboardInterrupt):
                self._runner.run(self.sandbox.aclose())
        for toolset in self.toolsets:
            with contextlib.suppress(Exception, KeyboardInterrupt):
                self._runner.run(toolset.aclose())

    def _on_event(self, event: TurnEvent) -> None:
        self._progress.close()
        if isinstance(event, TextDelta):
            if self._thinking_shown:  # the reasoning is over: the answer starts on its own line
                err_console.out("")
                self._thinking_shown = False
            if self.stream:
                write_stdout(self._answer_filter.feed(event.text))
        elif isinstance(event, ReasoningDelta):
            if self.stream and self.show_thinking:
                text = self._reasoning_filter.feed(event.text)
                err_console.out(text, style="dim", end="", highlight=False)
                self._thinking_shown = True
        elif isinstance(event, AgentEvent) and self.stream:
            print_agent(event)
        elif isinstance(event, PerceptionEvent) and self.stream:
            print_perception(event)
        elif isinstance(event, ToolCallEvent | ToolResultEvent) and self.stream:
            if self._thinking_shown:
                err_console.out("")
                self._thinking_shown = False
            print_tool_event(event)

    def print_result(self, result: TurnResult, *, as_json: bool, stats: bool) -> None:
        if as_json:
            data = result.to_dict(reasoning=self.show_thinking)
            write_json(data)
            return
        write_stdout("\n")
        if stats:
            err_console.print(usage_line(result), style="dim", markup=False)
