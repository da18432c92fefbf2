"""The proxy settings of the runner's environment: which apply to the API's URL (so an error can name the one
that is wrong), and the credentials they carry (so no proxy's text can show them).

requests reads the proxy from `<scheme>_proxy` / `<SCHEME>_PROXY`, then `all_proxy` / `ALL_PROXY`
(urllib.request.getproxies_environment, lower case first). A proxy that answers a CONNECT with 407 may echo
our Proxy-Authorization header, base64 of `user:password`, in its reason phrase or page: each form is a secret.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@")


def proxy_variables(api_url: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The set proxy variables requests would consult for `api_url`, most specific first."""
    scheme = urlsplit(api_url).scheme.lower()
    if scheme != "https":  # plain http goes only to loopback, with every proxy variable ignored (api/client.py)
        return ()
    names = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
    return tuple(name for name in names if environ.get(name, "").strip())


def proxy_secrets(environ: Mapping[str, str]) -> set[str]:
    """Every form in which a proxy variable's credentials could come back: as written, percent-decoded, the
    password alone, and base64 of `user:password` as a Proxy-Authorization header carries it."""
    secrets: set[str] = set()
    for name, value in environ.items():
        if not name.lower().endswith("_proxy") or name.lower() == "no_proxy":
            continue
        match = _USERINFO.match(value.strip())
        if match is None:
            continue
        userinfo = match.group(1)
        user, _, password = userinfo.partition(":")
        for pair in {(user, password), (unquote(user), unquote(password))}:
            secrets |= {f"{pair[0]}:{pair[1]}", pair[1]}
            secrets.add(base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode("ascii"))
        secrets.add(userinfo)
    # A user name alone is no secret, but a password of a character or two would mangle every line.
    return {secret for secret in secrets if len(secret) >= 3}
