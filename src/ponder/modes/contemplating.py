"""Contemplating mode: N sub-agents attempt the problem at once, and the result is merged.

* **Plan.** Every agent is a Thinking agent (the Thinking prompt: reason inside ``<think>``, then answer).
  The first one reasons as Thinking would; the planner gives each other agent an angle
  (prompts/contemplating_angles.txt) that opens its reasoning, so the attempts differ in approach. The
  conversation itself is the shared prefix, so on the embedded engine its KV cache is computed once.
* **Programs.** Given a sandbox, the first agent instead solves the problem by writing a Python program
  (programs.py): the sandbox runs it and its last printed line is its vote. The second is plain Thinking;
  agreement between a computed and a reasoned answer is strong evidence, so with ``adaptive`` that pair
  settles most questions alone. Further agents alternate angled Thinking and sampled programs.
* **Budget.** Each agent has its own token budget for reasoning and answer together; an agent that spends
  it is compressed like Thinking ("time is up", ``</think>``, ``Answer:``) and gets a few tokens to commit.
* **Run.** ``Model.stream_many`` runs the agents together: one llama.cpp batch on the embedded engine,
  concurrent requests on an OpenAI-compatible server. Each agent has its own token budget and seed.
* **Stop early.** As soon as one answer holds a strict majority of all agents, the rest are halted: they
  cannot change the outcome, and on a CPU every extra token in the batch costs. With ``adaptive=True`` the
  agents run in two rounds: a first pair, and the rest only if the pair does not agree, so easy questions
  cost a two-row batch and hard ones get every agent.
* **Diversity.** The first agent (the first two, with programs) decodes at the caller's temperature
  (greedy at 0: the model's most likely solution); the others sample at 0.6 or more, each with its own
  seed and angle.
* **Merge.** Where answers are checkable (a number, a boxed or "Answer:" line), the majority wins and its
  agent's solution is the reply: voting, not rewriting; a tie goes to the answer given first, so the first
  agent's. Otherwise one more pass writes a synthesis of the
  drafts. A failed agent is reported and the merge goes on with the others.
* **Structured output.** Agents reason freely; the vote is on the JSON values their answers hold (parsed and
  validated against the schema, compared with keys sorted), and the winning value is the reply. Without a
  winner the synthesis pass writes it, under the schema.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ponder.errors import BackendError
from ponder.messages import (
    AgentEvent,
    Event,
    Message,
    ModelResponse,
    ReasoningPart,
    ResponseDone,
    TextDelta,
    TextPart,
    ToolCallEvent,
    Usage,
)
from ponder.models.base import Branch, Model, ModelSettings
from ponder.models.structured import canonical, parsed
from ponder.modes.acting import Acting, sum_usage
from ponder.modes.answers import Vote, final_answer, vote
from ponder.modes.base import Mode, with_system
from ponder.modes.budgets import check_agents, reasoning_budget
from ponder.modes.programs import FENCE_END, ProgramSandbox, program_opening, run_program
from ponder.modes.thinking import CLOSE, OPEN
from ponder.prompts import load_prompt
from ponder.tools.runner import ToolRunner

__all__ = ["ContemplatingMode", "Plan", "plan_agents"]

DEFAULT_AGENT_BUDGET = 384  # per agent, reasoning and answer: most of the 1.5B GSM8K reasoning fits
_PROGRESS_EVERY = 32  # tokens between two progress events of an agent
_FIRST_WAVE = 2  # adaptive: agents in the first round
_AFTER_CLOSE = 16  # tokens an agent gets to state its answer once its budget is spent
_MIN_AGENT_TEMPERATURE = 0.6  # independent attempts need some diversity even when the caller asks for 0


def _unanimous(agents: Sequence[_Agent]) -> bool:
    """Every one of them committed to the same answer (and there are at least two)."""
    answers = {a.answer for a in agents}
    return len(agents) >= _FIRST_WAVE and len(answers) == 1 and None not in answers


def _take(
    agent: _Agent, index: int, error: BaseException | None, event: Event | None, settled: threading.Event
) -> Event | None:
    """Fold one branch event into its agent; the event to report (progress, a tool call), if any."""
    if error is not None:
        agent.status, agent.error = "failed", f"{type(error).__name__}: {error}"
        return AgentEvent(index, "failed", agent.tokens, detail=agent.error)
    if isinstance(event, TextDelta):
        if CLOSE in agent.text:
            agent.answer_tokens += 1
        agent.text += event.text
        agent.tokens += 1
        return AgentEvent(index, "progress", agent.tokens) if agent.tokens % _PROGRESS_EVERY == 0 else None
    if isinstance(event, ToolCallEvent):
        return ToolCallEvent(event.call, agent=index)
    if isinstance(event, ResponseDone):
        agent.usages.append(event.response.usage)
        agent.text = agent.earlier + event.response.message.text
        if agent.acting.wants_tools(event.response):
            agent.calling = event.response
            return None
        agent.response = replace(event.response, usage=sum_usage(*agent.usages))
        halted = settled.is_set() and event.response.finish_reason == "cancelled"
        agent.answer = None if halted else final_answer(agent.text)  # a cut-off draft does not vote
        status: Literal["halted", "finished"] = "halted" if halted else "finished"
        agent.status = status
        return AgentEvent(index, status, event.response.usage.completion_tokens, agent.answer)
    return None


@dataclass(frozen=True)
class Plan:
    """One line of work: how an agent attacks the problem."""

    kind: Literal["think", "program"]
    angle: str  # the opening of its reasoning ("" for plain Thinking)
    greedy: bool  # decodes at the caller's temperature; the others sample at 0.6 or more


def plan_agents(agents: int, programs: bool = False) -> list[Plan]:
    """The agents' plans. Without programs: plain Thinking first, then Thinking from the angles in
    prompts/contemplating_angles.txt. With programs: a program and plain Thinking first (the two most
    likely solutions by two different methods), then alternately angled Thinking and sampled programs."""
    angles = [line for line in load_prompt("contemplating_angles").splitlines() if line.strip()]
    if not programs:
        return [
            Plan("think", "", True),
            *(Plan("think", angles[i % len(angles)], False) for i in range(agents - 1)),
        ]
    plans = [Plan("program", program_opening(), True), Plan("think", "", True)]
    for i in range(agents - 2):
        plans.append(
            Plan("think", angles[(i // 2) % len(angles)], False)
            if i % 2 == 0
            else Plan("program", program_opening(), False)
        )
    return plans[:agents]


def reply_of(text: str) -> str:
    """An agent's answer: what follows its closed reasoning (all of it when it never opened any)."""
    _, closed, answer = text.rpartition(CLOSE)
    return answer.strip() if closed else text.strip()


@dataclass
class _Agent:
    plan: Plan
    text: str = ""
    tokens: int = 0
    answer_tokens: int = 0  # tokens after its reasoning closed (streamed deltas)
    answer: str | None = None
    status: str = "running"  # running | finished | halted | failed | skipped
    response: ModelResponse | None = None  # its final response (usage summed over its tool rounds)
    error: str = ""
    acting: Acting = field(default_factory=lambda: Acting(None))  # its own tool calls and results
    calling: ModelResponse | None = None  # a response that ended in tool calls, not yet run
    earlier: str = ""  # its text from rounds before the current one (reasoning, then tool calls and results)
    usages: list[Usage] = field(default_factory=list)  # one per model pass

    @property
    def spent(self) -> int:
        return sum(u.completion_tokens for u in self.usages)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.plan.kind,
            "angle": self.plan.angle.strip() or "(none: plain Thinking)",
            "status": self.status,
            "tokens": self.response.usage.completion_tokens if self.response else self.tokens,
            "answer": self.answer,
            **({"error": self.error} if self.error else {}),
            **({"tools": self.acting.log} if self.acting.log else {}),
        }


class ContemplatingMode(Mode):
    name = "contemplating"

    def __init__(
        self,
        system_prompt: str | None = None,
        *,
        agents: int = 4,
        budget: int | None = None,
        effort: str | None = None,
        adaptive: bool = False,
        tools: ToolRunner | None = None,
        sandbox: ProgramSandbox | None = None,
    ) -> None:
        super().__init__(system_prompt, tools=tools)
        self.sandbox = sandbox  # given: some agents solve by writing a program that runs in it
        self.agents = check_agents(agents)
        self.adaptive = adaptive  # run a first pair, and the rest only if the pair disagrees
        self.budget = reasoning_budget(budget, effort, default=DEFAULT_AGENT_BUDGET)  # per agent

    async def run(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> AsyncIterator[Event]:
        conversation = with_system(messages, self.system("thinking"))
        plans = plan_agents(self.agents, programs=self.sandbox is not None)
        agents = [_Agent(plan, acting=Acting(self.tools if plan.kind == "think" else None)) for plan in plans]
        branches = [self._first_branch(plan, i, settings) for i, plan in enumerate(plans)]
        settled = threading.Event()  # a strict majority agrees: the rest may stop (read by the engine thread)
        for wave in self._waves():
            if settled.is_set() or (wave[0] > 0 and _unanimous(agents[: wave[0]])):
                for i in wave:
                    agents[i].status = "skipped"
                    yield AgentEvent(i, "halted", detail="not needed: the first agents already agree")
                continue
            for i in wave:
                yield AgentEvent(i, "started", detail=agents[i].plan.angle.strip() or "plain Thinking")
            pending = wave
            while pending:  # a round: the pending agents decode together; those that call tools go again
                rounds = [self._next_branch(branches[i], agents[i]) for i in pending]
                async for event in self._run_round(model, conversation, rounds, agents, pending, settled):
                    yield event
                pending = [i for i in pending if agents[i].calling is not None]
                async for event in self._act(agents, pending, settled):
                    yield event
        async for event in self._merge(model, conversation, settings, agents):
            yield event

    def _first_branch(self, plan: Plan, index: int, settings: ModelSettings) -> Branch:
        temperature = (
            settings.temperature if plan.greedy else max(settings.temperature, _MIN_AGENT_TEMPERATURE)
        )
        seed = (settings.seed if settings.seed is not None else 0) + 1000 * index + 1
        if plan.kind == "program":  # the code fence's end stops it; a cut-off program just fails
            program = replace(
                settings,
                max_tokens=self.budget,
                temperature=temperature,
                seed=seed,
                stop=(FENCE_END,),
                assistant_prefix=OPEN + plan.angle,
                json_schema=None,
            )
            return Branch(program)
        return Branch(
            closer=f"{load_prompt('thinking_compress')}\n{CLOSE}\n\nAnswer:",
            after_close=_AFTER_CLOSE,
            settings=replace(
                settings,
                max_tokens=self.budget,
                temperature=temperature,
                seed=seed,
                assistant_prefix=OPEN + (f"{plan.angle}\n" if plan.angle else ""),
                json_schema=None,  # agents reason freely; their JSON answers are parsed and voted on
            ),
        )

    def _next_branch(self, first: Branch, agent: _Agent) -> Branch:
        """The agent's branch for its next round: the first, or a continuation after its tool results."""
        if not agent.acting.history:
            return replace(first, settings=agent.acting.settings(first.settings))
        settings = replace(
            first.settings, max_tokens=max(1, self.budget - agent.spent), assistant_prefix=OPEN
        )
        return replace(first, settings=agent.acting.settings(settings), history=tuple(agent.acting.history))

    async def _act(
        self, agents: list[_Agent], pending: list[int], settled: threading.Event
    ) -> AsyncIterator[Event]:
        """Run the tool calls of the ``pending`` agents, all at once; each reads only its own results."""
        if settled.is_set():  # a majority already agrees: their calls cannot change the outcome
            for i in pending:
                agents[i].calling, agents[i].status = None, "halted"
            pending.clear()
            return

        async def act(i: int) -> list[Event]:
            agent = agents[i]
            assert agent.calling is not None
            angle = agent.plan.angle
            prefix = OPEN + (f"{angle}\n" if angle and len(agent.usages) == 1 else "")
            return [event async for event in agent.acting.act(agent.calling, prefix=prefix, agent=i)]

        for events in await asyncio.gather(*(act(i) for i in pending)):
            for event in events:
                yield event
        for i in pending:
            agent = agents[i]
            assert agent.calling is not None
            done = agent.acting.log[-len(agent.calling.message.tool_calls) :]
            agent.earlier = agent.text + "".join(
                f"\n[{t['name']}({t['arguments']}) -> {t['result']}]" for t in done
            )
            agent.text = agent.earlier + "\n"
            agent.earlier = agent.text
            agent.calling = None

    async def _run_round(
        self,
        model: Model,
        conversation: list[Message],
        branches: list[Branch],
        agents: list[_Agent],
        indices: list[int],
        settled: threading.Event,
    ) -> AsyncIterator[Event]:
        """Run one round of the agents ``indices`` together; sets ``settled`` on a majority."""

        def halt(_index: int) -> bool:  # asked by the engine thread after every step
            return settled.is_set()

        async for item in model.stream_many(conversation, branches, halt):
            index = indices[item.index]
            agent = agents[index]
            if agent.plan.kind == "program" and isinstance(item.event, ResponseDone):
                yield await self._execute(agent, index, item.event.response, settled)
            else:
                event = _take(agent, index, item.error, item.event, settled)
                if event is not None:
                    yield event
            if vote([a.answer for a in agents], len(agents)).majority:
                settled.set()

    async def _execute(
        self, agent: _Agent, index: int, response: ModelResponse, settled: threading.Event
    ) -> AgentEvent:
        """Run a program agent's program in the sandbox; its output decides the agent's answer."""
        assert self.sandbox is not None
        agent.usages.append(response.usage)
        agent.response = response
        if settled.is_set():  # a majority already agrees: the program cannot change the outcome
            agent.status = "halted"
            return AgentEvent(index, "halted", response.usage.completion_tokens)
        try:
            agent.answer, agent.text = await run_program(self.sandbox, response.message.text)
        except Exception as err:  # the sandbox itself failed: this agent has no answer, the rest go on
            agent.status, agent.error = "failed", f"the sandbox failed: {type(err).__name__}: {err}"
            return AgentEvent(index, "failed", response.usage.completion_tokens, detail=agent.error)
        agent.answer_tokens = response.usage.completion_tokens  # the program is the reply, if it wins
        agent.status = "finished"
        return AgentEvent(index, "finished", response.usage.completion_tokens, agent.answer)

    def _waves(self) -> list[list[int]]:
        """Agent indices per round: all at once, or (adaptive) a first pair and then the rest."""
        if not self.adaptive or self.agents <= _FIRST_WAVE:
            return [list(range(self.agents))]
        return [list(range(_FIRST_WAVE)), list(range(_FIRST_WAVE, self.agents))]

    async def _merge(
        self, model: Model, conversation: list[Message], settings: ModelSettings, agents: list[_Agent]
    ) -> AsyncIterator[Event]:
        for agent in agents:
            if agent.status == "running":  # stopped by the backend without a final response
                agent.status = "halted"
        answered = [a for a in agents if a.response is not None]
        if not answered:
            errors = "; ".join(a.error for a in agents if a.error)
            raise BackendError(f"Every sub-agent failed: {errors or 'no answers'}")
        schema = settings.json_schema
        if schema is not None:  # structured output: the vote is on the JSON values each agent gave
            for agent in agents:
                value = parsed(reply_of(agent.text), schema) if agent.response is not None else None
                agent.answer = None if value is None else canonical(value)
        outcome = vote([a.answer for a in agents], len(agents))
        synthesis: ModelResponse | None = None
        if outcome.winner is not None:
            winner = next(a for a in agents if a.answer == outcome.winner)
            text = outcome.winner if schema is not None else reply_of(winner.text)
            yield TextDelta(text)
        else:
            drafts = "\n\n".join(f"Draft {i + 1}:\n{reply_of(a.text)}" for i, a in enumerate(answered))
            question = conversation[-1].text
            prompt = f"{load_prompt('synthesize')}\n\nQuestion:\n{question}\n\n{drafts}"
            synthesis_messages = [*conversation[:-1], Message.user(prompt)]
            text = ""
            async for event in model.stream(synthesis_messages, settings):
                if isinstance(event, TextDelta):
                    text += event.text
                    yield event
                elif isinstance(event, ResponseDone):
                    synthesis = event.response
        yield ResponseDone(self._response(model, agents, outcome, text, synthesis))

    def _response(
        self,
        model: Model,
        agents: list[_Agent],
        outcome: Vote,
        text: str,
        synthesis: ModelResponse | None,
    ) -> ModelResponse:
        responses = [a.response for a in agents if a.response is not None]
        agent_tokens = sum(r.usage.completion_tokens for r in responses)
        winner = next((a for a in agents if outcome.winner and a.answer == outcome.winner), None)
        answer_tokens = winner.answer_tokens if winner else 0
        extra = synthesis.usage if synthesis else Usage()
        firsts = [r.usage.time_to_first_token_s for r in responses if r.usage.time_to_first_token_s]
        usage = Usage(
            prompt_tokens=max(r.usage.prompt_tokens for r in responses) + extra.prompt_tokens,
            completion_tokens=agent_tokens + extra.completion_tokens,
            reasoning_tokens=agent_tokens - answer_tokens,  # the winner's solution is the answer
            time_to_first_token_s=min(firsts) if firsts else None,
            total_time_s=max(r.usage.total_time_s for r in responses) + extra.total_time_s,
            decode_time_s=max(r.usage.decode_time_s for r in responses) + extra.decode_time_s,
        )
        traces = "\n\n".join(
            f"[agent {i + 1}: {a.plan.kind}, {a.plan.angle.strip() or 'plain'}]\n{a.text}"
            for i, a in enumerate(agents)
        )
        details = {
            "agents": [a.summary() for a in agents],
            "vote": {
                "winner": outcome.winner,
                "counts": outcome.counts,
                "majority": outcome.majority,
                "merge": "vote" if outcome.winner is not None else "synthesis",
            },
        }
        message = Message("assistant", (ReasoningPart(traces), TextPart(text)))
        return ModelResponse(message, usage, model.name, "stop", details)
