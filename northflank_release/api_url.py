"""The one reader of `api-url`: it accepts a URL only when the HTTP stack will connect where it says.

The check and the connection must read the same host. Python's urlsplit takes the host after the last
`@`, while urllib3 (which requests sends through) ends the authority at the first `/`, `\\`, `?` or `#`
(urllib3/util/url.py, _URI_RE), so `http://evil.example\\@127.0.0.1` passed a loopback check and went to
evil.example. Anything either parser could read differently is refused before any comparison: userinfo
(requests would also put it in an Authorization header of its own, in place of the token's), backslashes,
whitespace and control characters, a query or fragment (the API's paths are appended to this URL). What
is left is compared with urllib3's own reading whenever the host is not plain ASCII; for plain hosts the
two agree, which tests/unit/test_api_url.py checks against urllib3 for generated URLs.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

# Hosts both parsers surely read alike: an ASCII name or IPv4 address, or a bracketed IPv6 address.
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", re.ASCII)


@dataclass(frozen=True)
class ApiUrl:
    """A URL the action may send the token to, or why it may not."""

    url: str
    problem: str = ""


def read_api_url(text: str) -> ApiUrl:
    """Validate `text` (already trimmed) as the API's base URL; the problem never quotes userinfo."""
    value = text.rstrip("/")
    if bad := next((ch for ch in value if _unsafe(ch)), None):
        where = value.index(bad) + 1
        return ApiUrl(value, f"api-url has {_char_name(bad)} at character {where}: remove it")
    if "\\" in value:
        return ApiUrl(
            value,
            f"api-url has a backslash (\\) at character {value.index(chr(92)) + 1}; HTTP libraries disagree on "
            "where such a host ends: write the URL with '/' only",
        )
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced '[' or ']'
        return ApiUrl(value, f"api-url {_without_userinfo(value)!r} is not a URL: check its brackets")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return ApiUrl(
            value,
            f"api-url {_without_userinfo(value)!r} is not a URL: use https://api.northflank.com or your API's URL",
        )
    if "@" in parts.netloc:
        return ApiUrl(
            value,
            "api-url has a user name or password before '@' (not shown here): remove it; the action sends the "
            "API token itself, and credentials in the URL would replace it",
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return ApiUrl(value, f"api-url {value!r} has a query or fragment ('?' or '#'): give the base URL only")
    # urlsplit lower-cases the scheme it reports, not the text: `HTTP://` must become `http://` so every later
    # check (no proxy for plain http) sees what was validated here.
    value = parts._replace(scheme=scheme).geturl()
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ApiUrl(value, f"api-url {value!r} has a port or host that is not valid")
    if not host:
        return ApiUrl(value, f"api-url {value!r} has no host name")
    plain = _PLAIN_HOST.fullmatch(parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc)
    if not plain and (disagreement := _urllib3_disagrees(value, scheme, host, port)):
        return ApiUrl(value, f"api-url {value!r} {disagreement}: write the host in plain ASCII")
    if scheme == "http" and not _is_loopback(host):
        return ApiUrl(
            value,
            f"api-url {value!r} uses plain http to a non-loopback host, which would send the token in clear text: "
            "use https:// (http:// is allowed only for 127.0.0.1, ::1 or localhost)",
        )
    return ApiUrl(value)


def _unsafe(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _char_name(ch: str) -> str:
    return "a space" if ch == " " else f"a whitespace or control character (U+{ord(ch):04X})"


def _without_userinfo(value: str) -> str:
    scheme, sep, rest = value.partition("//")
    if not sep:
        return value.split("@")[-1] if "@" in value else value
    authority, slash, path = rest.partition("/")
    return scheme + sep + ("***@" + authority.rsplit("@", 1)[1] if "@" in authority else authority) + slash + path


def _urllib3_disagrees(value: str, scheme: str, host: str, port: int | None) -> str:
    """How urllib3 reads this URL differently from urlsplit, or "" when it reads the same host and port."""
    # Loaded only for unusual hosts: importing urllib3 costs about 25 ms, which a dry run need not pay
    # (-X importtime, median of 11; tests/e2e/test_lazy_imports.py pins it).
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parsed = parse_url(value)
    except LocationParseError:
        return "is read differently by the HTTP library"
    their_host = (parsed.host or "").strip("[]").lower()
    if parsed.scheme != scheme or their_host != host.lower() or parsed.port != port or parsed.auth:
        return f"names host {host!r} to this check but {their_host!r} to the HTTP library"
    return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
