"""A reader for the small YAML subset that dataset ``data.yaml`` files use.

PyYAML is not a runtime dependency, and a dataset description needs little: top-level
``key: value`` lines, values that are plain or quoted scalars, flow lists ``[a, b]`` and
flow maps ``{0: a}``, and one level of block list (``- a``) or block map (``0: a``)
below a key with no value. Comments start with ``#`` after whitespace. Any JSON document
is also accepted. Anchors, multi-line strings and deeper nesting are refused with the
line number.
"""

from __future__ import annotations

import json
import re
from typing import Any

from labeler.core.formats._io import FormatProblem

_KEY = re.compile(r"^([^\s:#'\"][^:#]*?|'[^']*'|\"[^\"]*\")\s*:(?:\s+(.*))?$")


def parse_yaml(text: str, label: str) -> dict[str, Any]:
    """Parse ``text``; errors name ``label`` and the line.

    >>> parse_yaml("path: /d  # root\\ntrain: images/train\\nnames:\\n  0: cat\\n  1: 'a: b'\\n", "d")
    {'path': '/d', 'train': 'images/train', 'names': {0: 'cat', 1: 'a: b'}}
    """
    try:
        doc = json.loads(text)
        if isinstance(doc, dict):
            return doc
    except json.JSONDecodeError:
        pass
    except RecursionError:
        raise FormatProblem(f"{label}: nested too deeply") from None
    except ValueError as e:  # JSON with an integer of more than 4,300 digits
        raise FormatProblem(f"{label}: {str(e).split(':')[0]}") from None
    doc: dict[str, Any] = {}
    parent: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        where = f"{label}: line {lineno}"
        if "\t" in raw[: indent + 1]:
            raise FormatProblem(f"{where}: tabs are not allowed for indentation")
        if indent == 0:
            key, value = _key_value(body, where)
            doc[key] = _value(value, where) if value else None
            parent = None if value else key
            continue
        if parent is None:
            raise FormatProblem(f"{where}: unexpected indentation")
        doc[parent] = _add_child(doc[parent], body, where)
    return doc


def _add_child(container: Any, body: str, where: str) -> Any:
    if body.startswith("- ") or body == "-":
        if container is None:
            container = []
        if not isinstance(container, list):
            raise FormatProblem(f"{where}: a list item inside a mapping")
        container.append(_value(body[1:].strip(), where))
        return container
    if container is None:
        container = {}
    if not isinstance(container, dict):
        raise FormatProblem(f"{where}: a mapping entry inside a list")
    key, value = _key_value(body, where)
    if not value:
        raise FormatProblem(f"{where}: nesting deeper than one level is not supported")
    container[_scalar(key, where)] = _value(value, where)
    return container


def _key_value(body: str, where: str) -> tuple[str, str]:
    m = _KEY.match(body)
    if not m:
        raise FormatProblem(f"{where}: expected 'key: value'")
    key = m.group(1).strip()
    if key[:1] in "'\"":
        key = str(_scalar(key, where))
    return key, (m.group(2) or "").strip()


def _value(text: str, where: str) -> Any:
    if text.startswith("["):
        if not text.endswith("]"):
            raise FormatProblem(f"{where}: unclosed '['")
        return [_scalar(part, where) for part in _split_flow(text[1:-1], where)]
    if text.startswith("{"):
        if not text.endswith("}"):
            raise FormatProblem(f"{where}: unclosed '{{'")
        out = {}
        for part in _split_flow(text[1:-1], where):
            key, value = _key_value(part, where)
            out[_scalar(key, where)] = _scalar(value, where)
        return out
    if text[:1] in ("&", "*", "|", ">", "!"):
        raise FormatProblem(f"{where}: YAML feature {text[0]!r} is not supported")
    return _scalar(text, where)


def _split_flow(text: str, where: str) -> list[str]:
    parts, current, quote = [], "", ""
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch == ",":
            parts.append(current.strip())
            current = ""
        elif ch in "[]{}":
            raise FormatProblem(f"{where}: nested flow collections are not supported")
        else:
            current += ch
    if quote:
        raise FormatProblem(f"{where}: unclosed quote")
    if current.strip():
        parts.append(current.strip())
    return parts


def _scalar(text: str, where: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise FormatProblem(f"{where}: bad double-quoted string") from None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text[:1] in "'\"":
        raise FormatProblem(f"{where}: unclosed quote")
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line
