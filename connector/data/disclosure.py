"""Disclosure (個人情報保護法, 開示): what each holder keeps about a person, and who used it.

The person asks the provider that holds their records (verified by the app API: their own
token, or staff assisting them). The provider answers with its own part (its records about
the person, the lines of its audit log that name them, its withdrawals) and asks every
consumer it gave records about the person to (active agreements), one
``tsunagu:DisclosureRequest`` each (signed envelope, sealed both ways: it names a person).
A consumer answers through its usage gate (``UsageGate.disclose``, purpose
``tsunagu:data_subject_rights``): only the records its domains say are about the person,
only those the asking provider gave it, and only the audit lines that name the person under
agreements with that provider, each cut down to who, purpose, action, outcome and when.
Other people named on the same line (a page read of fifty records) are never passed on.

A holder that does not answer is reported as ``unreachable``, not left out: the person sees
whom the provider gave their records to either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.bus.messaging import RemoteError
from connector.data.consent import ResidentsError, check_subject, records_about
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

REQUEST_TYPE = "tsunagu:DisclosureRequest"
REPLY_TYPE = "tsunagu:Disclosure"
# What a person is shown of one audit line: who, what for, what, the outcome, when.
_USE_FIELDS = ("seq", "at", "event", "reader", "purpose", "action", "decision", "code",
               "records", "agreement", "agreements", "withdrawal", "status", "purged", "by",
               "record", "version")


def use_lines(entries: Iterable[dict[str, Any]], agreements: set[str] | None = None
              ) -> list[dict[str, Any]]:
    """Audit entries as a person sees them: only the fields above (never whom else a line
    names); with ``agreements``, only lines under one of them."""
    out = []
    for entry in entries:
        named = set(entry.get("agreements") or ()) | {entry.get("agreement")}
        if agreements is not None and not named & agreements:
            continue
        out.append({k: entry[k] for k in _USE_FIELDS if entry.get(k) is not None})
    return out


class DisclosureService:
    """``connector.disclosure``: assemble a disclosure (provider), answer for what is held
    (consumer)."""

    def __init__(self, connector: Connector, *, timeout: float = 5.0) -> None:
        self.connector = connector
        self.timeout = timeout

    async def startup(self) -> None:
        c = self.connector
        c.route(REQUEST_TYPE, self._on_request)
        c.bus.seal_payloads_of(REQUEST_TYPE, REPLY_TYPE)

    async def shutdown(self) -> None:
        pass

    # --- provider: the person's entry point -----------------------------------------------

    async def disclose(self, subject: str, *, requested_by: str) -> dict[str, Any]:
        """Everything kept about ``subject``, here and at every holder told of it."""
        c, now = self.connector, datetime.now(UTC)
        check_subject(subject)
        about = records_about(c, subject)
        record_ids = {r for ids in about.values() for r in ids}
        own = c.records.rows.current(sorted(record_ids))
        with c.store.transaction():
            c.audit.append("disclosure", now, subjects=[subject], by=requested_by,
                           records=len(record_ids))
        lines = c.audit.naming(subject, record_ids)
        holders = sorted({(a["consumer"]) for a in c.agreements.summaries()
                          if a["role"] == "provider" and a["status"] == "active"
                          and a["dataset"] in about})
        answers = await asyncio.gather(*(self._ask(h, subject) for h in holders))
        return {"subject": subject, "at": now.isoformat(), "holders": [
            {"holder": c.did, "role": "provider", "status": "answered",
             "records": [{"id": i, "dataset": r.dataset_id, "version": r.version,
                          "record": r.body} for i, r in sorted(own.items())],
             "uses": use_lines(lines), "withdrawn": []},
            *answers]}

    async def _ask(self, holder: str, subject: str) -> dict[str, Any]:
        try:
            env, _ = await self.connector.dsp.request(holder, REQUEST_TYPE,
                                                      {"subject": subject},
                                                      timeout=self.timeout)
        except RemoteError as exc:
            status = "unreachable" if exc.code == ConnectorCode.REMOTE_UNREACHABLE \
                else "refused"
            return {"holder": holder, "role": "consumer", "status": status, "code": exc.code,
                    "records": [], "uses": [], "withdrawn": []}
        p = env.payload
        return {"holder": holder, "role": "consumer", "status": "answered",
                "records": list(p.get("records") or []), "uses": list(p.get("uses") or []),
                "withdrawn": list(p.get("withdrawn") or [])}

    # --- consumer: a holder answering --------------------------------------------------------

    async def _on_request(self, env: Envelope, credential: VerifiedCredential
                          ) -> tuple[str, dict[str, Any]]:
        c = self.connector
        subject = check_subject(env.payload.get("subject"))
        mine = {a["id"] for a in c.agreements.summaries()
                if a["role"] == "consumer" and a["provider"] == credential.did}
        if not mine:
            raise ResidentsError("this connector holds nothing under an agreement with you",
                                 code=ConnectorCode.RESIDENTS_UNKNOWN_AGREEMENT)
        found = c.gate.disclose(credential.did, subject, requested_by=credential.did)
        return REPLY_TYPE, {
            "subject": subject,
            "records": [{"id": r.id, "dataset": r.dataset, "version": r.version,
                         "agreement": r.agreement, "received": r.received,
                         "record": r.record} for r in found.held],
            "withdrawn": [{"record": w.record_id, "agreement": w.agreement_id,
                           "withdrawal": w.withdrawal_id, "purged": w.purged, "at": w.at}
                          for w in found.withdrawn],
            "uses": use_lines(c.audit.naming(subject), mine)}
