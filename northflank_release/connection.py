"""The API client as the settings and the job's environment configure it: one place for the trigger, the
follow and the plan, so a new client option (a proxy's secrets, a CA bundle) cannot reach only some of them."""

from __future__ import annotations

import os
from collections.abc import Callable

from northflank_release.api.client import NorthflankClient
from northflank_release.proxies import proxy_secrets, proxy_variables
from northflank_release.settings import Settings


def client_for(settings: Settings, *, debug: Callable[[str], None]) -> NorthflankClient:
    return NorthflankClient(
        settings.api_url,
        settings.api_token,
        read_timeout=settings.http_timeout,
        debug=debug,
        ca_bundle=settings.ca_bundle,
        proxy_variables=proxy_variables(settings.api_url, os.environ),
        secrets=tuple(proxy_secrets(os.environ)),
    )
