"""The one redactor (redaction.py): every form the runner masks, and Python's own, leave no trace of a secret."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from northflank_release.api.client import NorthflankClient
from northflank_release.github import Runner
from northflank_release.redaction import Redactor, secret_forms
from northflank_release.text import maskable_json

SECRETS = ["plain-token", 'quo"te\\back', "new\nline\ttab", "é ünï/+=&?", "sep\u2028\x85x", "a"]


def _shown(secret: str) -> list[str]:
    """The texts in which the secret could reach a log: as given, in JSON of both kinds, repr, a URL."""
    return [
        f"before {secret} after",
        f"json {json.dumps({'token': secret})}",
        f"runner json {maskable_json({'token': secret})}",
        f"repr {secret!r}",
        f"url https://example.invalid/?t={quote(secret, safe='')}",
    ]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_form_of_a_secret_is_masked(secret: str) -> None:
    redact = Redactor([secret])

    for text in _shown(secret):
        shown = redact(text)
        assert "***" in shown, text
        assert not any(form in shown for form in secret_forms(secret)), shown


@pytest.mark.parametrize("secret", SECRETS)
def test_the_runner_and_the_client_redact_alike(secret: str) -> None:
    runner = Runner(in_actions=False, debug=False, environ={})
    runner.mask(secret)
    client = NorthflankClient("https://api.example.invalid", secret)

    for text in _shown(secret):
        assert runner.redact(text) == client._shown(text)


def test_a_longer_secret_holding_a_shorter_one_is_masked_whole() -> None:
    redact = Redactor(["abc", "xxabcxx"])

    assert redact("token xxabcxx and abc") == "token *** and ***"


def test_the_client_masks_proxy_credentials_it_is_given() -> None:
    client = NorthflankClient("https://api.example.invalid", "the-token", secrets=("user:hunter22",))

    assert client._shown("407 for user:hunter22 with the-token") == "407 for *** with ***"


def test_an_empty_secret_masks_nothing() -> None:
    assert Redactor([""])("nothing to hide") == "nothing to hide"
