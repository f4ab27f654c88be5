"""Tags: MISP taxonomies and galaxies (machine tags), ATT&CK, and free-form labels.

Tags are stored as the object's STIX ``labels`` (``object_labels``), normalised:

- a MISP taxonomy machine tag, ``namespace:predicate`` or ``namespace:predicate="value"``
  (``tlp:amber``, ``PAP:GREEN``, ``admiralty-scale:source-reliability="b"``), is checked
  against the ``pytaxonomies`` data and written in the taxonomy's own spelling
  (``pap:green`` → ``PAP:GREEN``); a known namespace with an unknown predicate or value
  is refused, naming the tag;
- a galaxy tag, ``misp-galaxy:<cluster>="<value>"``, must name a known cluster value;
- an ATT&CK technique — ``attack.t1059.001`` or
  ``misp-galaxy:mitre-attack-pattern="PowerShell - T1059.001"`` — is stored in both
  spellings (see :mod:`steppe.intel.attack` for the attack-pattern object it links to);
- anything else is a free-form label, accepted while ``STEPPE_INTEL_FREE_TAGS`` is on
  (the default: STIX labels are free text). With it off, only the above are accepted.

A ``tlp:`` tag must agree with the object's TLP, else :class:`MarkingConflict`.

    >>> normalise_tag("pap:green")
    ('PAP:GREEN',)
    >>> normalise_tag("attack.T1059.001")
    ('attack.t1059.001', 'misp-galaxy:mitre-attack-pattern="PowerShell - T1059.001"')
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from steppe.errors import ConfigError, InputError, MarkingConflict
from steppe.intel import attack
from steppe.sharing.model import TlpLevel

__all__ = [
    "InvalidTag",
    "TaxonomyEntry",
    "check_tlp_tags",
    "list_tags",
    "normalise_tag",
    "normalise_tags",
]

_MACHINE_TAG = re.compile(r'([^:="\s]+):([^="]+?)(?:="([^"]*)")?')
_MAX_LABEL = 200


class InvalidTag(InputError):
    """A tag that is not in the taxonomy it names (or free-form while those are off)."""


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    tag: str
    description: str


@dataclass(frozen=True, slots=True)
class _Namespace:
    name: str  # as the taxonomy spells it
    description: str
    # predicate (lower case) -> (spelling, {value lower case -> spelling}, description)
    predicates: dict[str, tuple[str, dict[str, str], str]]


@lru_cache(maxsize=1)
def _taxonomies() -> dict[str, _Namespace]:
    from pytaxonomies.api import Taxonomies  # 1.3 s to load all 180 taxonomies: only when needed

    found: dict[str, _Namespace] = {}
    for name, taxonomy in Taxonomies().items():
        predicates: dict[str, tuple[str, dict[str, str], str]] = {}
        for pname, predicate in taxonomy.items():
            values = {str(v).lower(): str(v) for v in predicate}
            predicates[str(pname).lower()] = (
                str(pname),
                values,
                str(predicate.expanded or predicate.description or ""),
            )
        found[str(name).lower()] = _Namespace(
            str(taxonomy.name), str(taxonomy.description), predicates
        )
    return found


def _galaxy_dir() -> Path:
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or spec.origin is None:
        raise ConfigError("pymispgalaxies is not installed")
    return Path(spec.origin).parent / "data" / "misp-galaxy" / "clusters"


@lru_cache(maxsize=1)
def _galaxy_clusters() -> dict[str, dict[str, str]]:
    """Cluster type -> {value lower case -> value}, for ``misp-galaxy:`` tags."""
    clusters: dict[str, dict[str, str]] = {}
    for path in sorted(_galaxy_dir().glob("*.json")):
        with path.open("rb") as f:
            doc = json.load(f)
        values = clusters.setdefault(str(doc["type"]), {})
        for item in doc.get("values") or ():
            values[str(item["value"]).lower()] = str(item["value"])
    return clusters


@lru_cache(maxsize=16384)
def normalise_tag(tag: str, free_tags: bool = True) -> tuple[str, ...]:
    """The labels to store for ``tag``; :class:`InvalidTag` naming it when it is wrong."""
    labels = _normalise(tag, free_tags)
    for label in labels:
        if len(label) > _MAX_LABEL:  # a long galaxy value in its machine-tag spelling
            raise InvalidTag(
                f"tag {tag!r} is {len(label)} characters as {label!r}; at most {_MAX_LABEL}"
            )
    return labels


def _normalise(tag: str, free_tags: bool) -> tuple[str, ...]:
    text = tag.strip()
    if not text or len(text) > _MAX_LABEL:
        raise InvalidTag(f"tag {tag!r} must have 1 to {_MAX_LABEL} characters")
    technique = attack.technique_of_tag(text)
    if technique is not None:
        return (technique.label, technique.galaxy_tag)
    match = _MACHINE_TAG.fullmatch(text)
    if match is not None:
        namespace, predicate, value = match.groups()
        if namespace.lower() == "misp-galaxy":
            return (_galaxy_tag(text, predicate, value),)
        known = _taxonomies().get(namespace.lower())
        if known is not None:
            return (_taxonomy_tag(text, known, predicate, value),)
    if not free_tags:
        raise InvalidTag(
            f"tag {text!r} is not in a MISP taxonomy or galaxy, and free-form tags are off "
            "(STEPPE_INTEL_FREE_TAGS)"
        )
    return (text,)


def _taxonomy_tag(text: str, known: _Namespace, predicate: str, value: str | None) -> str:
    entry = known.predicates.get(predicate.lower())
    if entry is None:
        raise InvalidTag(
            f"tag {text!r}: taxonomy {known.name!r} has no predicate {predicate!r}"
            f" (it has: {', '.join(sorted(p for p, _v, _d in known.predicates.values())[:12])})"
        )
    spelling, values, _description = entry
    if values:
        if value is None:
            raise InvalidTag(
                f"tag {text!r}: {known.name}:{spelling} needs a value, e.g. "
                f'{known.name}:{spelling}="{next(iter(values.values()))}"'
            )
        canonical = values.get(value.lower())
        if canonical is None:
            raise InvalidTag(
                f"tag {text!r}: {known.name}:{spelling} has no value {value!r}"
                f" (it has: {', '.join(sorted(values.values())[:12])})"
            )
        return f'{known.name}:{spelling}="{canonical}"'
    if value is not None:
        raise InvalidTag(f"tag {text!r}: {known.name}:{spelling} takes no value")
    return f"{known.name}:{spelling}"


def _galaxy_tag(text: str, cluster: str, value: str | None) -> str:
    clusters = _galaxy_clusters()
    values = clusters.get(cluster)
    if values is None:
        raise InvalidTag(f"tag {text!r}: no MISP galaxy cluster {cluster!r}")
    if value is None:
        raise InvalidTag(f'tag {text!r}: a galaxy tag names a value: misp-galaxy:{cluster}="…"')
    canonical = values.get(value.lower())
    if canonical is None:
        raise InvalidTag(f"tag {text!r}: galaxy cluster {cluster!r} has no value {value!r}")
    return f'misp-galaxy:{cluster}="{canonical}"'


def normalise_tags(tags: Iterable[str], tlp: TlpLevel | None, free_tags: bool = True) -> list[str]:
    """Normalised labels for ``tags``, without duplicates; ``tlp:`` tags checked."""
    out: dict[str, None] = {}
    for tag in tags:
        out.update(dict.fromkeys(normalise_tag(tag, free_tags)))
    labels = list(out)
    if tlp is not None:
        check_tlp_tags(labels, tlp)
    return labels


def check_tlp_tags(labels: Iterable[str], tlp: TlpLevel) -> None:
    """A ``tlp:`` tag that says another level than the object's marking is refused."""
    for label in labels:
        if label[:4].lower() != "tlp:":
            continue
        try:
            level = TlpLevel.parse(label)
        except ValueError:
            continue  # tlp:unclear, tlp:ex:chr: not a level
        if level is not tlp:
            raise MarkingConflict(
                f"tag {label!r} contradicts the object's marking TLP:{tlp.value.upper()}",
                field="labels",
            )


def list_tags(namespace: str | None = None) -> list[TaxonomyEntry]:
    """Taxonomy tags one may use, all or of one namespace (``steppe tag list``)."""
    found = _taxonomies()
    if namespace is not None:
        chosen = found.get(namespace.lower())
        if chosen is None:
            raise InputError(f"no taxonomy {namespace!r}", field="namespace")
        spaces = [chosen]
    else:
        spaces = sorted(found.values(), key=lambda n: n.name.lower())
    out: list[TaxonomyEntry] = []
    for space in spaces:
        for spelling, values, description in space.predicates.values():
            if values:
                out.extend(
                    TaxonomyEntry(f'{space.name}:{spelling}="{v}"', description)
                    for v in values.values()
                )
            else:
                out.append(TaxonomyEntry(f"{space.name}:{spelling}", description))
    return out
