"""`/ai-cost export`: the period's roll-up rows as a CSV, uploaded into the admin's DM."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal

from slack_sdk import WebClient

from agents.costs.periods import Period
from agents.costs.report import ExportRow

HEADER = (
    "day",
    "user",
    "customer",
    "agent",
    "model",
    "request_type",
    "requests",
    "errors",
    "cached_hits",
    "input_tokens",
    "output_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "tokens",
    "cost_usd",
    "response_cache_saved_usd",
    "prompt_cache_saved_usd",
)


def dollars(micro_usd: int) -> str:
    """Exact dollars with six decimals: 1234567 µUSD → '1.234567'."""
    return f"{Decimal(micro_usd).scaleb(-6):.6f}"


def export_csv(rows: Sequence[ExportRow]) -> str:
    """The rows as CSV text with a header line (stdlib csv: names are quoted as needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        t = row.totals
        writer.writerow(
            [
                row.day.isoformat(),
                row.user,
                row.customer,
                row.agent,
                row.model,
                row.request_type,
                t.requests,
                t.errors,
                t.cached_hits,
                t.input_tokens,
                t.output_tokens,
                t.cache_write_tokens,
                t.cache_read_tokens,
                t.tokens,
                dollars(t.cost_micro_usd),
                dollars(t.response_cache_saved_micro_usd),
                dollars(t.prompt_cache_saved_micro_usd),
            ]
        )
    return out.getvalue()


def export_filename(org_name: str, p: Period) -> str:
    """'ai-cost-demo-co-month-2026-11-01.csv'."""
    slug = "".join(c if c.isalnum() else "-" for c in org_name.lower()).strip("-") or "org"
    return f"ai-cost-{slug}-{p.name}-{p.start.isoformat()}.csv"


def upload_to_dm(
    client: WebClient, *, slack_user_id: str, content: str, filename: str, comment: str
) -> str:
    """Open the bot's DM with the person and share the file there; returns the DM's id."""
    channel = client.conversations_open(users=slack_user_id)["channel"]["id"]
    client.files_upload_v2(
        channel=channel,
        content=content,
        filename=filename,
        title=filename,
        initial_comment=comment,
    )
    return str(channel)
