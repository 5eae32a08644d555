"""Correction (個人情報保護法, 訂正): a person asks the holder to correct a record about them.

The request names the record, one top-level field, the value asked for and the reason. It
is a contribution (connector.data.contributions) by the person rather than by a participant,
so no policy decides it: the holder's staff review it. ``accept`` publishes the corrected
record as a new version (``wasAttributedTo`` the person, ``wasDerivedFrom`` the version
corrected; schema, content rules, JSON-LD and proof as any publication), which every holder
with an agreement receives through its transfer; ``refuse`` keeps the reason. Either way
the person sees the outcome (``of_subject``). A record not about the person, or a field the
holder sets itself (identity, version, proof, provenance), is refused before anything is
written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from connector.data.consent import ResidentsError, check_subject
from connector.data.contributions import RESERVED, version_iri
from connector.errors import ConnectorCode
from connector.store.database import dumps
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

MAX_REASON = 1000
MAX_VALUE_BYTES = 100_000


class CorrectionError(TsunaguError):
    code = ConnectorCode.CORRECTION_NOT_FOUND


@dataclass(frozen=True)
class Correction:
    id: str
    subject: str
    record: str
    field: str
    value: Any
    reason: str
    requested_by: str
    status: str  # pending | accepted | refused
    decision_reason: str | None
    decided_by: str | None
    version: int | None
    created: str
    decided: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "subject": self.subject, "record": self.record,
                "field": self.field, "value": self.value, "reason": self.reason,
                "requestedBy": self.requested_by, "status": self.status,
                "decisionReason": self.decision_reason, "decidedBy": self.decided_by,
                "version": self.version, "created": self.created, "decided": self.decided}


_COLUMNS = ("id, subject, record_id, field, value, reason, requested_by, status, "
            "decision_reason, decided_by, version, created, decided")


def _row(r: tuple[Any, ...]) -> Correction:
    return Correction(r[0], r[1], r[2], r[3], orjson.loads(r[4]), *r[5:])


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ResidentsError(f"'{field}' must be a non-empty text of at most {limit} "
                             "characters", field=field)
    return value


class CorrectionService:
    """``connector.corrections``: correction requests to this connector's own records."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def request(self, subject: str, record_id: str, field: str, value: Any, reason: str, *,
                requested_by: str) -> Correction:
        """Keep a person's correction request for review; refused (nothing written) when
        the record is not theirs or the field is the holder's to set."""
        c, now = self.connector, datetime.now(UTC)
        check_subject(subject)
        _text(record_id, "record", 2048)
        _text(reason, "reason", MAX_REASON)
        if not isinstance(field, str) or not field or field in RESERVED \
                or field.startswith("@"):
            raise ResidentsError(f"field {field!r} is set by the holder, not corrected by "
                                 "request", code=ConnectorCode.CORRECTION_FIELD_NOT_ALLOWED,
                                 field="field")
        if len(dumps(value)) > MAX_VALUE_BYTES:
            raise ResidentsError(f"the value is over {MAX_VALUE_BYTES} bytes", field="value")
        current = c.records.rows.current([record_id]).get(record_id)
        if current is None or current.deleted or subject not in c.gate.subjects_in(
                current.body):
            # Whether a record exists is not told to someone it is not about.
            raise ResidentsError("this holder keeps no such record about the person named",
                                 code=ConnectorCode.RESIDENTS_NOT_THE_SUBJECT, field="record")
        correction_id = f"urn:uuid:{uuid.uuid4()}"
        with c.store.transaction() as db:
            db.execute(f"INSERT INTO corrections ({_COLUMNS}) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, NULL, ?, NULL)",
                       (correction_id, subject, record_id, field, dumps(value), reason,
                        requested_by, now.isoformat()))
            c.audit.append("correction_requested", now, correction=correction_id,
                           subjects=[subject], record=record_id, field=field,
                           by=requested_by)
        found = self.get(correction_id)
        assert found is not None
        return found

    def get(self, correction_id: str) -> Correction | None:
        rows = self.connector.store.query(f"SELECT {_COLUMNS} FROM corrections WHERE id = ?",
                                          (correction_id,))
        return _row(rows[0]) if rows else None

    def of_subject(self, subject: str) -> list[Correction]:
        return [_row(r) for r in self.connector.store.query(
            f"SELECT {_COLUMNS} FROM corrections WHERE subject = ? ORDER BY created, id",
            (subject,))]

    def list(self, status: str | None = None) -> list[Correction]:
        return [_row(r) for r in self.connector.store.query(
            f"SELECT {_COLUMNS} FROM corrections"
            + (" WHERE status = ?" if status else "") + " ORDER BY created, id",
            (status,) if status else ())]

    async def accept(self, correction_id: str, *, decided_by: str) -> Correction:
        """Publish the corrected record (a new version, to every holder)."""
        c = self.connector
        pending = self._pending(correction_id)
        current = c.records.rows.current([pending.record]).get(pending.record)
        if current is None or current.deleted:
            raise CorrectionError("the record to correct is no longer held here",
                                  code=ConnectorCode.RECORD_NOT_FOUND)
        revised = {k: v for k, v in current.body.items() if k not in ("proof", "version",
                                                                        "modified")}
        revised[pending.field] = pending.value
        revised["wasAttributedTo"] = pending.subject
        revised["wasDerivedFrom"] = version_iri(pending.record, current.version)

        def keep(db: Any, signed: dict[str, Any]) -> None:
            self._decide(db, pending, "accepted", None, decided_by, signed["version"])

        # A value the dataset's schema or content rules refuse raises their error and the
        # request stays pending (staff refuse it, with the reason); so does a version
        # published meanwhile (record.version_conflict: accept again, on the new version).
        await c.records.publish(current.dataset_id, revised, expected_version=current.version,
                                on_commit=keep)
        found = self.get(correction_id)
        assert found is not None
        return found

    def refuse(self, correction_id: str, reason: str, *, decided_by: str) -> Correction:
        """Keep the reason; the person is shown it."""
        _text(reason, "reason", MAX_REASON)
        pending = self._pending(correction_id)
        with self.connector.store.transaction() as db:
            self._decide(db, pending, "refused", reason, decided_by, None)
        found = self.get(correction_id)
        assert found is not None
        return found

    def _pending(self, correction_id: str) -> Correction:
        found = self.get(correction_id)
        if found is None:
            raise CorrectionError(f"no correction request {correction_id} here")
        if found.status != "pending":
            raise CorrectionError(f"the correction request was {found.status} already",
                                  code=ConnectorCode.CORRECTION_DECIDED, status=found.status)
        return found

    def _decide(self, db: Any, pending: Correction, status: str, reason: str | None,
                decided_by: str, version: int | None) -> None:
        now = datetime.now(UTC)
        changed = db.execute(
            "UPDATE corrections SET status = ?, decision_reason = ?, decided_by = ?, "
            "version = ?, decided = ? WHERE id = ? AND status = 'pending'",
            (status, reason, decided_by, version, now.isoformat(), pending.id)).rowcount
        if not changed:  # decided by someone else between the read and this write
            raise CorrectionError("the correction request was decided already",
                                  code=ConnectorCode.CORRECTION_DECIDED)
        self.connector.audit.append("correction_decided", now, correction=pending.id,
                                    subjects=[pending.subject], record=pending.record,
                                    field=pending.field, status=status, by=decided_by,
                                    version=version)
