"""How text is measured and shown: durations as users write them, API text cut to a length, and lengths as
JavaScript counts them (the API's limits and Mermaid's both do)."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """Render seconds the way users write durations: 95 -> 1m35s."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut: how API text of any length is shown."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utf16_length(text: str) -> int:
    """Length as JavaScript counts it: characters outside the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2
