"""Everything the listeners and jobs need, built once from settings (never at import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.assistant import Assistant
from agents.drafts.service import DraftService
from agents.llm.anthropic_llm import AnthropicLLM
from agents.llm.offline import OfflineLLM
from agents.llm.port import LLM
from agents.memory import WorkingMemory
from agents.metering import Meter, PriceCatalog
from agents.metering.budgets import BudgetGuard
from agents.metering.ratelimits import RateLimits
from agents.metering.response_cache import ResponseCache
from agents.metering.settings import CostSettings
from agents.settings import AgentSettings
from bot.ledger_drain import LedgerDrain
from bot.procrastinate_runner import ProcrastinateRunner
from bot.runner import InProcessRunner, TaskRunner
from bot.settings import Settings, SettingsError
from bot.workspaces import SlackClients
from storage.cache import ClaimStore, store_from_url
from storage.db import engine_from_settings, session_factory
from storage.limits import LedgerStream, counters_from_url, rate_limiter_from_url, stream_key
from storage.slack_installs import EncryptedInstallationStore, TokenCipher
from storage.uow import UnitOfWork


@dataclass
class Services:
    """The process's shared parts."""

    settings: Settings
    engine: Engine
    ledger_engine: Engine
    factory: sessionmaker[Session]
    store: ClaimStore
    runner: TaskRunner
    assistant: Assistant
    drafts: DraftService
    slack_clients: SlackClients
    meter: Meter
    budgets: BudgetGuard
    rate_limits: RateLimits
    ledger_drain: LedgerDrain | None = None  # stream mode: writes the ledger behind the calls

    @property
    def slack(self) -> WebClient:
        """The app-level client (base URL, retries; the token only with one workspace)."""
        return self.slack_clients.default

    def slack_for(self, team_id: str) -> WebClient:
        """The client that speaks for the bot in this workspace (WorkspaceNotInstalled if none)."""
        return self.slack_clients.for_team(team_id)

    def slack_for_org(self, org_id: int) -> WebClient:
        """The client of the org's workspace."""
        if self.slack_clients.installations is None:  # one workspace: no lookup needed
            return self.slack_clients.default
        with UnitOfWork(self.factory) as uow:
            org = uow.orgs.get(org_id)
            team_id = org.slack_team_id if org else ""
        return self.slack_for(team_id)

    def admin_channel(self, org_id: int) -> str | None:
        """Where the org's cost digest and budget alerts go: the channel its admins chose with
        `/ai-channel admin`, else (one workspace only) COUNTERSIGN_ADMIN_CHANNEL."""
        with UnitOfWork(self.factory) as uow:
            org = uow.orgs.get(org_id)
            chosen = org.admin_channel if org else None
        if chosen or self.settings.slack.multi_workspace:
            return chosen
        return self.settings.digest.admin_channel

    def close(self) -> None:
        """Finish queued jobs, write the ledger rows they left in the stream, then release
        connections."""
        self.runner.shutdown(wait=True)
        if self.ledger_drain is not None:
            self.ledger_drain.stop()
        self.engine.dispose()
        self.ledger_engine.dispose()


def make_llm(settings: Settings) -> LLM:
    """Claude when an API key is configured, else the offline adapter."""
    if settings.agents.uses_model:
        return AnthropicLLM.from_settings(settings.agents, prompt_cache=settings.cost.prompt_cache)
    return OfflineLLM()


def build_services(settings: Settings, *, llm: LLM | None = None) -> Services:
    """Wire the process from settings; `llm` lets tests substitute a scripted model."""
    engine = engine_from_settings(settings.storage)
    factory = session_factory(engine)
    redis_url = settings.storage.redis_url
    store = store_from_url(redis_url)
    ledger = ledger_stream(settings)
    budgets = BudgetGuard(
        factory=factory,
        counters=counters_from_url(
            redis_url, ledger=ledger, database_url=settings.storage.resolved_database_url()
        ),
        settings=settings.cost,
    )
    ledger_engine = _ledger_engine(settings, engine)
    meter = Meter(
        factory=factory,
        ledger_factory=session_factory(ledger_engine),
        ledger=ledger,
        catalog=PriceCatalog.load(settings.cost.prices_file),
        budgets=budgets,
        cache=response_cache(store, settings.cost),
    )
    rate_limits = RateLimits(rate_limiter_from_url(redis_url), settings.cost)
    drafts = DraftService(
        factory=factory,
        policy=settings.drafts.policy(),
        ttl=timedelta(hours=settings.drafts.ttl_hours),
        smtp=settings.smtp,
    )
    assistant = Assistant(
        factory=factory,
        llm=llm or make_llm(settings),
        meter=meter,
        settings=settings.agents,
        drafts=drafts,
        rate_limits=rate_limits,
        redactor=settings.privacy.model_redactor(),
        memory=working_memory(store, settings.agents),
    )
    services = Services(
        settings=settings,
        engine=engine,
        ledger_engine=ledger_engine,
        factory=factory,
        store=store,
        runner=make_runner(settings, engine),
        assistant=assistant,
        drafts=drafts,
        slack_clients=SlackClients(settings.slack, installation_store(settings, engine)),
        meter=meter,
        budgets=budgets,
        rate_limits=rate_limits,
    )
    if ledger is not None:
        services.ledger_drain = _start_drain(ledger, factory, settings.cost)
    return services


def installation_store(settings: Settings, engine: Engine) -> InstallationStore | None:
    """OAuth installs' tokens, encrypted in the database; None with one SLACK_BOT_TOKEN."""
    slack = settings.slack
    if not slack.multi_workspace or slack.client_id is None:
        return None
    return EncryptedInstallationStore(
        client_id=slack.client_id, engine=engine, cipher=TokenCipher(slack.token_key_list())
    )


def ledger_stream(settings: Settings) -> LedgerStream | None:
    """The Redis stream model calls append their ledger rows to, in `stream` mode."""
    redis_url, database_url = settings.storage.redis_url, settings.storage.resolved_database_url()
    postgres = database_url.startswith("postgresql")
    try:
        mode = settings.cost.ledger_mode(redis=redis_url is not None, postgres=postgres)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    if mode != "stream" or redis_url is None:
        return None
    return LedgerStream.from_url(redis_url, key=stream_key(database_url))


def _start_drain(
    ledger: LedgerStream, factory: sessionmaker[Session], cost: CostSettings
) -> LedgerDrain:
    """Every process that serves or works drains (the job engine's workers and the in-process
    runner alike: both run in a process built here)."""
    drain = LedgerDrain(
        stream=ledger,
        factory=factory,
        batch=cost.ledger_drain_batch,
        interval=cost.ledger_drain_interval_ms / 1000,
        mode=cost.ledger_drain,
    )
    drain.start()
    return drain


def make_runner(settings: Settings, engine: Engine) -> TaskRunner:
    """The job engine COUNTERSIGN_JOBS names (by default: procrastinate on PostgreSQL)."""
    url = settings.storage.resolved_database_url()
    if settings.jobs.engine_for(url) == "procrastinate":
        return ProcrastinateRunner(engine=engine, database_url=url, settings=settings.jobs)
    return InProcessRunner(workers=settings.runtime.workers)


def _ledger_engine(settings: Settings, engine: Engine) -> Engine:
    """PostgreSQL: a second pool, without pre-ping, for the ledger writes every model
    call waits on (the meter retries a dropped connection instead). SQLite: the same engine."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine_from_settings(settings.storage, pre_ping=False)


def working_memory(store: ClaimStore, settings: AgentSettings) -> WorkingMemory | None:
    """Threads remember what their runs looked at, unless switched off (0 seconds)."""
    seconds = settings.working_memory_seconds
    return WorkingMemory(store, ttl_seconds=seconds) if seconds else None


def response_cache(store: ClaimStore, settings: CostSettings) -> ResponseCache | None:
    """The response cache, unless switched off (TTL 0)."""
    if settings.response_cache_seconds <= 0:
        return None
    return ResponseCache(store, ttl_seconds=settings.response_cache_seconds)
