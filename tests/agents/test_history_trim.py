"""Thread history is cut to a token budget: newest whole exchanges kept, never a lone reply."""

from __future__ import annotations

from agents.turns import CHARS_PER_TOKEN, trim_to_tokens


def _exchange(n: int, size: int) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"q{n}".ljust(size, ".")},
        {"role": "assistant", "content": f"a{n}".ljust(size, ".")},
    ]


def test_the_newest_exchanges_that_fit_are_kept_in_order():
    history = [m for n in range(5) for m in _exchange(n, 400)]  # ~201 tokens per exchange
    kept = trim_to_tokens(history, 450)
    assert [m["content"][:2] for m in kept] == ["q3", "a3", "q4", "a4"]
    assert kept[0]["role"] == "user"
    assert sum(len(m["content"]) for m in kept) // CHARS_PER_TOKEN <= 450


def test_everything_fits_in_a_large_budget_and_nothing_in_a_zero_one():
    history = [m for n in range(3) for m in _exchange(n, 40)]
    assert trim_to_tokens(history, 10_000) == history
    assert trim_to_tokens(history, 0) == []


def test_an_exchange_larger_than_the_budget_stops_the_walk():
    history = [*_exchange(0, 40), *_exchange(1, 4_000), *_exchange(2, 40)]
    assert [m["content"][:2] for m in trim_to_tokens(history, 100)] == ["q2", "a2"]
