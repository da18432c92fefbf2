"""How text is measured and shown: durations as users write them, API text cut to a length, lengths as
JavaScript counts them (the API's limits and Mermaid's both do), and text from outside (answers, proxies)
decoded, cleaned for publishing and made printable: the one place for each."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from northflank_release.numbers import duration_or_zero


def format_duration(seconds: float) -> str:
    """Render seconds the way users write durations: 95 -> 1m35s. A figure that is not a finite duration
    (an API's `inf`, a negative clock skew) reads as 0s rather than stopping the action."""
    whole = round(duration_or_zero(seconds))
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


# --- Text from outside (API answers, proxies), made safe to show and to publish: the one place for it. ---

# Deeper than any run (a flow nested MAX_FLOW_DEPTH deep is about 2 JSON levels a node) and far below what
# Python's JSON encoder and our own walks can recurse through on 3.11 and 3.12.
MAX_JSON_DEPTH = 200
TOO_DEEP = "(nested too deeply: left out)"
_UTF8_BOM = b"\xef\xbb\xbf"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def decode_json_text(data: bytes) -> str:
    """An answer's body as text, the way RFC 8259 says JSON is exchanged: UTF-8 (section 8.1), a byte-order
    mark tolerated and dropped. A declared charset is ignored: the JSON media type defines none, and "adding
    one really has no effect on compliant recipients" (section 11). Decoding by it let `charset=utf-7` or
    `unicode_escape` turn bytes into lone surrogates. Bytes that are not UTF-8 become U+FFFD, so a body in
    another encoding is still shown (an error page) but cannot pass for a run id."""
    return data.removeprefix(_UTF8_BOM).decode("utf-8", errors="replace")


def parse_json(text: str) -> Any:
    """JSON text as data that can always be written back out: NaN, Infinity and numbers that overflow a
    float (1e400) become null, an integer of more digits than Python converts becomes null, strings with
    half a UTF-16 pair get U+FFFD, and members nested past MAX_JSON_DEPTH are replaced by a note.
    Raises ValueError when it is not JSON, or is nested past what the parser follows."""
    try:
        data = _loads(text)
    except RecursionError:
        # Nested past what the parser follows from where it is called (988 levels failed on 3.11): the
        # members past MAX_JSON_DEPTH are cut out of the text, so the rest (a run's id) is still read.
        try:
            data = _loads(_cut_deep(text, MAX_JSON_DEPTH))
        except RecursionError:
            raise ValueError("nested too deeply") from None
    return json_safe(data)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=lambda _name: None, parse_float=_finite_float, parse_int=_int)


_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _cut_deep(text: str, max_depth: int) -> str:
    """JSON text with each array or object that opens below `max_depth` replaced by TOO_DEEP as a string.
    Strings are skipped whole, so a bracket inside one is text; one pass, whatever the size."""
    pieces: list[str] = []
    depth, kept_until, cut_from = 0, 0, -1
    for token in _STRING_OR_BRACKET.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth == max_depth + 1:
                cut_from = token.start()
        elif char in "]}":
            if depth == max_depth + 1 and cut_from >= 0:
                pieces += [text[kept_until:cut_from], json.dumps(TOO_DEEP)]
                kept_until, cut_from = token.end(), -1
            depth -= 1
    return "".join(pieces) + text[kept_until:]


def _finite_float(text: str) -> float | None:
    number = float(text)
    return number if math.isfinite(number) else None


def _int(text: str) -> int | None:
    return int(text) if len(text) <= 4000 else None  # past 4300 digits, int() refuses (Python 3.11+)


def json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of decoded JSON that `json.dumps(..., allow_nan=False)` always accepts and every UTF-8 writer
    can write: no NaN or infinite float, no lone surrogate in a key or a string, no nesting past
    MAX_JSON_DEPTH (the deeper member becomes TOO_DEEP)."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {well_formed(str(key)): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item, depth + 1) for item in value]
    return value  # None, booleans, integers


def well_formed(text: str) -> str:
    """Text any UTF-8 writer accepts: each lone surrogate (half of a UTF-16 pair, a JavaScript `.slice()`
    that cut an emoji) becomes U+FFFD."""
    return _LONE_SURROGATE.sub(_REPLACEMENT, text)


def printable(text: str, *, one_line: bool = True) -> str:
    """Text from outside as it may go into a log line or an annotation: controls (ANSI escapes), format
    characters (bidi overrides, zero-width marks) and lone surrogates each become U+FFFD, as the summary
    shows them; line breaks become spaces on `one_line`, and stay (the runner escapes them) otherwise."""
    if text.isprintable():
        return text
    return "".join(_printable_char(char, one_line) for char in text)


def _printable_char(char: str, one_line: bool) -> str:
    if char.isprintable() or char == " ":
        return char
    if char in "\r\n\t\u2028\u2029\x85":
        return " " if one_line or char not in "\n" else char
    return _REPLACEMENT if unicodedata.category(char) in {"Cc", "Cf", "Cs"} else char


def maskable_json(value: Any, **options: Any) -> str:
    """JSON whose strings appear in a form the runner masks: as given, or escaped exactly as its own JSON escaper
    does (actions/runner src/Sdk/DTLogging/Logging/ValueEncoders.cs, JsonStringEscape, Newtonsoft's defaults:
    quotes, backslashes and control characters, and U+0085, U+2028 and U+2029, which Python leaves raw).
    Python's default ensure_ascii would turn `é` into `\u00e9`, a form no masking knows."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
