from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from .anthropic_api import (
    CutStream,
    ErrorMidStream,
    Fail,
    FakeAnthropicAPI,
    Hang,
    Reply,
    text_reply,
    tool_reply,
)
from .anthropic_wire import estimate_input_tokens

MODEL = "claude-sonnet-5-5"
USAGE = {
    "input_tokens": 1200,
    "output_tokens": 85,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
}
HELLO = [{"role": "user", "content": "How is Acme doing?"}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as api:
        yield api


def _client(fake: FakeAnthropicAPI, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=max_retries)


def test_non_streaming_text_reply_is_a_real_message_with_exact_usage(fake):
    fake.script(text_reply("Acme is healthy.", usage=USAGE))

    message = _client(fake).messages.create(model=MODEL, max_tokens=256, messages=HELLO)

    assert isinstance(message, anthropic.types.Message)
    assert message.id.startswith("msg_")
    assert (message.model, message.stop_reason, message.stop_sequence) == (MODEL, "end_turn", None)
    assert message.content[0].text == "Acme is healthy."
    assert message.usage.model_dump(exclude_none=True) == {**USAGE, "service_tier": "standard"}
    request = fake.requests[0]
    assert request.api_key == "test-key"  # SDK 2.x sends it as Authorization: Bearer
    assert request.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION
    assert request.json["messages"] == HELLO


def test_tool_use_reply_for_a_forced_tool_choice(fake):
    def forced_route(body: dict) -> None:
        assert body["tool_choice"] == {"type": "tool", "name": "route"}

    fake.script(
        tool_reply("route", {"specialist": "deals", "reason": "pipeline"}, expect=forced_route)
    )

    message = _client(fake).messages.create(
        model=MODEL,
        max_tokens=256,
        messages=HELLO,
        tools=[{"name": "route", "description": "Pick", "input_schema": {"type": "object"}}],
        tool_choice={"type": "tool", "name": "route"},
    )

    [block] = message.content
    assert message.stop_reason == "tool_use"
    assert (block.type, block.name, block.input) == (
        "tool_use",
        "route",
        {"specialist": "deals", "reason": "pipeline"},
    )
    assert block.id.startswith("toolu_")


def test_stream_helper_final_message_has_the_scripted_text_and_usage(fake):
    text = "Acme renewed for two years and expanded seats."
    fake.script(text_reply(text, usage=USAGE))

    with _client(fake).messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text == text
    assert final.usage.model_dump(exclude_none=True) == {**USAGE, "service_tier": "standard"}
    assert fake.message_requests[0]["stream"] is True


def test_raw_stream_has_the_real_event_sequence_and_rebuilds_tool_input(fake):
    tool_input = {"query": "renewals due in Q3", "limit": 25, "owner": "U_ALICE"}
    fake.script(tool_reply("search_deals", tool_input, text="Let me look.", usage=USAGE))

    events = list(
        _client(fake).messages.create(model=MODEL, max_tokens=256, messages=HELLO, stream=True)
    )

    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    assert events[0].message.usage.output_tokens == 1
    assert events[-2].usage.output_tokens == USAGE["output_tokens"]
    assert events[-2].delta.stop_reason == "tool_use"
    partial = "".join(
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert json.loads(partial) == tool_input


def test_rate_limit_then_success_is_retried_by_the_sdk(fake):
    fake.script(Fail(429, retry_after="0.01"), text_reply("ok"))

    message = _client(fake, max_retries=1).messages.create(
        model=MODEL, max_tokens=16, messages=HELLO
    )

    assert message.content[0].text == "ok"
    assert len(fake.message_requests) == 2


def test_rate_limit_error_carries_retry_after_and_request_id(fake):
    fake.script(Fail(429, retry_after=30, message="slow down"))

    with pytest.raises(anthropic.RateLimitError) as error:
        _client(fake).messages.create(model=MODEL, max_tokens=16, messages=HELLO)

    assert error.value.response.headers["retry-after"] == "30"
    assert error.value.request_id.startswith("req_")
    assert error.value.body["error"] == {"type": "rate_limit_error", "message": "slow down"}


def test_overloaded_529_surfaces_as_overloaded_error(fake):
    fake.script(Fail(529))

    with pytest.raises(anthropic.OverloadedError) as error:
        _client(fake).messages.create(model=MODEL, max_tokens=16, messages=HELLO)

    assert isinstance(error.value, anthropic.InternalServerError)
    assert error.value.status_code == 529


def test_cut_stream_raises_the_transport_error_unwrapped(fake):
    fake.script(CutStream(after_events=4))

    # The SDK does not wrap errors raised while iterating a stream: callers see httpx2's.
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        with _client(fake).messages.stream(model=MODEL, max_tokens=16, messages=HELLO) as stream:
            stream.get_final_message()


def test_an_error_event_mid_stream_raises_a_status_error_carrying_its_type(fake):
    fake.script(ErrorMidStream(after_events=4, error_type="overloaded_error"))

    # The stream began with 200: the SDK raises a plain APIStatusError, only the body says why.
    with pytest.raises(anthropic.APIStatusError) as error:
        with _client(fake).messages.stream(model=MODEL, max_tokens=16, messages=HELLO) as stream:
            stream.get_final_message()

    assert error.value.status_code == 200
    assert error.value.body["error"]["type"] == "overloaded_error"


def test_a_hang_times_the_client_out_and_each_retry_says_its_number(fake):
    fake.script(Hang(seconds=1.0), Hang(seconds=1.0), text_reply("late but fine"))
    client = anthropic.Anthropic(
        api_key="test-key", base_url=fake.base_url, max_retries=2, timeout=0.2
    )

    message = client.messages.create(model=MODEL, max_tokens=16, messages=HELLO)

    assert message.content[0].text == "late but fine"
    retries = [r.headers["x-stainless-retry-count"] for r in fake.requests]
    assert retries == ["0", "1", "2"]


def test_a_hang_past_every_retry_is_a_timeout_error(fake):
    fake.script(Hang(seconds=1.0))

    with pytest.raises(anthropic.APITimeoutError):
        anthropic.Anthropic(
            api_key="test-key", base_url=fake.base_url, max_retries=0, timeout=0.2
        ).messages.create(model=MODEL, max_tokens=16, messages=HELLO)


def test_unexpected_call_fails_fast_and_makes_assert_done_fail():
    api = FakeAnthropicAPI(check_on_exit=False)
    with api:
        with pytest.raises(anthropic.InternalServerError):
            _client(api, max_retries=3).messages.create(model=MODEL, max_tokens=16, messages=HELLO)

    assert len(api.message_requests) == 1  # x-should-retry: false stopped the SDK retrying
    with pytest.raises(AssertionError, match="unexpected POST /v1/messages"):
        api.assert_done()


def test_leaving_the_block_with_unconsumed_steps_fails():
    with pytest.raises(AssertionError, match="unconsumed step"):
        with FakeAnthropicAPI() as api:
            api.script(text_reply("never asked for"))


def test_failed_expectation_is_a_bad_request_and_a_problem():
    def wants_system(body: dict) -> None:
        assert "system" in body, "triage must send a system prompt"

    with FakeAnthropicAPI(check_on_exit=False) as api:
        api.script(Reply("x", expect=wants_system))
        with pytest.raises(anthropic.BadRequestError, match="triage must send a system prompt"):
            _client(api).messages.create(model=MODEL, max_tokens=16, messages=HELLO)

    assert "triage must send a system prompt" in api.problems[0]


def test_tool_use_without_tool_result_is_rejected_like_the_real_api():
    history = [
        *HELLO,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}}],
        },
        {"role": "user", "content": "and?"},
    ]
    with FakeAnthropicAPI(check_on_exit=False) as api:
        with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
            _client(api).messages.create(model=MODEL, max_tokens=16, messages=history)

    assert len(api.problems) == 1


def _raw_post(api: FakeAnthropicAPI, body: dict, headers: dict[str, str]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{api.base_url}/v1/messages", data=json.dumps(body).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_missing_api_key_and_missing_fields_get_real_error_bodies():
    with FakeAnthropicAPI(check_on_exit=False) as api:
        no_key = _raw_post(api, {}, {"anthropic-version": "2023-06-01"})
        no_tokens = _raw_post(
            api,
            {"model": MODEL, "messages": HELLO},
            {"x-api-key": "k", "anthropic-version": "2023-06-01"},
        )

    status, headers, body = no_key
    assert (status, body["type"], body["error"]["type"]) == (401, "error", "authentication_error")
    assert headers["request-id"].startswith("req_")
    status, _, body = no_tokens
    assert (status, body["error"]["type"]) == (400, "invalid_request_error")
    assert body["error"]["message"].startswith("max_tokens")
    assert len(api.problems) == 2


def test_count_tokens_is_a_deterministic_estimate(fake):
    counted = _client(fake).messages.count_tokens(model=MODEL, messages=HELLO, system="Be brief.")

    expected = estimate_input_tokens({"messages": HELLO, "system": "Be brief."})
    assert counted.input_tokens == expected
    assert fake.message_requests == []
