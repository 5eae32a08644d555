"""The steel hub (the plug-in's service) in one participant's connector: the I/O shell around
the pure chain rules (``custody``, ``derivation``, ``verify``).

* A mill ``issue``s a certificate into its ``mill-certificates`` dataset (the connector signs
  it on its own).
* A sender ``open_deliveries`` to a receiver (an offer of a custody-events dataset for that
  receiver's 法人番号 only); the receiver ``receive_from`` the sender (an agreement and a
  streaming transfer). ``transfer`` then publishes a custody event under that agreement,
  carrying the piece's chain to date; it is refused first here (this hub's own records show
  the sender does not hold the piece: ``steel.not_holder``), then by the content rule on both
  connectors (``rules.check_event``).
* A processor ``split``s a piece it holds into a derived certificate (``steel.already_split``
  for a piece split before).
* Received custody events addressed to this party come through the usage gate (``follow``)
  and are kept with the records they carry, in the hub's own table (``store``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.control.decisions import Reader, Use
from connector.plugins.registry import PluginSettings
from domains.steel import offering, store, vocab
from domains.steel.chain_records import kind_of, pieces_of, signer_of
from domains.steel.custody import Ledger, custody_event
from domains.steel.derivation import check_parent, derive
from domains.steel.errors import ChainRefused, SteelCode
from domains.steel.issue import issue
from domains.steel.provenance import Provenance
from domains.steel.verify import chain_for, verify_chain
from trust.proofs import format_datetime

if TYPE_CHECKING:
    from connector.data.record_events import RecordChange
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

READER = Reader.domain("steel")
FOR_TRACEABILITY = Use(offering.PURPOSE)
EVENT_IRI = vocab.type_iri(vocab.CUSTODY_EVENT)
OWN_TYPES = {vocab.type_iri(t) for t in (vocab.CERTIFICATE, vocab.DERIVED_CERTIFICATE,
                                         vocab.CUSTODY_EVENT)}


def _now() -> str:
    return format_datetime(datetime.now(UTC))


class SteelHub:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._settings: PluginSettings | None = None

    async def startup(self) -> None:
        self.connector.store.db.executescript(store.SCHEMA)  # IF NOT EXISTS; commits itself
        self._settings = PluginSettings(self.connector.store, "steel")
        self.connector.record_listeners.add(self._on_own_change)
        self.connector.gate.follow(READER, FOR_TRACEABILITY, self._on_received,
                                   lambda _dataset, kind: kind == EVENT_IRI)

    async def shutdown(self) -> None:
        self.connector.record_listeners.remove(self._on_own_change)
        self.connector.gate.unfollow(self._on_received)
        self._settings = None

    # ------------------------------------------------------------------ who we are

    def _me(self) -> tuple[str, str, Any]:
        """(name, 法人番号, credential) from this participant's credential."""
        c = self.connector
        credential = c.checker.check(c.identity.credential, c.did)
        return credential.name, credential.legal_id.value, credential

    def _dataset(self, kind: str, receiver: str | None = None) -> str:
        return offering.dataset_id(self._me()[1], kind, receiver)

    async def _own_dataset(self, kind: str) -> str:
        dataset = self._dataset(kind)
        if self.connector.datasets.get(dataset) is None:
            name, legal_id, _ = self._me()
            await offering.offer(self.connector, dataset, kind,
                                 f"{name} {offering.TITLES[kind]}", legal_id)
        return dataset

    # ------------------------------------------------------------------ deliveries

    async def open_deliveries(self, receiver_legal_id: str) -> str:
        """Offer the custody-events dataset for one receiver (its 法人番号); its id."""
        dataset = self._dataset("custody-events", receiver_legal_id)
        name = self._me()[0]
        await offering.offer(self.connector, dataset, "custody-events",
                             f"{name} {offering.TITLES['custody-events']}", receiver_legal_id)
        return dataset

    async def receive_from(self, sender_did: str, sender_legal_id: str) -> str:
        """Agree to the sender's custody events for us and start receiving them; the
        agreement id."""
        c = self.connector
        dataset = offering.dataset_id(sender_legal_id, "custody-events", self._me()[1])
        started = await c.negotiations.start(sender_did, dataset, offering.offer_id(dataset),
                                             purpose=offering.PURPOSE)
        done = await c.negotiations.wait(started["pid"])
        if done.get("state") != "FINALIZED" or not done.get("agreementId"):
            raise ChainRefused(SteelCode.NO_AGREEMENT,
                               f"no agreement with {sender_did} for {dataset}: "
                               f"{done.get('state')}", f"{sender_did} との契約が成立しません")
        transfer = await c.transfers.start(done["agreementId"])
        await c.transfers.wait(transfer["pid"], "STARTED")
        return str(done["agreementId"])

    def _agreement_with(self, receiver_did: str) -> tuple[str, str]:
        """(dataset, agreement id) of the active agreement the receiver holds with us for
        its custody events."""
        prefix = self._dataset("custody-events") + ":"
        for row in reversed(self.connector.agreements.summaries()):
            if (row["role"] == "provider" and row["status"] == "active"
                    and row["consumer"] == receiver_did
                    and str(row["dataset"]).startswith(prefix)):
                return str(row["dataset"]), str(row["id"])
        raise ChainRefused(SteelCode.NO_AGREEMENT,
                           f"no active agreement with {receiver_did} for custody events",
                           f"{receiver_did} との引渡し記録の契約がありません")

    # ------------------------------------------------------------------ the chain

    def records(self) -> list[dict[str, Any]]:
        return store.all_records(self.connector.store.db)

    def refused(self) -> list[dict[str, str]]:
        """Custody events sent to us that our own records contradict (a double transfer
        whose carried chain leaves out what we already hold)."""
        return store.refused(self.connector.store.db)

    def ledger(self, piece_id: str) -> tuple[Ledger, list[dict[str, Any]]]:
        """The ledger after ``piece_id``'s chain as this hub holds it, and that chain."""
        chain, _ = chain_for(self.records(), piece_id)
        ledger = Ledger()
        for record in chain:
            ledger.apply(record, signer_of(record) or "")
        return ledger, chain

    def provenance(self, piece_id: str, issuers: Mapping[str, str] | None = None
                   ) -> Provenance:
        return verify_chain(self.records(), piece_id, issuers=issuers)

    def pieces(self) -> list[str]:
        """The pieces this party holds now."""
        held = []
        for piece in store.pieces(self.connector.store):
            try:
                if self.ledger(piece)[0].holder(piece) == self.connector.did:
                    held.append(piece)
            except ChainRefused:
                continue
        return held

    async def issue(self, document: Any, product_ids: Sequence[str]) -> dict[str, Any]:
        """A mill's certificate for ``product_ids``, published signed."""
        record = issue(document, self._me()[2], product_ids=list(product_ids))
        return await self.connector.records.publish(
            await self._own_dataset("mill-certificates"), record)

    async def transfer(self, piece_ids: Sequence[str], receiver_did: str, receiver_name: str
                       ) -> dict[str, Any]:
        """Publish the custody event moving ``piece_ids`` (all named by one certificate) to
        the receiver, with their chain; refused if this party does not hold them."""
        if not piece_ids:
            raise ChainRefused(SteelCode.UNKNOWN_PIECE, "name at least one piece",
                               "品を指定してください")
        ledger, chain = self.ledger(piece_ids[0])
        for piece in piece_ids[1:]:
            for record in chain_for(self.records(), piece)[0]:
                if record not in chain:
                    chain.append(record)
                    ledger.apply(record, signer_of(record) or "")
        naming = ledger.pieces.get(piece_ids[0])
        name, _, _ = self._me()
        event = custody_event(piece_ids=piece_ids,
                              certificate_id=naming.record_id if naming else "",
                              sender_did=self.connector.did, sender_name=name,
                              receiver_did=receiver_did, receiver_name=receiver_name,
                              agreement_id="", at=_now(), chain=chain)
        ledger.apply(event, self.connector.did)  # steel.not_holder before anything else
        dataset, event["agreementId"] = self._agreement_with(receiver_did)
        return await self.connector.records.publish(dataset, event)

    async def split(self, piece_id: str, pieces: Sequence[Mapping[str, Any]], *,
                    document_number: str, operation: str = "slit", scrap_kg: float = 0.0,
                    kerf_kg: float = 0.0) -> dict[str, Any]:
        """A derived certificate for ``pieces`` cut from ``piece_id``, which this party
        holds; published signed (the processor is its issuer)."""
        ledger, chain = self.ledger(piece_id)
        naming = ledger.pieces.get(piece_id)
        parent = next((r for r in chain if naming and r["id"] == naming.record_id
                       and kind_of(r) in ("certificate", "derivation")), None)
        if parent is None:
            raise ChainRefused(SteelCode.UNKNOWN_PIECE, f"this hub holds no record of piece "
                               f"{piece_id}", f"品 {piece_id} の記録がありません",
                               piece=piece_id)
        name, legal_id, _ = self._me()
        record = derive(parent, piece_id, pieces, document_number=document_number,
                        processor=name, processor_did=self.connector.did, at=_now(),
                        operation=operation, scrap_kg=scrap_kg, kerf_kg=kerf_kg,
                        processor_legal_id=legal_id)
        check_parent(record, parent)
        ledger.apply(record, self.connector.did)  # held? split before?
        return await self.connector.records.publish(
            await self._own_dataset("derived-certificates"), record)

    # ------------------------------------------------------------------ keeping records

    def _on_own_change(self, db: Any, change: RecordChange) -> None:
        record = change.record
        if change.held or change.event == "deleted" or kind_of(record) is None:
            return
        store.keep(db, [record], "own", _now())

    def _on_received(self, db: Any, change: RecordChange) -> None:
        """A custody event for us (its own chain verified by the content rule): replayed
        with what we already hold, then kept with every record it carries, or refused
        (``steel_refused``) if our records show the sender did not hold a piece then."""
        record = change.record
        if kind_of(record) != "custody" or record.get("receiverDid") != self.connector.did:
            return
        agreement = self.connector.agreements.get(str(record.get("agreementId")))
        if (record.get("senderDid") != change.provider or agreement is None
                or agreement.get("role") != "consumer"
                or agreement.get("provider") != change.provider
                or agreement.get("datasetId") != change.dataset_id):
            store.refuse(db, record, str(SteelCode.NO_AGREEMENT),
                         "引渡し記録が、引渡し元との当該データセットの契約を指していません",
                         "the custody event does not name our agreement with its sender for "
                         "this dataset", _now())
            return
        carried = [*(record.get("chain") or []), record]
        held = store.all_records(db)
        for piece in pieces_of(record):
            provenance = verify_chain([*held, *carried], piece)
            own = next((link for link in provenance.links
                        if link.record_id == record["id"]), None)
            failed = [c for c in own.checks if not c.ok and c.name == "holder"] if own else []
            if failed:
                store.refuse(db, record, failed[0].code, failed[0].reason_ja,
                             failed[0].reason_en, _now())
                log.warning("steel custody event refused", extra={"code": failed[0].code})
                return
        store.keep(db, carried, "received", _now())
        log.info("steel pieces received", extra={"pieces": pieces_of(record)})
