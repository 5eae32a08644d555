"""DCAT 3 datasets with ODRL offers, as DSP 2025-1 catalogs carry them.

``parse_catalog(document, provider)`` reads the ``Catalog`` a connector answers to a
``CatalogRequestMessage`` (``connector.data.datasets``) and returns the datasets it could read
and, for each entry it could not, a ``Dropped`` with a reason that names no personal data.
The DSP JSON schema check itself lives with the connector (which owns the schemas); this
module checks what the index relies on and never raises for bad input.

Optional DCAT terms read (all compact under the DSP context's ``dct``/``dcat`` prefixes):

=======================  ==================================================================
``dct:title``            text, a list of texts or language-tagged values
``dct:description``      same
``dcat:keyword``         list of texts
``dcat:theme``           list of IRIs or texts
``dct:type``             the dataset type (e.g. ``bosai:ShelterStatus``)
``tsunagu:domain``       the domain hub the dataset belongs to (``bosai``, ``pmh``...)
``dct:spatial``          全国地方公共団体コード (2, 5 or 6 digits, ``JP-04``) or a list
``dct:temporal``         ``{"dcat:startDate": ..., "dcat:endDate": ...}`` (ISO dates)
``dct:issued``,          ISO dates or date-times; ``modified`` orders equal relevance
``dct:modified``
=======================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from catalog.areas import normalize_area

MAX_TEXT_CHARS = 10_000
MAX_LIST = 64


@dataclass(frozen=True)
class Offer:
    id: str
    body: dict[str, Any]  # the ODRL offer exactly as the provider gave it


@dataclass(frozen=True)
class Dataset:
    id: str
    provider: str  # the participant DID whose catalog lists it
    title: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    dataset_type: str | None = None
    domain: str | None = None
    spatial: tuple[str, ...] = ()  # normalised area codes: "04" or "04100"
    temporal_start: str | None = None  # ISO date
    temporal_end: str | None = None
    issued: str | None = None
    modified: str | None = None  # ISO UTC date-time or date
    offers: tuple[Offer, ...] = ()
    body: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.provider} {self.id}"


@dataclass(frozen=True)
class Dropped:
    dataset: str | None  # the entry's @id when it had a usable one
    reason: str


class EntryError(ValueError):
    pass


def texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in ("@value", "value"):
            if isinstance(value.get(key), str):
                yield value[key]
    elif isinstance(value, list):
        for item in value[:MAX_LIST]:
            yield from texts(item)


def _text(entry: Mapping[str, Any], *names: str) -> str:
    for name in names:
        if name in entry:
            return " ".join(texts(entry[name]))[:MAX_TEXT_CHARS]
    return ""


def _ids(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    out = []
    for item in items[:MAX_LIST]:
        if isinstance(item, str) and item:
            out.append(item[:512])
        elif isinstance(item, Mapping):
            ident = item.get("@id") or next(texts(item), None)
            if isinstance(ident, str) and ident:
                out.append(ident[:512])
    return tuple(dict.fromkeys(out))


def _first(entry: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in entry:
            return entry[name]
    return None


def _iso(value: Any) -> str | None:
    """An ISO date or date-time (``@value`` objects too), as a sortable UTC string."""
    if isinstance(value, Mapping):
        value = value.get("@value")
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dataset(entry: Any, provider: str) -> Dataset:
    """One catalog entry as a Dataset; raises EntryError saying what is wrong."""
    if not isinstance(entry, Mapping):
        raise EntryError("a dataset entry is a JSON object")
    ident = entry.get("@id")
    if not isinstance(ident, str) or not ident or len(ident) > 2048:
        raise EntryError("a dataset needs an @id (an IRI of at most 2048 characters)")
    if entry.get("@type", "Dataset") not in ("Dataset", "dcat:Dataset"):
        raise EntryError("the entry is not a Dataset")
    policies = entry.get("hasPolicy")
    policies = [policies] if isinstance(policies, Mapping) else policies
    if not isinstance(policies, list) or not policies:
        raise EntryError("a dataset needs at least one offer (hasPolicy)")
    offers = []
    for i, p in enumerate(policies[:MAX_LIST]):
        if not isinstance(p, Mapping) or not isinstance(p.get("@id"), str):
            raise EntryError(f"offer {i} is not an ODRL offer with an @id")
        offers.append(Offer(p["@id"], dict(p)))
    if not isinstance(entry.get("distribution"), list | Mapping):
        raise EntryError("a dataset needs a distribution")
    title = _text(entry, "dct:title", "title")
    if not title.strip():
        raise EntryError("a dataset needs a title")
    spatial = []
    for code in _ids(_first(entry, "dct:spatial", "spatial")):
        area = normalize_area(code)
        if area is not None:
            spatial.append(area)
    temporal = _first(entry, "dct:temporal", "temporal")
    start = end = None
    if isinstance(temporal, list) and temporal:
        temporal = temporal[0]
    if isinstance(temporal, Mapping):
        start = _iso(_first(temporal, "dcat:startDate", "startDate"))
        end = _iso(_first(temporal, "dcat:endDate", "endDate"))
    dataset_type = _ids(_first(entry, "dct:type", "type"))
    domain = _ids(_first(entry, "tsunagu:domain", "domain"))
    return Dataset(
        id=ident, provider=provider, title=title,
        description=_text(entry, "dct:description", "description"),
        keywords=tuple(dict.fromkeys(
            k[:256] for k in texts(_first(entry, "dcat:keyword", "keyword")) if k.strip())),
        themes=_ids(_first(entry, "dcat:theme", "theme")),
        dataset_type=dataset_type[0] if dataset_type else None,
        domain=domain[0] if domain else None,
        spatial=tuple(dict.fromkeys(spatial)),
        temporal_start=start[:10] if start else None, temporal_end=end[:10] if end else None,
        issued=_iso(_first(entry, "dct:issued", "issued")),
        modified=_iso(_first(entry, "dct:modified", "modified")),
        offers=tuple(offers), body=dict(entry))


def parse_catalog(document: Any, provider: str) -> tuple[list[Dataset], list[Dropped]]:
    """The datasets of a DSP ``Catalog`` (nested catalogs included) listed by ``provider``.

    A catalog whose ``participantId`` names someone else is dropped whole: a participant
    cannot list datasets under another's name."""
    if not isinstance(document, Mapping) or document.get("@type") != "Catalog":
        return [], [Dropped(None, "not a DSP Catalog")]
    if document.get("participantId") not in (None, provider):
        return [], [Dropped(None, "the catalog names another participant")]
    datasets: list[Dataset] = []
    dropped: list[Dropped] = []
    entries = document.get("dataset") or []
    for entry in entries if isinstance(entries, list) else [entries]:
        try:
            datasets.append(parse_dataset(entry, provider))
        except EntryError as exc:
            ident = entry.get("@id") if isinstance(entry, Mapping) else None
            dropped.append(Dropped(ident[:2048] if isinstance(ident, str) else None, str(exc)))
    for child in document.get("catalog") or []:
        inner, bad = parse_catalog({**child, "participantId": provider}
                                   if isinstance(child, Mapping) else child, provider)
        datasets.extend(inner)
        dropped.extend(bad)
    return datasets, dropped
