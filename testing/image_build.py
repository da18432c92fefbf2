"""Building the action's image from the real Dockerfile: one way for the container tests, the act suite
and the benchmark."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# Docker hands these predefined build args to RUN steps without an ARG line, so a build behind a proxy
# (pip in the Dockerfile) works as on the host.
PROXY_BUILD_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def proxy_build_args() -> dict[str, str]:
    return {name: os.environ[name] for name in PROXY_BUILD_ARGS if os.environ.get(name)}


def build_action_image(client: Any, tag: str, **options: Any) -> Any:
    """The image built from the repo's Dockerfile with host networking (a bridge-less engine gives a build
    no network otherwise); raises docker.errors.BuildError. `options` go to the SDK's build."""
    buildargs = {**proxy_build_args(), **options.pop("buildargs", {})}
    image, _log = client.images.build(
        path=str(REPO_ROOT),
        tag=tag,
        network_mode="host",
        rm=True,
        forcerm=True,
        buildargs=buildargs or None,
        **options,
    )
    return image


def build_log_tail(log: Iterable[Mapping[str, object]], lines: int = 40) -> str:
    out: list[str] = []
    for chunk in log:
        text = chunk.get("stream") or chunk.get("error") or chunk.get("status") or ""
        out.extend(str(text).rstrip("\n").splitlines())
    return "\n".join(out[-lines:])
