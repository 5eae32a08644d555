"""A consumer tells the provider which of its records it refused, and the provider keeps it.

When the pull loop dead-letters a record (a content rule refused it, its proof did not
verify), the consumer sends ``tsunagu:RecordRefused`` to the provider (NATS or HTTPS): the
agreement, the record id and version, the refusal's code and the field path. Never the value:
the notice is about data the consumer would not keep. The provider checks that the sender is
the consumer of that agreement and that the record is one of its dataset's, then keeps a row
in ``record_refusals`` (``GET /api/v1/records/{id}/refusals``), an audit line and a metric, and
logs it, so the people who publish can fix the record at its source.

Notices are best effort: the consumer's dead letter is the lasting record of the refusal;
a provider that cannot be reached is tried a few times, then left alone.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

MESSAGE_TYPE = "tsunagu:RecordRefused"
ACK_TYPE = "tsunagu:RecordRefusalNoted"
REFUSED_DOWNSTREAM = "tsunagu_records_refused_by_consumers_total"
_RETRIES = (0.0, 1.0, 5.0)
_MAX = 2000  # characters of any one notice field


def notice(agreement_id: str, record_id: str, version: int, exc: TsunaguError
           ) -> dict[str, Any]:
    """The notice's payload: identifiers, the code and the field path only."""
    body: dict[str, Any] = {"agreementId": agreement_id, "record": record_id,
                            "version": version, "code": exc.code}
    field = exc.details.get("field") or exc.details.get("path")
    if isinstance(field, str):
        body["field"] = field[:_MAX]
    return body


async def tell_provider(connector: Connector, provider: str, notices: list[dict[str, Any]]
                        ) -> None:
    """Send each notice to ``provider``; give up quietly after a few tries."""
    for body in notices:
        for delay in _RETRIES:
            await asyncio.sleep(delay)
            try:
                await connector.dsp.request(provider, MESSAGE_TYPE, body)
                break
            except RemoteUnreachable:
                continue
            except RemoteError as exc:
                log.warning("the provider refused a refusal notice",
                            extra={"code": exc.code, "record": body["record"]})
                break
            except TsunaguError as exc:
                log.warning("refusal notice not sent", extra={"code": exc.code})
                break


def _field(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > _MAX:
        raise ValidationError(f"'{name}' must be a non-empty string", field=name,
                              code=ConnectorCode.REFUSAL_INVALID)
    return value


async def on_notice(connector: Connector, env: Envelope, credential: VerifiedCredential
                    ) -> tuple[str, dict[str, Any]]:
    """Provider side: keep a consumer's notice about one of our records."""
    payload = env.payload
    agreement_id, record_id = _field(payload, "agreementId"), _field(payload, "record")
    code = _field(payload, "code")
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValidationError("'version' must be a positive integer", field="version",
                              code=ConnectorCode.REFUSAL_INVALID)
    field = payload.get("field")
    field = field[:_MAX] if isinstance(field, str) else None
    agreement = connector.agreements.get(agreement_id)
    record = connector.records.view(record_id)
    if agreement is None or agreement["role"] != "provider" \
            or agreement["consumer"] != credential.did or record is None \
            or record.dataset != agreement["datasetId"]:
        raise ValidationError("no such record under an agreement with you",
                              code=ConnectorCode.REFUSAL_UNKNOWN)
    now = datetime.now(UTC)
    with connector.store.transaction() as db:
        db.execute("INSERT INTO record_refusals (record_id, version, agreement_id, consumer, "
                   "code, field, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (record_id, version, agreement_id, credential.did, code, field,
                    now.isoformat()))
        connector.audit.append("refused_by_consumer", now, record=record_id, version=version,
                               agreement=agreement_id, consumer=credential.did, code=code,
                               field=field)
    connector.metrics.inc(REFUSED_DOWNSTREAM, code=code)
    log.warning("a consumer refused one of our records", extra={
        "record": record_id, "version": version, "code": code, "field": field})
    return ACK_TYPE, {"record": record_id, "version": version}


def refusals_of(connector: Connector, record_id: str) -> list[dict[str, Any]]:
    """What consumers told us about ``record_id``, oldest first."""
    rows = connector.store.query(
        "SELECT version, agreement_id, consumer, code, field, at FROM record_refusals "
        "WHERE record_id = ? ORDER BY id", (record_id,))
    return [{"version": v, "agreement": a, "consumer": c, "code": code, "field": f, "at": at}
            for v, a, c, code, f, at in rows]
