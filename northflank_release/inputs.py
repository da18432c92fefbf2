"""Parsers for the text forms users write in workflow inputs: booleans, durations, mappings.

Each parser takes the raw text and returns plain data, or raises InputFormatError with a message that
says what was expected. They know nothing about which input they read: settings adds that.
"""

from __future__ import annotations

import json
import re
from typing import Any


class InputFormatError(ValueError):
    """The text is not in the form the input takes; the message says how to fix it."""


_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")


def parse_boolean(text: str) -> bool:
    """Accept exactly what the Actions toolkit's getBooleanInput accepts."""
    value = text.strip()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputFormatError(f"{value!r} is not a boolean: use true or false")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])", re.ASCII)
_DURATION_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """Read `90`, `90s`, `15m`, `1h`, `1h30m` (plain numbers are seconds) into seconds."""
    value = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value, re.ASCII):
        return float(value)
    parts = _DURATION_PART.findall(value)
    units = [unit for _, unit in parts]
    rebuilt = "".join(number + unit for number, unit in parts)
    # Units must appear once each, largest first, with nothing between them.
    if not parts or rebuilt != value or units != sorted(set(units), key="hms".index):
        raise InputFormatError(
            f"{value!r} is not a duration: use seconds (90), or a number with h, m or s (90s, 15m, 1h30m)"
        )
    return sum(float(number) * _DURATION_UNIT[unit] for number, unit in parts)


# A key errors may quote: anything else read from a file that is no request body may be a line of it.
_SHORT_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}", re.ASCII)


def show_key(key: str) -> str:
    """A key as an error names it: quoted when it is a short identifier, otherwise only its length."""
    return repr(key) if _SHORT_IDENTIFIER.fullmatch(key) else f"a key of {len(key)} characters"


def show_keys(keys: list[str], most: int = 3) -> str:
    """Some keys, named as show_key does, with how many more there are."""
    shown = ", ".join(show_key(key) for key in keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


def parse_json_or_yaml_object(text: str) -> dict[str, Any]:
    """Read a JSON object or a YAML mapping. JSON keeps its types; YAML is read with safe_load."""
    if text.lstrip().startswith("{"):
        return _parse_json_object(text)
    return _parse_yaml_mapping(text, keep_strings=False)


def parse_arguments(text: str) -> dict[str, Any]:
    """Read `arguments`: a JSON object, `KEY=VALUE` lines, or a YAML mapping (values stay strings)."""
    if text.lstrip().startswith("{"):
        return _parse_json_object(text)
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and all(_has_key_before_equals(line) for line in lines):
        return _parse_key_value_lines(text)
    if lines and not any(":" in line for line in lines):
        # Neither form fits; the user most likely meant KEY=VALUE and forgot an `=` somewhere.
        first_bad = next(n for n, line in enumerate(text.splitlines(), 1) if _is_bad_key_value_line(line))
        raise InputFormatError(f"line {first_bad} has no '=': write KEY=VALUE lines, a JSON object or a YAML mapping")
    return _parse_yaml_mapping(text, keep_strings=True)


def _has_key_before_equals(line: str) -> bool:
    key, sep, _ = line.partition("=")
    return bool(sep) and bool(key.strip()) and ":" not in key


def _is_bad_key_value_line(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#") and not _has_key_before_equals(line)


def _parse_key_value_lines(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key in result:
            raise InputFormatError(f"line {number}: key {show_key(key)} is given twice; give each key once")
        # A value keeps everything after the first '=', including further '=' signs and inner spaces.
        result[key] = value.strip()
    return result


def _parse_json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(
            text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant, parse_int=_parse_int
        )
    except json.JSONDecodeError as error:
        raise InputFormatError(f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise InputFormatError("is nested too deeply to read") from None
    if not isinstance(value, dict):
        raise InputFormatError(f"must be a JSON object ({{...}}), not {json_kind(value)}")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InputFormatError(_too_long_integer(len(text.lstrip("-"))))
    return int(text)


def _too_long_integer(digits: int) -> str:
    return f"has an integer of {digits} digits, which JSON cannot carry: quote it to send it as text"


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputFormatError(f"key {show_key(key)} is given twice; give each key once")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON and which the API could not read.
    raise InputFormatError(f"has {name}, which is not a JSON number: quote it or use a number")


def _parse_yaml_mapping(text: str, *, keep_strings: bool) -> dict[str, Any]:
    # Imported here so JSON and KEY=VALUE inputs never pay for loading a YAML parser, about 9 ms
    # (-X importtime, median of 11; tests/e2e/test_lazy_imports.py pins it).
    import yaml

    try:
        value = yaml.load(text, Loader=_yaml_loader(keep_strings))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputFormatError(f"is not valid YAML: {_quoting_no_text(str(error.problem))}{where}") from None
    except yaml.YAMLError as error:
        raise InputFormatError(f"is not valid YAML: {_quoting_no_text(str(error))}") from None
    except RecursionError:
        raise InputFormatError("is nested too deeply to read") from None
    if not isinstance(value, dict):
        raise InputFormatError(f"must be a mapping (key: value lines or a JSON object), not {json_kind(value)}")
    return value


def _quoting_no_text(problem: str) -> str:
    """PyYAML quotes the text it stumbled on (a tag, say): short tokens help, anything longer may be a line of
    a file that is no request body, so it is replaced by its length."""
    return re.sub(r"'([^']{13,})'", lambda quoted: f"(text of {len(quoted.group(1))} characters)", problem)


_YAML_LOADERS: dict[bool, Any] = {}


def _yaml_loader(keep_strings: bool) -> Any:
    """SafeLoader, refusing duplicate and non-text keys as JSON input does.

    With keep_strings every scalar stays the exact text written: `1.10` stays "1.10", `yes` stays "yes".
    """
    if keep_strings not in _YAML_LOADERS:
        import yaml

        class Loader(yaml.SafeLoader):
            def compose_node(self, parent: Any, index: Any) -> Any:
                # Aliases can build loops, or structures that grow exponentially once written as JSON.
                if self.check_event(yaml.AliasEvent):
                    event = self.peek_event()  # type: ignore[no-untyped-call]
                    raise InputFormatError(
                        f"uses the YAML alias *{event.anchor} at line {event.start_mark.line + 1}: "
                        "write the value out instead"
                    )
                return super().compose_node(parent, index)

        def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
            keys: set[str] = set()
            for key_node, _ in node.value:
                key = loader.construct_object(key_node)
                if not isinstance(key, str):
                    line = key_node.start_mark.line + 1
                    raise InputFormatError(f"has a key at line {line} that is not text: quote it")
                if key in keys:
                    raise InputFormatError(f"key {show_key(key)} is given twice; give each key once")
                keys.add(key)
            return loader.construct_mapping(node)

        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        for tag, kind in _NOT_JSON_TAGS.items():
            Loader.add_constructor(tag, _refuse(kind))
        Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
        if keep_strings:
            # Resolving every plain scalar as a string stops YAML 1.1 typing (numbers, booleans, dates).
            Loader.yaml_implicit_resolvers = {}
        _YAML_LOADERS[keep_strings] = Loader
    return _YAML_LOADERS[keep_strings]


# YAML types a JSON body cannot carry (yaml.SafeLoader's own constructors would make Python dates, bytes
# and sets of them, which no JSON encoder takes), and how the user would call them.
_NOT_JSON_TAGS = {
    "tag:yaml.org,2002:timestamp": "a date or time (YAML timestamp)",
    "tag:yaml.org,2002:binary": "binary data (YAML !!binary)",
    "tag:yaml.org,2002:set": "a set (YAML !!set)",
    "tag:yaml.org,2002:omap": "an ordered map (YAML !!omap)",
    "tag:yaml.org,2002:pairs": "a list of pairs (YAML !!pairs)",
}
# Python refuses to read longer integers (sys.get_int_max_str_digits), and the API's JavaScript numbers
# lose precision past 16 digits anyway.
MAX_INTEGER_DIGITS = 4300


def _refuse(kind: str) -> Any:
    def construct(_loader: Any, node: Any) -> Any:
        raise InputFormatError(
            f"has {kind} at line {node.start_mark.line + 1}, which JSON cannot carry: quote it to send it as text"
        )

    return construct


def _construct_int(loader: Any, node: Any) -> int:
    digits = len(str(node.value).lstrip("+-").replace("_", ""))
    if digits > MAX_INTEGER_DIGITS:
        raise InputFormatError(f"{_too_long_integer(digits)} (line {node.start_mark.line + 1})")
    value: int = loader.construct_yaml_int(node)
    # YAML's 0x, 0o, 0b and base-60 forms hold more decimal digits than they have characters: 3,600 hex
    # digits are 4,335 decimal ones, which JSON cannot write (Python's int-to-text limit), so the value is
    # measured as a number, never turned into text (the very conversion that would fail).
    if abs(value) >= 10**MAX_INTEGER_DIGITS:
        raise InputFormatError(
            f"has an integer of more than {MAX_INTEGER_DIGITS} digits, which JSON cannot carry: quote it to send "
            f"it as text (line {node.start_mark.line + 1})"
        )
    return value


def json_kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a single value"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
