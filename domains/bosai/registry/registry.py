"""The evacuee registry held by a municipality's connector: register once, match, look up.

One transaction per operation (``register``, ``decide``, ``update_stay``, ``inquire`` ...);
``register_many`` commits per batch, each batch all or nothing. Reads and writes go through
the connector's ``Store`` (typed ``store.unavailable`` errors); inquiries, medical reads,
review decisions, consent and stay changes are written to the hash-chained audit log with
identifiers only. Nothing here logs or raises personal data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from connector.control.audit import AuditLog
from connector.store.database import Store
from domains.bosai.registry import storage
from domains.bosai.registry.errors import (
    PersonNotFound,
    RegistryInputError,
    ReviewDecided,
    ReviewNotFound,
    VersionConflict,
    refuse_my_number,
)
from domains.bosai.registry.forms import parse_consent, parse_form, parse_stay, text
from domains.bosai.registry.inquiry import InquiryAnswer, disclosure
from domains.bosai.registry.matching import Keys, match
from domains.bosai.registry.model import (
    Medical,
    Person,
    PersonInput,
    Source,
    StayLocation,
)
from domains.bosai.registry.normalize import (
    AddressContext,
    address_key,
    kana_key,
    match_name,
    name_key,
    parse_birth_date,
)
from domains.japanese.dates import JST

KINDS = ("form", "csv", "card", "api")
DECISIONS = ("merge", "keep_apart")
MAX_ACTOR = 200


@dataclass(frozen=True)
class Origin:
    """Where an input came from: ``source`` names the channel (``reception:shelter-12``,
    ``csv:list.csv#line=7``), ``by`` the staff member or participant, ``verified_by`` the
    card issuer whose signature was checked."""

    source: str
    kind: str = "form"
    by: str | None = None
    verified_by: str | None = None


@dataclass(frozen=True)
class ReviewRef:
    review_id: str
    candidate_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RegistrationResult:
    """``outcome``: ``new`` (a new person), ``merged`` (into ``person_id``, an existing
    person), ``review`` (a new person with near matches queued in ``reviews``)."""

    person_id: str
    outcome: str
    reviews: tuple[ReviewRef, ...] = ()


@dataclass(frozen=True)
class Refusal:
    index: int
    code: str
    field: str
    message: str


@dataclass
class RegistrationStats:
    total: int = 0
    new: int = 0
    merged: int = 0
    review: int = 0
    refused: list[Refusal] = field(default_factory=list)
    results: list[RegistrationResult | None] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "new": self.new, "merged": self.merged,
                "review": self.review, "refused": len(self.refused),
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class Review:
    id: str
    person_id: str  # the newer registration
    candidate_id: str  # the registered person it may be
    reasons: tuple[str, ...]
    status: str  # open | merged | kept_apart | obsolete
    created: str
    decided_by: str | None = None
    decided_at: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id() -> str:
    """A UUIDv7 (RFC 9562: milliseconds, then random) as a URN: ids made together sort
    together, so the indexes on person ids grow at their end instead of everywhere."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122/9562 variant
    h = f"{value:032x}"
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _actor(value: Any, field: str) -> str:
    refuse_my_number(value, field)
    return text(value, field, max_len=MAX_ACTOR) or ""


class Publisher(Protocol):
    """Told, inside the registry's transaction, which people it wrote and which it removed
    (merged into another), so that records derived from them commit with the registry rows
    (the bosai hub publishes Evacuee and MedicalNeeds records: ``domains.bosai.publishing``).
    Raising rolls the registry's change back."""

    def written(self, db: Any, registry: Registry, person_ids: Sequence[str],
                removed: Sequence[str] = ()) -> None: ...


class _Pending:
    """Rows no match depends on, written with one executemany each at the end of a
    registration's (or a batch's) transaction."""

    def __init__(self) -> None:
        self.sources: list[tuple[Any, ...]] = []
        self.stays: list[tuple[Any, ...]] = []
        self.reviews: list[tuple[Any, ...]] = []

    def source(self, person_id: str, origin: Origin, outcome: str, person: PersonInput,
               now: str) -> None:
        self.sources.append((person_id, origin.source, origin.kind, outcome, origin.by,
                             origin.verified_by, orjson.dumps(person.basic_items()), now))

    def flush(self, db: Any) -> None:
        db.executemany(storage.INSERT_SOURCE, self.sources)
        db.executemany(storage.INSERT_STAY, self.stays)
        db.executemany(storage.INSERT_REVIEW, self.reviews)


class Registry:
    """The evacuee registry in ``store``. ``place`` is the municipality's own prefecture and
    name (addresses there may omit the prefecture); ``clock`` returns aware datetimes."""

    def __init__(self, store: Store, *, place: AddressContext | None = None,
                 clock: Callable[[], datetime] | None = None,
                 publisher: Publisher | None = None) -> None:
        self.store = store
        self.place = place or AddressContext()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.publisher = publisher
        self.audit = AuditLog(store)
        storage.install(store)
        storage.tune(store)

    @classmethod
    def open(cls, path: Path | str, **kwargs: Any) -> Registry:
        """A registry in its own store file (tests, the bench, tools)."""
        return cls(Store(Path(path)), **kwargs)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ inputs and keys

    def today(self) -> date:
        return self.clock().astimezone(JST).date()

    def parse(self, person: PersonInput | Mapping[str, Any]) -> PersonInput:
        """A validated input: forms are parsed, given ``PersonInput`` re-checked for My
        Numbers (any text field could hold one)."""
        if isinstance(person, PersonInput):
            refuse_my_number(person.body())
            if person.medical:
                refuse_my_number(person.medical.to_json(), "careNeeds")
            return person
        return parse_form(person, today=self.today())

    def keys(self, person: PersonInput) -> Keys:
        return Keys(name=name_key(person.family_name, person.given_name),
                    kana=kana_key(person.family_name_kana, person.given_name_kana),
                    birth=person.birth_date.isoformat(), sex=person.sex,
                    address=address_key(person.address, self.place))

    # ------------------------------------------------------------------ registration

    def register(self, person: PersonInput | Mapping[str, Any], *, source: str,
                 kind: str = "form", by: str | None = None,
                 verified_by: str | None = None) -> RegistrationResult:
        """Register one person: merged into the one person all 4 items match, else new (with
        near matches queued for review). One transaction."""
        origin = self._origin(source, kind, by, verified_by)
        parsed = self.parse(person)
        with self.store.transaction() as db:
            return self.register_in(db, parsed, origin)

    def register_in(self, db: Any, person: PersonInput, origin: Origin) -> RegistrationResult:
        """``register`` inside a transaction the caller holds (a record listener registering
        a person another participant shared). ``person`` must come from ``parse``."""
        pending = _Pending()
        result = self._register(db, person, origin, self._now(), pending)
        pending.flush(db)
        self._written(db, [result.person_id])
        return result

    def register_many(self, people: Iterable[PersonInput | Mapping[str, Any]], *,
                      source: str, kind: str = "form", by: str | None = None,
                      batch_size: int = 2000,
                      origins: Callable[[int], Origin] | None = None) -> RegistrationStats:
        """Register many people in order, one transaction per ``batch_size`` of them.

        Invalid inputs are refused one by one (``stats.refused`` with their index, code and
        field) and the rest registered; people later in the list match earlier ones. A
        store failure rolls back the current batch and raises; earlier batches stay.
        ``origins(index)`` gives each input its own origin (CSV line numbers).
        """
        *_, stats = self.register_batches(people, source=source, kind=kind, by=by,
                                          batch_size=batch_size, origins=origins)
        return stats

    def register_batches(self, people: Iterable[PersonInput | Mapping[str, Any]], *,
                         source: str, kind: str = "form", by: str | None = None,
                         batch_size: int = 2000, origins: Callable[[int], Origin] | None = None
                         ) -> Iterator[RegistrationStats]:
        """``register_many`` one committed batch at a time: yields the running stats after
        each batch's transaction (and once more, complete, at the end), so an event loop can
        run other work between batches (``BosaiHub.register_many``)."""
        started = time.perf_counter()
        default = self._origin(source, kind, by, None)
        stats = RegistrationStats()
        batch: list[tuple[int, PersonInput, Origin]] = []
        for index, person in enumerate(people):
            stats.total += 1
            stats.results.append(None)
            try:
                parsed = self.parse(person)
            except RegistryInputError as exc:
                stats.refused.append(Refusal(index, exc.code, exc.field, exc.message))
                continue
            batch.append((index, parsed, origins(index) if origins else default))
            if len(batch) >= batch_size:
                self._commit_batch(batch, stats)
                batch = []
                stats.seconds = time.perf_counter() - started
                yield stats
        if batch:
            self._commit_batch(batch, stats)
        stats.seconds = time.perf_counter() - started
        yield stats

    def _commit_batch(self, batch: list[tuple[int, PersonInput, Origin]],
                      stats: RegistrationStats) -> None:
        now = self._now()
        pending = _Pending()
        with self.store.transaction() as db:
            results = [(index, self._register(db, parsed, origin, now, pending))
                       for index, parsed, origin in batch]
            pending.flush(db)
            self._written(db, list(dict.fromkeys(r.person_id for _, r in results)))
        for index, result in results:
            stats.results[index] = result
            setattr(stats, result.outcome, getattr(stats, result.outcome) + 1)

    def _origin(self, source: str, kind: str, by: str | None,
                verified_by: str | None) -> Origin:
        if kind not in KINDS:
            raise RegistryInputError(f"kind must be one of {', '.join(KINDS)}", field="kind")
        return Origin(_actor(source, "source"), kind,
                      _actor(by, "by") if by is not None else None, verified_by)

    def _now(self) -> str:
        return _iso(self.clock())

    def _written(self, db: Any, person_ids: Sequence[str], removed: Sequence[str] = ()) -> None:
        if self.publisher is not None:
            self.publisher.written(db, self, person_ids, removed)

    def _register(self, db: Any, person: PersonInput, origin: Origin, now: str,
                  pending: _Pending) -> RegistrationResult:
        keys = self.keys(person)
        rows = db.execute(storage.CANDIDATES, {
            "birth": keys.birth, "name": keys.name, "address": keys.address}).fetchall()
        found = match(keys, {r[0]: Keys(r[1], r[2], r[3], r[4], r[5]) for r in rows})
        if found.exact is not None:
            current, version = self._load(db, found.exact, medical=True)
            merged = current.merged(person)
            self._write(db, found.exact, version + 1, merged, now=now,
                        stay_by=(origin.by or origin.source) if person.stay else None,
                        history=pending.stays)
            pending.source(found.exact, origin, "merged", person, now)
            return RegistrationResult(found.exact, "merged")
        person_id = _new_id()
        self._write(db, person_id, 1, person, keys=keys, now=now, created=now,
                    stay_by=(origin.by or origin.source) if person.stay else None,
                    history=pending.stays)
        reviews = []
        for candidate, reasons in found.near:
            review_id = _new_id()
            pending.reviews.append((review_id, person_id, candidate,
                                    orjson.dumps(reasons).decode(), now))
            reviews.append(ReviewRef(review_id, candidate, reasons))
        outcome = "review" if reviews else "new"
        pending.source(person_id, origin, outcome, person, now)
        return RegistrationResult(person_id, outcome, tuple(reviews))

    def _write(self, db: Any, person_id: str, version: int, person: PersonInput, *,
               now: str, created: str | None = None, stay_by: str | None = None,
               keys: Keys | None = None, history: list[tuple[Any, ...]] | None = None) -> None:
        """Insert (``created`` set) or update a person row and its medical row; ``stay_by``
        says the stay was just set by someone: a stay history line, written now or added to
        ``history`` for the caller to write in the same transaction. The match keys of a
        registered person never change: it keeps its 4 items as first written."""
        stay = person.stay
        values: dict[str, Any] = {
            "id": person_id, "version": version, "body": orjson.dumps(person.body()),
            "kana_key": kana_key(person.family_name_kana, person.given_name_kana),
            "stay_type": stay.stay_type if stay else None,
            "shelter_id": stay.shelter_id if stay else None,
            "household_id": person.household.household_id if person.household else None,
            "consent": int(person.consent.disclose), "modified": now}
        if created is not None:
            keys = keys or self.keys(person)
            values.update(name_key=keys.name, birth_date=keys.birth, sex=keys.sex,
                          address_key=keys.address, created=created,
                          stay_updated_by=stay_by, stay_updated_at=now if stay_by else None)
            db.execute(storage.INSERT_PERSON, values)
        else:
            db.execute(storage.UPDATE_PERSON, values)
        if person.medical:
            db.execute(storage.UPSERT_MEDICAL,
                       (person_id, orjson.dumps(person.medical.to_json()), now))
        elif created is None:
            db.execute("DELETE FROM bosai_person_medical WHERE person_id = ?", (person_id,))
        if stay_by is not None:
            if created is None:
                db.execute("UPDATE bosai_persons SET stay_updated_by = ?, stay_updated_at = ? "
                           "WHERE id = ?", (stay_by, now, person_id))
            line = (person_id, values["stay_type"], values["shelter_id"], stay_by, now)
            if history is None:
                db.execute(storage.INSERT_STAY, line)
            else:
                history.append(line)

    # ------------------------------------------------------------------ reading

    def resolve(self, person_id: str) -> str:
        """The current id of a person (a merged person's old id leads to the survivor)."""
        row = self.store.query("SELECT person_id FROM bosai_person_aliases WHERE old_id = ?",
                               (person_id,))
        return row[0][0] if row else person_id

    def _load(self, db: Any, person_id: str, *,
              medical: bool = False) -> tuple[PersonInput, int]:
        row = db.execute("SELECT body, version FROM bosai_persons WHERE id = ?",
                         (person_id,)).fetchone()
        if row is None:
            raise PersonNotFound("no such person in the registry", person_id=person_id)
        med = None
        if medical:
            m = db.execute("SELECT body FROM bosai_person_medical WHERE person_id = ?",
                           (person_id,)).fetchone()
            med = Medical.from_json(orjson.loads(m[0])) if m else None
        return PersonInput.from_body(orjson.loads(row[0]), med), row[1]

    def load(self, db: Any, person_id: str) -> tuple[Person, Medical | None]:
        """A person and its medical part inside an open transaction (the publisher's read;
        not audited as a medical read: nothing is shown to anyone, it is republished under
        the medical-needs policy)."""
        row = db.execute("SELECT body, version, created, modified, stay_updated_by, "
                         "stay_updated_at FROM bosai_persons WHERE id = ?",
                         (person_id,)).fetchone()
        if row is None:
            raise PersonNotFound("no such person in the registry", person_id=person_id)
        m = db.execute("SELECT body FROM bosai_person_medical WHERE person_id = ?",
                       (person_id,)).fetchone()
        person = Person(person_id, row[1], row[2], row[3],
                        PersonInput.from_body(orjson.loads(row[0])), row[4], row[5])
        return person, Medical.from_json(orjson.loads(m[0])) if m else None

    def get_person(self, person_id: str, *, with_sources: bool = False) -> Person:
        """The basic part of a person (never the medical part: see ``medical``)."""
        current = self.resolve(person_id)
        rows = self.store.query(
            "SELECT body, version, created, modified, stay_updated_by, stay_updated_at "
            "FROM bosai_persons WHERE id = ?", (current,))
        if not rows:
            raise PersonNotFound("no such person in the registry", person_id=person_id)
        body, version, created, modified, stay_by, stay_at = rows[0]
        sources: tuple[Source, ...] = ()
        if with_sources:
            sources = tuple(
                Source(r[0], r[1], r[2], r[6], r[3], r[4], orjson.loads(r[5]))
                for r in self.store.query(
                    "SELECT source, kind, outcome, by_whom, verified_by, basic_items, at "
                    "FROM bosai_person_sources WHERE person_id = ? ORDER BY seq", (current,)))
        return Person(current, version, created, modified,
                      PersonInput.from_body(orjson.loads(body)), stay_by, stay_at, sources)

    def medical(self, person_id: str, *, by: str, purpose: str | None = None) -> Medical | None:
        """The restricted medical part; every read is audited with who read it."""
        who = _actor(by, "by")
        current = self.resolve(person_id)
        with self.store.transaction() as db:
            self._load(db, current)  # PersonNotFound for unknown people
            row = db.execute("SELECT body FROM bosai_person_medical WHERE person_id = ?",
                             (current,)).fetchone()
            self.audit.append("bosai.medical_read", self.clock(), person=current, by=who,
                              purpose=purpose)
        return Medical.from_json(orjson.loads(row[0])) if row else None

    def stay_history(self, person_id: str) -> list[dict[str, Any]]:
        current = self.resolve(person_id)
        return [{"stayType": r[0], "shelterId": r[1], "by": r[2], "at": r[3]}
                for r in self.store.query(
                    "SELECT stay_type, shelter_id, by_whom, at FROM bosai_stay_history "
                    "WHERE person_id = ? ORDER BY seq", (current,))]

    def person_ids(self) -> list[str]:
        """Every registered person's id, sorted."""
        return [r[0] for r in self.store.query("SELECT id FROM bosai_persons ORDER BY id")]

    def count(self) -> int:
        return self.store.query("SELECT count(*) FROM bosai_persons")[0][0]

    # ------------------------------------------------------------------ changes

    def update_stay(self, person_id: str, stay: StayLocation | Mapping[str, Any] | str, *,
                    by: str, expected_version: int | None = None) -> Person:
        """Where the person stays now (check-in, check-out, moving between shelters)."""
        who = _actor(by, "by")
        if not isinstance(stay, StayLocation):
            refuse_my_number(stay, "stayLocation")
            stay = parse_stay(stay)
        current = self.resolve(person_id)
        with self.store.transaction() as db:
            if expected_version is not None:
                version = self._load(db, current)[1]
                if expected_version != version:
                    raise VersionConflict("the person changed since it was read",
                                          person_id=current, version=version)
            self.apply_stay(db, current, stay, by=who)
            self._written(db, [current])
        return self.get_person(current)

    def apply_stay(self, db: Any, person_id: str, stay: StayLocation, *, by: str) -> bool:
        """Set the stay inside a transaction the caller holds: a stay history line, an
        audit line (who, where; never the person's data). False (nothing written) when the
        person already stays exactly so. Not published: the caller does that (a check-in
        arrives as the published record itself, connector.contributions)."""
        who = _actor(by, "by")
        person, version = self._load(db, person_id, medical=True)
        if person.stay == stay:
            return False
        self._write(db, person_id, version + 1, replace(person, stay=stay), now=self._now(),
                    stay_by=who)
        self.audit.append("bosai.stay_updated", self.clock(), person=person_id, by=who,
                          stayType=stay.stay_type, shelterId=stay.shelter_id)
        return True

    def set_consent(self, person_id: str, disclose: Any, scope: Any = None, *,
                    by: str) -> Person:
        """The person's own, explicit answer on disclosure (a merge only ever narrows it)."""
        who = _actor(by, "by")
        consent = parse_consent(disclose, scope)
        current = self.resolve(person_id)
        now = self._now()
        with self.store.transaction() as db:
            person, version = self._load(db, current, medical=True)
            self._write(db, current, version + 1, replace(person, consent=consent), now=now)
            self.audit.append("bosai.consent_changed", self.clock(), person=current, by=who,
                              disclose=consent.disclose, scope=list(consent.scope))
            self._written(db, [current])
        return self.get_person(current)

    # ------------------------------------------------------------------ review queue

    def reviews(self, status: str = "open", *, limit: int = 100,
                offset: int = 0) -> list[Review]:
        rows = self.store.query(
            "SELECT id, person_id, candidate_id, reasons, status, created, decided_by, "
            "decided_at FROM bosai_reviews WHERE status = ? ORDER BY created, id "
            "LIMIT ? OFFSET ?", (status, limit, offset))
        return [self._review(r) for r in rows]

    def review(self, review_id: str) -> Review:
        rows = self.store.query(
            "SELECT id, person_id, candidate_id, reasons, status, created, decided_by, "
            "decided_at FROM bosai_reviews WHERE id = ?", (review_id,))
        if not rows:
            raise ReviewNotFound("no such review", review_id=review_id)
        return self._review(rows[0])

    @staticmethod
    def _review(row: Any) -> Review:
        return Review(row[0], row[1], row[2], tuple(orjson.loads(row[3])), row[4], row[5],
                      row[6], row[7])

    def decide(self, review_id: str, decision: str, *, by: str) -> Review:
        """A person's decision on a near match: ``merge`` (the newer registration is folded
        into the registered person, whose id stays; the other id becomes an alias) or
        ``keep_apart``."""
        who = _actor(by, "by")
        if decision not in DECISIONS:
            raise RegistryInputError("decision must be merge or keep_apart", field="decision")
        now = self._now()
        with self.store.transaction() as db:
            row = db.execute("SELECT status, person_id, candidate_id FROM bosai_reviews "
                             "WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                raise ReviewNotFound("no such review", review_id=review_id)
            status, newer, survivor = row
            if status != "open":
                raise ReviewDecided(f"the review is already {status}", review_id=review_id)
            if decision == "merge":
                self._merge(db, survivor, newer, now)
                self._written(db, [survivor], [newer])
            db.execute("UPDATE bosai_reviews SET status = ?, decided_by = ?, decided_at = ? "
                       "WHERE id = ?", ("merged" if decision == "merge" else "kept_apart",
                                        who, now, review_id))
            self.audit.append("bosai.review_decided", self.clock(), review=review_id,
                              decision=decision, person=survivor, other=newer, by=who)
        return self.review(review_id)

    def _merge(self, db: Any, survivor: str, merged: str, now: str) -> None:
        kept, version = self._load(db, survivor, medical=True)
        gone, _ = self._load(db, merged, medical=True)
        stamps = {pid: db.execute("SELECT stay_updated_by, stay_updated_at FROM bosai_persons "
                                  "WHERE id = ?", (pid,)).fetchone() for pid in (survivor, merged)}
        gone_is_newer = (stamps[merged][1] or "") > (stamps[survivor][1] or "")
        combined = kept.merged(gone)  # the newer stay wins, as for a new registration:
        combined = replace(combined, stay=(gone.stay or kept.stay) if gone_is_newer
                           else (kept.stay or gone.stay))
        self._write(db, survivor, version + 1, combined, now=now)
        if gone_is_newer:
            db.execute("UPDATE bosai_persons SET stay_updated_by = ?, stay_updated_at = ? "
                       "WHERE id = ?", (*stamps[merged], survivor))
        for table in ("bosai_person_sources", "bosai_stay_history"):
            db.execute(f"UPDATE {table} SET person_id = ? WHERE person_id = ?",
                       (survivor, merged))
        db.execute("UPDATE bosai_person_aliases SET person_id = ? WHERE person_id = ?",
                   (survivor, merged))
        db.execute("INSERT INTO bosai_person_aliases (old_id, person_id, at) VALUES (?, ?, ?)",
                   (merged, survivor, now))
        db.execute("DELETE FROM bosai_persons WHERE id = ?", (merged,))
        # Other open reviews about the merged registration now concern the survivor.
        for rid, pid, cid in db.execute(
                "SELECT id, person_id, candidate_id FROM bosai_reviews WHERE status = 'open' "
                "AND (person_id = ? OR candidate_id = ?)", (merged, merged)).fetchall():
            pid, cid = (survivor if pid == merged else pid), (survivor if cid == merged else cid)
            exists = db.execute("SELECT 1 FROM bosai_reviews WHERE person_id = ? AND "
                                "candidate_id = ? AND id != ?", (pid, cid, rid)).fetchone()
            if pid == cid or exists:
                db.execute("UPDATE bosai_reviews SET status = 'obsolete', decided_at = ? "
                           "WHERE id = ?", (now, rid))
            else:
                db.execute("UPDATE bosai_reviews SET person_id = ?, candidate_id = ? "
                           "WHERE id = ?", (pid, cid, rid))

    def forget_sources_in(self, db: Any, sources: Sequence[str]) -> tuple[list[str], list[str]]:
        """Inside the caller's transaction: remove what the inputs ``sources`` brought (a
        consent withdrawal at the participant that sent them). A person known only from them
        is deleted (medical part, stays, aliases and reviews too; our own published copy gets
        its tombstone); one also registered otherwise keeps what the other inputs said and
        loses these inputs' provenance. Returns (deleted, kept) person ids."""
        if not sources:
            return [], []
        marks = ", ".join("?" * len(sources))
        found = [row[0] for row in db.execute(
            f"SELECT DISTINCT person_id FROM bosai_person_sources WHERE source IN ({marks})",
            tuple(sources)).fetchall()]
        deleted, kept = [], []
        for person_id in found:
            others = db.execute(
                f"SELECT count(*) FROM bosai_person_sources WHERE person_id = ? AND source NOT "
                f"IN ({marks})", (person_id, *sources)).fetchone()[0]
            db.execute(f"DELETE FROM bosai_person_sources WHERE person_id = ? AND source IN "
                       f"({marks})", (person_id, *sources))
            if others:
                kept.append(person_id)
                continue
            for sql in ("DELETE FROM bosai_stay_history WHERE person_id = ?",
                        "DELETE FROM bosai_person_aliases WHERE person_id = ?",
                        "DELETE FROM bosai_person_medical WHERE person_id = ?",
                        "DELETE FROM bosai_persons WHERE id = ?"):
                db.execute(sql, (person_id,))
            db.execute("DELETE FROM bosai_reviews WHERE person_id = ? OR candidate_id = ?",
                       (person_id, person_id))
            deleted.append(person_id)
        if deleted:
            self._written(db, [], removed=deleted)
        return deleted, kept

    # ------------------------------------------------------------------ safety inquiries

    def inquire(self, name: Any, birth_date: Any, *, asked_by: str) -> InquiryAnswer:
        """安否確認: the consented disclosures of the people with this name (kanji or kana,
        family and given together) and birth date. Unknown and non-consenting people give
        the same "no information" answer. Every inquiry, refused ones too, is audited with
        who asked (an identifier: staff account, participant DID, app), never the query."""
        who = _actor(asked_by, "asked_by")
        inquiry_id = _new_id()
        try:
            refuse_my_number(name, "name")
            refuse_my_number(birth_date, "birthDate")
            wanted = match_name(text(name, "name", max_len=200) or "")
            born = parse_birth_date(birth_date, today=self.today()).isoformat()
        except RegistryInputError as exc:
            with self.store.transaction():
                self.audit.append("bosai.safety_inquiry", self.clock(), inquiry=inquiry_id,
                                  asked_by=who, outcome="refused", code=exc.code,
                                  field=exc.field)
            raise
        disclosed, withheld, people = [], [], []
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT id, body FROM bosai_persons WHERE birth_date = ? AND "
                "(name_key = ? OR kana_key = ?) ORDER BY id", (born, wanted, wanted)).fetchall()
            for person_id, body in rows:
                shown = disclosure(PersonInput.from_body(orjson.loads(body)))
                if shown is None:
                    withheld.append(person_id)
                else:
                    disclosed.append(person_id)
                    people.append(shown)
            self.audit.append("bosai.safety_inquiry", self.clock(), inquiry=inquiry_id,
                              asked_by=who,
                              outcome="answered" if people else "no_information",
                              disclosed=disclosed, withheld=withheld)
        return InquiryAnswer(inquiry_id, tuple(people))
