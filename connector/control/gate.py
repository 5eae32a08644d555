"""The usage gate: the one door to received data.

Every read of a record this connector received (by an app through the HTTP API, the event
stream or the SDK; by a domain plug-in; by the connector itself) asks the gate, naming the
reader (``Reader``) and the use (``Use``: action and declared purpose). The gate loads the
agreement the record was received under, decides (``connector.control.decisions``), writes
the decision to the audit log, and returns only what the decision allows: nothing on a
denial (``UsageDenied``, naming the rule or constraint that failed), only the permitted
fields under a field-level policy, only the records about the reader's parties under
subject scoping. ``HeldRecords`` (the tables) is private to the gate: there is no other path
to a held body.

Audit granularity (docs/architecture.md): one line per decision, not per record: a request
(``read``, ``page``), a subscription (when it opens, and each page it sends), a batch handed
to a domain plug-in, a batch received. Each line names the reader, purpose, action,
agreement(s), the outcome, how many records and a digest of their ids and versions
(``ids``: SHA-256 of the sorted ``id@version`` lines, first 32 hex digits), so a use can be
traced to exactly the records it released without the log growing with every record.

Decisions are cached per agreement for ``DECISION_TTL`` seconds and dropped at once when
something they depend on changes (``changed()``: an agreement ends, a world fact is set), so
an open event stream notices a terminated agreement, an expiry or the end of a disaster
phase within a second and ends with the reason (``StreamEnded``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from connector.bus import subjects
from connector.control.decisions import (
    AgreementTerms,
    Decision,
    Denial,
    Permit,
    Reader,
    Use,
    decide,
)
from connector.control.held import DeliveryRow, HeldInsert, HeldRecords, HeldRow
from connector.control.withdrawn import Withdrawn, WithdrawnRecords
from connector.data.record_events import RecordChange
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.store.database import dumps
from trust.errors import TsunaguError
from trust.proofs import sign_document
from usage_policies.vocab import TSUNAGU

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

USES = "tsunagu_uses_total"
DECISION_TTL = 0.5  # seconds a decision is reused (time-bound constraints, expiry)
CLAIMS_TTL = 30.0  # seconds this connector's own credential check is reused
MAX_PAGE = 500
# The purpose of a use the law requires, not the agreement: a holder disclosing to a person
# what it keeps about them (docs/residents-rights.md). Only ``disclose`` uses it.
DATA_SUBJECT_RIGHTS = TSUNAGU + "data_subject_rights"

SubjectsOf = Callable[[Mapping[str, Any]], Iterable[str]]
Follower = Callable[[Any, RecordChange], None]
"""``follower(db, change)``: a domain's listener for received records, in the delivery's
transaction; ``change.record`` is what the decision released."""


@dataclass(frozen=True)
class ConsentWithdrawn:
    """A person withdrew consent to records held under an agreement (``UsageGate.withdraw``):
    what a domain that copied them into its own tables must act on."""

    agreement_id: str
    provider: str
    subject: str
    record_ids: tuple[str, ...]
    purge: bool  # the agreement's policy says to delete them


WithdrawalListener = Callable[[Any, ConsentWithdrawn], None]
"""``listener(db, withdrawn)``: in the withdrawal's transaction (one that raises rolls it back
and the provider is told the holder refused)."""


class DeliveryFeed:
    """Wakes waiting event streams when new deliveries are committed.

    One ``asyncio.Event`` per generation: ``notify`` sets the current one and starts the next.
    A stream takes ``current()`` *before* it reads, so a notify that lands between its read
    and its wait still wakes it.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class UsageDenied(TsunaguError):
    """The use was refused: ``rule`` names the rule, constraint or condition that failed."""

    code = ConnectorCode.USAGE_DENIED


class RecordNotHeld(UsageDenied):
    """This connector holds no such record (audited like any refusal)."""

    code = ConnectorCode.USAGE_NOT_HELD


class StreamEnded(UsageDenied):
    """An open event stream may not go on: an agreement it read under no longer permits."""


@dataclass(frozen=True)
class Released:
    """One record as the decision released it."""

    id: str
    version: int
    dataset: str
    agreement: str
    provider: str
    event: str
    received: str
    record: dict[str, Any] | None
    withheld: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "version": self.version, "dataset": self.dataset,
               "agreement": self.agreement, "provider": self.provider, "event": self.event,
               "received": self.received, "record": self.record}
        if self.withheld:
            out["withheld"] = list(self.withheld)
        return out


@dataclass(frozen=True)
class ReleasedPage:
    items: list[Released]
    next: int | None  # cursor for ``after``; None at the end
    denied: list[Denial] = field(default_factory=list)  # agreements whose records were left out


@dataclass(frozen=True)
class Disclosure:
    """What a holder keeps about one person, for that person (``UsageGate.disclose``)."""

    held: list[Released]
    withdrawn: list[Withdrawn]


def ids_digest(pairs: Iterable[tuple[str, int]]) -> str:
    lines = sorted(f"{i}@{v}" for i, v in pairs)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def _denied(denial: Denial, what: str) -> UsageDenied:
    return UsageDenied(f"{what} refused: {denial.rule}: {denial.reason}", code=denial.code,
               rule=denial.rule, agreement=denial.agreement_id)


@dataclass
class _Cached:
    decision: Decision
    at: float  # loop time
    epoch: int
    fields: frozenset[str]


class UsageGate:
    """The gate of one connector; ``connector.gate``."""

    def __init__(self, connector: Connector, *, subjects_of: Mapping[str, SubjectsOf] | None
                 = None) -> None:
        self.connector = connector
        self._held = HeldRecords(connector.store)
        self._withdrawn = WithdrawnRecords(connector.store)
        self._subjects_of = dict(subjects_of or {})
        self._terms: dict[str, AgreementTerms | None] = {}
        self._claims: tuple[float, agreements.Claims] | None = None
        self._epoch = 0
        self._changed = asyncio.Event()
        self._followers: list[tuple[Reader, Use, Follower, Callable[[str, str | None], bool]]] = []
        self._withdrawal_listeners: list[WithdrawalListener] = []
        self._notices: set[asyncio.Task[None]] = set()
        self.feed = DeliveryFeed()  # the pull loop notifies it after each commit
        connector.metrics.describe(USES, "decisions on reads of received data, by outcome")

    # --- what decisions depend on ----------------------------------------------------------

    def changed(self) -> None:
        """An agreement's status or a world fact changed: decide everything afresh."""
        self._epoch += 1
        self._terms.clear()
        self._changed.set()
        self._changed = asyncio.Event()

    def change_signal(self) -> asyncio.Event:
        """Set at the next ``changed()`` (take it before deciding, wait on it after)."""
        return self._changed

    def _agreement_terms(self, agreement_id: str) -> AgreementTerms | None:
        if agreement_id not in self._terms:
            row = agreements.load(self.connector.store, agreement_id)
            self._terms[agreement_id] = (AgreementTerms.of(row) if row is not None
                                         and row["role"] == "consumer" else None)
        return self._terms[agreement_id]

    def _own_claims(self) -> agreements.Claims:
        now = asyncio.get_running_loop().time()
        if self._claims is None or now - self._claims[0] > CLAIMS_TTL:
            c = self.connector
            self._claims = (now, agreements.Claims.of(c.checker.check(c.identity.credential,
                                                                       c.did)))
        return self._claims[1]

    def decide(self, agreement_id: str, reader: Reader, use: Use, fields: Iterable[str] = (),
               *, now: datetime | None = None) -> Decision:
        """The decision for one agreement (not audited: callers audit what they release)."""
        terms = self._agreement_terms(agreement_id)
        if terms is None:
            return Denial(agreement_id, ConnectorCode.USAGE_NOT_HELD, "agreement",
                          "this connector holds nothing under such an agreement")
        try:
            claims = self._own_claims()
        except TsunaguError as exc:  # stale status list, expired credential: fail closed
            return Denial(agreement_id, ConnectorCode.USAGE_DENIED, "credential",
                          f"this connector's own credential cannot be checked ({exc.code})")
        return decide(terms, reader, use, claims, now=now or datetime.now(UTC),
                      facts=self.connector.facts.operands(), fields=fields)

    # --- reads -----------------------------------------------------------------------------

    def read(self, reader: Reader, use: Use, record_id: str) -> Released:
        """The newest held version of one record, as the decision releases it."""
        now = datetime.now(UTC)
        if record_id in self._withdrawn:
            denial = Denial(None, ConnectorCode.USAGE_CONSENT_WITHDRAWN, "consent",
                            "the person the record is about withdrew consent to its use")
            self._audit(reader, use, [], denial, [], now)
            raise _denied(denial, f"use of {record_id}")
        row = self._held.latest(record_id)
        if row is None:
            denial = Denial(None, ConnectorCode.USAGE_NOT_HELD, "record",
                            "this connector holds no such record")
            self._audit(reader, use, [denial.agreement_id], denial, [], now)
            raise RecordNotHeld(f"use of {record_id} refused: this connector holds no such "
                                "record", rule="record")
        record = orjson.loads(row.body)
        if self._consent_withdrawn(row.agreement_id, record_id, record):
            denial = Denial(row.agreement_id, ConnectorCode.USAGE_CONSENT_WITHDRAWN,
                            "consent", "the person the record is about withdrew consent to "
                            "its use")
            self._audit(reader, use, [row.agreement_id], denial, [], now)
            raise _denied(denial, f"use of {record_id}")
        decision = self.decide(row.agreement_id, reader, use, record, now=now)
        released = self._release(reader, decision, row, record)
        if isinstance(decision, Denial) or released is None:
            denial = decision if isinstance(decision, Denial) else Denial(
                row.agreement_id, ConnectorCode.USAGE_OUT_OF_SCOPE, "subject",
                "the record is not about a party this reader is linked to")
            self._audit(reader, use, [row.agreement_id], denial, [], now)
            raise _denied(denial, f"use of {record_id}")
        self._audit(reader, use, [row.agreement_id], decision, [released], now)
        self._inform(row.agreement_id, reader, use, [released], now)
        return released

    def page(self, reader: Reader, use: Use, *, after: int = 0, limit: int = 100,
             dataset: str | None = None, record_type: str | None = None,
             latest_only: bool = False, live_only: bool = False,
             contains: str | None = None) -> ReleasedPage:
        """Held records in arrival order, those the decisions release. If records were found
        and every agreement they are held under refuses, the whole read is refused."""
        now = datetime.now(UTC)
        limit = max(1, min(limit, MAX_PAGE))
        rows = self._held.page(after=after, limit=limit, dataset=dataset,
                               record_type=record_type, latest_only=latest_only,
                               live_only=live_only, contains=contains)
        bodies = [orjson.loads(r.body) for r in rows]
        fields: dict[str, set[str]] = {}
        for row, record in zip(rows, bodies, strict=True):
            fields.setdefault(row.agreement_id, set()).update(record)
        decisions = {a: self.decide(a, reader, use, names, now=now)
                     for a, names in fields.items()}
        items: list[Released] = []
        for row, record in zip(rows, bodies, strict=True):
            released = self._release(reader, decisions[row.agreement_id], row, record)
            if released is not None:
                items.append(released)
        denied = [d for d in decisions.values() if isinstance(d, Denial)]
        cursor = rows[-1].rowid if len(rows) == limit else None
        if rows and len(denied) == len(decisions):
            self._audit(reader, use, list(decisions), denied[0], [], now)
            raise _denied(denied[0], "read of held records")
        permitted = [a for a, d in decisions.items() if isinstance(d, Permit)]
        self._audit(reader, use, list(decisions), Permit("", None) if permitted or not rows
                    else denied[0], items, now, denied=denied)
        for agreement_id in permitted:
            self._inform(agreement_id, reader, use,
                         [i for i in items if i.agreement == agreement_id], now)
        return ReleasedPage(items, cursor, denied)

    def _release(self, reader: Reader, decision: Decision, row: HeldRow,
                 record: dict[str, Any]) -> Released | None:
        if not isinstance(decision, Permit) or self._consent_withdrawn(row.agreement_id,
                                                                       row.id, record):
            return None
        if reader.subjects is not None and not self._about(record, reader.subjects):
            return None
        shown, withheld = decision.project(record)
        if withheld:
            shown.pop("proof", None)
            withheld = [w for w in withheld if w != "proof"]
        return Released(row.id, row.version, row.dataset_id, row.agreement_id, row.provider,
                        row.event, row.received, shown, tuple(withheld))

    def _about(self, record: Mapping[str, Any], parties: frozenset[str]) -> bool:
        """Whether a domain names one of ``parties`` as a subject of ``record`` (records of a
        type no domain names subjects for are about nobody: fail closed)."""
        return bool(self.subjects_in(record) & parties)

    def _consent_withdrawn(self, agreement_id: str, record_id: str,
                           record: Mapping[str, Any] | None) -> bool:
        """Whether the person a record is about withdrew consent (connector.data.consent):
        the record was named in the notice, or is about a person named in one under the
        same agreement (a record the provider sent afterwards)."""
        if not self._withdrawn:
            return False
        if record_id in self._withdrawn:
            return True
        people = self._withdrawn.subjects_under(agreement_id)
        return bool(people and record is not None and self.subjects_in(record) & people)

    def subjects_in(self, record: Mapping[str, Any]) -> set[str]:
        """Whom the domains say ``record`` is about (none for a type no domain knows)."""
        found: set[str] = set()
        for iri in self.connector.content_rules.type_iris(record):
            rule = self._subjects_of.get(iri)
            if rule is not None:
                found.update(s for s in rule(record) if isinstance(s, str))
        return found

    # --- the event stream ------------------------------------------------------------------

    def stream(self, reader: Reader, use: Use, dataset: str | None = None) -> GateStream:
        """An event stream for ``reader``: refused at once if every agreement that would
        feed it refuses (``UsageDenied``)."""
        stream = GateStream(self, reader, use, dataset)
        stream.open()
        return stream

    def _consumer_agreements(self, dataset: str | None) -> list[str]:
        return self.connector.agreements.active_as_consumer(dataset)

    # --- domain plug-ins following what arrives -------------------------------------------

    def follow(self, reader: Reader, use: Use, follower: Follower,
               wants: Callable[[str, str | None], bool] = lambda dataset, kind: True) -> None:
        """Hand ``follower`` every received record it ``wants`` (by dataset id and record
        type IRI) that the decision for ``reader`` and ``use`` releases, inside the
        transaction that stores it (a follower that raises rolls the delivery back)."""
        self._followers.append((reader, use, follower, wants))

    def on_withdrawal(self, listener: WithdrawalListener) -> None:
        """Tell ``listener`` of every consent withdrawal, inside its transaction: a domain
        that keeps copies of received records (followed with ``follow``) stops using them
        and deletes them where ``purge`` says so."""
        self._withdrawal_listeners.append(listener)

    def off_withdrawal(self, listener: WithdrawalListener) -> None:
        self._withdrawal_listeners = [w for w in self._withdrawal_listeners
                                      if w is not listener]

    def unfollow(self, follower: Follower) -> None:
        self._followers = [f for f in self._followers if f[2] is not follower]

    # --- receiving (the pull loop) ---------------------------------------------------------

    def admit(self, db: Any, *, agreement_id: str, dataset_id: str, provider: str,
              transfer_pid: str, accepted: list[tuple[dict[str, Any], str, bytes]],
              refused: list[tuple[int, TsunaguError]], now: datetime) -> int:
        """Store a pulled batch in the pull loop's transaction: each accepted (record, event,
        wire bytes) once, a tombstone erasing the versions before it, every refusal as a dead
        letter; one audit line for the batch. Returns how many versions are new to apps."""
        at = now.isoformat()
        # A version below a deletion held (or earlier in this batch) arrived too late.
        deleted = self._held.deleted_versions(db, (r["id"] for r, _, _ in accepted))
        rows: list[HeldInsert] = []
        kept: list[tuple[dict[str, Any], str, str | None]] = []
        for record, event, body in accepted:
            record_id, version = record["id"], record["version"]
            if event == "deleted":
                deleted[record_id] = max(version, deleted.get(record_id, version))
            elif version < deleted.get(record_id, version) \
                    or self._consent_withdrawn(agreement_id, record_id, record):
                continue  # redelivered after the record's deletion, or consent withdrawn
            types = self.connector.content_rules.type_iris(record)
            rows.append(HeldInsert(record_id, version, event, body,
                                   types[0] if types else None))
            kept.append((record, event, rows[-1].record_type))
        new = self._held.insert_batch(db, rows, agreement_id=agreement_id,
                                      dataset_id=dataset_id, provider=provider, at=at)
        delivered: list[tuple[str, int]] = []
        changes: list[tuple[dict[str, Any], str, str | None]] = []
        for row, change in zip(rows, kept, strict=True):
            key = (row.record_id, row.version)
            if key in new:
                new.discard(key)  # the same version twice in a batch is delivered once
                delivered.append(key)
                changes.append(change)
        for row in rows:
            if row.event != "deleted":
                continue
            erased = self._held.erase_before(db, row.record_id, row.version)
            if erased:
                self.connector.audit.append("erasure", now, record=row.record_id,
                                            versions=erased, where="held", before=row.version)
                self.connector.store.erased()
        if delivered:
            self.connector.audit.append("delivery", now, agreement=agreement_id,
                                        transfer=transfer_pid, records=len(delivered),
                                        ids=ids_digest(delivered))
        for seq, exc in refused:
            if self._held.dead_letter(db, transfer_pid=transfer_pid, stream_seq=seq,
                                      code=exc.code, reason=exc.message, at=at):
                self.connector.audit.append("dead_letter", now, transfer=transfer_pid,
                                            stream_seq=seq, code=exc.code)
        self._hand_to_followers(db, agreement_id, dataset_id, provider, changes, now)
        return len(delivered)

    def _hand_to_followers(self, db: Any, agreement_id: str, dataset_id: str, provider: str,
                           changes: list[tuple[dict[str, Any], str, str | None]],
                           now: datetime) -> None:
        for reader, use, follower, wants in self._followers:
            mine = [c for c in changes if wants(dataset_id, c[2])
                    and not self._consent_withdrawn(agreement_id, c[0]["id"], c[0])]
            if not mine:
                continue
            names = {k for record, _, _ in mine for k in record}
            decision = self.decide(agreement_id, reader, use, names, now=now)
            released = []
            if isinstance(decision, Permit):
                for record, event, _ in mine:
                    shown, _withheld = decision.project(record)
                    released.append(Released(record["id"], record["version"], dataset_id,
                                             agreement_id, provider, event, now.isoformat(),
                                             shown))
                    follower(db, RecordChange(dataset_id, shown, event, held=True,
                                              provider=provider))
            self._audit(reader, use, [agreement_id], decision, released, now)

    def purge(self, db: Any, agreement_id: str, now: datetime, *, event: str = "purge",
              **why: Any) -> int:
        """Delete everything held under an agreement (it ended, a delete duty is due), in
        the caller's transaction; audited as ``event`` with ``why``."""
        count = self._held.purge_agreement(db, agreement_id)
        self.connector.audit.append(event, now, agreement=agreement_id, records=count, **why)
        if count:
            self.connector.store.erased()
        return count

    def withdraw(self, db: Any, *, agreement_id: str, provider: str, subject: str,
                 record_ids: list[str], withdrawal_id: str, purge: bool, now: datetime) -> int:
        """In the caller's transaction: refuse every use of ``record_ids`` held under
        ``agreement_id`` from now on (their person withdrew consent) and, when ``purge``,
        delete every version held. Returns how many versions were deleted; audited with the
        subject (this holder's own log, so the person can be shown it)."""
        self._withdrawn.add(db, agreement_id=agreement_id, record_ids=record_ids,
                            subject=subject, withdrawal_id=withdrawal_id, purged=purge,
                            at=now.isoformat())
        count = self._held.purge_records(db, agreement_id, record_ids) if purge else 0
        self.connector.audit.append("consent_withdrawn", now, agreement=agreement_id,
                                    withdrawal=withdrawal_id, subjects=[subject],
                                    records=len(record_ids), purged=count)
        event = ConsentWithdrawn(agreement_id, provider, subject, tuple(record_ids), purge)
        for listener in self._withdrawal_listeners:
            listener(db, event)
        if count or (purge and self._withdrawal_listeners):  # the domains' copies too
            self.connector.store.erased()
        self.changed()
        return count

    def disclose(self, provider: str, subject: str, requested_by: str) -> Disclosure:
        """What this connector keeps about ``subject`` of what ``provider`` gave it, for
        the person's disclosure request relayed by ``provider`` (the law's use, not the
        agreement's: purpose ``DATA_SUBJECT_RIGHTS``). Only records the domains say are
        about ``subject``, only under agreements with ``provider``: nothing of anyone else,
        nothing another provider gave. Audited like every use."""
        now = datetime.now(UTC)
        mine = [a for a in self.connector.agreements.summaries()
                if a["role"] == "consumer" and a["provider"] == provider]
        ids = [a["id"] for a in mine]
        held: list[Released] = []
        after = 0
        while ids:
            rows = self._held.page(after=after, limit=MAX_PAGE, contains=subject,
                                   agreements=ids)
            for row in rows:
                record = orjson.loads(row.body)
                if subject in self.subjects_in(record):
                    held.append(Released(row.id, row.version, row.dataset_id,
                                         row.agreement_id, row.provider, row.event,
                                         row.received, record))
            if len(rows) < MAX_PAGE:
                break
            after = rows[-1].rowid
        reader = Reader.connector(f"residents:{requested_by}")
        self._audit(reader, Use(DATA_SUBJECT_RIGHTS, "read"), list(ids), Permit(""), held,
                    now, about=subject)
        return Disclosure(held, self._withdrawn.of_subject(subject, ids))

    def refused(self, reader: Reader, use: Use, code: str, rule: str) -> None:
        """Audit a read refused before any decision (the app's token lacks the scope)."""
        self._audit(reader, use, [], Denial(None, code, rule, "refused before a decision"),
                    [], datetime.now(UTC))

    # --- what may be said without a decision ------------------------------------------------

    def held_count(self, *, dataset: str | None = None, distinct: bool = False) -> int:
        """How many versions (or records) are held: a count, never a body."""
        return self._held.count(dataset=dataset, distinct=distinct)

    def newest_version(self, record_id: str) -> int | None:
        return self._held.newest_version(record_id)

    def dead_letters(self) -> list[dict[str, Any]]:
        return self._held.dead_letters()

    # --- audit and duties --------------------------------------------------------------------

    def _audit(self, reader: Reader, use: Use, agreement_ids: list[str | None],
               decision: Decision, released: list[Released], now: datetime,
               denied: list[Denial] = (), about: str | None = None) -> None:
        c = self.connector
        fields: dict[str, Any] = {"reader": reader.label, "purpose": use.purpose,
                                  "action": use.action,
                                  "agreements": [a for a in agreement_ids if a],
                                  "records": len(released),
                                  "ids": ids_digest((r.id, r.version) for r in released)}
        if isinstance(decision, Denial):
            fields.update(decision="deny", code=decision.code, rule=decision.rule)
        else:
            fields["decision"] = "permit"
            withheld = sorted({w for r in released for w in r.withheld})
            if withheld:
                fields["withheld"] = withheld
            if denied:
                fields["refusedBy"] = [d.agreement_id for d in denied]
        if reader.subjects is not None:
            fields["scoped"] = True
        if reader.person is not None:
            fields["staff_name"] = reader.person
        named = sorted({s for r in released if r.record is not None
                        for s in self.subjects_in(r.record)} | ({about} if about else set()))
        if named:  # whom the use was about: a person's disclosure request finds it here
            fields["subjects"] = named
        with c.store.transaction() if not c.store.db.in_transaction else nullcontext():
            c.audit.append("use", now, **fields)
        c.metrics.inc(USES, decision=fields["decision"], reader=reader.kind)

    def _inform(self, agreement_id: str, reader: Reader, use: Use, released: list[Released],
                now: datetime) -> None:
        """An inform duty: a signed notice of the use to the provider (one per decision)."""
        terms = self._agreement_terms(agreement_id)
        if terms is None or not released or not _has_inform_duty(terms):
            return
        c = self.connector
        row = agreements.load(c.store, agreement_id)
        if row is None:
            return
        body: dict[str, Any] = {"type": "tsunagu:UsageNotice", "agreement": agreement_id,
                                "records": len(released),
                                "ids": ids_digest((r.id, r.version) for r in released),
                                "purpose": use.purpose, "action": use.action, "by": c.did,
                                "at": now.isoformat()}
        if len(released) == 1:
            body["record"], body["version"] = released[0].id, released[0].version
        notice = sign_document(body, c.identity.key)
        subject = subjects.control_subject(row["provider"], "usage")
        task = asyncio.get_running_loop().create_task(c.nc.publish(subject, dumps(notice)))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def close(self) -> None:
        for task in list(self._notices):
            task.cancel()


def _one_line(body: bytes) -> bool:
    return b"\n" not in body and b"\r" not in body


def _has_inform_duty(terms: AgreementTerms) -> bool:
    policy = terms.policy
    duties = [*policy.obligation, *(d for p in policy.permission for d in p.duty)]
    return any(d.action.id.endswith("inform") for d in duties)


class GateStream:
    """The decisions behind one open event stream; pages of delivery events through it."""

    def __init__(self, gate: UsageGate, reader: Reader, use: Use, dataset: str | None) -> None:
        self.gate, self.reader, self.use, self.dataset = gate, reader, use, dataset
        self._decided: dict[str, _Cached] = {}

    def open(self) -> None:
        now = datetime.now(UTC)
        ids = self.gate._consumer_agreements(self.dataset)
        decisions = {a: self._decide(a, (), now) for a in ids}
        denied = [d for d in decisions.values() if isinstance(d, Denial)]
        if decisions and len(denied) == len(decisions):
            self.gate._audit(self.reader, self.use, ids, denied[0], [], now)
            raise _denied(denied[0], "event stream")
        self.gate._audit(self.reader, self.use, ids, Permit(""), [], now, denied=denied)

    def _decide(self, agreement_id: str, fields: Iterable[str], now: datetime) -> Decision:
        loop_now = asyncio.get_running_loop().time()
        names = frozenset(fields)
        cached = self._decided.get(agreement_id)
        if cached is not None and cached.epoch == self.gate._epoch \
                and loop_now - cached.at < DECISION_TTL and names <= cached.fields:
            return cached.decision
        decision = self.gate.decide(agreement_id, self.reader, self.use,
                                    names | (cached.fields if cached else frozenset()),
                                    now=now)
        if cached is not None and isinstance(cached.decision, Permit) \
                and isinstance(decision, Denial):
            self.gate._audit(self.reader, self.use, [agreement_id], decision, [], now)
            raise StreamEnded(f"event stream ended: {decision.rule}: {decision.reason}",
                              code=decision.code, rule=decision.rule, agreement=agreement_id)
        self._decided[agreement_id] = _Cached(decision, loop_now, self.gate._epoch,
                                              names | (cached.fields if cached else frozenset()))
        return decision

    @property
    def time_bound(self) -> bool:
        """Whether a decision of this stream may change with the clock alone (it must then
        be checked every ``DECISION_TTL``, not only when something changes)."""
        for agreement_id, cached in self._decided.items():
            terms = self.gate._agreement_terms(agreement_id)
            if isinstance(cached.decision, Permit) and terms is not None and terms.time_bound:
                return True
        return False

    def check(self) -> None:
        """Decide again what this stream has read under; ``StreamEnded`` if one refuses."""
        now = datetime.now(UTC)
        for agreement_id, cached in list(self._decided.items()):
            if isinstance(cached.decision, Permit):
                self._decide(agreement_id, cached.fields, now)

    def page(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int, int]:
        """(events after ``after`` this reader may see, the cursor past every row read, how
        many rows were read): rows it may not see are passed over, never shown."""
        now = datetime.now(UTC)
        rows = self.gate._held.deliveries(after, limit=limit, dataset=self.dataset)
        events, released, cursor = [], [], after
        for row in rows:
            cursor = row.seq
            event = self._event(row, now)
            if event is not None:
                events.append(event[0])
                if event[1] is not None:
                    released.append(event[1])
        if events:
            self.gate._audit(self.reader, self.use,
                             sorted({r.agreement for r in released}), Permit(""), released, now)
        return events, cursor, len(rows)

    def _event(self, row: DeliveryRow, now: datetime
               ) -> tuple[dict[str, Any], Released | None] | None:
        if row.agreement_id is None:
            return None
        record = orjson.loads(row.body) if row.body is not None else None
        if self.gate._consent_withdrawn(row.agreement_id, row.id, record):
            return None  # consent withdrawn: passed over like any record not for this reader
        decision = self._decide(row.agreement_id, record or (), now)
        if not isinstance(decision, Permit):
            return None
        released = None
        shown: dict[str, Any] | orjson.Fragment | None = None
        if record is not None and row.body is not None:
            if self.reader.subjects is not None and not self.gate._about(record,
                                                                         self.reader.subjects):
                return None
            projected, withheld = decision.project(record)
            if withheld:
                projected.pop("proof", None)
            released = Released(row.id, row.version, row.dataset_id, row.agreement_id, "",
                                row.event, row.at, projected,
                                tuple(w for w in withheld if w != "proof"))
            # Nothing withheld: the stored bytes are the record, passed on without being
            # serialised again (an SSE data line must not hold a line break).
            shown = orjson.Fragment(row.body) if not withheld and _one_line(row.body) \
                else projected
        elif self.reader.subjects is not None:
            return None  # erased: nothing says whom it was about
        event = {"seq": row.seq, "event": row.event, "id": row.id, "version": row.version,
                 "dataset": row.dataset_id, "agreement": row.agreement_id, "at": row.at,
                 "record": shown}
        if released is not None and released.withheld:
            event["withheld"] = list(released.withheld)
        return event, released
