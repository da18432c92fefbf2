"""api-url is accepted only when the HTTP stack connects where the check looked (northflank_release/api_url.py).
tests/e2e/test_api_url.py shows what a user sees: nothing sent to the host a refused URL names."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from northflank_release.api_url import read_api_url


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://evil.example\\@localhost", "backslash"),
        ("http://evil.example\\@[::1]", "backslash"),
        ("https://api.example.com\\path", "backslash"),
        ("http://u53r:pa55w0rd@127.0.0.1:8080", "user name or password"),
        ("https://u53r@api.example.com", "user name or password"),
        ("https://api.example.com/x y", "a space at character 26"),
        ("https://api.example.com/\tx", "U+0009"),
        ("https://api.example.com\x00.evil", "U+0000"),
        ("https://api.example.com\u200b", "U+200B"),
        ("https://api.example.com/?q=1", "query or fragment"),
        ("https://api.example.com#frag", "query or fragment"),
        ("http://localhost.", "plain http to a non-loopback host"),
        ("http://127.0.0.1:99999", "port or host that is not valid"),
        ("ftp://x", "is not a URL"),
        ("https://", "is not a URL"),
    ],
)
def test_each_unsafe_url_is_refused_naming_the_part_and_never_its_userinfo(url: str, refused: str) -> None:
    problem = read_api_url(url).problem

    assert refused in problem
    assert "pa55w0rd" not in problem
    assert "u53r" not in problem


@pytest.mark.parametrize(
    "url",
    ["https://api.northflank.com", "http://127.0.0.1:8080/", "http://[::1]:80", "HTTP://LOCALHOST:1", "https://gw/nf"],
)
def test_ordinary_urls_are_accepted(url: str) -> None:
    api_url = read_api_url(url)

    assert api_url.problem == ""
    assert api_url.url == url.rstrip("/").replace("HTTP://", "http://")


_URL_CHARS = st.sampled_from(list("abz09.-:@/\\?#[]%_~!$&'()*+,;= \t\x00\u00e9\u0131\uff0e"))


@settings(max_examples=2000)
@given(host=st.text(_URL_CHARS, min_size=1, max_size=20), rest=st.text(_URL_CHARS, max_size=10))
def test_every_accepted_url_is_read_alike_by_urllib3(host: str, rest: str) -> None:
    """Whatever the check accepts, urllib3 (what requests connects with) reads the same scheme, host and port."""
    for scheme in ("http", "https"):
        url = f"{scheme}://{host}{rest}"
        api_url = read_api_url(url)
        if api_url.problem:
            continue
        ours = urlsplit(api_url.url)
        theirs = parse_url(api_url.url)
        assert theirs.auth is None
        assert (theirs.scheme, (theirs.host or "").strip("[]").lower(), theirs.port) == (
            scheme,
            (ours.hostname or "").lower(),
            ours.port,
        ), url
