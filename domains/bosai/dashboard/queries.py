"""Every read the dashboard makes, in one place: SQL over the hub's stores.

Sources (so that a change of schema elsewhere is adapted here only):

* the hub's ``BosaiStore`` (``bosai.sqlite``): designated sites (``sites``) and the shelter
  status timeline (``status_history``) through ``current_status()``, ``timeline()``,
  ``open_periods()`` and ``last_reports()`` (each shelter's last report, its age and the
  stale flag against the municipality's ``stale_after()``);
* the connector's store, registry tables (``domains.bosai.registry.storage``):
  ``bosai_persons`` (stay_type, shelter_id, the body's ``careCategory``; never the medical
  table) and ``bosai_stay_history``;
* supply requests: this participant's own (``BosaiHub.own_supply_requests``, from the
  connector's record service) and those it received, read through the usage gate for
  disaster response (``BosaiHub.held_supply_requests``: the gate's index by record type, so
  no body but theirs is read).

Who stays where and with which 要配慮 categories is one scan of one index that this module
adds to ``bosai_persons`` (``INDEXES``: stay type, shelter, and the body's ``careCategory``
as an indexed expression), so bodies are not read at all: ~15 ms for 50,000 people, where
reading them took ~100 ms. Bodies are orjson bytes stored as BLOBs: SQLite >= 3.45 would
read a BLOB as JSONB, hence ``CAST(body AS TEXT)``. The trend is kept by ``trend.StayTrend``.

Supply requests come by record type (the gate indexes received records by their type IRI),
never by scanning bodies: once the registry publishes its people as Evacuee records a scan
would read ~50,000 bodies per rendering (~120-220 ms, bench/bosai.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from connector.store.database import Error as DbError
from connector.store.database import StoreError
from domains.bosai.dashboard.trend import Series, StayTrend
from domains.bosai.registry.normalize import match_name
from domains.bosai.store import BosaiStore, ReportAge

SUPPLY_TYPE = "SupplyRequest"
OPEN_SUPPLY = ("requested", "committed")
SEARCH_LIMIT = 50
CARE = "json_extract(CAST(body AS TEXT), '$.careCategory')"
INDEXES = f"""
CREATE INDEX IF NOT EXISTS bosai_dashboard_population
    ON bosai_persons(stay_type, shelter_id, {CARE});
"""


@dataclass(frozen=True)
class Shelter:
    id: str
    name: str
    open: bool | None  # None: no status reported (people checked in all the same)
    types: tuple[str, ...]
    capacity: int | None
    people: int  # registered as staying here now
    reported: int | None  # the shelter's own latest count
    day: int | None
    night: int | None
    needs: tuple[str, ...]
    observed_at: str | None
    care: dict[str, int] = field(default_factory=dict)
    lat: float | None = None  # from the designated-site master (an ad hoc shelter has none)
    lon: float | None = None
    # The shelter's last report (not a closed-by-absence entry): when, how old, and whether
    # older than the municipality's limit (``BosaiStore.stale_after``). None: never reported.
    reported_at: datetime | None = None
    report_age: timedelta | None = None
    stale: bool = False
    approximate: tuple[str, ...] = ()  # "count", "day", "night", "capacity" written as 約N
    flagged: tuple[str, ...] = ()  # columns of its latest status that could not be read

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.people >= self.capacity


@dataclass
class Population:
    """Registered people: by stay type, by shelter, and 要配慮 categories by shelter (None:
    not in a shelter)."""

    stays: dict[str | None, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    care: dict[str | None, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Supply:
    id: str
    item: str  # a vocab.SUPPLY_ITEMS token, or text as another participant wrote it
    quantity: Any
    urgency: str
    for_whom: tuple[str, ...]  # vocab.FOR_WHOM tokens (or texts)
    status: str
    shelter_id: str | None
    modified: str
    unit: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Overview:
    shelters: tuple[Shelter, ...]  # open ones, and any other with people in it
    registered: int
    stays: dict[str | None, int]  # stay type (None: not known) -> people
    care_outside: dict[str, int]  # 要配慮 of people not in a shelter
    supplies: tuple[Supply, ...]
    trend: Series

    @property
    def in_shelters(self) -> int:
        return self.stays.get("shelter", 0)

    @property
    def open_shelters(self) -> tuple[Shelter, ...]:
        return tuple(s for s in self.shelters if s.open)

    def supplies_by_status(self) -> Counter[str]:
        return Counter(s.status for s in self.supplies)


@dataclass(frozen=True)
class ShelterDetail:
    shelter: Shelter
    site: dict[str, Any] | None
    timeline: tuple[dict[str, Any], ...]
    supplies: tuple[Supply, ...]
    trend: Series
    periods: tuple[dict[str, str | None], ...] = ()  # {"opened": t, "closed": t or None}
    # people here with a pregnancy / infant flag the gate releases now, by kind
    care_flags: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonHit:
    """What staff see of a person: never address, contact, consent or the medical part."""

    id: str
    name: str
    kana: str | None
    birth_date: str
    stay_type: str | None
    shelter_id: str | None
    shelter_name: str | None
    stay_updated_at: str | None
    care: tuple[str, ...]
    flags: tuple[tuple[str, int], ...] = ()  # (pregnancy | infant, weeks | months)


# People by stay type, shelter and 要配慮 categories (a JSON array or NULL), from the index.
POPULATION = f"""
SELECT stay_type, shelter_id, {CARE}, count(*) FROM bosai_persons
WHERE :shelter IS NULL OR (stay_type = 'shelter' AND shelter_id = :shelter)
GROUP BY 1, 2, 3
"""
SEARCH = """
SELECT id, body, stay_type, shelter_id, stay_updated_at FROM bosai_persons
WHERE (instr(name_key, :q) > 0 OR instr(COALESCE(kana_key, ''), :q) > 0)
  AND (:birth IS NULL OR birth_date = :birth)
ORDER BY kana_key, name_key, id LIMIT :limit
"""


class Queries:
    """Reads for the dashboard over the hub: its registry, its ``sites`` and the supply
    requests it holds or received."""

    def __init__(self, hub: Any, sites: BosaiStore) -> None:
        self.hub, self.store, self.sites = hub, hub.registry.store, sites
        store = self.store
        try:
            store.db.executescript(INDEXES)  # commits: run outside a transaction
        except DbError as exc:
            raise StoreError(f"store {store.path} cannot index the registry: {exc}") from exc
        self.stays = StayTrend(store)

    def versions(self) -> tuple[int, int]:
        """SQLite's ``data_version`` of the hub's store and of the registry's: it moves when
        another connection (``tsunagu bosai import-status`` run beside the connector, another
        process) commits to the file. Those writes never reach the hub's change feed, so
        without this the dashboard kept serving its rendering from before the import."""
        return (int(self.sites.query("PRAGMA data_version")[0][0]),
                int(self.store.query("PRAGMA data_version")[0][0]))

    # ------------------------------------------------------------------ shelters

    def _site_names(self) -> dict[str, tuple[str, list[str], int | None]]:
        return {sid: (name, types, capacity)
                for sid, (name, types, capacity, _) in self._site_master().items()}

    def _site_master(self) -> dict[str, tuple[str, list[str], int | None,
                                              tuple[float, float]]]:
        return {r[0]: (r[1], orjson.loads(r[2]), r[3], (r[4], r[5])) for r in self.sites.query(
            "SELECT id, name, types, capacity, lat, lon FROM sites")}

    def _population(self, shelter_id: str | None = None) -> Population:
        found = Population()
        for stay_type, where, categories, n in self.store.query(
                POPULATION, {"shelter": shelter_id}):
            found.stays[stay_type] = found.stays.get(stay_type, 0) + n
            inside = where if stay_type == "shelter" and where else None
            if inside is not None:
                found.people[inside] = found.people.get(inside, 0) + n
            care = found.care.setdefault(inside, {})
            for category in orjson.loads(categories) if categories else ():
                care[category] = care.get(category, 0) + n
        return found

    def _shelters(self, population: Population, only: str | None = None,
                  now: datetime | None = None) -> list[Shelter]:
        """Shelters with a status or with people in them (or just ``only``); the age of
        each one's last report at ``now`` (default: now)."""
        status = {s["shelterId"]: s for s in self.sites.current_status()}
        reports = self.sites.last_reports(now)
        master = self._site_master()
        ids = {only} if only else set(status) | set(population.people)
        shelters = []
        for sid in ids:
            st = status.get(sid, {})
            name, types, capacity, (lat, lon) = master.get(sid, (None, [], None, (None, None)))
            reported = st.get("population", {})
            shelters.append(Shelter(
                id=sid, name=st.get("name") or name or sid,
                open=st.get("open") if st else None,
                types=tuple(st.get("shelterType") or types),
                capacity=st.get("capacity", capacity), people=population.people.get(sid, 0),
                reported=st.get("count"), day=reported.get("day"),
                night=reported.get("night"), needs=tuple(st.get("needs", ())),
                observed_at=st.get("observedAt"), care=population.care.get(sid, {}),
                lat=lat, lon=lon,
                **_report(reports.get(sid)), approximate=tuple(st.get("approximate", ())),
                flagged=tuple(st.get("flagged", {}))))
        shelters.sort(key=lambda s: (s.name, s.id))
        return shelters

    # ------------------------------------------------------------------ supplies

    def supplies(self, shelter_id: str | None = None) -> tuple[Supply, ...]:
        found: dict[str, Supply] = {}
        for record_id, record, modified in [*self.hub.own_supply_requests(),
                                            *self.hub.held_supply_requests()]:
            kinds = record.get("type")
            if SUPPLY_TYPE not in (kinds if isinstance(kinds, list) else [kinds]):
                continue
            if shelter_id is not None and record.get("shelterId") != shelter_id:
                continue
            whom = record.get("forWhom")
            found.setdefault(record_id, Supply(  # own records come first and win
                id=record_id, item=_text(record.get("item")),
                quantity=record.get("quantity", ""), urgency=_text(record.get("urgency")),
                for_whom=tuple(_text(w) for w in (whom if isinstance(whom, list) else [whom])
                               if w is not None),
                status=_text(record.get("status")),
                shelter_id=record.get("shelterId") if isinstance(record.get("shelterId"), str)
                else None, modified=_text(record.get("modified") or modified),
                unit=_text(record.get("unit")) or None,
                note=_text(record.get("itemNote")) or None))
        return tuple(sorted(found.values(), key=lambda s: (s.modified, s.id), reverse=True))

    # ------------------------------------------------------------------ pages

    def overview(self, now: datetime | None = None) -> Overview:
        population = self._population()
        shown = tuple(s for s in self._shelters(population, now=now) if s.open or s.people)
        return Overview(shelters=shown, registered=sum(population.stays.values()),
                        stays=population.stays, care_outside=population.care.get(None, {}),
                        supplies=self.supplies(), trend=self.stays.series(now=now))

    def shelter(self, shelter_id: str, now: datetime | None = None) -> ShelterDetail | None:
        site = self.sites.site(shelter_id)
        timeline = tuple(self.sites.timeline(shelter_id))
        shelter = self._shelters(self._population(shelter_id), only=shelter_id, now=now)[0]
        if site is None and not timeline and not shelter.people:
            return None
        return ShelterDetail(shelter=shelter, site=site, timeline=timeline,
                             supplies=self.supplies(shelter_id),
                             trend=self.stays.series(shelter_id, now=now),
                             periods=tuple(self.sites.open_periods(shelter_id)),
                             care_flags=self.hub.care_flags_at(shelter_id))

    # ------------------------------------------------------------------ people

    def search(self, name: str, birth_date: str | None = None,
               limit: int = SEARCH_LIMIT) -> list[PersonHit]:
        """People whose name or kana key contains the query's key (kanji or kana, any width,
        旧字体 folded: ``normalize.match_name``), optionally born on ``birth_date`` (ISO).
        At most ``limit + 1`` hits, so the caller can tell that there were more."""
        key = match_name(name)
        if not key:
            return []
        names = {sid: n for sid, (n, _, _) in self._site_names().items()}
        names.update((s["shelterId"], s["name"]) for s in self.sites.current_status()
                     if s.get("name"))
        hits = []
        for pid, body, stay_type, shelter_id, stay_at in self.store.query(
                SEARCH, {"q": key, "birth": birth_date, "limit": limit + 1}):
            person = orjson.loads(body)
            kana = " ".join(p for p in (person.get("familyNameKana"),
                                        person.get("givenNameKana")) if p) or None
            hits.append(PersonHit(
                id=pid, name=f"{person['familyName']} {person['givenName']}", kana=kana,
                birth_date=person["birthDate"], stay_type=stay_type, shelter_id=shelter_id,
                shelter_name=names.get(shelter_id) if shelter_id else None,
                stay_updated_at=stay_at, care=tuple(person.get("careCategory", ()))))
        flags = self.hub.care_flags_of(h.id for h in hits) if hits else {}
        return [replace(h, flags=tuple(flags[h.id])) if h.id in flags else h for h in hits]


def _report(age: ReportAge | None) -> dict[str, Any]:
    if age is None:
        return {}
    return {"reported_at": age.reported_at, "report_age": age.age, "stale": age.stale}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
