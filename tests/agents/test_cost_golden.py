"""Golden numbers beyond list prices: prompt-cache savings, admin price overrides, the
pre-call estimate, and streamed usage (cumulative, never summed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import anthropic
import pytest

from agents.llm.port import LLMRequest
from agents.metering import PriceCatalog, Usage, usage_of
from agents.metering.estimate import estimate_micro_usd, input_token_bound
from tests.fakes.anthropic_api import FakeAnthropicAPI, text_reply

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog():
    return PriceCatalog.load()


def test_prompt_cache_savings_net_of_the_write_premium(catalog):
    price = catalog.price("claude-sonnet-5-5", AT)
    usage = Usage(cache_read_tokens=10_000, cache_write_5m_tokens=1_000, cache_write_1h_tokens=100)
    # reads: 10000 × (2 − 0.10); premium: 1000 × (2.50 − 2) + 100 × (4 − 2)
    assert price.prompt_cache_saving(usage) == 19_000 - 500 - 200
    assert price.prompt_cache_saving(Usage(cache_write_5m_tokens=1_000)) == -500
    assert price.prompt_cache_saving(Usage(input_tokens=5_000, output_tokens=10)) == 0


def test_admin_overrides_add_models_and_replace_same_day_prices(tmp_path):
    overrides = tmp_path / "prices.json"
    entry = {
        "input": "1",
        "output": "3",
        "cache_write_5m": "1.25",
        "cache_write_1h": "2",
        "cache_read": "0.1",
        "batch_input": "0.5",
        "batch_output": "1.5",
    }
    overrides.write_text(
        json.dumps(
            {
                "models": {
                    "claude-sonnet-5-5": [{"effective_from": "2026-10-07", **entry}],
                    "our-finetune-1": [{"effective_from": "2026-01-01", **entry}],
                }
            }
        )
    )
    catalog = PriceCatalog.load(overrides)
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    assert catalog.cost("claude-sonnet-5-5", usage, AT) == 1_000 + 3_000  # replaced
    assert catalog.cost("our-finetune-1", usage, AT) == 4_000  # added
    before = datetime(2026, 9, 1, tzinfo=UTC)  # the packaged July price still applies
    assert catalog.cost("claude-sonnet-5-5", usage, before) == 2_000 + 10_000


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-haiku-5-5"])
@pytest.mark.parametrize("size", [10, 5_000, 150_000])
def test_the_estimate_covers_the_dearest_call_the_request_can_make(catalog, model, size):
    request = LLMRequest(
        agent="customer",
        model=model,
        system="You help sales reps. " * 20,
        messages=[{"role": "user", "content": "ø" * size}],  # 2 bytes a character
        max_tokens=2_048,
        tools=[{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
    )
    price = catalog.price(model, AT)
    bound = input_token_bound(request)
    assert bound >= 2 * size  # every token covers at least one byte
    worst = [
        Usage(input_tokens=bound, output_tokens=2_048),
        Usage(cache_write_1h_tokens=bound, output_tokens=2_048),
        Usage(cache_write_5m_tokens=bound, output_tokens=2_048),
    ]
    estimate = estimate_micro_usd(request, price)
    assert all(estimate >= price.cost_micro_usd(usage) for usage in worst)


def test_a_streamed_call_is_priced_from_the_final_cumulative_usage(catalog):
    usage = {
        "input_tokens": 2_987,
        "output_tokens": 233,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1_300,
    }
    with FakeAnthropicAPI() as fake:
        fake.script(text_reply("Streaming works.", usage=usage))
        client = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        with client.messages.stream(
            model="claude-sonnet-5-5",
            max_tokens=500,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream:
            final = stream.get_final_message()
    # message_start said output_tokens=1, message_delta says 233 (cumulative): 233, not 234.
    assert usage_of(final) == Usage(input_tokens=2_987, output_tokens=233, cache_read_tokens=1_300)
    assert catalog.cost("claude-sonnet-5-5", usage_of(final), AT) == 2_987 * 2 + 233 * 10 + 130
