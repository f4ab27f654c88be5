"""Message templates: ``str.format`` fields over the trigger item, and nothing else.

A template names values with dotted paths — ``{alert.severity}``, ``{intel.name}``,
``{playbook.name}`` — checked when the playbook is loaded against the names its
trigger provides, so a typo is an error with its line, not an empty e-mail. Fields
resolve through mappings only: no attribute access and no indexing, so a template can
never reach into Python objects (the classic ``{x.__class__.__init__.__globals__}``)::

    >>> t = Template("[{alert.severity}] {alert.title}")
    >>> t.render({"alert": {"severity": "high", "title": "domain hit"}})
    '[high] domain hit'
    >>> Template("{alert.__class__}")
    Traceback (most recent call last):
    ...
    ValueError: field 'alert.__class__': only names of letters, digits, - and _ joined by dots
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Template"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*")


class _MappingFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        value: Any = kwargs
        for part in field_name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return ("" if value is None else value), field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return str(super().format_field(value, format_spec))
        except (ValueError, TypeError):
            return str(value)  # a spec that does not fit the value: the value as is


_FORMATTER = _MappingFormatter()


class Template:
    """A checked template; :meth:`render` fills it from nested mappings."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fields: list[str] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise ValueError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
        for _literal, name, spec, _conversion in parsed:
            if name is None:
                continue
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"field {name!r}: only names of letters, digits, - and _ joined by dots"
                )
            if spec and "{" in spec:
                raise ValueError(f"field {name!r}: nested fields are not allowed")
            self.fields.append(name)

    def check(self, known: Iterable[str]) -> None:
        """Every field must start with a known name (``alert``, ``alert.severity``…)."""
        names = set(known)
        for name in self.fields:
            parts = name.split(".")
            prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
            if not prefixes & names:
                roots = sorted({n.split(".")[0] for n in names})
                raise ValueError(
                    f"unknown field {{{name}}}; fields start with one of: {', '.join(roots)}"
                )
            top = ".".join(parts[:2])
            if (
                len(parts) > 1
                and parts[0] in names
                and top not in names
                and any(n.startswith(parts[0] + ".") for n in names)
            ):
                known_here = sorted(n for n in names if n.startswith(parts[0] + "."))
                raise ValueError(
                    f"unknown field {{{name}}}; {parts[0]} has: "
                    + ", ".join(n.split(".", 1)[1] for n in known_here)
                )

    def render(self, context: Mapping[str, Any]) -> str:
        return _FORMATTER.vformat(self.text, (), dict(context))

    def __repr__(self) -> str:
        return f"Template({self.text!r})"
