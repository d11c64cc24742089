"""Block Kit for cost news in the admin channel: the daily digest and budget alerts.

Pure functions from `Digest` / `Crossing` to Slack JSON. Numbers sit in code blocks so their
columns line up; names from the CRM are escaped and stripped of backticks so they can neither
ping anyone nor break out of the code block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.costs.digest import BudgetWarning, Change, Digest, Ranked
from agents.metering.budgets import Crossing
from agents.metering.money import MICRO_PER_USD, usd, usd_cents
from bot.cost_chart import sparkline
from bot.draft_blocks import escape_mrkdwn, slack_date
from storage.models import BudgetMetric

MAX_WARNINGS = 12
LABEL_WIDTH = 22
_HEADER_LIMIT = 150


def money(micro_usd: int) -> str:
    """Cents once there are dollars to speak of; four decimals for the small change of a
    quiet day (where every line would otherwise read $0.00); nothing is $0.00."""
    return (
        usd_cents(micro_usd)
        if abs(micro_usd) >= MICRO_PER_USD or micro_usd == 0
        else usd(micro_usd)
    )


def money_column(*amounts: int) -> Callable[[int], str]:
    """One format for a column of amounts, so their decimal points line up."""
    if max((abs(a) for a in amounts), default=0) >= MICRO_PER_USD:
        return usd_cents
    return usd


def change_text(change: Change) -> str:
    """'+23 %', '−18 %', 'no change', 'new' (nothing before), '–' (nothing either day)."""
    if change.previous == 0:
        return "new" if change.current else "–"
    pct = change.pct or 0
    if pct == 0:
        return "no change" if change.current == change.previous else "±0 %"
    return f"+{pct} %" if pct > 0 else f"−{-pct} %"


def day_label(day: date) -> str:
    """'Tue 20 Jan'."""
    return f"{day:%a} {day.day} {day:%b}"


def digest_title(digest: Digest) -> str:
    """'AI cost digest · Demo Co · Tue 20 Jan 2026'."""
    title = f"AI cost digest · {digest.org_name} · {day_label(digest.day)} {digest.day.year}"
    return _clip(title, _HEADER_LIMIT)


def digest_fallback_text(digest: Digest) -> str:
    """Notification text: the day's spend and how it compares."""
    return (
        f"{digest_title(digest)}: {money(digest.cost)} "
        f"({change_text(digest.vs_day_before)} vs the day before, "
        f"{change_text(digest.vs_week_before)} vs {day_label(digest.week_before)})"
    )


def chart_title(digest: Digest) -> str:
    """The PNG's title: whose cost, over which days."""
    first, last = digest.series[0][0], digest.series[-1][0]
    return f"{digest.org_name}: AI cost per day, {day_label(first)} – {day_label(last)} {last.year}"


def digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    """The digest message: header, the numbers, the 30-day sparkline, top lists, warnings."""
    blocks: list[Block] = [
        HeaderBlock(text=digest_title(digest)),
        _section(_code(_summary_rows(digest))),
        _section(_trend(digest)),
    ]
    for title, ranked in (
        ("Top users", digest.top_users),
        ("Top customers", digest.top_customers),
        ("Top agents", digest.top_agents),
    ):
        blocks.append(_section(f"*{title}*\n{_top(ranked)}"))
    blocks.append(_section(_warnings(digest.warnings)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Days in {escape_mrkdwn(digest.timezone)} time · "
                    "budget warnings are as of now · the 30-day chart is in the thread"
                )
            ]
        )
    )
    return [block.to_dict() for block in blocks]


def _summary_rows(digest: Digest) -> list[tuple[str, str, str]]:
    totals, month = digest.totals, digest.month
    saved = totals.saved_micro_usd
    day_before, week_before = digest.vs_day_before.previous, digest.vs_week_before.previous
    column = money_column(digest.cost, day_before, week_before, month.spent, saved)
    rows = [
        (day_label(digest.day), column(digest.cost), _calls(totals.requests)),
        (
            f"vs {day_label(digest.day_before)}",
            column(day_before),
            change_text(digest.vs_day_before),
        ),
        (
            f"vs {day_label(digest.week_before)}",
            column(week_before),
            change_text(digest.vs_week_before),
        ),
    ]
    if month.limit is None:
        budget = f"no monthly budget · on pace for {money(month.projected)}"
    else:
        budget = f"{month.pct} % of {money(month.limit)} · on pace for {money(month.projected)}"
    rows.append(("Month to date", column(month.spent), budget))
    rows.append(
        (
            "Cache savings",
            column(saved),
            f"responses {column(totals.response_cache_saved_micro_usd)}"
            f" · prompts {column(totals.prompt_cache_saved_micro_usd)}",
        )
    )
    failure_share = f" ({100 * totals.errors / totals.requests:.1f} %)" if totals.requests else ""
    rows.append(("Failures", f"{totals.errors:,}", f"of {_calls(totals.requests)}{failure_share}"))
    return rows


def _calls(count: int) -> str:
    return f"{count:,} call" + ("" if count == 1 else "s")


def _trend(digest: Digest) -> str:
    values = [cost for _, cost in digest.series]
    peak_day, peak = max(digest.series, key=lambda item: (item[1], item[0]))
    line = f"*Last 30 days*  `{sparkline(values)}`"
    if peak <= 0:
        return f"{line}\nNo spend in the last 30 days."
    total = sum(values)
    return (
        f"{line}\n{money(total)} in total · highest {money(peak)} on {day_label(peak_day)}"
        f" · {money(total // len(values))} a day on average"
    )


def _top(ranked: Sequence[Ranked]) -> str:
    if not ranked:
        return "_No calls._"
    column = money_column(*(r.cost_micro_usd for r in ranked))
    return _code([(r.label, column(r.cost_micro_usd), _calls(r.requests)) for r in ranked])


def _warnings(warnings: Sequence[BudgetWarning]) -> str:
    if not warnings:
        return "*Budget warnings*\nNo budget is near its limit."
    lines = [_warning_line(w) for w in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        lines.append(f"…and {len(warnings) - MAX_WARNINGS} more")
    return "*Budget warnings*\n" + "\n".join(lines)


def _warning_line(warning: BudgetWarning) -> str:
    emoji = ":no_entry:" if warning.hit else ":warning:"
    amounts = _amounts(warning.metric, warning.used, warning.limit)
    resets = slack_date(warning.resets_at)
    return f"{emoji} {_title(warning.budget)}: {amounts} ({warning.pct} %) · resets {resets}"


def _amounts(metric: BudgetMetric, used: int, limit: int) -> str:
    if metric == BudgetMetric.COST:
        column = money_column(used, limit)
        return f"{column(used)} of {column(limit)}"
    return f"{used:,} of {limit:,} calls"


# --- budget alerts ----------------------------------------------------------------------------


def alert_text(crossing: Crossing, *, now: datetime) -> str:
    """The one message an admin gets when a budget passes its threshold or is hit."""
    title = _title(crossing.budget)
    amounts = _amounts(crossing.metric, crossing.used, crossing.limit)
    resets = f"{slack_date(crossing.resets_at)} (in {_duration(crossing.resets_at - now)})"
    if crossing.threshold_pct >= 100:
        return (
            f":no_entry: *{title} is used up* — {amounts} used, and the next request would "
            f"go over it. Requests are being refused until it resets {resets}. "
            "An admin can raise it with `/ai-cost budget set`."
        )
    pct = 100 if crossing.limit <= 0 else 100 * crossing.used // crossing.limit
    return (
        f":warning: *{title} has passed {crossing.threshold_pct} %* — {amounts} used "
        f"({pct} %). It resets {resets}; at 100 % requests are refused until then."
    )


def alert_blocks(crossing: Crossing, *, now: datetime) -> list[dict[str, Any]]:
    """The alert as one section (the same words as its notification text)."""
    return [_section(alert_text(crossing, now=now)).to_dict()]


# --- helpers ----------------------------------------------------------------------------------


def _title(budget: str) -> str:
    """ "the org's daily budget" as the start of a sentence, escaped."""
    return escape_mrkdwn(budget[:1].upper() + budget[1:])


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _code(rows: Sequence[tuple[str, str, str]]) -> str:
    """Rows of (label, amount, note) with labels left- and amounts right-aligned."""
    labels = [_clip(_plain(label), LABEL_WIDTH) for label, _, _ in rows]
    width = max(len(label) for label in labels)
    amount_width = max(len(amount) for _, amount, _ in rows)
    lines = [
        f"{label.ljust(width)}  {amount.rjust(amount_width)}  {note}".rstrip()
        for label, (_, amount, note) in zip(labels, rows, strict=True)
    ]
    # Escaped after padding: Slack shows `&amp;` as one character, so the columns still line up.
    return "```\n" + escape_mrkdwn("\n".join(lines)) + "\n```"


def _plain(label: str) -> str:
    """A name made safe inside a code block: one line, no backtick to close the fence."""
    return " ".join(label.replace("`", "'").split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
