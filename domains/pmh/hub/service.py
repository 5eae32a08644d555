"""The pmh hub (the plug-in's service) in one participant's connector.

* As a municipality (``setup_municipality``): it offers its datasets (``offering``), holds
  mothers, children and vouchers it registers (published with ``connector.records``, their
  residence periods in the same transaction), and receives clinics' checkups and
  vaccinations as signed contributions creating records in its datasets, checked by its
  change rules (``rules``). When such a record is stored, in the same transaction
  (``_on_own_change``): the voucher is marked used, or a 里帰り claim opened, or an EPDS
  follow-up raised, or an infant's growth placed against the growth reference
  (``growth``). Staff decide claims; the family reads its claims and reminders
  (``events``), the nurse the follow-ups.
* As a clinic: ``record_checkup`` / ``record_vaccination`` send those records to the
  municipality under the agreement it holds for each dataset (``pmh.no_agreement`` if none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from connector.plugins.registry import PluginSettings
from domains.pmh import growth_reference, vocab
from domains.pmh.errors import HubRefusal, PmhCode
from domains.pmh.hub import (
    care_flags,
    claims,
    events,
    followups,
    growth,
    index,
    offering,
    residence,
    rules,
    settlements,
    vouchers,
)
from domains.pmh.hub.followups import JAPAN
from domains.pmh.hub.setup import (
    CARE,
    CONTRIBUTED,
    MUNICIPALITY,
    OWN,
    Municipality,
    dataset_id,
)
from domains.pmh.hub.vaccines import doses_of
from domains.pmh.model import blood_tests
from domains.pmh.model.checks import check_record
from domains.pmh.schedule import Child, Schedule, load_schedule
from domains.pmh.schedule.reminders import reminder_events
from trust.errors import TsunaguError
from trust.errors import ValidationError as TsunaguValidation
from trust.proofs import now_text

if TYPE_CHECKING:
    from connector.data.record_events import RecordChange
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

TABLES = (vouchers.SCHEMA, residence.SCHEMA, events.SCHEMA, followups.SCHEMA, claims.SCHEMA,
          index.SCHEMA, settlements.SCHEMA, growth.SCHEMA)
INDEXED = "index"  # plug-in settings key: the index holds the records stored before it
# plug-in settings key: the growth reference edition the held growth records are placed in
GROWTH_PLACED = "growth_edition"
# Purposes a clinic declares (narrower than maternal_child_health, which the policy names).
FOR_CHECKUP, FOR_VACCINATION = "health_checkup", "vaccination"
REMIND_EVERY_S = 3600.0  # the reminder job runs hourly; each day's reminders are sent once


class PmhHub:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.municipality: Municipality | None = None
        self.schedule: Schedule = load_schedule()
        self._settings: PluginSettings | None = None
        self._reminding: asyncio.Task[None] | None = None
        # Moves with every change the views show (own records, claims): live pages watch it.
        self.changes = 0

    @property
    def settings(self) -> PluginSettings:
        if self._settings is None:
            raise RuntimeError("the pmh hub is not started")
        return self._settings

    async def startup(self) -> None:
        store = self.connector.store
        for schema in TABLES:
            store.db.executescript(schema)  # IF NOT EXISTS; executescript commits itself
        self._settings = PluginSettings(store, "pmh")
        saved = self.settings.get(MUNICIPALITY)
        if saved is not None:
            self.municipality = Municipality.from_json(saved)
            if self.settings.get(INDEXED) is None:
                self._reindex(self.municipality)
            elif self.settings.get(GROWTH_PLACED) != growth_reference.reference().edition:
                self._place_growth(self.municipality)  # stored before, or a new edition
        self.connector.record_listeners.add(self._on_own_change)
        self._reminding = asyncio.get_running_loop().create_task(self._remind_daily())

    async def shutdown(self) -> None:
        self.connector.record_listeners.remove(self._on_own_change)
        if self._reminding is not None:
            self._reminding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reminding
        self._reminding = self._settings = None

    # ------------------------------------------------------------------ municipality

    async def setup_municipality(self, town: Municipality,
                                 claim_rules: Mapping[str, claims.Rule] = {},
                                 voucher_prices: Mapping[str, int] = {}) -> None:
        """Act as ``town``: offer its datasets; ``claim_rules`` (checkup kind -> cap and
        deadline of a 里帰り claim) are kept as data in ``pmh_claim_rules``,
        ``voucher_prices`` (voucher kind -> yen paid to a clinic per voucher used) in
        ``pmh_voucher_prices``."""
        await offering.offer_municipality(self.connector, town)
        with self.connector.store.transaction() as db:
            self.settings.set(db, MUNICIPALITY, town.to_json())
            for kind, rule in claim_rules.items():
                claims.set_rule(db, kind, rule)
            for kind, yen in voucher_prices.items():
                self._price(db, kind, yen)
        self.municipality = town
        self._reindex(town)

    def _reindex(self, town: Municipality) -> None:
        """Index the town's own records (those stored before the index existed)."""
        held = [r for kind in (*OWN, *CONTRIBUTED)
                for r in self.connector.records.list(town.dataset(kind))]
        with self.connector.store.transaction() as db:
            index.rebuild(db, held)
            growth.assess_all(db, held, now_text())  # children are indexed by now
            self.settings.set(db, INDEXED, True)
            self.settings.set(db, GROWTH_PLACED, growth_reference.reference().edition)
        self.changes += 1

    def _place_growth(self, town: Municipality) -> None:
        """Place the growth records held that the current edition has not placed."""
        held = self.connector.records.list(town.dataset("observations"))
        with self.connector.store.transaction() as db:
            growth.assess_all(db, held, now_text())
            self.settings.set(db, GROWTH_PLACED, growth_reference.reference().edition)

    async def setup_as(self, code: str, name: str) -> None:
        """``setup_municipality`` from plain values, for callers that do not import pmh (a
        demo of another domain driving this participant's service)."""
        await self.setup_municipality(Municipality(code, name))

    async def register_person(self, kind: str, fields: Mapping[str, Any], *,
                              resident_from: date | None = None) -> dict[str, Any]:
        """A mother (``mothers``) or child (``children``) from her plain fields (names, kana,
        birth date, address or sex): the hub gives the record its context, type and id."""
        term = {"mothers": vocab.MOTHER, "children": vocab.CHILD}[kind]
        record = {"@context": list(vocab.RECORD_CONTEXT), "id": f"urn:uuid:{uuid.uuid4()}",
                  "type": term, **{k: v for k, v in fields.items()
                                   if k not in ("@context", "id", "type")}}
        check_record(record)
        return await self.register(kind, record, resident_from=resident_from)

    def _town(self) -> Municipality:
        if self.municipality is None:
            raise HubRefusal("set this hub up as a municipality first",
                             code=PmhCode.HUB_UNAVAILABLE)
        return self.municipality

    async def register(self, kind: str, record: dict[str, Any], *,
                       resident_from: date | None = None,
                       resident_until: date | None = None) -> dict[str, Any]:
        """Publish one of the municipality's own records (``mothers``, ``children``,
        ``checkup-vouchers``); a person's residence period commits with it."""
        dataset = self._town().dataset(kind)
        records = self.connector.records
        with self.connector.store.transaction() as db:
            signed = records.stage(db, dataset, [record])[0]
            if resident_from is not None:
                residence.add(db, record["id"], resident_from, resident_until)
        await records.flush()
        return signed

    async def flag_pregnancy(self, mother_id: str, expected_delivery: date, today: date
                             ) -> dict[str, Any] | None:
        """Publish (or revise) the care flag of a mother the municipality holds, pregnant
        with ``expected_delivery`` (the 母子健康手帳's); None when no flag applies."""
        mother = self._held_person(mother_id, vocab.MOTHER)
        return await self._publish_flag(care_flags.for_mother(mother, expected_delivery,
                                                              today))

    async def flag_infant(self, child_id: str, mother_id: str, today: date
                          ) -> dict[str, Any] | None:
        """Publish (or revise) the care flag of an infant, at its mother's address."""
        child = self._held_person(child_id, vocab.CHILD)
        mother = self._held_person(mother_id, vocab.MOTHER)
        return await self._publish_flag(care_flags.for_child(child, mother.get("address"),
                                                             today))

    def _held_person(self, record_id: str, term: str) -> dict[str, Any]:
        found = self.own(record_id)
        if found is None or found.get("type") != term:
            raise HubRefusal(f"this municipality holds no such {term}",
                             code=PmhCode.UNKNOWN_SUBJECT, record=record_id)
        return found

    async def _publish_flag(self, flag: dict[str, Any] | None) -> dict[str, Any] | None:
        if flag is None:
            return None
        records = self.connector.records
        current = records.get(flag["id"])
        expected = current["version"] if current is not None else None
        return await records.publish(self._town().dataset(CARE), flag,
                                     expected_version=expected)

    def own(self, record_id: Any) -> dict[str, Any] | None:
        """One of this connector's own live records, or None."""
        if not isinstance(record_id, str):
            return None
        found = self.connector.records.get(record_id)
        return None if found is None or found.get("deleted") else found

    def immunizations_of(self, child: str) -> list[dict[str, Any]]:
        """The doses this municipality holds for ``child``, oldest first."""
        held = self.connector.records.list(self._town().dataset("immunizations"))
        return sorted((r for r in held if r.get("subject") == child),
                      key=lambda r: (r["occurred"], r["doseNumber"]))

    def claims(self, *, subjects: set[str] | None = None, status: str | None = None
               ) -> list[dict[str, Any]]:
        return claims.listed(self.connector.store, subjects=subjects, status=status)

    def decide_claim(self, claim_id: str, *, approve: bool, reason: str | None, by: str
                     ) -> dict[str, Any]:
        """Approve or reject a claim; the family gets an event with the outcome."""
        self._town()
        at = now_text()
        with self.connector.store.transaction() as db:
            claim = claims.get(self.connector.store, claim_id)
            claims.decide(db, claim, approve=approve, reason=reason, by=by, at=at)
            status = claims.APPROVED if approve else claims.REJECTED
            events.raise_event(db, f"claim:{claim_id}:{status}", events.FAMILY,
                               claim["subject"], f"pmh.claim.{status}",
                               {"claim": claim_id, "status": status, "reason": reason}, at)
            self.connector.audit.append("pmh_claim_decided", claim=claim_id, status=status,
                                        by=by)
        self.changes += 1
        return claims.get(self.connector.store, claim_id)

    # ---------------------------------------------------------- settlement with clinics

    @staticmethod
    def _price(db: Any, kind: str, yen: int) -> None:
        if kind not in vocab.VOUCHER_KINDS:
            raise TsunaguValidation(f"{kind[:40]} is not a voucher kind", field="voucherKind")
        settlements.set_price(db, kind, yen)

    def set_voucher_prices(self, prices: Mapping[str, int]) -> None:
        """The municipality's unit price per voucher kind (yen per voucher used), from now
        on; batches already created keep the prices they were created with."""
        self._town()
        with self.connector.store.transaction() as db:
            for kind, yen in prices.items():
                self._price(db, kind, yen)

    def create_settlement(self, clinic_code: str, month: str, *, by: str) -> dict[str, Any]:
        """A settlement batch of the clinic's vouchers used in ``month`` (YYYY-MM) and not
        settled yet; each voucher can be in one batch only."""
        self._town()
        at = now_text()
        with self.connector.store.transaction() as db:
            batch = settlements.create(db, clinic_code=clinic_code, month=month, by=by, at=at)
            self.connector.audit.append("pmh_settlement_created", settlement=batch, by=by)
        self.changes += 1
        return settlements.get(self.connector.store, batch)

    def advance_settlement(self, batch_id: str, to: str, *, by: str,
                           paid_on: date | None = None) -> dict[str, Any]:
        """Approve a batch (``approved``), or mark an approved one ``paid`` on ``paid_on``."""
        self._town()
        at = now_text()
        with self.connector.store.transaction() as db:
            batch = settlements.get(self.connector.store, batch_id)
            settlements.step(db, batch, to, by=by, at=at,
                             paid_on=paid_on.isoformat() if paid_on else None)
            self.connector.audit.append(f"pmh_settlement_{to}", settlement=batch_id, by=by)
        self.changes += 1
        return settlements.get(self.connector.store, batch_id)

    def settlements(self, status: str | None = None) -> list[dict[str, Any]]:
        return settlements.listed(self.connector.store, status=status)

    def follow_ups(self) -> list[dict[str, Any]]:
        return followups.open_ones(self.connector.store)

    def events(self, audience: str, *, after: int = 0, subjects: set[str] | None = None
               ) -> list[dict[str, Any]]:
        return events.read(self.connector.store, audience, after=after, subjects=subjects)

    def remind(self, day: date) -> int:
        """Raise the vaccination reminders due on ``day`` for every child held (once each:
        the event key is the child, the rule and the day); how many were new."""
        if self.municipality is None:
            return 0
        children = self.connector.records.list(self.municipality.dataset("children"))
        new, at = 0, now_text()
        with self.connector.store.transaction() as db:
            for child in children:
                if child.get("deleted") or child.get("sex") not in ("female", "male"):
                    continue  # a child of unknown sex gets no routine schedule yet
                who = Child(date.fromisoformat(child["birthDate"]), child["sex"])
                doses = doses_of(self.immunizations_of(child["id"]))
                for event in reminder_events(who, doses, day, self.schedule):
                    key = f"due:{child['id']}:{event['rule']}:{event['day']}"
                    new += events.raise_event(db, key, events.FAMILY, child["id"],
                                              event["type"], event, at)
        return new

    async def _remind_daily(self) -> None:
        while True:
            try:
                self.remind(datetime.now(JAPAN).date())
            except TsunaguError as exc:  # a store hiccup: the next run catches up the day
                log.warning("pmh reminders not raised", extra={"code": exc.code})
            await asyncio.sleep(REMIND_EVERY_S)

    def _on_own_change(self, db: Any, change: RecordChange) -> None:
        """A record a clinic created in one of our datasets, inside its transaction."""
        town, record = self.municipality, change.record
        if town is not None and not change.held \
                and change.dataset_id.startswith(town.dataset("")):
            if index.keep(db, record, change.event == "deleted"):
                self.changes += 1
            if change.event != "deleted" and record.get("type") == vocab.OBSERVATION:
                growth.assess(db, record, now_text())
        by = record.get("wasAttributedTo")
        if town is None or change.event != "created" or not isinstance(by, str) \
                or change.dataset_id not in {town.dataset(k) for k in CONTRIBUTED}:
            return
        at = now_text()
        kind = record.get("type")
        if kind == vocab.ENCOUNTER and record.get("encounterKind") in vouchers.PAYS_FOR:
            self._checkup_stored(db, record, by, at)
        elif kind == vocab.OBSERVATION and record.get("measurement") == "epds_total":
            reason = followups.needs_follow_up(record["value"], record.get("epdsItem10"))
            if reason is not None:
                day = rules.day_of(record["effective"])
                due = followups.due_by(day)
                followups.open_follow_up(db, record["id"], record["subject"], reason, due,
                                         by, at)
                events.raise_event(db, f"followup:{record['id']}", events.STAFF,
                                   record["subject"], "pmh.epds.follow_up",
                                   {"observation": record["id"], "reason": reason,
                                    "dueBy": due, "clinic": by}, at)

    def _checkup_stored(self, db: Any, record: Mapping[str, Any], by: str, at: str) -> None:
        day = rules.day_of(record["start"])
        if not rules.clinic_away(self, record):
            vouchers.use(db, record["voucher"], record["id"], by, day.isoformat(), at)
            return
        eligible = residence.resident_on(db, record["subject"], day)
        claim = claims.open_claim(db, encounter=record["id"], subject=record["subject"],
                                  kind=record["encounterKind"], on=day, clinic=by,
                                  clinic_code=(record.get("clinic") or {}).get("code"),
                                  eligible=eligible, at=at)
        events.raise_event(db, f"claim:{claim}:submitted", events.FAMILY, record["subject"],
                           "pmh.claim.submitted",
                           {"claim": claim, "status": claims.SUBMITTED}, at)

    # ------------------------------------------------------------------ clinic

    def _agreement(self, municipality_code: str, kind: str) -> tuple[str, str]:
        """(holder DID, agreement id) of our active agreement for the municipality's
        dataset ``kind``."""
        dataset = dataset_id(municipality_code, kind)
        found = self.connector.agreements.active_as_consumer(dataset)
        if not found:
            raise HubRefusal("this clinic has no agreement with that municipality for "
                             f"{kind}", code=PmhCode.NO_AGREEMENT, dataset=dataset)
        agreement = self.connector.agreements.get(found[-1])
        assert agreement is not None
        return agreement["provider"], agreement["id"]

    @staticmethod
    def _new(term: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A full record of type ``term`` from what the clinic gives, checked here first
        (schema and content rules), so a bad one is refused before anything is sent."""
        record = {"@context": list(vocab.RECORD_CONTEXT), "type": term,
                  "id": body.get("id") or f"urn:uuid:{uuid.uuid4()}",
                  **{k: v for k, v in body.items() if k not in ("@context", "type", "id")}}
        check_record(record)
        return record

    async def _create(self, code: str, kind: str, record: dict[str, Any], purpose: str
                      ) -> dict[str, Any]:
        holder, agreement = self._agreement(code, kind)
        return await self.connector.contributions.contribute(
            holder, agreement, record["id"], 0, record, purpose)

    async def record_checkup(self, municipality_code: str, encounter: Mapping[str, Any],
                             observations: Sequence[Mapping[str, Any]] = ()
                             ) -> dict[str, Any]:
        """Send a checkup (the visit, then the measurements naming it, together) to the
        municipality. Every record is checked before the first is sent; the visit carries
        the voucher. ``notices``: a blood test taken outside its standard periods (告示第226
        号) is sent and stored, and said here (the municipality counts it too)."""
        visit = self._new(vocab.ENCOUNTER, encounter)
        measured = [self._new(vocab.OBSERVATION, {**o, "encounter": visit["id"],
                                                  "subject": o.get("subject",
                                                                   visit["subject"])})
                    for o in observations]
        for kind in ("encounters", "observations") if measured else ("encounters",):
            self._agreement(municipality_code, kind)  # refuse before sending anything
        sent = await self._create(municipality_code, "encounters", visit, FOR_CHECKUP)
        # The measurements need the visit stored first (they name it), not each other: sent
        # together, a checkup costs two round trips to the municipality, not 1 + N.
        done = await asyncio.gather(*(self._create(municipality_code, "observations", o,
                                                   FOR_CHECKUP) for o in measured))
        notices = [n for n in map(blood_tests.notice, measured) if n is not None]
        return {"encounter": sent["record"], "observations": [d["record"] for d in done],
                "notices": notices}

    async def record_vaccination(self, municipality_code: str,
                                 immunization: Mapping[str, Any]) -> dict[str, Any]:
        record = self._new(vocab.IMMUNIZATION, immunization)
        sent = await self._create(municipality_code, "immunizations", record, FOR_VACCINATION)
        return {"immunization": sent["record"], "version": sent["version"]}

