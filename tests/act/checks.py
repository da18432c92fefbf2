"""What the act tests assert about every run: the requests the stand-in received, and no token in the log."""

from __future__ import annotations

import re
from typing import Any

from tests.act.harness import ActResult
from tests.northflank_standin import NorthflankStandin, RecordedRequest

_STAGE = re.compile(r"/release-flows/(?P<stage>[^/]+)/runs$")


def trigger_posts(standin: NorthflankStandin) -> list[RecordedRequest]:
    return standin.requests_to("trigger", "POST")


def stage_of(request: RecordedRequest) -> str:
    match = _STAGE.search(request.path)
    assert match, request.path
    return match.group("stage")


def assert_token_absent(result: ActResult, standin: NorthflankStandin) -> None:
    """act's whole log (every step, every debug line it printed) never shows the stand-in's token."""
    assert standin.token not in result.log, "the API token appears in act's log"


def body_of(request: RecordedRequest) -> dict[str, Any]:
    body = request.body_json
    assert isinstance(body, dict), request.body_text
    return body
