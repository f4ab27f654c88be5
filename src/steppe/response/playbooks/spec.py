"""Reading a playbook's YAML with the line of every value, for errors that point at it.

The YAML is *composed* (not just loaded), so each mapping keeps the marks of its keys.
A :class:`Spec` is one mapping: typed accessors read its keys and raise
:class:`~steppe.errors.InvalidPlaybook` naming file, line and field::

    >>> spec = Spec.parse("name: x\\nretries: many\\n", source="x.yml")
    >>> spec.integer("retries", minimum=1)
    Traceback (most recent call last):
    ...
    steppe.errors.InvalidPlaybook: x.yml:2: retries: must be a whole number, got 'many'

The same accessors read a plain dict (an action spec stored with a run), then without
lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import yaml

from steppe.errors import InvalidPlaybook

__all__ = ["Spec", "parse_duration"]

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta | None:
    """``90s``, ``15m``, ``24h``, ``7d`` → timedelta; None when it is not one.

    >>> parse_duration("2h")
    datetime.timedelta(seconds=7200)
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Spec:
    """One YAML mapping with where each of its values sits."""

    def __init__(
        self,
        values: dict[str, Any],
        lines: dict[str, int] | None = None,
        *,
        source: str | None = None,
        field: str = "",
        line: int | None = None,
    ) -> None:
        self.values = values
        self.lines = lines or {}
        self.source = source
        self.field = field
        self.line = line

    # --- building --------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, *, source: str | None = None) -> Spec:
        """The top mapping of a YAML document; syntax errors name their line."""
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "not valid YAML"
            raise InvalidPlaybook(f"YAML: {problem}", source=source, line=line) from None
        except yaml.YAMLError as exc:
            raise InvalidPlaybook(f"YAML: {exc}", source=source) from None
        if node is None:
            raise InvalidPlaybook("the file is empty", source=source, line=1)
        if not isinstance(node, yaml.MappingNode):
            raise InvalidPlaybook(
                "a playbook is a mapping (name:, owner:, trigger:, actions:)",
                source=source,
                line=node.start_mark.line + 1,
            )
        spec = _convert(node, source, "", _Budget(source))
        assert isinstance(spec, Spec)
        return spec

    @classmethod
    def plain(cls, values: Mapping[str, Any], *, field: str = "") -> Spec:
        """A spec over plain data (a stored action spec): no lines to point at."""
        converted = {k: _from_plain(v, f"{field}.{k}" if field else k) for k, v in values.items()}
        return cls(converted, field=field)

    def to_plain(self) -> dict[str, Any]:
        """Back to plain data (JSON-able), for storing with a run."""
        return {k: _to_plain(v) for k, v in self.values.items()}

    # --- errors ----------------------------------------------------------------------

    def path(self, key: str) -> str:
        return f"{self.field}.{key}" if self.field else key

    def error(self, key: str | None, message: str) -> InvalidPlaybook:
        line = self.lines.get(key, self.line) if key is not None else self.line
        field = self.path(key) if key is not None else (self.field or None)
        return InvalidPlaybook(message, source=self.source, line=line, field=field)

    def only(self, allowed: Iterable[str]) -> None:
        """Reject keys outside ``allowed`` (a typo must not silently do nothing)."""
        known = sorted(allowed)
        for key in self.values:
            if key not in known:
                raise self.error(key, f"unknown key; expected one of: {', '.join(known)}")

    # --- accessors -------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return key in self.values and self.values[key] is not None

    def raw(self, key: str) -> Any:
        return self.values.get(key)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if key not in self:
            if required:
                raise self._missing(key)
            return default
        value = self.values[key]
        if isinstance(value, bool):
            raise self.error(
                key, f"must be text, got {value} (YAML reads yes/no/on/off as true/false: quote it)"
            )
        if not isinstance(value, str | int | float):
            raise self.error(key, f"must be text, got {_kind(value)}")
        text = str(value).strip()
        if required and not text:
            raise self.error(key, "must not be empty")
        return text

    def required_text(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        if key not in self:
            return default
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {value!r}")
        self._bounds(key, value, minimum, maximum)
        return value

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        if key not in self:
            return default
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {value!r}")
        self._bounds(key, value, minimum, maximum)
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self:
            return default
        value = self.values[key]
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def choice(self, key: str, options: Iterable[str], default: str | None = None) -> str | None:
        value = self.text(key, default)
        if value is None:
            return None
        allowed = list(options)
        if value.lower() not in allowed:
            raise self.error(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value.lower()

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of text values; a single value counts as a list of one."""
        if key not in self:
            return ()
        value = self.values[key]
        items = value if isinstance(value, list) else [value]
        out = []
        for index, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.error(key, f"item {index} must be text, got {_kind(item)}")
            if not str(item).strip():
                raise self.error(key, f"item {index} is empty")
            out.append(str(item).strip())
        return tuple(out)

    def duration(self, key: str, default: timedelta | None = None) -> timedelta | None:
        if key not in self:
            return default
        value = self.values[key]
        found = parse_duration(value) if isinstance(value, str) else None
        if found is None:
            raise self.error(key, f"must be a duration such as 30s, 15m, 24h or 7d, got {value!r}")
        return found

    def section(self, key: str, *, required: bool = False) -> Spec | None:
        if key not in self:
            if required:
                raise self._missing(key)
            return None
        value = self.values[key]
        if not isinstance(value, Spec):
            raise self.error(key, f"must be a mapping (key: value lines), got {_kind(value)}")
        return value

    def sections(self, key: str) -> Iterator[Spec]:
        """The mappings of a list (``actions:``), each pointing at its own lines."""
        value = self.values.get(key)
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of mappings, got {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, Spec):
                raise InvalidPlaybook(
                    f"must be a mapping (type: …), got {_kind(item)}",
                    source=self.source,
                    line=self.lines.get(f"{key}[{index}]", self.lines.get(key, self.line)),
                    field=f"{self.path(key)}[{index}]",
                )
            yield item

    def _missing(self, key: str) -> InvalidPlaybook:
        return InvalidPlaybook(
            f"{key!r} is required", source=self.source, line=self.line, field=self.field or None
        )

    def _bounds(self, key: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")


def _kind(value: Any) -> str:
    if isinstance(value, Spec):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


class _Budget:
    """Bounds what one file may expand to: YAML aliases can make a small file name a huge
    tree (the "billion laughs"), and the validate endpoint reads files from users."""

    NODES = 20_000
    DEPTH = 40

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.nodes = 0

    def spend(self, node: yaml.Node, field: str) -> None:
        self.nodes += 1
        if self.nodes > self.NODES:
            raise InvalidPlaybook(
                f"more than {self.NODES} values (aliases included): not a playbook",
                source=self.source,
                line=node.start_mark.line + 1,
            )
        if field.count(".") + field.count("[") > self.DEPTH:
            raise InvalidPlaybook(
                f"nested more than {self.DEPTH} levels deep",
                source=self.source,
                line=node.start_mark.line + 1,
            )


def _convert(node: yaml.Node, source: str | None, field: str, budget: _Budget) -> Any:
    budget.spend(node, field)
    if isinstance(node, yaml.MappingNode):
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise InvalidPlaybook("keys must be plain words", source=source, line=line)
            key = str(key_node.value)
            path = f"{field}.{key}" if field else key
            if key in values:
                raise InvalidPlaybook(
                    "this key appears twice in the same mapping",
                    source=source,
                    line=line,
                    field=path,
                )
            lines[key] = line
            values[key] = _convert(value_node, source, path, budget)
            if isinstance(value_node, yaml.SequenceNode):
                for index, item in enumerate(value_node.value):
                    lines[f"{key}[{index}]"] = item.start_mark.line + 1
        return Spec(values, lines, source=source, field=field, line=node.start_mark.line + 1)
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, source, f"{field}[{index}]", budget)
            for index, item in enumerate(node.value)
        ]
    # Scalars: the safe loader's own typing (true, 12, 1.5, null; text otherwise).
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise InvalidPlaybook(
            f"YAML: {exc}", source=source, line=node.start_mark.line + 1, field=field or None
        ) from None
    finally:
        loader.dispose()


def _from_plain(value: Any, field: str) -> Any:
    if isinstance(value, Mapping):
        return Spec.plain(value, field=field)
    if isinstance(value, list):
        return [_from_plain(v, f"{field}[{i}]") for i, v in enumerate(value)]
    return value


def _to_plain(value: Any) -> Any:
    if isinstance(value, Spec):
        return value.to_plain()
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value
