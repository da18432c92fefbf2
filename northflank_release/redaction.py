"""The one redactor: every form in which a secret (the API token, a proxy's credentials) could be shown, taken
out of any text before it is printed, published or put in an error.

The forms are those the runner's own masker registers for each secret (actions/runner
src/Sdk/DTLogging/Logging/ValueEncoders.cs, added in src/Runner.Common/HostContext.cs): the value as given, its
JSON string escape (JsonStringEscape: quotes, backslashes, control characters, U+0085, U+2028, U+2029) and its
URI data escape (UriDataEscape, Uri.EscapeDataString: every byte but letters, digits and `-._~` as %XX). Python
adds two of its own: json.dumps' default ASCII escape (`\\u00e9`) and repr's (what an exception message shows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote

from northflank_release.text import maskable_json


def secret_forms(secret: str) -> set[str]:
    """The forms of one secret that text could carry; none for an empty secret."""
    if not secret:
        return set()
    forms = {secret, maskable_json(secret)[1:-1], json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe="")}
    return forms - {""}


class Redactor:
    """Replaces every form of every secret it was given with `***`, the longest first (so a secret that holds
    another is not left half shown). Every length, as the runner's masker does (actions/runner
    src/Sdk/DTLogging/Logging/SecretMasker.cs: AddValue skips only an empty value): a short token mangles what
    is printed, never what is read (api/client.py parses answers as received)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        self._forms = sorted(set(self._forms) | secret_forms(secret), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text
