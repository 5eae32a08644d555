"""The bosai hub inside one participant's connector (the plug-in's service).

Who holds what (docs/bosai.md):

* the municipality holds the designated-site master and shelter status timeline
  (``BosaiStore``, ``<data_dir>/bosai.sqlite``), the evacuee registry (tables in the
  connector's own store, so a registration and the Evacuee record it publishes commit in one
  transaction) and serves the dashboard; once set up (``setup_municipality``) it publishes
  the registry (``publishing``), shelter status (``status_records``) and shares residents of
  partner municipalities (``sharing``);
* shelter operators and a supplies participant hold their own datasets (supply requests) and
  change the municipality's records only through contributions (connector.contributions):
  check-ins (``checkin``), supply steps (``supplies.requests``).

The hub follows its own records (connector.record_events) and bumps ``feed`` so that open
dashboards refresh; a check-in the municipality accepted goes into its registry in the same
transaction. Received records it reads only through the usage gate, declaring its purpose
(``READER`` and the ``FOR_*`` uses): a host's share of residents and an operator's reception
registrations are handed to it inside their delivery (``connector.gate.follow``) for
disaster response; the reception desk finds and checks in people for shelter operation;
the dashboard reads received supply requests for relief supply.

Methods that write the registry are coroutines: they return once the records they staged
are sent (or kept in the outbox if NATS is away); ``register_many`` commits in batches and
lets the event loop run between them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.control.decisions import Reader, Use
from connector.control.gate import ConsentWithdrawn
from connector.plugins.registry import PluginSettings
from domains.bosai import care_flags, checkin, finder, offering, sharing, status_records, vocab
from domains.bosai import held as held_records
from domains.bosai import setup as bosai_setup
from domains.bosai.feed import ChangeFeed
from domains.bosai.held import Held, NotHeld
from domains.bosai.importers.report import ImportReport
from domains.bosai.importers.status import StatusEntry
from domains.bosai.imports import import_status
from domains.bosai.publishing import RegistryPublisher
from domains.bosai.registry.card import register_card
from domains.bosai.registry.csv_import import CsvReport, read_csv
from domains.bosai.registry.model import Person, PersonInput, to_record
from domains.bosai.registry.registry import (
    Origin,
    RegistrationResult,
    RegistrationStats,
    Registry,
)
from domains.bosai.setup import Municipality, MunicipalitySetup
from domains.bosai.store import BosaiStore
from domains.bosai.supplies import lifecycle
from domains.bosai.supplies import requests as supply_requests
from domains.bosai.supplies.lifecycle import Actor, Step
from trust.errors import TsunaguError
from trust.proofs import now_text

if TYPE_CHECKING:
    from connector.data.record_events import RecordChange
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

STORE_FILE = "bosai.sqlite"
# People per registry transaction in register_many: each also signs their records, so a
# batch holds the event loop for tens of milliseconds, not seconds.
BATCH = 200


# What the hub declares when it reads received records through the usage gate.
READER = Reader.domain("bosai")
FOR_REGISTRY = Use("disaster_response")  # registering shared and reception evacuees
FOR_RECEPTION = Use("shelter_operation")  # finding and checking in the person at the desk
FOR_SUPPLIES = Use("relief_supply")  # supply requests: the dashboard, suppliers' steps


class BosaiHub:
    FOR_SUPPLIES = FOR_SUPPLIES

    def __init__(self, connector: Connector) -> None:
        self.feed = ChangeFeed()
        self.connector = connector
        self._settings: PluginSettings | None = None
        self._sites: BosaiStore | None = None
        self._registry: Registry | None = None
        self.setup: MunicipalitySetup | None = None  # set up as a municipality
        self.publisher: RegistryPublisher | None = None
        self.supply_dataset: str | None = None  # set up as a shelter operator
        self.reception_dataset: str | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None

    @property
    def settings(self) -> PluginSettings:
        """The hub's settings in the connector's store (who it is, which offers it made)."""
        if self._settings is None:
            raise RuntimeError("the bosai hub is not started")
        return self._settings

    @property
    def sites(self) -> BosaiStore:
        """Designated sites and the shelter status timeline."""
        if self._sites is None:
            raise RuntimeError("the bosai hub is not started")
        return self._sites

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise RuntimeError("the bosai hub is not started")
        return self._registry

    async def startup(self) -> None:
        connector = self.connector
        self._settings = PluginSettings(connector.store, "bosai")
        self._sites = BosaiStore(connector.config.data_dir / STORE_FILE,
                                 connector.store_key)
        self._registry = Registry(connector.store)
        saved = self.settings.get(bosai_setup.MUNICIPALITY)
        if saved is not None:
            self._use(MunicipalitySetup.from_json(saved))
        operator = self.settings.get(bosai_setup.OPERATOR)
        if operator is not None:
            self.supply_dataset, self.reception_dataset = operator["dataset"], \
                operator.get("reception")
        connector.record_listeners.add(self._on_own_change)
        connector.gate.follow(READER, FOR_REGISTRY, self._on_received, self._wants)
        connector.gate.follow(READER, care_flags.FOR_CARE, self._on_care_flag,
                              lambda _dataset, kind: kind == care_flags.CARE_FLAG)
        connector.gate.on_withdrawal(self._on_withdrawal)
        connector.store.db.executescript(care_flags.SCHEMA)  # IF NOT EXISTS; commits itself
        self._watching = asyncio.get_running_loop().create_task(self._watch_gate())

    async def shutdown(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        self.connector.record_listeners.remove(self._on_own_change)
        self.connector.gate.unfollow(self._on_received)
        self.connector.gate.unfollow(self._on_care_flag)
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
        self.connector.gate.off_withdrawal(self._on_withdrawal)
        if self._sites is not None:
            self._sites.close()
        self._sites = self._registry = self._settings = None
        self.setup = self.publisher = self._flushing = self._watching = None

    # ------------------------------------------------------------------ setup

    async def setup_municipality(self, municipality: Municipality, *,
                                 operators: Sequence[str] = (),
                                 partners: Sequence[Municipality] = (),
                                 retain_at_most: str | None = None) -> MunicipalitySetup:
        """Act as ``municipality``: addresses there may omit the prefecture; offer the
        evacuee (check-ins by ``operators``, the legal ids of the region's shelter operators,
        besides the municipality's own), medical-needs, shelter-status and one share dataset
        per partner; then publish whoever the registry already holds."""
        setup = MunicipalitySetup(
            municipality, bosai_setup.unique((municipality.code, *operators)),
            tuple(p for p in dict.fromkeys(partners) if p.code != municipality.code))
        made = await offering.offer_municipality(self.connector, setup, retain_at_most)
        with self.connector.store.transaction() as db:
            self.settings.set(db, bosai_setup.MUNICIPALITY, setup.to_json())
        bosai_setup.remember_offers(self.connector.store, self.settings, made)
        self._use(setup)
        await self._publish_unpublished()
        return setup

    async def setup_shelter_operator(self, municipalities: Sequence[str] = ()) -> str:
        """Offer this operator's supply-requests dataset (readable by relief suppliers and by
        ``municipalities``, their 全国地方公共団体コード) and its reception dataset (for those
        municipalities only); the supply-requests dataset's id."""
        dataset, reception, made = await offering.offer_shelter_operator(self.connector,
                                                                         municipalities)
        with self.connector.store.transaction() as db:
            self.settings.set(db, bosai_setup.OPERATOR,
                              {"dataset": dataset, "reception": reception,
                               "municipalities": list(municipalities)})
        bosai_setup.remember_offers(self.connector.store, self.settings, made)
        self.supply_dataset, self.reception_dataset = dataset, reception
        return dataset

    def _use(self, setup: MunicipalitySetup) -> None:
        self.setup = setup
        self.registry.place = setup.municipality.place
        self.publisher = RegistryPublisher(self.connector.records, setup, self._flush_soon)
        self.registry.publisher = self.publisher

    async def _publish_unpublished(self) -> None:
        """People registered before the setup get their records now, in batches."""
        assert self.setup is not None and self.publisher is not None
        people = self.registry.person_ids()
        published = self.connector.records.known(people)
        ids = [pid for pid in people if pid not in published]
        for start in range(0, len(ids), BATCH):
            with self.connector.store.transaction() as db:
                self.publisher.written(db, self.registry, ids[start:start + BATCH])
            await self.flush()

    # ------------------------------------------------------------------ registry (municipality)

    async def register(self, person: Any, *, source: str, kind: str = "form",
                       by: str | None = None, verified_by: str | None = None
                       ) -> RegistrationResult:
        result = self.registry.register(person, source=source, kind=kind, by=by,
                                        verified_by=verified_by)
        await self.flush()
        return result

    async def register_many(self, people: Iterable[Any], *, source: str, kind: str = "form",
                            by: str | None = None, batch_size: int = BATCH,
                            origins: Callable[[int], Origin] | None = None
                            ) -> RegistrationStats:
        """``Registry.register_many`` without holding the event loop: one transaction per
        ``batch_size`` people (registry rows and their records), the outbox sent and the
        loop free between batches."""
        done = RegistrationStats()
        for running in self.registry.register_batches(people, source=source, kind=kind, by=by,
                                                      batch_size=batch_size, origins=origins):
            done = running
            await self.flush()
            await asyncio.sleep(0)
        return done

    async def register_csv(self, data: bytes | str | Path, *, source: str,
                           columns: Mapping[str, str] | None = None,
                           by: str | None = None) -> CsvReport:
        rows = read_csv(data, columns=columns)
        stats = await self.register_many(rows.forms, source=source, kind="csv", by=by,
                                         origins=rows.origins(source, by))
        return rows.report(stats)

    async def register_card(self, credential: Any, *, trusted_issuers: Sequence[str],
                            consent_to_disclose: Any, source: str, by: str | None = None,
                            disclosure_scope: Any = None, stay_location: Any = None
                            ) -> RegistrationResult:
        result = register_card(self.registry, credential, trusted_issuers=trusted_issuers,
                               consent_to_disclose=consent_to_disclose, source=source, by=by,
                               disclosure_scope=disclosure_scope, stay_location=stay_location)
        await self.flush()
        return result

    # ------------------------------------------------------------------ shelter status

    async def import_status(self, path: Path, mapping_path: Path, progress: Any = None,
                            complete_snapshot: bool = False,
                            ) -> tuple[ImportReport, status_records.StatusPublication]:
        """Import a status file into the timeline and, once set up, publish it
        (``complete_snapshot``: see ``imports.import_status``)."""
        entries: list[StatusEntry] = []
        report = import_status(path, mapping_path, self.sites, progress, entries_out=entries,
                               complete_snapshot=complete_snapshot)
        self.feed.notify("ShelterStatus")
        return report, await self.publish_status(entries)

    async def publish_status(self, entries: Iterable[StatusEntry]
                             ) -> status_records.StatusPublication:
        if self.setup is None:
            return status_records.StatusPublication(0, 0)
        made, skipped = status_records.status_records(self.setup.municipality.code, entries)
        records = self.connector.records
        dataset = self.setup.dataset(bosai_setup.STATUS)
        for start in range(0, len(made), 500):
            await records.publish_many(dataset, made[start:start + 500])
        return status_records.StatusPublication(len(made), skipped)

    # ------------------------------------------------------------------ shelter operator

    async def check_in(self, record_id: str, shelter_id: str, *, at: str | None = None
                       ) -> dict[str, Any]:
        """Check a person in at ``shelter_id`` on the municipality's record (a contribution)."""
        return await checkin.send(self, record_id,
                                  checkin.stay_change("check_in", shelter_id, at=at))

    async def check_out(self, record_id: str, shelter_id: str, *, going_to: str = "other",
                        at: str | None = None) -> dict[str, Any]:
        return await checkin.send(self, record_id, checkin.stay_change(
            "check_out", shelter_id, at=at, going_to=going_to))

    async def register_at_reception(self, person: Any, shelter_id: str, *,
                                    at: str | None = None) -> dict[str, Any]:
        """Register a person who arrived at our shelter with the municipalities we work for
        (they register them in their registries): an Evacuee record, checked in at
        ``shelter_id``, in our reception dataset. Checked like any registration here first."""
        if self.reception_dataset is None:
            raise offering.HubUnavailable("set this hub up as a shelter operator of at least "
                                          "one municipality first", feature="bosai")
        parsed = self.registry.parse(person)
        stay = checkin.stay_change("check_in", shelter_id, at=at)
        body = {**parsed.body(), "stayLocation": stay}
        record = to_record(Person(f"urn:uuid:{uuid.uuid4()}", 1, "", "",
                                  PersonInput.from_body(body)))
        return await self.connector.records.publish(self.reception_dataset, record)

    async def request_supplies(self, **request: Any) -> dict[str, Any]:
        """Post a need (``supply_requests.new_request``'s arguments) in our own dataset."""
        if self.supply_dataset is None:
            raise offering.HubUnavailable("set this hub up as a shelter operator first",
                                          feature="bosai")
        body = supply_requests.new_request(at=now_text(), **request)
        return await self.connector.records.publish(
            self.supply_dataset, supply_requests.record(body))

    async def cancel_supply_request(self, record_id: str, reason: str) -> dict[str, Any]:
        records = self.connector.records
        current = records.get(record_id)
        if self.supply_dataset is None or current is None:
            raise NotHeld("no such supply request here", record=record_id)
        change = lifecycle.step(current, Step.CANCEL, Actor.REQUESTER, at=now_text(),
                                reason=reason)
        revised = {k: v for k, v in current.items() if k != "proof"} | change
        return await records.publish(self.supply_dataset, revised,
                                     expected_version=current["version"])

    # ------------------------------------------------------------------ supplier

    async def commit_supplies(self, record_id: str, *, quantity: int | None = None,
                              expected: str | None = None) -> dict[str, Any]:
        return await supply_requests.contribute_step(self, record_id, Step.COMMIT,
                                                     at=now_text(), quantity=quantity,
                                                     expected=expected)

    async def deliver_supplies(self, record_id: str, *, quantity: int | None = None
                               ) -> dict[str, Any]:
        return await supply_requests.contribute_step(self, record_id, Step.DELIVER,
                                                     at=now_text(), quantity=quantity)

    # ------------------------------------------------------------------ records

    async def flush(self) -> None:
        """Send what the registry staged (after its commit)."""
        if self.publisher is not None:
            await self.publisher.records.flush()

    def _flush_soon(self) -> None:
        """Called inside a transaction (the staging ran there): the flush starts only after
        the caller's synchronous commit, at the loop's next turn."""
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except TsunaguError as exc:  # kept in the outbox; the retry loop sends it later
            log.warning("bosai records not sent yet", extra={"code": exc.code})

    def _on_own_change(self, db: Any, change: RecordChange) -> None:
        """A new version of one of this participant's records (inside its transaction)."""
        kinds = self._notify_feed(change)
        setup = self.setup
        if setup is not None and "Evacuee" in kinds and change.event == "updated" \
                and change.dataset_id == setup.dataset(bosai_setup.EVACUEE):
            checkin.apply(self.registry, self.publisher, db, change.record)

    def _wants(self, dataset_id: str, record_type: str | None) -> bool:
        """Received records the hub takes into its registry (through the usage gate)."""
        setup = self.setup
        return setup is not None and record_type == vocab.EVACUEE and (
            bosai_setup.is_share_for(dataset_id, setup.municipality.code)
            or bosai_setup.is_reception(dataset_id))

    def _on_received(self, db: Any, change: RecordChange) -> None:
        """A received Evacuee the gate released for registering (inside the delivery)."""
        self._notify_feed(change)
        if self.setup is None:
            return
        channel = "reception" if bosai_setup.is_reception(change.dataset_id) else "shared"
        sharing.receive(self.registry, db, change, channel)

    def _on_care_flag(self, db: Any, change: RecordChange) -> None:
        """A care flag the gate released for disaster response (inside the delivery)."""
        if self.setup is not None:
            care_flags.receive(self.registry, db, change.record, change.provider, change.event)
            self.feed.notify("CareFlag")

    def sync_care_flags(self) -> bool:
        """Keep exactly the care flags the gate releases now (see care_flags); whether
        they changed (open dashboards refresh then, and only then)."""
        if self.setup is None or self._registry is None:
            return False
        changed = care_flags.sync(self.connector.gate, READER, self.registry)
        if changed:
            self.feed.notify("CareFlag")
        return changed

    def care_flags_at(self, shelter_id: str) -> dict[str, int]:
        """Flagged people at a shelter by kind, read through the gate at display time: a
        decision that turned to deny shows nothing."""
        self.sync_care_flags()
        return care_flags.counts_at(self.registry, shelter_id) if self.setup else {}

    def care_flags_of(self, person_ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """Each person's flags (kind, number), read through the gate at display time."""
        self.sync_care_flags()
        return care_flags.of_people(self.registry, person_ids) if self.setup else {}

    async def _watch_gate(self) -> None:
        """On every change the gate's decisions depend on (a world fact, an agreement's
        status), rebuild the care flags: a flag the gate now refuses is deleted at once."""
        gate = self.connector.gate
        while True:
            await gate.change_signal().wait()
            await asyncio.sleep(0)  # let the change finish (facts are set, then listeners)
            try:
                self.sync_care_flags()
            except TsunaguError as exc:
                log.warning("care flags not synchronised", extra={"code": exc.code})

    def _on_withdrawal(self, db: Any, withdrawn: ConsentWithdrawn) -> None:
        """A person withdrew consent at a participant that sent us their records: the
        registry forgets what those records brought (inside the withdrawal)."""
        if self._registry is None:
            return
        deleted, kept = sharing.withdraw(self._registry, db, withdrawn)
        if deleted or kept:
            log.info("consent withdrawn at the sender: registry entries removed",
                     extra={"deleted": len(deleted), "kept": len(kept)})

    def _notify_feed(self, change: RecordChange) -> list[str]:
        kinds = change.record.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        for kind in kinds:
            if isinstance(kind, str):
                self.feed.notify(kind)
        return kinds

    # ------------------------------------------------------------------ received records

    def held(self, record_id: str, record_type: str, use: Use = FOR_RECEPTION) -> Held:
        """The newest version of a received record of ``record_type``, as the usage gate
        releases it for ``use`` (NotHeld if deleted or of another type; UsageDenied if the
        agreement does not permit the use)."""
        return held_records.latest(self.connector.gate, READER, use, record_id, record_type)

    def find_held(self, name: str, birth_date: str) -> list[dict[str, Any]]:
        """Received Evacuee records matching a person at the reception desk."""
        return finder.find_held(self.connector.gate, READER, FOR_RECEPTION, name, birth_date)

    def own_supply_requests(self) -> list[tuple[str, dict[str, Any], str]]:
        """(id, record, modified) of this participant's own live supply requests."""
        if self.supply_dataset is None:
            return []
        return [(r["id"], r, r.get("modified", ""))
                for r in self.connector.records.list(self.supply_dataset)]

    def held_supply_requests(self) -> list[tuple[str, dict[str, Any], str]]:
        """(id, record, received) of the supply requests received, newest versions, as the
        usage gate releases them for relief supply (those it refuses are left out)."""
        found, after = [], 0
        while True:
            page = self.connector.gate.page(READER, FOR_SUPPLIES, after=after, limit=500,
                                            record_type=vocab.SUPPLY_REQUEST,
                                            latest_only=True, live_only=True)
            found += [(i.id, i.record or {}, i.received) for i in page.items]
            if page.next is None:
                return found
            after = page.next
