"""Golden costs, exact to 1 µUSD, from the packaged price catalog."""

from datetime import UTC, datetime

import pytest

from agents.errors import UnknownModelError
from agents.metering import PriceCatalog, Usage

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog():
    return PriceCatalog.load()


def test_every_token_kind_is_priced_exactly(catalog):
    usage = Usage(
        input_tokens=1_234,
        output_tokens=567,
        cache_write_5m_tokens=2_000,
        cache_write_1h_tokens=1_000,
        cache_read_tokens=10_001,
    )
    # Sonnet 5.5 after 2026-10-07: 2, 10, 2.50, 4, 0.10 USD/MTok == µUSD/token
    # 1234*2 + 567*10 + 2000*2.5 + 1000*4 + 10001*0.1 = 2468 + 5670 + 5000 + 4000 + 1000.1
    assert catalog.cost("claude-sonnet-5-5", usage, AT) == 18_138


def test_a_dated_price_change_applies_from_its_day(catalog):
    usage = Usage(cache_read_tokens=1_000_000)
    before = datetime(2026, 10, 6, 23, 59, tzinfo=UTC)
    after = datetime(2026, 10, 7, 0, 0, tzinfo=UTC)
    assert catalog.cost("claude-sonnet-5-5", usage, before) == 200_000
    assert catalog.cost("claude-sonnet-5-5", usage, after) == 100_000


def test_rounding_is_half_up_once_per_call(catalog):
    # Haiku 5.5 cache reads are 0.01 µUSD/token: 49 tokens = 0.49 → 0, 50 tokens = 0.5 → 1
    assert catalog.cost("claude-haiku-5-5", Usage(cache_read_tokens=49), AT) == 0
    assert catalog.cost("claude-haiku-5-5", Usage(cache_read_tokens=50), AT) == 1


def test_a_long_prompt_moves_every_token_to_the_long_tier(catalog):
    short = Usage(input_tokens=100_000, output_tokens=1_000)
    long = Usage(input_tokens=90_000, cache_read_tokens=10_001, output_tokens=1_000)
    assert catalog.cost("claude-haiku-5-5", short, AT) == 10_000 + 500
    # 90000*0.5 + 10001*0.05 + 1000*2.5 = 45000 + 500.05 + 2500
    assert catalog.cost("claude-haiku-5-5", long, AT) == 48_000


def test_batch_prices_use_the_batch_rates(catalog):
    usage = Usage(input_tokens=1_000, output_tokens=1_000)
    assert catalog.cost("claude-sonnet-5-5", usage, AT, batch=True) == 1_000 + 5_000


def test_dated_snapshot_ids_are_priced_as_their_family(catalog):
    usage = Usage(input_tokens=1_000)
    assert catalog.cost("claude-sonnet-4-5-20250929", usage, AT) == 3_000


def test_an_unknown_model_is_refused_never_priced_at_zero(catalog):
    with pytest.raises(UnknownModelError, match="claude-imaginary-9"):
        catalog.cost("claude-imaginary-9", Usage(input_tokens=1), AT)


def test_a_model_before_its_first_price_is_refused(catalog):
    with pytest.raises(UnknownModelError):
        catalog.cost("claude-haiku-5-5", Usage(input_tokens=1), datetime(2025, 1, 1, tzinfo=UTC))


def test_every_default_model_is_in_the_catalog(catalog):
    from agents.settings import AgentSettings

    defaults = AgentSettings(anthropic_api_key=None)
    assert catalog.knows(defaults.triage_model)
    assert catalog.knows(defaults.specialist_model)
