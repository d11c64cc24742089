"""What the web processes' logs say about overload: waitress warns (at WARNING, the level the
load runs log at) when requests queue for its threads and when it stops accepting connections
(its `connection_limit`, 100 open connections per process by default)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) WARNING waitress\S* "
    r".*?(?:depth is (\d+)|(connection limit))"
)


def waitress_events(logs: Path, first_send_wall: float) -> dict[str, Any]:
    """Deepest task queue, connection-limit refusals, and when the first one came (seconds
    after the first request), over every web.*.log in `logs`."""
    depth, hits, first = 0, 0, None
    for log in sorted(logs.glob("web.*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            found = _LINE.match(line)
            if found is None:
                continue
            if found.group(2):
                depth = max(depth, int(found.group(2)))
                continue
            hits += 1
            at = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            first = at if first is None else min(first, at)
    return {
        "task_queue_depth_max": depth,
        "connection_limit_warnings": hits,
        "first_connection_limit_s": None if first is None else round(first - first_send_wall),
    }
