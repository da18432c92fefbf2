"""What an API refusal most likely means, in the words of the messages it feeds: the trigger's, the reads'
(lookup, follow, wait). The HTTP client reports the status; the advice is the action's, not the API's."""

from __future__ import annotations

from northflank_release.api.failures import Failure

_TRIGGER_CAUSES = {
    400: "the API refused the request body",
    401: "the API token is missing, wrong or revoked: check the secret passed as api-token",
    403: "the token lacks the permission Project > Pipelines > General > Update on this project "
    "(an organisation token also needs team-id)",
    404: "no such project, pipeline or stage: check project-id, pipeline-id and stage (ids, not display names)",
    409: "the release flow refused a new run, most likely because its concurrency policy forbids one while "
    "another is running",
}
_READ_CAUSES = {
    401: "the token was rejected",
    403: "the token can trigger runs but not read them: give it Project > Pipelines > General > Read",
    404: "the run was not found (was it deleted?)",
}


def likely_cause(status: int, *, reading: bool) -> str:
    """What a refusal most likely means, for triggering a run or for reading one."""
    causes = _READ_CAUSES if reading else _TRIGGER_CAUSES
    return causes.get(status, "the API refused the read" if reading else "the API refused the request")


def with_cause(failure: Failure, *, reading: bool) -> str:
    """The failure as told to the user: for a refusal, its likely cause follows."""
    if failure.arrival != "refused" or failure.status is None:
        return failure.text
    return f"{failure.text}. Likely cause: {likely_cause(failure.status, reading=reading)}"
