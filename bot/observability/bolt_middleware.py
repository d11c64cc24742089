"""Request ids for deliveries that do not come over HTTP (Socket Mode): a Bolt middleware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.observability.request_ids import current_request_id, new_request_id, request_id_bound


def request_id_middleware(next_: Callable[[], Any]) -> Any:
    """Run the listeners of a delivery under a request id of its own (over HTTP the WSGI
    middleware has set one already, and it is kept), so the jobs they queue inherit it."""
    if current_request_id() is not None:
        return next_()
    with request_id_bound(new_request_id()):
        return next_()
