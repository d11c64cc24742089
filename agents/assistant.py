"""One question in, one answer out: conversation, triage, specialist run, history, metering."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from agents.errors import LoopLimitError, ModelUnavailableError
from agents.llm.offline import OFFLINE_MODEL, OfflineLLM
from agents.llm.port import LLM
from agents.loop import LoopLimits, RunResult, run_specialist
from agents.metering import Attribution, Meter
from agents.settings import AgentSettings
from agents.specialists import DEFAULT_SPECIALIST, SPECIALISTS
from agents.specs import AgentSpec
from agents.tools.base import ToolContext
from agents.triage import PreRouter, Route, Router
from agents.turns import Turn, begin_turn, finish_turn
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Question:
    """A rep's message as the bot received it."""

    team_id: str
    channel_id: str
    thread_ts: str  # the thread root; "" for the top level of a DM
    slack_user_id: str
    text: str
    delivery_id: str  # Slack event_id (or command/trigger id): one answer per delivery
    request_type: str = "chat"


@dataclass(frozen=True)
class Profile:
    """What Slack knows of a person we have not seen before."""

    email: str | None
    name: str
    timezone: str = "UTC"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The reply and what it cost."""

    text: str
    agent: str
    offline: bool
    model: str
    tokens: int = 0
    cost_micro_usd: int = 0
    conversation_id: int = 0
    notice: str | None = None
    duplicate: bool = False


class Assistant:
    """Answers questions; the bot calls `answer` from a background job, never before the ack."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        llm: LLM,
        meter: Meter,
        settings: AgentSettings,
        specialists: dict[str, AgentSpec] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.llm = llm
        self.offline_llm = OfflineLLM()
        self.meter = meter
        self.settings = settings
        self.specialists = specialists or SPECIALISTS
        self.clock = clock
        self.limits = LoopLimits(
            max_turns=settings.max_turns,
            max_output_tokens=settings.max_output_tokens,
            max_run_tokens=settings.max_run_tokens,
        )

    def answer(self, question: Question, *, profile: Callable[[], Profile | None]) -> Answer:
        """Answer once per delivery; a redelivery of the same question returns duplicate=True."""
        question = self._bounded(question)
        turn = begin_turn(
            self.factory, question, profile=profile, history_turns=self.settings.history_turns
        )
        if turn is None:
            return Answer(text="", agent="", offline=self.llm.offline, model="", duplicate=True)
        try:
            answer = self._run(question, turn, self.llm)
        except ModelUnavailableError as exc:
            log.warning("model unavailable, answering offline: %s", exc.reason)
            answer = replace(
                self._run(question, turn, self.offline_llm),
                notice=f"The AI model is unavailable right now ({exc.reason}). "
                "This answer was put together from CRM data by rules.",
            )
        finish_turn(self.factory, turn, answer.text, agent=answer.agent, offline=answer.offline)
        return replace(answer, conversation_id=turn.conversation_id)

    def _bounded(self, question: Question) -> Question:
        limit = self.settings.max_question_chars
        if len(question.text) <= limit:
            return question
        return replace(question, text=question.text[:limit] + " …[truncated]")

    def _run(self, question: Question, turn: Turn, llm: LLM) -> Answer:
        attribution = Attribution(
            org_id=turn.org_id,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            channel_id=question.channel_id,
            customer_id=turn.customer_id,
            request_type=question.request_type,
        )
        ctx = ToolContext(
            factory=self.factory, org_id=turn.org_id, user_id=turn.user_id, now=self.clock()
        )
        metered = self.meter.bind(llm, attribution, state=ctx.state)
        route = self._route(question, turn, metered)
        turn.route = route
        spec = self.specialists[route.specialist]
        metered.attribution.route = route.specialist
        metered.attribution.prompt_version = spec.prompt_version
        notice = None
        try:
            result = self._specialist(spec, question, turn, metered, ctx)
        except LoopLimitError as exc:
            result = RunResult(text=exc.partial_text or "I ran out of steps before finishing.")
            notice = f"I stopped early (the {exc.limit} limit for one request)."
        turn.customer_id = ctx.state.customer_id or turn.customer_id
        return Answer(
            text=result.text,
            agent=spec.name,
            offline=llm.offline,
            model=self._model_for(spec, llm),
            tokens=metered.total_tokens,
            cost_micro_usd=metered.total_cost_micro_usd,
            notice=notice,
        )

    def _route(self, question: Question, turn: Turn, llm: LLM) -> Route:
        router = Router(
            self.specialists,
            default=DEFAULT_SPECIALIST,
            model=OFFLINE_MODEL if llm.offline else self.settings.triage_model,
        )
        return router.route(
            question.text,
            pre=PreRouter(turn.customer_names),
            llm=llm,
            active_agent=turn.active_agent,
        )

    def _specialist(
        self, spec: AgentSpec, question: Question, turn: Turn, llm: LLM, ctx: ToolContext
    ) -> RunResult:
        system = spec.system_prompt(today=ctx.now.date().isoformat(), user_name=turn.user_name)
        messages = [*turn.history, {"role": "user", "content": question.text}]
        return run_specialist(
            spec,
            llm=llm,
            model=self._model_for(spec, llm),
            system=system,
            messages=messages,
            ctx=ctx,
            limits=self.limits,
        )

    def _model_for(self, spec: AgentSpec, llm: LLM) -> str:
        if llm.offline:
            return OFFLINE_MODEL
        return (
            self.settings.triage_model
            if spec.model_role == "triage"
            else self.settings.specialist_model
        )
