"""Check that a registry manifest is a multi-arch index listing every platform the release promises.

    docker buildx imagetools inspect IMAGE@DIGEST --raw | python3 scripts/image_index.py linux/amd64,linux/arm64

The release pins action.yml to the index digest, so a runner of either architecture resolves its own
image from it. A single-platform manifest pinned there would fail on the other architecture with `exec
format error` at the user's first run; this check fails the release instead. Standard library only: it
runs on a bare runner. Attestation entries (BuildKit's SBOM and provenance, platform unknown/unknown)
are allowed beside the images.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


# containerd's platforms.Normalize: arm64's default variant is v8, so linux/arm64/v8 names linux/arm64.
_DEFAULT_VARIANTS = {"linux/arm64/v8": "linux/arm64"}


def normalise(platform: str) -> str:
    return _DEFAULT_VARIANTS.get(platform, platform)


class NotTheIndex(Exception):
    """The manifest is not what the release pins."""


def platforms(index: Mapping[str, Any]) -> set[str]:
    """``os/architecture[/variant]`` of each image the index lists."""
    found: set[str] = set()
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") if isinstance(entry, Mapping) else None
        if not isinstance(platform, Mapping):
            continue
        name = f"{platform.get('os')}/{platform.get('architecture')}"
        if platform.get("variant"):
            name += f"/{platform['variant']}"
        found.add(normalise(name))
    return found


def check(raw: str, wanted: set[str]) -> set[str]:
    if not wanted:
        raise NotTheIndex("no platforms to check: the release's platform list is empty")
    wanted = {normalise(p) for p in wanted}
    try:
        index = json.loads(raw)
    except ValueError as exc:
        raise NotTheIndex(f"the manifest is not JSON ({exc})") from None
    if not isinstance(index, Mapping):
        raise NotTheIndex("the manifest is not a JSON object")
    media_type = index.get("mediaType")
    if media_type not in INDEX_TYPES:
        raise NotTheIndex(f"the manifest is {media_type!r}, not a multi-arch index")
    found = platforms(index)
    missing = wanted - found
    if missing:
        raise NotTheIndex(f"the index lists {sorted(found)}; missing {sorted(missing)}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: image_index.py OS/ARCH[,OS/ARCH...] < manifest.json", file=sys.stderr)
        return 2
    wanted = {p.strip() for p in args[0].split(",") if p.strip()}
    try:
        found = check(sys.stdin.read(), wanted)
    except NotTheIndex as exc:
        print(f"::error title=Not the multi-arch index the release pins::{exc}", file=sys.stderr)
        return 1
    print("index lists " + ", ".join(sorted(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
