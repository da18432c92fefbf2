"""The one judge of a failed request: whether it may have reached the API, whether another try may go
differently, what to tell the user and the pause the API asked for. The trigger, the lookup and its candidate
reads, the follow's first read, the wait and the plan's template read all judge a failure here; each decides
what to do with the verdict (resend, read again, give up), and adds the likely cause in its own words
(causes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import requests

from northflank_release.api.client import ApiError, UnexpectedAnswer
from northflank_release.api.network import explain

# Whether the request may have reached the API: "no" (nothing sent, or answered without being acted on: a 429),
# "refused" (the API answered no: a 4xx), "maybe" (a 5xx, a 2xx that is not the API's, a 408 from whatever
# stood in between), "late" (no answer yet, or a gateway that gave up waiting: the API may still act on it).
Arrival = Literal["no", "refused", "maybe", "late"]


@dataclass(frozen=True)
class Failure:
    text: str  # what went wrong, shown to the user (the client has redacted any answer text in it)
    arrival: Arrival
    lasting: bool  # another try cannot go differently: a refusal, a request that cannot be sent as it is
    pause: float | None = None  # the pause the API asked for (Retry-After, or the rate window's reset)
    status: int | None = None  # the HTTP status, when the API (or something in its place) answered


FailedRequest = ApiError | UnexpectedAnswer | requests.RequestException


def classify(
    error: FailedRequest, proxy_variables: tuple[str, ...] = (), *, proxy_refusal_lasts: bool = True
) -> Failure:
    """`proxy_variables`: the proxy settings that apply to api-url, to name the one that is wrong.

    `proxy_refusal_lasts` is the one place the callers differ. A proxy that refuses the tunnel (407, 403) or
    that cannot be used sends nothing, and will most likely refuse again: the trigger and its lookup stop
    there (their budget is short, and a lookup that cannot read proves nothing either way), so it lasts. The
    wait (and the follow's first read, which hands over to it) passes False: the run goes on in Northflank
    whatever the proxy says, only the timeout should end a wait, and a proxy whose credentials rotate or
    which limits connections may let the next read through."""
    if isinstance(error, ApiError):
        status = error.status
        pause = error.rate_limit.retry_delay(rate_limited=status == 429)
        # A 429 is the API's own refusal, made before acting. 503 is not: a proxy in front of the API (Envoy,
        # Istio) says 503 when the API reset the connection after the request was forwarded, so it is a 5xx.
        if status == 429:
            return Failure(str(error), "no", False, pause, status)
        if status == 408:  # timed out on its way in, says whatever answered: the API, or something before it
            return Failure(str(error), "maybe", False, pause, status)
        if status == 504:  # the gateway gave up waiting; the API behind it may still act on the request
            return Failure(str(error), "late", False, pause, status)
        if status >= 500:
            return Failure(str(error), "maybe", False, pause, status)
        return Failure(str(error), "refused", True, pause, status)
    if isinstance(error, UnexpectedAnswer):
        # A 2xx that is not the API's: a gateway's page in passing, or a sign-in page for good; only time tells.
        return Failure(str(error), "maybe", False, None, error.status)
    problem = explain(error, proxy_variables)
    lasting = problem.persistent
    if isinstance(error, requests.exceptions.ProxyError) and not proxy_refusal_lasts:
        lasting = False
    return Failure(problem.text, "late" if problem.may_have_arrived else "no", lasting)
