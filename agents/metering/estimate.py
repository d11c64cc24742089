"""A conservative bound on what a call can cost, reserved against budgets before it runs.

Hand-written rather than a `count_tokens` round trip per call (which would double latency):
every token covers at least one byte of the request's JSON, and output cannot exceed
`max_tokens`, so this never under-estimates. Settling replaces it with the exact cost.
"""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, Decimal

from agents.llm.port import LLMRequest
from agents.metering.prices import Price

# Anthropic wraps tools in its own system prompt and frames each message; generous on purpose.
FRAMING_TOKENS = 1000


def input_token_bound(request: LLMRequest) -> int:
    """At least as many tokens as the prompt really has."""
    payload = [request.system, request.messages, request.tools, request.tool_choice]
    return len(json.dumps(payload, ensure_ascii=False).encode()) + FRAMING_TOKENS


def estimate_micro_usd(request: LLMRequest, price: Price) -> int:
    """Prompt tokens at the dearest input rate (a cache write may cost more than input),
    plus `max_tokens` of output, rounded up."""
    prompt = input_token_bound(request)
    rates = price.rates_for(prompt)
    per_prompt_token = max(rates.input, rates.cache_write_5m, rates.cache_write_1h)
    exact = prompt * per_prompt_token + request.max_tokens * rates.output
    return int(Decimal(exact).quantize(Decimal(1), rounding=ROUND_CEILING))
