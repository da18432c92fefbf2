"""What a failed HTTP request means: sorted by exception type, errno, TLS reason and the function that
raised it (the TLS handshake, the proxy tunnel), never by message text.

requests wraps urllib3's errors, which wrap the socket's and the ssl module's; the cause that decides
whether the request can have reached the API sits at the bottom of that chain, so it is walked. "Nothing
was sent" is claimed only when it is known: no connection, a refused tunnel, a failed handshake.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import requests
import urllib3.exceptions

from northflank_release.api.bounded import AnswerTooSlow

CA_HINT = "if a proxy on this runner inspects TLS, set SSL_CERT_FILE (or REQUESTS_CA_BUNDLE) to its CA bundle"


@dataclass(frozen=True)
class NetworkProblem:
    """A request that got no HTTP answer: what happened, whether it may have reached the API, and whether
    sending it again could go differently."""

    text: str
    may_have_arrived: bool
    persistent: bool = False


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: causes, contexts, exception arguments and urllib3 reasons."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        stack.extend(item for item in linked if isinstance(item, BaseException))


def _find(error: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    return next((cause for cause in causes(error) if isinstance(cause, kind)), None)


# Raised while the request is being prepared or its connection chosen, before a byte leaves the machine: a
# proxy URL the HTTP stack cannot parse (InvalidURL, InvalidProxyURL, urllib3's LocationParseError inside),
# a proxy scheme it cannot use (InvalidSchema: socks5:// without PySocks), no scheme at all (MissingSchema).
_NEVER_SENT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
)


def explain(error: requests.RequestException, proxy_variables: tuple[str, ...] = ()) -> NetworkProblem:
    """`proxy_variables`: the names of the proxy settings that apply to the API's URL, to say which is wrong."""
    if isinstance(error, (requests.exceptions.InvalidJSONError, requests.exceptions.InvalidHeader)):
        return NetworkProblem(f"the request could not be built ({error.__class__.__name__})", False, persistent=True)
    if isinstance(error, _NEVER_SENT) or _find(error, urllib3.exceptions.LocationValueError):
        return _unusable_url(error, proxy_variables)
    if isinstance(error, requests.ConnectTimeout):
        return NetworkProblem("connection timed out", False)
    if isinstance(error, requests.exceptions.ProxyError):
        return _proxy_problem(error)
    if isinstance(error, requests.exceptions.SSLError):
        return _tls_problem(error)
    if isinstance(error, AnswerTooSlow):
        return NetworkProblem(str(error), True)
    if isinstance(error, requests.ReadTimeout):
        return NetworkProblem("no answer before the read timeout", True)
    if isinstance(error, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return NetworkProblem("the answer was cut off", True)
    if isinstance(error, requests.ConnectionError):
        return _connection_problem(error)
    return NetworkProblem(error.__class__.__name__, True)


def _unusable_url(error: BaseException, proxy_variables: tuple[str, ...]) -> NetworkProblem:
    """Never the exception's own text: it quotes the proxy URL, credentials and all."""
    kind = error.__class__.__name__
    if "socks" in str(error).lower():
        what = "a SOCKS proxy, which this action cannot use (use an http:// proxy)"
    else:
        what = "not a URL the HTTP client can use (check its scheme, host and port)"
    if proxy_variables:
        names = " / ".join(proxy_variables)
        return NetworkProblem(
            f"the proxy setting {names} is {what} ({kind}); nothing was sent. Fix {names} in the job's "
            "environment, or add the API host to no_proxy",
            False,
            persistent=True,
        )
    return NetworkProblem(f"the API's URL could not be used ({kind}); nothing was sent: check api-url", False, True)


def _connection_problem(error: BaseException) -> NetworkProblem:
    """No TLS or proxy involved: refused, unresolvable, unreachable, or cut after the request went out."""
    if _find(error, socket.gaierror):
        return NetworkProblem("the API host name does not resolve", False)
    if _find(error, ConnectionRefusedError):
        return NetworkProblem("connection refused", False)
    if _find(error, urllib3.exceptions.NewConnectionError):
        # The socket never connected (unreachable network or host, ...): nothing was sent.
        number = next((c.errno for c in causes(error) if isinstance(c, OSError) and c.errno), None)
        return NetworkProblem(f"could not connect ({os.strerror(number)})" if number else "could not connect", False)
    return NetworkProblem("connection closed before an answer", True)


def _raised_in(error: BaseException, function: str) -> bool:
    """Whether `function` is on the error's traceback: where it was raised tells the stage of the exchange."""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_name == function:
            return True
        frame = frame.tb_next
    return False


def _proxy_problem(error: BaseException) -> NetworkProblem:
    """urllib3 says ProxyError for a proxy it could not reach, for a CONNECT the proxy refused (407, 403, ...,
    which http.client's `_tunnel` raises as a bare OSError) and also, through a tunnel already open, for a
    connection the API dropped after the request went out. Only the first two mean nothing was sent."""
    if _find(error, urllib3.exceptions.NewConnectionError) or _find(error, ConnectionRefusedError):
        return NetworkProblem("the proxy could not be reached; nothing was sent", False)
    if _find(error, socket.gaierror):
        return NetworkProblem("the proxy's host name does not resolve; nothing was sent", False)
    refusal = next((c for c in causes(error) if type(c) is OSError and _raised_in(c, "_tunnel")), None)
    if refusal is None:
        return _connection_problem(error)
    answer = str(refusal.args[0]) if refusal.args else "no answer"
    return NetworkProblem(
        f"the proxy refused to open a connection to the API ({answer}); nothing was sent. "
        "Check the runner's https_proxy setting and the proxy's credentials, or add the API host to no_proxy",
        False,
        persistent=True,
    )


# The peer closing the TLS stream: never proof that the handshake was where it happened.
_EOF_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _tls_problem(error: BaseException) -> NetworkProblem:
    verification = _find(error, ssl.SSLCertVerificationError)
    if isinstance(verification, ssl.SSLCertVerificationError):
        detail = verification.verify_message or verification.reason or "verification failed"
        return NetworkProblem(
            f"the API's TLS certificate could not be verified ({detail}); nothing was sent: {CA_HINT}",
            False,
            persistent=True,
        )
    failure = _find(error, ssl.SSLError)
    if failure is None or isinstance(failure, _EOF_ERRORS) or not _raised_in(failure, "do_handshake"):
        # After the handshake, the request may have been written before the stream broke.
        return NetworkProblem("the TLS connection failed after it was set up", True)
    reason = getattr(failure, "reason", None) or "unknown reason"
    if reason == "WRONG_VERSION_NUMBER":
        return NetworkProblem(
            "TLS handshake failed (WRONG_VERSION_NUMBER: the server does not speak TLS on this port)", False
        )
    return NetworkProblem(f"TLS handshake failed ({reason})", False)
