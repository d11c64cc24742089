"""`/ai-cost` text → a typed command (pure: no Slack, no database). Carrying out
`budget set` lives in agents/costs/budget_admin.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from agents.costs.periods import PERIOD_NAMES, period
from agents.metering.rules import EACH
from storage.limits.counters import UNLIMITED
from storage.models import BudgetMetric, BudgetPeriod, BudgetScope
from storage.repositories.usage import Dimension

MICRO = 1_000_000
DEFAULT_PERIOD = "month"
BREAKDOWNS: dict[str, Dimension] = {
    "users": "user",
    "customers": "customer",
    "models": "model",
    "agents": "agent",
    "types": "request_type",
}
SCOPES = {
    "org": BudgetScope.ORG,
    "user": BudgetScope.USER,
    "customer": BudgetScope.CUSTOMER,
    "type": BudgetScope.REQUEST_TYPE,
}
_PERIOD_WORDS = {
    "day": BudgetPeriod.DAY,
    "daily": BudgetPeriod.DAY,
    "week": BudgetPeriod.WEEK,
    "weekly": BudgetPeriod.WEEK,
    "month": BudgetPeriod.MONTH,
    "monthly": BudgetPeriod.MONTH,
}
_MENTION = re.compile(r"^<@([A-Z0-9_]+)(?:\|[^>]*)?>$")
_COST = re.compile(r"^(\$?)([0-9][0-9,]*(?:\.[0-9]+)?|unlimited)(?:/([a-z]+))?$")
_CALLS = re.compile(r"^([0-9][0-9,]*|unlimited)\s*(?:calls|requests)/([a-z]+)$")
_SOFT = re.compile(r"^soft[ =]?([0-9]+)%?$")
_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
AMOUNT_HINT = "write it like `$50/day`, `1000/month`, `500 calls/day` or `unlimited/week`"


@dataclass(frozen=True)
class Overview:
    """Today, yesterday, this week, this month, last month and all time for the org."""


@dataclass(frozen=True)
class Breakdown:
    """The top values of one dimension over one period."""

    by: Dimension
    period: str = DEFAULT_PERIOD


@dataclass(frozen=True)
class PersonReport:
    """One person's spend (all summary periods when `period` is None) and budget use.
    `slack_user_id` None means the caller (`/ai-cost me`, open to everyone)."""

    slack_user_id: str | None
    period: str | None = None


@dataclass(frozen=True)
class BudgetList:
    """Every effective budget with its source, use, percent and reset time."""


@dataclass(frozen=True)
class BudgetSet:
    """Create or replace one budget. `target` is "" (org), "*" (each), a Slack user id
    (user scope), a customer name or id (customer scope) or a request type."""

    scope: BudgetScope
    target: str
    period: BudgetPeriod
    metric: BudgetMetric
    limit: int  # µUSD or calls; UNLIMITED (-1) for no limit
    soft_pct: int | None = None  # None: keep the current threshold


@dataclass(frozen=True)
class Export:
    """The period's roll-up rows as a CSV sent to the admin."""

    period: str = DEFAULT_PERIOD


@dataclass(frozen=True)
class Help:
    """The help text, with why it was shown (None: it was asked for)."""

    reason: str | None = None


CostCommand = Overview | Breakdown | PersonReport | BudgetList | BudgetSet | Export | Help


def parse(text: str) -> CostCommand:
    """Read the text after `/ai-cost`; anything not understood is `Help(reason)`."""
    words = text.split()
    if not words:
        return Overview()
    head, rest = words[0].lower(), words[1:]
    if head == "help":
        return Help()
    if head == "me":
        return _with_period(rest, lambda p: PersonReport(None, p))
    if head in BREAKDOWNS:
        return _with_period(rest, lambda p: Breakdown(BREAKDOWNS[head], p or DEFAULT_PERIOD))
    if head == "user":
        return _person(rest)
    if head == "export":
        return _with_period(rest, lambda p: Export(p or DEFAULT_PERIOD))
    if head in ("budget", "budgets"):
        return _budget(rest)
    return Help(f"I don't know `{clip(words[0])}`.")


def period_name(words: list[str]) -> str | None:
    """The canonical period for words like `last month` or `this-week`; None if unknown."""
    joined = "-".join(word.lower() for word in words)
    try:
        return period(joined, date(2000, 1, 1)).name if joined else None
    except ValueError:
        return None


def _with_period(words: list[str], build: Callable[[str | None], CostCommand]) -> CostCommand:
    """`build` the command with the period the words name (None when there are none)."""
    if not words:
        return build(None)
    name = period_name(words)
    if name is None:
        return Help(f"`{clip(' '.join(words))}` is not a period; use one of {_periods()}.")
    return build(name)


def _person(words: list[str]) -> CostCommand:
    if not words:
        return Help("Say whose spend to show, e.g. `/ai-cost user @maya`.")
    slack_id = mention(words[0])
    if slack_id is None:
        return Help(f"`{clip(words[0])}` is not a person; mention them, e.g. `@maya`.")
    return _with_period(words[1:], lambda p: PersonReport(slack_id, p))


def mention(word: str) -> str | None:
    """The Slack user id in `<@U123>` or `<@U123|name>`, else None."""
    match = _MENTION.match(word)
    return match.group(1) if match else None


def _budget(words: list[str]) -> CostCommand:
    if not words or words[0].lower() == "list":
        return BudgetList() if len(words) <= 1 else Help("`budget list` takes no arguments.")
    if words[0].lower() != "set":
        return Help(f"Budgets can be listed or set, not `{clip(words[0])}`.")
    return _budget_set(words[1:])


def _budget_set(words: list[str]) -> CostCommand:
    if not words or words[0].lower() not in SCOPES:
        got = f" (not `{clip(words[0])}`)" if words else ""
        return Help(f"`budget set` needs a scope: org, user, customer or type{got}.")
    scope = SCOPES[words[0].lower()]
    rest, soft = _split_soft(words[1:])
    if isinstance(soft, Help):
        return soft
    split = _split_amount(rest)
    if split is None:
        shown = clip(" ".join(rest[-2:])) if rest else "nothing"
        return Help(f"I couldn't read the amount (`{shown}`); {AMOUNT_HINT}.")
    target_words, amount = split
    if isinstance(amount, Help):
        return amount
    target = _target(scope, target_words)
    if isinstance(target, Help):
        return target
    limit, budget_period, metric = amount
    return BudgetSet(scope, target, budget_period, metric, limit, soft)


def _split_soft(words: list[str]) -> tuple[list[str], int | None | Help]:
    """Take a trailing `soft 70%` (or `soft=70%`) off the words."""
    lowered = [word.lower() for word in words]
    for size in (2, 1):
        if len(words) >= size and lowered[-size].startswith("soft"):
            match = _SOFT.match(" ".join(lowered[-size:]))
            if match is None or not 1 <= int(match.group(1)) <= 100:
                return words, Help("The alert threshold is `soft N%` with N from 1 to 100.")
            return words[:-size], int(match.group(1))
    return words, None


Amount = tuple[int, BudgetPeriod, BudgetMetric]


def _split_amount(words: list[str]) -> tuple[list[str], Amount | Help] | None:
    """The trailing amount (one word, or two for `500 calls/day`) and the words before it."""
    for size in (2, 1):
        if len(words) >= size:
            amount = parse_amount(" ".join(words[-size:]))
            if amount is not None:
                return words[:-size], amount
    return None


def parse_amount(text: str) -> Amount | Help | None:
    """`$50/day` → (50_000_000, day, cost); `500 calls/day` → (500, day, requests);
    `unlimited/week` → (-1, week, cost). None when it is not an amount at all."""
    text = text.lower()
    calls = _CALLS.match(text)
    if calls:
        return _amount(calls.group(1), calls.group(2), BudgetMetric.REQUESTS)
    cost = _COST.match(text)
    if cost is None:
        return None
    if cost.group(3) is None:
        said = clip(text)
        return Help(f"Say which period `{said}` is for: `{said}/day`, `/week` or `/month`.")
    return _amount(cost.group(2), cost.group(3), BudgetMetric.COST)


def _amount(value: str, period_word: str, metric: BudgetMetric) -> Amount | Help:
    budget_period = _PERIOD_WORDS.get(period_word)
    if budget_period is None:
        return Help(f"`{clip(period_word)}` is not a budget period; use day, week or month.")
    if value == "unlimited":
        return UNLIMITED, budget_period, metric
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return Help(f"`{clip(value)}` is not a number; {AMOUNT_HINT}.")
    if metric == BudgetMetric.REQUESTS:
        return int(number), budget_period, metric
    micro = number * MICRO
    if micro != micro.to_integral_value():
        return Help("Amounts go down to a millionth of a dollar, no further.")
    return int(micro), budget_period, metric


def _target(scope: BudgetScope, words: list[str]) -> str | Help:
    text = " ".join(words).strip()
    if scope == BudgetScope.ORG:
        if text.lower() in ("", "-", "org"):
            return ""
        return Help(f"An org budget has no target (use `-`), not `{clip(text)}`.")
    if not text:
        return Help(f"Say which {scope_word(scope)} the budget is for, or `*` for each one.")
    if text == EACH:
        return EACH
    if scope == BudgetScope.USER:
        slack_id = mention(text)
        if slack_id is None:
            return Help(f"`{clip(text)}` is not a person; mention them (`@maya`) or use `*`.")
        return slack_id
    if scope == BudgetScope.REQUEST_TYPE and not _TYPE.match(text):
        return Help(f"`{clip(text)}` is not a request type (like `chat` or `command`).")
    return text


def scope_word(scope: BudgetScope) -> str:
    return "request type" if scope == BudgetScope.REQUEST_TYPE else scope.value


def _periods() -> str:
    return ", ".join(f"`{name}`" for name in PERIOD_NAMES)


def clip(text: str, limit: int = 40) -> str:
    """User text echoed back, short and unable to break out of inline code."""
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
