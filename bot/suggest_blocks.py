"""`/ai-suggest` replies and the App Home suggestions section, drawn from a TeamView."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.suggestions.nudges import Item
from agents.suggestions.team import RepLine, TeamView
from bot.draft_blocks import context_block, fit
from bot.nudge_blocks import RULE_LABELS, item_blocks
from storage.models import SuggestionRule

HELP = (
    "*`/ai-suggest`* — your open suggestions (managers: your team's)\n"
    "*`/ai-suggest mine`* — only yours\n"
    "*`/ai-suggest team`* — your team's (managers and admins)\n"
    "Act on a suggestion from its nudge or from the Countersign App Home."
)
MAX_REPS = 15


def suggest_text(view: TeamView) -> str:
    """The notification and fallback text."""
    n = view.summary.total
    return f"{n} open suggestion{'s' if n != 1 else ''} ({view.scope})"


def own_blocks(view: TeamView) -> list[dict[str, Any]]:
    """A rep's open suggestions, read-only (decisions happen on the nudge or in App Home)."""
    if not view.summary.total:
        return _dicts([_section(":sparkles: Nothing open for you right now. Nice.")])
    blocks: list[Block] = [
        _section(f"*{suggest_text(view)}* · {_rule_counts(view)}"),
        *(_item_line(item) for item in view.top),
    ]
    more = view.summary.total - len(view.top)
    tail = f"+{more} more · " if more > 0 else ""
    blocks.append(
        context_block(f"{tail}Accept, dismiss or snooze them in the Countersign App Home.")
    )
    return _dicts(blocks)


def team_blocks(view: TeamView) -> list[dict[str, Any]]:
    """A manager's summary: per rule and per rep, the top suggestions, acceptance per rule."""
    blocks: list[Block] = [HeaderBlock(text=f"Open suggestions: {view.summary.total}")]
    blocks.append(_section(f"*{view.scope.capitalize()}* · {_rule_counts(view) or 'none'}"))
    if view.reps:
        blocks.append(_section("\n".join(_rep_line(r) for r in view.reps[:MAX_REPS])))
    if view.unowned:
        blocks.append(context_block(f"{view.unowned} with no owner in the CRM"))
    if view.top:
        blocks += [DividerBlock(), _section("*Highest priority*")]
        blocks += [_item_line(item) for item in view.top]
    blocks += [DividerBlock(), _section(_acceptance_text(view))]
    return _dicts(blocks)


def home_suggestion_blocks(view: TeamView, team: TeamView | None) -> list[Block]:
    """App Home: the viewer's top suggestions with their buttons; a manager's team line."""
    blocks: list[Block] = [HeaderBlock(text="Suggestions for you")]
    if not view.top:
        blocks.append(context_block("No open suggestions. The next scan may bring some."))
    for item in view.top:
        blocks += item_blocks(item)
    if team is not None and team.summary.total:
        reps = ", ".join(f"{r.name} {r.open}" for r in team.reps[:6])
        blocks.append(
            context_block(
                f"{team.scope.capitalize()} open suggestions: {team.summary.total}"
                + (f" ({reps})" if reps else "")
                + " · `/ai-suggest team` for the summary"
            )
        )
    return blocks


def _rule_counts(view: TeamView) -> str:
    counts = sorted(view.summary.by_rule.items(), key=lambda kv: (-kv[1], kv[0].value))
    return " · ".join(f"{_label(rule)} {n}" for rule, n in counts)


def _rep_line(rep: RepLine) -> str:
    who = f"<@{rep.slack_user_id}>" if rep.slack_user_id else fit(rep.name, 80)
    top = f" — mostly {_label(rep.top_rule)}" if rep.top_rule else ""
    return f"• {who}: {rep.open}{top}"


def _item_line(item: Item) -> SectionBlock:
    owner = f" · <@{item.owner}>" if item.owner else ""
    text = f"{_label(item.rule)} *{fit(item.customer, 150)}* — {fit(item.title, 300)}{owner}"
    return _section(text)


def _acceptance_text(view: TeamView) -> str:
    """Per rule: accepted out of decided in the window; rules nobody decided on are left out."""
    lines = [f"*Acted on, last {view.acceptance_days} days* (accepted / accepted + dismissed)"]
    for rule in SuggestionRule:
        numbers = view.acceptance.get(rule)
        if numbers is None or numbers.rate is None:
            continue
        decided = numbers.accepted + numbers.dismissed
        snoozed = f", {numbers.snoozed} snoozed" if numbers.snoozed else ""
        lines.append(
            f"• {_label(rule)}: {numbers.rate:.0%} ({numbers.accepted}/{decided}{snoozed})"
        )
    if len(lines) == 1:
        lines.append("No decisions yet.")
    return "\n".join(lines)


def _label(rule: SuggestionRule) -> str:
    return RULE_LABELS.get(rule, rule.value)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [b.to_dict() for b in blocks]
