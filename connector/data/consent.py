"""Consent withdrawal (個人情報保護法, 利用停止): a person stops every use of their records.

Provider P (the data controller) records the withdrawal of subject S, then for every active
agreement under which it gave records about S (the domains say whom a record is about:
``UsageGate.subjects_in``) sends the consumer one ``tsunagu:ConsentWithdrawal`` (signed
envelope, payload sealed to the consumer: it names a person) naming the agreement, S and
the record ids. The consumer's gate refuses every use of those records from then on
(``usage.consent_withdrawn``, fail closed), deletes every version it holds where the
agreement's policy has a delete duty on ``odrl:event eq tsunagu:consentWithdrawn``
(``connector.control.delete_duties.purges_on_withdrawal``), and answers with what it did:
``stopped`` or ``purged``. P keeps one row per agreement told (``withdrawal_notices``): the
outbox of notices not yet acknowledged (resent by a loop, and at start, so a consumer that
was away catches up) and what the person is shown, per holder: received, purged, when. The
same loop gives a notice to every agreement made later on a dataset the withdrawal concerns:
a consumer whose transfer replays the stream from its start must not keep the person's
records either (it may hold them for up to one loop interval, ``Tuning.notice_retry_s``).

Records published about S after the withdrawal are not the gate's business here: the
provider stops publishing them (it is the controller); a consumer does not store new versions
of a withdrawn record (``UsageGate.admit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from connector.bus.messaging import RemoteError
from connector.control.delete_duties import purges_on_withdrawal
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.store.database import dumps
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

MESSAGE_TYPE = "tsunagu:ConsentWithdrawal"
ACK_TYPE = "tsunagu:ConsentWithdrawalAck"
MAX_RECORDS = 10_000
MAX_SUBJECT = 2048
NOTICE_TIMEOUT = 2.0  # a holder away is tried again by the loop; the person need not wait


class ResidentsError(TsunaguError):
    code = ConnectorCode.RESIDENTS_INVALID


def check_subject(subject: Any) -> str:
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
        raise ResidentsError(f"a person is named by an id of 1 to {MAX_SUBJECT} characters",
                             field="subject")
    return subject


def records_about(connector: Connector, subject: str) -> dict[str, list[str]]:
    """This connector's own live records about ``subject``: record ids by dataset id."""
    found: dict[str, list[str]] = {}
    for entry in connector.datasets.entries():
        for record in connector.records.list(entry["id"]):
            if subject in connector.gate.subjects_in(record):
                found.setdefault(entry["id"], []).append(record["id"])
    return found


class ConsentService:
    """``connector.consent``: record and propagate withdrawals (provider), act on them
    (consumer)."""

    def __init__(self, connector: Connector, *, retry_s: float = 5.0) -> None:
        self.connector = connector
        self.retry_s = retry_s
        self._loop: asyncio.Task[None] | None = None
        self._sending: set[tuple[str, str]] = set()  # notices in flight: never sent twice

    async def startup(self) -> None:
        c = self.connector
        c.route(MESSAGE_TYPE, self._on_withdrawal)
        c.bus.seal_payloads_of(MESSAGE_TYPE)  # names a person: never plaintext on NATS
        self._loop = asyncio.create_task(self._resend_loop(), name="consent-notices")

    async def shutdown(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None

    # --- provider ------------------------------------------------------------------------

    async def withdraw(self, subject: str, *, requested_by: str, reason: str | None = None
                       ) -> dict[str, Any]:
        """Record that ``subject`` withdrew consent and tell every holder now. Returns the
        withdrawal as ``status`` shows it. ``requested_by``: who asked (the person's token,
        or staff assisting them), already verified by the caller."""
        c, now = self.connector, datetime.now(UTC)
        check_subject(subject)
        about = records_about(c, subject)
        withdrawal_id = f"urn:uuid:{uuid.uuid4()}"
        targets = [a for a in c.agreements.summaries()
                   if a["role"] == "provider" and a["status"] == "active"
                   and a["dataset"] in about]
        with c.store.transaction() as db:
            db.execute("INSERT INTO consent_withdrawals (id, subject, requested_by, reason, "
                       "records, at) VALUES (?, ?, ?, ?, ?, ?)",
                       (withdrawal_id, subject, requested_by, reason, dumps(about),
                        now.isoformat()))
            for a in targets:
                self._add_notice(db, withdrawal_id, a, about[a["dataset"]], now)
            c.audit.append("consent_withdrawal", now, withdrawal=withdrawal_id,
                           subjects=[subject], by=requested_by, holders=len(targets),
                           records=sum(len(v) for v in about.values()))
        await asyncio.gather(*(self._notify(withdrawal_id, a["id"]) for a in targets))
        return self.status(subject, withdrawal_id)[0]

    @staticmethod
    def _add_notice(db: Any, withdrawal_id: str, agreement: dict[str, Any],
                    records: list[str], now: datetime) -> None:
        db.execute("INSERT OR IGNORE INTO withdrawal_notices (withdrawal_id, agreement_id, "
                   "consumer, records, status, created) VALUES (?, ?, ?, ?, 'pending', ?)",
                   (withdrawal_id, agreement["id"], agreement["consumer"], dumps(records),
                    now.isoformat()))

    def _cover_new_agreements(self) -> None:
        """A notice for every active agreement made after a withdrawal on a dataset it
        concerns (the agreement's transfer replays the person's records)."""
        c = self.connector
        active = [a for a in c.agreements.summaries()
                  if a["role"] == "provider" and a["status"] == "active"]
        if not active:
            return
        told = {(w, a) for w, a in c.store.query(
            "SELECT withdrawal_id, agreement_id FROM withdrawal_notices")}
        now = datetime.now(UTC)
        missing = []
        for wid, records in c.store.query("SELECT id, records FROM consent_withdrawals"):
            about = orjson.loads(records)
            missing += [(wid, a, about[a["dataset"]]) for a in active
                        if a["dataset"] in about and (wid, a["id"]) not in told]
        if missing:
            with c.store.transaction() as db:
                for wid, a, ids in missing:
                    self._add_notice(db, wid, a, ids, now)

    def status(self, subject: str, withdrawal_id: str | None = None) -> list[dict[str, Any]]:
        """Each withdrawal of ``subject`` (newest first) and, per holder told, what it did."""
        rows = self.connector.store.query(
            "SELECT id, requested_by, reason, at FROM consent_withdrawals WHERE subject = ?"
            + (" AND id = ?" if withdrawal_id else "") + " ORDER BY at DESC, id",
            (subject, withdrawal_id) if withdrawal_id else (subject,))
        out = []
        for wid, by, reason, at in rows:
            notices = self.connector.store.query(
                "SELECT agreement_id, consumer, records, status, code, purged, created, "
                "acknowledged FROM withdrawal_notices WHERE withdrawal_id = ? "
                "ORDER BY agreement_id", (wid,))
            out.append({"id": wid, "subject": subject, "requestedBy": by, "reason": reason,
                        "at": at, "holders": [
                            {"agreement": a, "holder": h, "records": len(orjson.loads(r)),
                             "status": s, "code": code, "purged": p, "sent": sent,
                             "acknowledged": ack}
                            for a, h, r, s, code, p, sent, ack in notices]})
        return out

    def withdrawn(self, subject: str) -> bool:
        return bool(self.connector.store.query(
            "SELECT 1 FROM consent_withdrawals WHERE subject = ? LIMIT 1", (subject,)))

    async def _notify(self, withdrawal_id: str, agreement_id: str) -> bool:
        """Send one notice; True once the holder answered (acknowledged or refused)."""
        key = (withdrawal_id, agreement_id)
        if key in self._sending:
            return False
        self._sending.add(key)
        try:
            return await self._send(withdrawal_id, agreement_id)
        finally:
            self._sending.discard(key)

    async def _send(self, withdrawal_id: str, agreement_id: str) -> bool:
        c = self.connector
        rows = c.store.query(
            "SELECT w.subject, w.at, n.consumer, n.records FROM withdrawal_notices n JOIN "
            "consent_withdrawals w ON w.id = n.withdrawal_id WHERE n.withdrawal_id = ? AND "
            "n.agreement_id = ? AND n.status = 'pending'", (withdrawal_id, agreement_id))
        if not rows:
            return True
        subject, at, consumer, records = rows[0]
        payload = {"withdrawal": withdrawal_id, "agreementId": agreement_id,
                   "subject": subject, "records": orjson.loads(records), "at": at}
        status, code, purged = "refused", None, 0
        try:
            env, _ = await c.dsp.request(consumer, MESSAGE_TYPE, payload,
                                         timeout=NOTICE_TIMEOUT)
            status = "purged" if env.payload.get("purge") is True else "stopped"
            purged = int(env.payload.get("purged") or 0)
        except RemoteError as exc:
            if exc.code == ConnectorCode.REMOTE_UNREACHABLE:
                return False  # stays pending: resent by the loop
            code = exc.code
            log.warning("a holder refused a consent withdrawal notice",
                        extra={"agreement": agreement_id, "code": exc.code})
        now = datetime.now(UTC)
        with c.store.transaction() as db:
            db.execute("UPDATE withdrawal_notices SET status = ?, code = ?, purged = ?, "
                       "acknowledged = ? WHERE withdrawal_id = ? AND agreement_id = ?",
                       (status, code, purged, now.isoformat(), withdrawal_id, agreement_id))
            c.audit.append("consent_withdrawal_ack", now, withdrawal=withdrawal_id,
                           agreement=agreement_id, holder=consumer, status=status,
                           purged=purged, code=code)
        return True

    async def resend(self) -> int:
        """Send every notice not acknowledged yet (agreements made since a withdrawal
        included); returns how many are still pending."""
        self._cover_new_agreements()
        pending = self.connector.store.query(
            "SELECT withdrawal_id, agreement_id FROM withdrawal_notices WHERE status = "
            "'pending' ORDER BY created")
        done = await asyncio.gather(*(self._notify(w, a) for w, a in pending))
        return sum(1 for d in done if not d)

    async def _resend_loop(self) -> None:
        while True:
            try:
                await self.resend()
            except Exception:  # the loop must outlive a store or NATS hiccup
                log.exception("consent withdrawal notices not resent")
            await asyncio.sleep(self.retry_s)

    # --- consumer (holder of received records) ---------------------------------------------

    async def _on_withdrawal(self, env: Envelope, credential: VerifiedCredential
                             ) -> tuple[str, dict[str, Any]]:
        c, now = self.connector, datetime.now(UTC)
        p = env.payload
        agreement_id, withdrawal_id = p.get("agreementId"), p.get("withdrawal")
        subject, records = p.get("subject"), p.get("records")
        if not isinstance(agreement_id, str) or not isinstance(withdrawal_id, str) \
                or not isinstance(records, list) or not 0 < len(records) <= MAX_RECORDS \
                or not all(isinstance(r, str) and r for r in records):
            raise ResidentsError("a consent withdrawal names an agreement, a withdrawal id "
                                 f"and 1 to {MAX_RECORDS} record ids")
        check_subject(subject)
        row = agreements.load(c.store, agreement_id)
        if row is None or row["role"] != "consumer" or row["provider"] != credential.did:
            raise ResidentsError("no agreement with this provider under that id",
                                 code=ConnectorCode.RESIDENTS_UNKNOWN_AGREEMENT)
        purge = purges_on_withdrawal(agreements.parse(row["document"]["signedAgreement"]))
        with c.store.transaction() as db:
            purged = c.gate.withdraw(db, agreement_id=agreement_id, provider=credential.did,
                                     subject=subject,
                                     record_ids=sorted(set(records)),
                                     withdrawal_id=withdrawal_id, purge=purge, now=now)
        return ACK_TYPE, {"withdrawal": withdrawal_id, "agreementId": agreement_id,
                          "stopped": True, "purge": purge, "purged": purged,
                          "at": now.isoformat()}
