"""Block Kit for `/ai-cost`: pure functions from report data to blocks. Numbers sit in a
monospace table, right-aligned, so columns line up whatever the amounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.costs.budget_admin import BudgetChange
from agents.costs.report import BudgetStatus, CostReport, Line
from agents.metering.money import MICRO_PER_USD, usd_cents
from agents.metering.rules import BudgetRule
from storage.models import BudgetMetric

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
LABEL_WIDTH = 24
FENCE = "```"
HELP = """\
• `/ai-cost` — today, yesterday, this week, this month, last month and all time
• `/ai-cost users|customers|models|agents|types [period]` — who and what spends most
• `/ai-cost user @someone [period]` — one person's spend and budgets
• `/ai-cost me [period]` — your own spend and budgets (open to everyone)
• `/ai-cost budget list` — every budget: where it comes from, its use, when it resets
• `/ai-cost budget set <scope> <target> <amount>/<period> [soft N%]` — scope is `org`, \
`user`, `customer` or `type`; target `-` for the org, `*` for each one
   e.g. `budget set user @maya $5/day` · `budget set org - $1,000/month soft 70%` · \
`budget set customer Halvorsen Marine unlimited/week` · `budget set type chat 500 calls/day`
• `/ai-cost export [period]` — the period's usage as a CSV, sent to you in a DM
Periods: `today`, `yesterday`, `week`, `month` (the default), `last-month`, `all`."""


def money(micro_usd: int, *, precise: bool = False) -> str:
    """$1,234.56; `precise` shows four decimals, so small calls don't all read $0.00."""
    if precise:
        sign = "-" if micro_usd < 0 else ""
        return f"{sign}${abs(micro_usd) / MICRO_PER_USD:,.4f}"
    return usd_cents(micro_usd)


def needs_precision(amounts: Sequence[int]) -> bool:
    """True when some amount is under a dollar but not zero (then a column shows cents of
    cents throughout, so its numbers still line up)."""
    return any(0 < abs(amount) < MICRO_PER_USD for amount in amounts)


def delta_text(line: Line, *, precise: bool = False) -> str:
    """'+$1.20 (+15%)', '-$0.04 (-8%)', '+$2.00 (new)', or '–' with nothing to compare."""
    delta = line.delta
    if delta is None or (delta == 0 and line.current.cost_micro_usd == 0):
        return "–"
    sign = "+" if delta >= 0 else "-"
    pct = line.delta_pct
    change = f"{pct:+d}%" if pct is not None else "new"
    return f"{sign}{money(abs(delta), precise=precise)} ({change})"


def table(lines: Sequence[Line], total: Line | None = None) -> list[str]:
    """Rows of `label  requests  tokens  cost  Δ vs previous`, numbers right-aligned."""
    rows = [*lines, total] if total else list(lines)
    width = min(LABEL_WIDTH, max([len(line.label) for line in rows] + [5]))
    precise = needs_precision(
        [line.current.cost_micro_usd for line in rows] + [line.delta or 0 for line in rows]
    )
    out = [f"{'':<{width}} {'requests':>9} {'tokens':>12} {'cost':>12}  Δ vs previous"]
    for line in rows:
        if line is total:
            out.append("-" * len(out[0]))
        t = line.current
        cost = money(t.cost_micro_usd, precise=precise)
        out.append(
            f"{_clip(line.label, width):<{width}} {t.requests:>9,} {t.tokens:>12,} "
            f"{cost:>12}  {delta_text(line, precise=precise)}"
        )
    return out


def report_blocks(report: CostReport) -> list[dict[str, Any]]:
    """Header, the period, the table, the person's budgets if any, and the context line."""
    blocks: list[Block] = [HeaderBlock(text=_clip(report.title, 150))]
    if report.subtitle:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=report.subtitle)]))
    if report.lines:
        blocks.extend(_code_sections(table(report.lines, report.total)))
    else:
        blocks.append(_section("No AI usage in this period."))
    if report.budgets:
        blocks.append(_section("*Budgets*"))
        blocks.extend(_code_sections(budget_table(report.budgets, report.timezone)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_context(report))]))
    return _dicts(blocks)


def budget_table(statuses: Sequence[BudgetStatus], timezone: str) -> list[str]:
    """One line per budget: name and source, used / limit, percent, and when it resets."""
    names = [_capital(s.name) + f" ({s.rule.source})" for s in statuses]
    width = min(44, max(len(n) for n in names))
    precise = needs_precision(
        [s.used for s in statuses if s.rule.metric == BudgetMetric.COST]
        + [s.rule.limit for s in statuses if s.rule.metric == BudgetMetric.COST]
    )
    out = [f"{'budget':<{width}} {'used':>11} {'limit':>12} {'%':>5}  resets ({timezone})"]
    for status, name in zip(statuses, names, strict=True):
        pct = f"{status.pct}%" if status.pct is not None else "–"
        used = _amount(status.rule, status.used, precise=precise)
        limit = (
            "unlimited"
            if status.unlimited
            else _amount(status.rule, status.rule.limit, precise=precise)
        )
        out.append(
            f"{_clip(name, width):<{width}} {used:>11} {limit:>12} {pct:>5}  "
            f"{status.resets_at:%a %d %b %H:%M}"
        )
        if status.top:
            out.append(f"  └ biggest: {status.top}")
    return out


def budget_list_blocks(statuses: Sequence[BudgetStatus], timezone: str) -> list[dict[str, Any]]:
    """Every effective budget (defaults, plan limits, admin overrides) with its use."""
    blocks: list[Block] = [HeaderBlock(text="AI budgets")]
    blocks.extend(_code_sections(budget_table(statuses, timezone)))
    note = (
        f"Periods follow {timezone} · sources: default (settings), plan (its tier limits), "
        "admin (set with `/ai-cost budget set`) · an “each” rule shows its biggest user"
    )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return _dicts(blocks)


def budget_set_text(change: BudgetChange) -> str:
    """The confirmation after `budget set`."""
    after, before = change.after, change.before
    was = f" (was {limit_text(before)}, {before.source})" if before else ""
    return (
        f":white_check_mark: {_capital(change.name)} is now {limit_text(after)}{was}; "
        f"alerts at {after.soft_pct}%. It applies to the next request."
    )


def limit_text(rule: BudgetRule) -> str:
    """'$5.00', '$0.0500', '500 calls' or 'unlimited'."""
    if rule.limit < 0:
        return "unlimited"
    return _amount(rule, rule.limit, precise=needs_precision([rule.limit]), unit=" calls")


def help_blocks(reason: str | None = None) -> list[dict[str, Any]]:
    """The usage of `/ai-cost`, after the reason the text was not understood (if any)."""
    blocks: list[Block] = []
    if reason:
        blocks.append(_section(f":grey_question: {reason}"))
    blocks.append(HeaderBlock(text="/ai-cost"))
    blocks.append(_section(HELP))
    return _dicts(blocks)


# --- helpers ------------------------------------------------------------------------------


def _context(report: CostReport) -> str:
    saved = report.saved
    parts = [f"Days in {report.timezone}, the org's timezone"]
    if report.compared_with:
        parts.append(f"Δ compares with {report.compared_with}")
    hits = f"{saved.cached_hits:,} cached answer{'' if saved.cached_hits == 1 else 's'}"
    parts.append(
        f"cache hits are free: caching saved {money(saved.saved_micro_usd)} "
        f"({money(saved.response_cache_saved_micro_usd)} from {hits}, "
        f"{money(saved.prompt_cache_saved_micro_usd)} from prompt caching)"
    )
    if saved.errors:
        parts.append(f"{saved.errors:,} failed call{'' if saved.errors == 1 else 's'}")
    return " · ".join(parts)


def _code_sections(lines: list[str]) -> list[Block]:
    """The lines as code blocks, split so each section stays under Slack's 3,000 chars."""
    room = SECTION_LIMIT - 2 * len(FENCE) - 2
    chunks: list[list[str]] = [[]]
    for line in lines:
        if sum(len(x) + 1 for x in chunks[-1]) + len(line) > room:
            chunks.append([])
        chunks[-1].append(line[:room])
    return [_section(f"{FENCE}\n" + "\n".join(c) + f"\n{FENCE}") for c in chunks if c]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:SECTION_LIMIT]))


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], blocks[-1]]  # keep the context line
    return [block.to_dict() for block in blocks]


def _amount(rule: BudgetRule, value: int, *, precise: bool = False, unit: str = "") -> str:
    """Money for a cost budget, a count for a call limit (the name says "call limit")."""
    if rule.metric == BudgetMetric.COST:
        return money(value, precise=precise)
    return f"{value:,}{unit}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
