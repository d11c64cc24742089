"""One question in, one answer out: conversation, triage, specialist run, history, metering.
The types it takes and gives live in agents/questions.py (re-exported here)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agents.drafts.service import Actor, DraftService, Outcome, Result
from agents.drafts.snapshot import DraftSnapshot
from agents.errors import LoopLimitError, ModelUnavailableError
from agents.llm.offline import OFFLINE_MODEL, OfflineLLM
from agents.llm.port import LLM
from agents.loop import LoopLimits, RunResult, RunWatcher, Stop, run_specialist
from agents.memory import WorkingMemory, describe
from agents.metering import Attribution, Meter
from agents.metering.budgets import BudgetExceeded, SpendingUnavailable
from agents.metering.ratelimits import Activity, RateLimits
from agents.privacy import RedactingLLM, Redactor
from agents.questions import (
    Answer,
    Profile,
    Question,
    Regeneration,
    revision_request,
    too_long,
)
from agents.settings import AgentSettings
from agents.specialists import DEFAULT_SPECIALIST, SPECIALISTS
from agents.specs import AgentSpec
from agents.tools.base import RevisionTarget, ToolContext
from agents.tools.permissions import ToolAccess
from agents.triage import PreRouter, Route, Router
from agents.turns import Turn, begin_turn, finish_turn
from storage.types import utcnow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

__all__ = ["Answer", "Assistant", "Profile", "Question", "Regeneration", "revision_request"]


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
        drafts: DraftService | None = None,
        rate_limits: RateLimits | None = None,
        redactor: Redactor | None = None,
        memory: WorkingMemory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.factory = factory
        self.redactor = redactor
        self.memory = memory
        self.rate_limits = rate_limits
        self.llm = llm
        self.offline_llm = OfflineLLM()
        self.meter = meter
        self.settings = settings
        self.specialists = specialists or SPECIALISTS
        self.drafts = drafts
        self.clock = clock
        self.limits = LoopLimits(
            max_turns=settings.max_turns,
            max_output_tokens=settings.max_output_tokens,
            max_run_tokens=settings.max_run_tokens,
            max_cost_micro_usd=int(settings.max_request_cost_usd * 1_000_000),
        )

    def answer(self, question: Question, *, profile: Callable[[], Profile | None]) -> Answer:
        """Answer once per delivery; a redelivery of the same question returns duplicate=True."""
        if too_long := self._too_long(question):
            return self._blocked(too_long)
        who = f"{question.team_id}:{question.slack_user_id}"
        if limited := self.refusal(Activity.CHAT, who):
            return self._blocked(limited)
        turn = begin_turn(
            self.factory,
            question,
            profile=profile,
            history_turns=self.settings.history_turns,
            history_tokens=self.settings.history_tokens,
        )
        if turn is None:
            return Answer(text="", agent="", offline=self.llm.offline, model="", duplicate=True)
        try:
            answer = self._run(question, turn, self.llm, watch=question.watch)
        except (BudgetExceeded, SpendingUnavailable) as exc:
            answer = self._blocked(str(exc))
        except ModelUnavailableError as exc:
            log.warning("model unavailable, answering offline: %s", exc.reason)
            answer = replace(
                self._run(question, turn, self.offline_llm),
                notice=f"The AI model is unavailable right now ({exc.reason}). "
                "This answer was put together from CRM data by rules.",
            )
        finish_turn(self.factory, turn, answer.text, agent=answer.agent, offline=answer.offline)
        return replace(answer, conversation_id=turn.conversation_id, org_id=turn.org_id)

    def _private(self, llm: LLM) -> LLM:
        """The run's model behind PII redaction (one vault per run), when it is switched on."""
        return RedactingLLM(llm, self.redactor) if self.redactor is not None else llm

    def refusal(self, activity: Activity, who: str) -> str | None:
        """The refusal when `who` is over a rate limit, else None."""
        if self.rate_limits is None:
            return None
        limited = self.rate_limits.check(activity, who)
        return limited.message() if limited else None

    def _blocked(self, message: str) -> Answer:
        return Answer(
            text=message, agent="limits", offline=self.llm.offline, model="", blocked=True
        )

    def regenerate(self, request: Regeneration) -> Outcome:
        """Rewrite a pending draft with the rep's hint; the result is its next version."""
        if self.drafts is None:
            return Outcome(Result.NOT_FOUND, "Drafts are not available here.")
        check = self.drafts.may_regenerate(
            request.team_id, request.slack_user_id, request.draft_id, request.version
        )
        actor = self.drafts.actor(request.team_id, request.slack_user_id)
        if check.result != Result.DONE or check.draft is None or actor is None:
            return check
        try:
            return self._regenerate(request, actor, check.draft, self.llm)
        except (BudgetExceeded, SpendingUnavailable) as exc:
            return Outcome(Result.DENIED, str(exc))
        except ModelUnavailableError as exc:
            log.warning("model unavailable, regenerating offline: %s", exc.reason)
            outcome = self._regenerate(request, actor, check.draft, self.offline_llm)
            return replace(
                outcome,
                message=f"The AI model is unavailable ({exc.reason}); this version was written "
                "from a template.",
            )

    def _regenerate(
        self, request: Regeneration, actor: Actor, draft: DraftSnapshot, llm: LLM
    ) -> Outcome:
        assert self.drafts is not None
        with UnitOfWork(self.factory) as uow:
            row = uow.drafts.get(actor.org_id, draft.id)
            customer_id = row.customer_id if row else None
            conversation_id = row.conversation_id if row else None
            requester_id = row.requested_by_id if row else None
        spec = self.specialists["drafting"]
        ctx = ToolContext(
            factory=self.factory,
            org_id=actor.org_id,
            user_id=actor.user.id,
            now=self.clock(),
            drafts=self.drafts,
            conversation_id=conversation_id,
        )
        ctx.state.revise = RevisionTarget(draft.id, draft.version, draft.kind)
        self._describe_run(ctx, spec, llm)
        attribution = Attribution(
            org_id=actor.org_id,
            user_id=actor.user.id,  # who clicked pays; whose draft it is stays on record
            on_behalf_of_user_id=requester_id if requester_id != actor.user.id else None,
            customer_id=customer_id,
            conversation_id=conversation_id,
            route=spec.name,
            request_type="regenerate",
            prompt_version=spec.prompt_version,
        )
        metered = self.meter.bind(self._private(llm), attribution, state=ctx.state)
        rep = draft.requested_by.name if draft.requested_by else actor.user.name
        try:
            result = self._specialist(
                spec,
                revision_request(draft, customer_id, request.hint),
                [],
                rep,
                metered,
                ctx,
                hint=request.hint or "rewrite it",
            )
        except LoopLimitError as exc:
            result = RunResult(text=exc.partial_text or f"stopped at the {exc.limit} limit")
        self._record_drafts(ctx, metered.total_tokens, metered.total_cost_micro_usd)
        if not ctx.state.draft_ids:
            return Outcome(Result.SETTLED, f"I couldn't write a new version: {result.text}")
        snapshot = self.drafts.snapshot(actor.org_id, draft.id)
        version = snapshot.version if snapshot else draft.version + 1
        return Outcome(Result.DONE, f"Regenerated as version {version}.", snapshot)

    def _too_long(self, question: Question) -> str | None:
        return too_long(question.text, self.settings.max_question_chars)

    def _run(
        self, question: Question, turn: Turn, llm: LLM, watch: RunWatcher | None = None
    ) -> Answer:
        attribution = Attribution(
            org_id=turn.org_id,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            channel_id=question.channel_id,
            customer_id=turn.customer_id,
            request_type=question.request_type,
        )
        ctx = ToolContext(
            factory=self.factory,
            org_id=turn.org_id,
            user_id=turn.user_id,
            now=self.clock(),
            drafts=self.drafts,
            conversation_id=turn.conversation_id,
            channel_id=question.channel_id,
            thread_ts=question.thread_ts or None,
            throttle=lambda activity: self.refusal(
                Activity(activity), f"{question.team_id}:{question.slack_user_id}"
            ),
        )
        metered = self.meter.bind(self._private(llm), attribution, state=ctx.state)
        route = self._route(question, turn, metered)
        turn.route = route
        spec = self.specialists[route.specialist]
        metered.attribution.route = route.specialist
        metered.attribution.prompt_version = spec.prompt_version
        self._describe_run(ctx, spec, llm)
        recalled = self.memory.recall(turn.conversation_id) if self.memory else []
        notice = None
        try:
            result = self._specialist(
                spec,
                question.text,
                turn.history,
                turn.user_name,
                metered,
                ctx,
                memory=describe(recalled),
                watch=watch,
                spent=lambda: metered.total_cost_micro_usd,
                access=ToolAccess.of(
                    turn.user_role,
                    team_id=question.team_id,
                    tools_off=self.settings.tools_off,
                    tool_roles=self.settings.tool_roles,
                ),
            )
        except LoopLimitError as exc:
            result = RunResult(text=exc.partial_text or "I ran out of steps before finishing.")
            notice = f"I stopped early (the {exc.limit} limit for one request)."
        turn.customer_id = ctx.state.customer_id or turn.customer_id
        if self.memory is not None:
            self.memory.remember(turn.conversation_id, result.seen)
        self._record_drafts(ctx, metered.total_tokens, metered.total_cost_micro_usd)
        return Answer(
            text=result.text or self._drafted_text(result, turn.org_id, ctx.state.draft_ids),
            agent=spec.name,
            offline=llm.offline,
            model=ctx.state.model,
            tokens=metered.total_tokens,
            cost_micro_usd=metered.total_cost_micro_usd,
            notice=notice,
            draft_ids=tuple(ctx.state.draft_ids),
            charts=tuple(ctx.state.charts),
        )

    def _drafted_text(self, result: RunResult, org_id: int, draft_ids: list[int]) -> str:
        """What to say when the model proposed a draft without a word of its own."""
        if result.stop != Stop.DRAFTED or self.drafts is None or not draft_ids:
            return "(no answer)"
        draft = self.drafts.snapshot(org_id, draft_ids[-1])
        if draft is None:
            return "I drafted it for approval — see the card below."
        about = f" for {draft.customer_name}" if draft.customer_name else ""
        return (
            f"Your {draft.kind_label.lower()} draft{about} is ready below. Nothing has been "
            f"sent or written yet: it needs approval from {draft.approvers}."
        )

    def _describe_run(self, ctx: ToolContext, spec: AgentSpec, llm: LLM) -> None:
        """What the gated tools stamp on a draft: which agent, prompt and model wrote it."""
        ctx.state.agent = spec.name
        ctx.state.prompt_version = spec.prompt_version
        ctx.state.model = self._model_for(spec, llm)

    def _record_drafts(self, ctx: ToolContext, tokens: int, cost: int) -> None:
        if self.drafts is not None and ctx.state.draft_ids:
            self.drafts.record_run(
                ctx.state.draft_ids, model=ctx.state.model, tokens=tokens, cost=cost
            )

    def _route(self, question: Question, turn: Turn, llm: LLM) -> Route:
        on_duty = self._on_duty(question)
        router = Router(
            on_duty,
            default=DEFAULT_SPECIALIST if DEFAULT_SPECIALIST in on_duty else min(on_duty),
            model=OFFLINE_MODEL if llm.offline else self.settings.triage_model,
        )
        return router.route(
            question.text,
            pre=PreRouter(turn.customer_names),
            llm=llm,
            active_agent=turn.active_agent,
        )

    def _on_duty(self, question: Question) -> dict[str, AgentSpec]:
        """The specialists the question's channel allows; help is always there."""
        if question.specialists is None:
            return self.specialists
        names = question.specialists | {"help"}
        return {name: spec for name, spec in self.specialists.items() if name in names}

    def _specialist(
        self,
        spec: AgentSpec,
        text: str,
        history: list[dict[str, Any]],
        user_name: str,
        llm: LLM,
        ctx: ToolContext,
        hint: str = "",
        watch: RunWatcher | None = None,
        spent: Callable[[], int] | None = None,
        access: ToolAccess | None = None,
        memory: str = "",
    ) -> RunResult:
        today = ctx.now.date().isoformat()
        system = spec.system_prompt(today=today, user_name=user_name, hint=hint)
        if memory:
            system = f"{system}\n\n{memory}"
        messages = [*history, {"role": "user", "content": text}]
        return run_specialist(
            spec,
            llm=llm,
            model=ctx.state.model,
            system=system,
            messages=messages,
            ctx=ctx,
            limits=self.limits,
            hints={"user_name": user_name, "today": today},
            watch=None if llm.offline else watch,
            spent=spent,
            access=access,
        )

    def _model_for(self, spec: AgentSpec, llm: LLM) -> str:
        if llm.offline:
            return OFFLINE_MODEL
        return (
            self.settings.triage_model
            if spec.model_role == "triage"
            else self.settings.specialist_model
        )
