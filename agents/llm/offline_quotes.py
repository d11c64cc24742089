"""Offline planner of the quotes specialist. "Price 4 bilge pumps for Halvorsen, 5% off":
find each item in the catalog, then the customer, then calculate_price; answer from a
template over the priced quote, or ("send …") propose it as an email draft to a contact."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agents.llm.port import LLMRequest
from agents.llm.transcript import (
    clear_winner,
    latest_question,
    steps_since_question,
    text_block,
    tool_use,
)
from agents.specs import prompts
from agents.tools.quotes import catalog_words

# "4 bilge pumps", "12 x ANO-ZN-10": a count, then up to four words, up to a joining word.
_ITEM = re.compile(
    r"(?<![\w.%-])(\d{1,5})\s*(?:x|×)?\s+((?:[a-z][\w/-]*)(?:\s+[a-z][\w/-]*){0,3}?)"
    r"(?=\s*(?:[,.;?!]|\band\b|\bfor\b|\bto\b|\bwith\b|\bat\b|$))",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(r"(\d{1,2}(?:\.\d{1,2})?)\s*%")
_SEND = re.compile(r"\b(send|email|e-mail|mail|draft|prepare|put together)\b", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"'s\b|\b(price|pricing|prices|quote|quotes|quoted|how|much|what|would|does|cost|costs|"
    r"for|to|the|a|an|and|with|at|off|of|me|us|please|can|you|send|email|mail|draft|"
    r"prepare|put|together|give|get|discount|total|them|it)\b|\d+(\.\d+)?\s*%|[?!.,;]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QuoteAsk:
    """What a rep's request says: items (count, words), a discount, a customer, send or not."""

    items: list[tuple[int, str]]
    discount: str
    customer: str
    send: bool


def read_request(question: str) -> QuoteAsk:
    """The parts of a quote request the planner acts on."""
    items = [(int(n), words.strip()) for n, words in _ITEM.findall(question)]
    rest = _ITEM.sub(" ", question)
    discount = _DISCOUNT.search(question)
    return QuoteAsk(
        items=items,
        discount=str(Decimal(discount.group(1))) if discount else "0",
        customer=" ".join(_NOT_A_NAME.sub(" ", rest).split()),
        send=bool(_SEND.search(question)),
    )


def plan(request: LLMRequest) -> dict[str, Any]:
    """The next step of an offline quotes run."""
    steps = steps_since_question(request.messages)
    if steps and "error" in steps[-1][1]:
        return text_block(f"I could not price that: {steps[-1][1]['error']}")
    ask = read_request(latest_question(request.messages))
    if not ask.items:
        return text_block(
            'Tell me what and how many, e.g. "price 4 bilge pumps for Halvorsen" '
            '(add "5% off" for a discount).'
        )
    found = [result for name, result in steps if name == "search_products"]
    if len(found) < len(ask.items):
        return tool_use("search_products", {"query": ask.items[len(found)][1], "limit": 10})
    lines = []
    for (count, words), result in zip(ask.items, found, strict=True):
        product = _only_match(words, result.get("products", []))
        if isinstance(product, str):
            return text_block(product)
        lines.append({"sku": product["sku"], "quantity": count})
    return _price(ask, lines, steps, rep=request.hints.get("user_name", "the team"))


def _price(
    ask: QuoteAsk, lines: list[dict[str, Any]], steps: list[tuple[str, dict[str, Any]]], rep: str
) -> dict[str, Any]:
    searched = [result for name, result in steps if name == "search_customers"]
    if ask.customer and not searched:
        return tool_use("search_customers", {"query": ask.customer, "limit": 5})
    winner = clear_winner(searched[0]) if searched else None
    if searched and winner is None and searched[0].get("customers"):
        hits = searched[0]["customers"]
        return text_block(prompts().get_template("offline_ambiguous.j2").render(hits=hits))
    priced = [result for name, result in steps if name == "calculate_price"]
    if not priced:
        args: dict[str, Any] = {"lines": lines, "discount_percent": ask.discount}
        if winner is not None:
            args["customer_id"] = winner["id"]
        return tool_use("calculate_price", args)
    quote = priced[0]
    contact = next((c for c in quote.get("customer", {}).get("contacts", []) if c["email"]), None)
    if ask.send and contact is not None:
        return _email(quote, contact, rep)
    template = prompts().get_template("offline_quotes_price.j2")
    unmatched = ask.customer if searched and winner is None else ""
    return text_block(template.render(data=quote, unmatched=unmatched).strip())


def _only_match(words: str, products: list[dict[str, Any]]) -> dict[str, Any] | str:
    """The one product every word matches, or what to tell the rep instead."""
    wanted = catalog_words(words)
    matching = [p for p in products if all(w in _haystack(p) for w in wanted)]
    if len(matching) == 1:
        return matching[0]
    template = prompts().get_template("offline_quotes_pick.j2")
    return template.render(words=words, options=matching or products).strip()


def _haystack(product: dict[str, Any]) -> str:
    return f"{product['sku']} {product['name']} {product.get('category') or ''}".lower()


def _email(quote: dict[str, Any], contact: dict[str, Any], rep: str) -> dict[str, Any]:
    customer = quote["customer"]
    body = (
        prompts()
        .get_template("offline_quotes_email.j2")
        .render(data=quote, contact=contact, rep_name=rep)
    )
    return tool_use(
        "send_email_draft",
        {
            "customer_id": customer["id"],
            "to": contact["email"],
            "subject": f"Quote for {customer['name']}",
            "body": body.strip(),
        },
    )
