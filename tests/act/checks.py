"""What the act tests assert about every run: the requests the stand-in received, and no token in the log."""

from __future__ import annotations

import json
import re
from typing import Any

from testing.northflank_standin import NorthflankStandin, RecordedRequest
from tests.act.harness import ActResult

_STAGE = re.compile(r"/release-flows/(?P<stage>[^/]+)/runs$")


def trigger_posts(standin: NorthflankStandin) -> list[RecordedRequest]:
    return standin.requests_to("trigger", "POST")


def stage_of(request: RecordedRequest) -> str:
    match = _STAGE.search(request.path)
    assert match, request.path
    return match.group("stage")


def assert_token_absent(result: ActResult, standin: NorthflankStandin) -> None:
    """act's whole log never shows the stand-in's token: every line, every JSON field.

    One exception, act's own: with --json, act records a workflow command's argument verbatim in the
    `arg` and `raw` fields, and masks only the message (nektos/act pkg/runner/logger.go, `valueMasker`
    replaces in `entry.Message`). For `add-mask` those fields are the secret being registered; act's
    text log, which prints messages only, shows `***`. Those two fields of add-mask records are skipped.
    """
    token = standin.token
    leaks: list[str] = []
    for line in result.log.splitlines():
        if token not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("command") == "add-mask":
            rest = {key: value for key, value in record.items() if key not in {"arg", "raw"}}
            if token not in json.dumps(rest, ensure_ascii=False):
                continue
        leaks.append(line.replace(token, "<TOKEN>")[:300])
    assert not leaks, "the API token appears in act's log:\n" + "\n".join(leaks)


def body_of(request: RecordedRequest) -> dict[str, Any]:
    body = request.body_json
    assert isinstance(body, dict), request.body_text
    return body
