"""Care flags from the health department: who in a shelter is pregnant or has an infant.

The municipality's health department (a pmh participant) offers ``CareFlag`` records: the
4 items and pregnancy weeks or an infant's age in months, nothing else, for disaster
response while the disaster phase is response. bosai imports nothing of pmh: the record
type is named here by its IRI, the data space's contract between the two.

* Received flags come through the usage gate only (``gate.follow`` on delivery, ``gate.page``
  in ``sync``), for ``FOR_CARE``; each is matched to the registry on the 4 items with the
  registry's own matcher (exactly one person, all 4 items known and equal; never a My
  Number: a flag holding one is refused) and kept in ``bosai_care_flags`` (person id, kind,
  value), never the record itself.
* The table is a cache of what the gate releases now: ``sync`` rebuilds it from a gate read,
  so when the decision turns to deny (the phase ended, the agreement was terminated) the
  flags are gone. The hub runs ``sync`` on every ``gate.changed()`` and the dashboard before
  it shows them: as counts on a shelter's page (aggregate pages name nobody), per person in
  the staff's person search (妊娠N週, 乳児(Nか月)).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied, UsageGate
from domains.bosai.registry.errors import refuse_my_number
from domains.bosai.registry.matching import Keys, match
from domains.bosai.registry.normalize import address_key, kana_key, name_key
from domains.bosai.registry.registry import Registry
from domains.bosai.registry.storage import CANDIDATES
from trust.errors import TsunaguError

log = logging.getLogger(__name__)

CARE_FLAG = "https://w3id.org/tsunagu/pmh#CareFlag"
FOR_CARE = Use("disaster_response")
KINDS = {"pregnancyWeeks": "pregnancy", "infantAgeMonths": "infant"}
# The fields a flag may carry (anything else is not read: the sender's business).
_ITEMS = ("familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate", "sex",
          "address")

SCHEMA = """
CREATE TABLE IF NOT EXISTS bosai_care_flags (
    record_id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pregnancy', 'infant')),
    value INTEGER NOT NULL,
    as_of TEXT NOT NULL,
    provider TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bosai_care_flags_person ON bosai_care_flags(person_id);
"""
AT_SHELTER = """
SELECT f.kind, count(DISTINCT f.person_id) FROM bosai_care_flags f
JOIN bosai_persons p ON p.id = f.person_id
WHERE p.stay_type = 'shelter' AND p.shelter_id = ?
GROUP BY f.kind
"""


def keys_of(flag: Mapping[str, Any], registry: Registry) -> Keys:
    """The registry's match keys of a flag's 4 items (a My Number anywhere: refused)."""
    refuse_my_number({k: flag.get(k) for k in _ITEMS})
    text = {k: flag.get(k) if isinstance(flag.get(k), str) else "" for k in _ITEMS}
    return Keys(name=name_key(text["familyName"], text["givenName"]),
                kana=kana_key(text["familyNameKana"] or None, text["givenNameKana"] or None),
                birth=text["birthDate"], sex=text["sex"],
                address=address_key(text["address"], registry.place))


def need_of(flag: Mapping[str, Any]) -> tuple[str, int] | None:
    for field, kind in KINDS.items():
        value = flag.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return kind, value
    return None


def receive(registry: Registry, db: Any, record: Mapping[str, Any], provider: str,
            event: str = "updated") -> bool:
    """Keep one flag the gate released, for the one registered person it matches on the
    4 items (none, several, or a refused flag: nothing kept, no value logged)."""
    record_id = record.get("id")
    db.execute("DELETE FROM bosai_care_flags WHERE record_id = ?", (record_id,))
    need = need_of(record)
    if event == "deleted" or need is None:
        return False
    try:
        keys = keys_of(record, registry)
    except TsunaguError as exc:
        log.warning("a care flag was refused", extra={"code": exc.code, "provider": provider})
        return False
    rows = db.execute(CANDIDATES, {"birth": keys.birth, "name": keys.name,
                                   "address": keys.address}).fetchall()
    found = match(keys, {r[0]: Keys(r[1], r[2], r[3], r[4], r[5]) for r in rows})
    if found.exact is None:
        return False  # not (yet) registered here: the next sync tries again
    db.execute("INSERT INTO bosai_care_flags (record_id, person_id, kind, value, as_of, "
               "provider) VALUES (?, ?, ?, ?, ?, ?)",
               (record_id, found.exact, need[0], need[1], str(record.get("asOf", "")),
                provider))
    return True


def released(gate: UsageGate, reader: Reader) -> list[tuple[dict[str, Any], str]]:
    """(flag, provider) of every live flag the gate releases to ``reader`` now."""
    found, after = [], 0
    while True:
        try:
            page = gate.page(reader, FOR_CARE, after=after, limit=500, record_type=CARE_FLAG,
                             latest_only=True, live_only=True)
        except UsageDenied:
            return []  # every agreement refuses: nothing may be shown
        found += [(i.record or {}, i.provider) for i in page.items]
        if page.next is None:
            return found
        after = page.next


_ROWS = "SELECT record_id, person_id, kind, value, as_of, provider FROM bosai_care_flags"


def sync(gate: UsageGate, reader: Reader, registry: Registry) -> bool:
    """Rebuild the table from what the gate releases now; whether it changed (so that the
    dashboard's feed moves only then: drawing a page syncs, and must not redraw itself)."""
    flags = released(gate, reader)
    with registry.store.transaction() as db:
        before = {tuple(r) for r in db.execute(_ROWS).fetchall()}
        db.execute("DELETE FROM bosai_care_flags")
        for flag, provider in flags:
            receive(registry, db, flag, provider)
        return {tuple(r) for r in db.execute(_ROWS).fetchall()} != before


def counts_at(registry: Registry, shelter_id: str) -> dict[str, int]:
    """People staying at a shelter with a flag, by kind (the shelter page: no names)."""
    return {kind: n for kind, n in registry.store.query(AT_SHELTER, (shelter_id,))}


def of_people(registry: Registry, person_ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
    """(kind, number) of each of ``person_ids`` that has a flag (staff's person search)."""
    ids = list(dict.fromkeys(person_ids))
    found: dict[str, list[tuple[str, int]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for pid, kind, value in registry.store.query(
                "SELECT person_id, kind, value FROM bosai_care_flags WHERE person_id IN "
                f"({', '.join('?' * len(chunk))}) ORDER BY kind", tuple(chunk)):
            found.setdefault(pid, []).append((kind, value))
    return found


def all_flags(registry: Registry) -> Iterable[tuple[str, str, int]]:
    """(person id, kind, value) of every flag held (tests, the demo's summary)."""
    return [tuple(r) for r in registry.store.query(
        "SELECT person_id, kind, value FROM bosai_care_flags ORDER BY person_id, kind")]
