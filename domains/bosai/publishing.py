"""The municipality's registry as records: Evacuee, MedicalNeeds, and shares for home towns.

``RegistryPublisher`` is the registry's ``Publisher``: inside the transaction that writes a
person it stages (``RecordService.stage``) the records derived from that person, so the
registry row and its records commit together or not at all:

* the ``Evacuee`` record (``registry.model.to_record``, without the medical part) in the
  ``evacuee`` dataset; its id is the person's registry id (a random UUID: no personal data);
* a ``MedicalNeeds`` record in the ``medical-needs`` dataset when the person has a medical
  part: medical needs and notes with what a medical team needs to identify and find the
  person; its id is derived from the person id (UUIDv5), never from personal data;
* when the address is in a partner municipality, a copy of the Evacuee record in the
  dataset shared with that municipality (``domains.bosai.sharing``).

A person merged away (review decision) gets tombstones. The caller flushes the outbox after
its commit (``on_staged`` tells the hub that there is something to send).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from domains.bosai import setup as bosai_setup
from domains.bosai.registry.model import Medical, Person, to_record
from domains.bosai.registry.registry import Registry
from domains.bosai.setup import Municipality, MunicipalitySetup
from domains.bosai.sharing import home_of

if TYPE_CHECKING:
    from connector.data.records import RecordService

# Namespace of the derived record ids (medical part, shares): stable, and without the
# person's data in them.
_IDS = uuid.UUID("5b0c7f1e-9d1a-4f0e-8a43-2f6a0c1d7b25")
# What a medical team needs besides the needs: who, and where to find them.
MEDICAL_FIELDS = ("familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate",
                  "sex", "stayLocation", "careNeeds")


def derived_id(person_id: str, what: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_IDS, f'{person_id}|{what}')}"


def medical_id(person_id: str) -> str:
    return derived_id(person_id, "medical")


def share_id(person_id: str, home: Municipality) -> str:
    return derived_id(person_id, f"share:{home.code}")


def medical_record(person: Person, medical: Medical) -> dict[str, Any]:
    full = to_record(person, medical=medical)
    record = {"@context": full["@context"], "id": medical_id(person.id), "type": "MedicalNeeds",
              "evacuee": person.id}
    record.update((k, full[k]) for k in MEDICAL_FIELDS if k in full)
    return record


class RegistryPublisher:
    def __init__(self, records: RecordService, setup: MunicipalitySetup,
                 on_staged: Callable[[], None]) -> None:
        self.records, self.setup, self.on_staged = records, setup, on_staged

    def written(self, db: Any, registry: Registry, person_ids: Sequence[str],
                removed: Sequence[str] = (), *, evacuee: bool = True) -> None:
        """Stage the records of ``person_ids`` (``evacuee=False``: all but the Evacuee
        record, which the caller is publishing itself) and tombstones for ``removed``."""
        evacuees: list[dict[str, Any]] = []
        medical: list[dict[str, Any]] = []
        shares: dict[Municipality, list[dict[str, Any]]] = defaultdict(list)
        for person_id in person_ids:
            person, med = registry.load(db, person_id)
            record = to_record(person)
            if evacuee:
                evacuees.append(record)
            if med:
                medical.append(medical_record(person, med))
            home = home_of(person.address, self.setup)
            if home is not None:
                shares[home].append({**record, "id": share_id(person_id, home)})
        stage = self.records.stage
        for dataset, batch in ((self.setup.dataset(bosai_setup.EVACUEE), evacuees),
                               (self.setup.dataset(bosai_setup.MEDICAL), medical),
                               *((self.setup.share_dataset(h), b) for h, b in shares.items())):
            for start in range(0, len(batch), 500):  # RecordService's batch limit is 1000
                stage(db, dataset, batch[start:start + 500])
        for person_id in removed:
            self._tombstones(db, person_id)
        if person_ids or removed:
            self.on_staged()

    def _tombstones(self, db: Any, person_id: str) -> None:
        setup = self.setup
        derived = [(setup.dataset(bosai_setup.EVACUEE), person_id),
                   (setup.dataset(bosai_setup.MEDICAL), medical_id(person_id)),
                   *((setup.share_dataset(h), share_id(person_id, h)) for h in setup.partners)]
        for dataset, record_id in derived:
            if self.records.get(record_id) is not None:
                self.records.stage_delete(db, dataset, record_id)
