"""Publishing a provider's records: validate, version, sign, store, append to the stream.

Flow of ``RecordService.publish`` (ARCHITECTURE.md, flow 1), every check before any write:
size -> shape (@context, id, type) -> next version -> JSON schema of the dataset -> JSON-LD
(bundled contexts, no dropped terms) -> eddsa-jcs-2022 proof by this connector's key -> ONE
store transaction (``records``, ``record_versions`` with ``published=0``, audit line) ->
JetStream publish with ``Nats-Msg-Id = <record id>@<version>`` -> ``published=1``.

Outbox: the store commit and the JetStream publish cannot be one atomic step. The
``record_versions`` rows with ``published=0`` are the outbox: whatever is committed is
published eventually, by the same call, by a retry loop while NATS is away, or by ``start``
after a crash. A version may therefore be sent more than once (the crash can fall between
JetStream's ack and ``published=1``), always with the same ``Nats-Msg-Id``, and JetStream
keeps one copy within the stream's duplicate window (connector.datasets.DUPLICATE_WINDOW_S);
consumers also dedupe on (record id, version). Nothing is published that was not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jsonschema
import nats.errors
from nats.js.errors import NoStreamResponseError
from referencing import Registry
from referencing.exceptions import Unresolvable

from connector import subjects
from connector.datasets import (
    DatasetRow,
    ensure_stream,
    is_iri,
    load_dataset,
    schema_id_for,
    stream_config,
)
from connector.dsp.validation import MAX_REPORTED_ERRORS, describe
from connector.store import dumps, loads
from trust import jsonld
from trust.errors import TsunaguError
from trust.proofs import format_datetime, sign_document

if TYPE_CHECKING:
    from connector.runtime import Connector

log = logging.getLogger(__name__)

# Under nats-server's default max_payload (1 MiB, headers included), with room for headers.
MAX_RECORD_BYTES = 1_000_000
# Defined by the tsunagu v1 context (tsunagu:deleted, xsd:boolean): a tombstone expands cleanly.
TOMBSTONE_FLAG = "deleted"
# Set by the connector; any value an app sends is replaced.
SERVER_FIELDS = ("proof", "version", "modified")

PUBLISHED = "tsunagu_records_published_total"
REJECTED = "tsunagu_records_rejected_total"
PENDING = "tsunagu_records_outbox_pending"


class RecordError(TsunaguError):
    code = "record.invalid"


@dataclass(frozen=True)
class _Pending:
    rowid: int
    record_id: str
    version: int
    event: str
    body: bytes
    dataset_id: str


def is_tombstone(record: dict[str, Any]) -> bool:
    return record.get(TOMBSTONE_FLAG) is True


def _check_shape(record: Any) -> None:
    if not isinstance(record, dict):
        raise RecordError("a record must be a JSON object")
    context = record.get("@context")
    contexts = [context] if isinstance(context, str) else context
    if not isinstance(contexts, list) or not contexts \
            or not all(isinstance(c, str) for c in contexts):
        # Inline context objects would let a record define its own terms, bypassing the
        # bundled contexts the data space agreed on.
        raise RecordError("record @context must be a context URL or a list of them",
                          path="$['@context']")
    if not is_iri(record.get("id")):
        raise RecordError("record id must be an absolute IRI", path="$.id")
    types = record.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t
                                                           for t in types):
        raise RecordError("record type must be a non-empty string or list of them",
                          path="$.type")
    if TOMBSTONE_FLAG in record:
        raise RecordError(f"{TOMBSTONE_FLAG} is set by delete(), not by publish",
                          path=f"$['{TOMBSTONE_FLAG}']")


def _check_size(document: dict[str, Any]) -> bytes:
    data = dumps(document)
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(f"record is {len(data)} bytes, the limit is {MAX_RECORD_BYTES}",
                          code="record.too_large")
    return data


class _SchemaCache:
    """Compiled validators per content-addressed schema id."""

    def __init__(self) -> None:
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def check(self, schema: dict[str, Any], document: dict[str, Any]) -> None:
        key = schema_id_for(schema)
        validator = self._validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema,
                                                      default=jsonschema.Draft202012Validator)
            # An empty registry: a remote $ref is an error, never a network fetch.
            validator = cls(schema, registry=Registry(), format_checker=cls.FORMAT_CHECKER)
            self._validators[key] = validator
        try:
            found = sorted(validator.iter_errors(document), key=lambda e: e.json_path)
        except Unresolvable as exc:
            raise RecordError(f"the dataset's schema has a $ref that cannot be resolved "
                              f"locally: {exc}", code="dataset.schema_invalid") from exc
        if found:
            # Reasons name the rule, never the value: they reach logs and other participants.
            errors = [{"path": e.json_path, "reason": describe(e)} for e in found]
            shown = errors[:MAX_REPORTED_ERRORS]
            listing = "; ".join(f"{e['path']}: {e['reason']}" for e in shown)
            raise RecordError(f"record does not match the dataset's schema: {listing}",
                              code="record.schema_invalid", errors=shown, total=len(errors))


class RecordService:
    """A provider's records: publish, delete (tombstone), read; resumes its outbox on start."""

    def __init__(self, *, publish_timeout: float = 5.0, retry_interval: float = 5.0) -> None:
        self.publish_timeout = publish_timeout
        self.retry_interval = retry_interval
        self._connector: Connector | None = None
        self._schemas = _SchemaCache()
        # One flush at a time keeps the stream in commit order (version 2 never before 1).
        self._flush_lock = asyncio.Lock()
        self._retry_task: asyncio.Task[None] | None = None

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            raise RuntimeError("RecordService is not started")
        return self._connector

    async def start(self, connector: Connector) -> None:
        self._connector = connector
        connector.metrics.describe(PUBLISHED, "record versions appended to their stream")
        connector.metrics.describe(REJECTED, "records refused before storing, by code")
        connector.metrics.describe(PENDING, "committed record versions not yet in JetStream")
        await self.flush_outbox()  # what a crash left behind, before new work
        self._retry_task = asyncio.create_task(self._retry_loop(), name="records-outbox")

    async def stop(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None
        self._connector = None

    # --- writing -------------------------------------------------------------------------

    async def publish(self, dataset_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a new version of ``record`` in ``dataset_id`` and append its event.

        Returns the signed record. It is durable once this returns; if NATS is away the
        event follows from the outbox. Refusals raise ``RecordError`` (or ``JsonLdError``)
        with the code also counted in tsunagu_records_rejected_total{reason}.
        """
        try:
            dataset, signed, event = self._prepare(dataset_id, record)
        except TsunaguError as exc:
            self.connector.metrics.inc(REJECTED, reason=exc.code)
            raise
        self._commit(dataset, signed, event)
        await self.flush_outbox()
        return signed

    async def delete(self, dataset_id: str, record_id: str) -> dict[str, Any]:
        """Append a signed tombstone version; deleting a deleted record returns its tombstone."""
        c = self.connector
        dataset = self._dataset(dataset_id)
        current = self._current(record_id, dataset_id)
        if current is None:
            raise RecordError(f"no record {record_id} in dataset {dataset_id}",
                              code="record.not_found")
        if current[1]:
            return current[2]
        body = current[2]
        tombstone = {"@context": body["@context"], "id": record_id, "type": body["type"],
                     "version": current[0] + 1,
                     "modified": format_datetime(datetime.now(UTC)), TOMBSTONE_FLAG: True}
        signed = sign_document(tombstone, c.identity.key)
        self._commit(dataset, signed, "deleted")
        await self.flush_outbox()
        return signed

    def _dataset(self, dataset_id: str) -> DatasetRow:
        dataset = load_dataset(self.connector.store, dataset_id)
        if dataset is None:
            raise RecordError(f"this connector offers no dataset {dataset_id}",
                              code="dataset.not_found")
        return dataset

    def _current(self, record_id: str, dataset_id: str
                 ) -> tuple[int, bool, dict[str, Any]] | None:
        rows = self.connector.store.query(
            "SELECT version, deleted, body, dataset_id FROM records WHERE id = ?", (record_id,))
        if not rows:
            return None
        version, deleted, body, owner = rows[0]
        if owner != dataset_id:
            # A record id belongs to one dataset (one stream); moving it would split history.
            raise RecordError(f"record {record_id} belongs to another dataset",
                              code="record.wrong_dataset")
        return version, bool(deleted), loads(body)

    def _prepare(self, dataset_id: str, record: Any
                 ) -> tuple[DatasetRow, dict[str, Any], str]:
        """All checks, in the order of the module docstring; writes nothing."""
        dataset = self._dataset(dataset_id)
        _check_shape(record)
        _check_size(record)  # before the costly checks: a huge body is refused cheaply
        current = self._current(record["id"], dataset_id)
        # A republished deleted id starts over as "created" for consumers, at a new version.
        event = "updated" if current and not current[1] else "created"
        document = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
        document["version"] = current[0] + 1 if current else 1
        document["modified"] = format_datetime(datetime.now(UTC))
        if dataset.schema is not None:
            self._schemas.check(dataset.schema, document)
        jsonld.check_no_dropped_terms(document)
        signed = sign_document(document, self.connector.identity.key)
        _check_size(signed)
        return dataset, signed, event

    def _commit(self, dataset: DatasetRow, signed: dict[str, Any], event: str) -> None:
        """One transaction: latest version, the version row (outbox) and the audit line."""
        c = self.connector
        record_id, version, body = signed["id"], signed["version"], dumps(signed)
        with c.store.transaction() as db:
            db.execute(
                "INSERT INTO records (id, dataset_id, version, deleted, body, modified) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "version = excluded.version, deleted = excluded.deleted, body = excluded.body, "
                "modified = excluded.modified",
                (record_id, dataset.id, version, int(event == "deleted"), body,
                 signed["modified"]))
            db.execute("INSERT INTO record_versions (id, version, event, body, published) "
                       "VALUES (?, ?, ?, ?, 0)", (record_id, version, event, body))
            # Identifiers only: the audit log never holds record bodies.
            c.audit.append("published", record=record_id, version=version, change=event,
                           dataset=dataset.id)

    # --- the outbox ----------------------------------------------------------------------

    def _pending(self) -> list[_Pending]:
        # rowid follows insertion order, so the stream receives versions in commit order.
        rows = self.connector.store.query(
            "SELECT v.rowid, v.id, v.version, v.event, v.body, r.dataset_id "
            "FROM record_versions v JOIN records r ON r.id = v.id "
            "WHERE v.published = 0 ORDER BY v.rowid")
        return [_Pending(*row) for row in rows]

    async def flush_outbox(self) -> int:
        """Publish committed versions JetStream has not acknowledged; stop at the first
        failure so order holds. Returns how many were acknowledged."""
        async with self._flush_lock:
            c = self.connector
            pending = self._pending()
            done = 0
            for item in pending:
                if not await self._send(item):
                    break
                done += 1
            c.metrics.set(PENDING, len(pending) - done)
            return done

    async def _send(self, item: _Pending) -> bool:
        c = self.connector
        subject = subjects.data_subject(c.did, item.dataset_id, item.event)
        stream = subjects.dataset_stream(c.did, item.dataset_id)
        headers = {"Nats-Msg-Id": subjects.message_id(item.record_id, item.version)}
        try:
            # stream= makes the server refuse a subject bound to any other stream.
            ack = await c.js.publish(subject, item.body, timeout=self.publish_timeout,
                                     stream=stream, headers=headers)
        except NoStreamResponseError:
            # The stream is gone (NATS store lost, deleted by hand): make it again; the
            # version goes out on the next flush.
            log.warning("dataset stream missing, recreating it", extra={"stream": stream})
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await ensure_stream(c.js, stream_config(c.did, item.dataset_id))
            return False
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("record event not published yet, kept in the outbox",
                        extra={"record": item.record_id, "version": item.version,
                               "error": type(exc).__name__})
            return False
        with c.store.transaction() as db:
            db.execute("UPDATE record_versions SET published = 1 WHERE rowid = ?",
                       (item.rowid,))
        if not ack.duplicate:
            c.metrics.inc(PUBLISHED, dataset=item.dataset_id)
        return True

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                if self._pending():
                    await self.flush_outbox()
            except Exception:  # the loop must outlive a store or NATS hiccup
                log.exception("outbox retry failed")

    # --- reading -------------------------------------------------------------------------

    def get(self, record_id: str) -> dict[str, Any] | None:
        """The latest version (a tombstone once deleted), or None."""
        rows = self.connector.store.query("SELECT body FROM records WHERE id = ?", (record_id,))
        return loads(rows[0][0]) if rows else None

    def list(self, dataset_id: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT body FROM records WHERE dataset_id = ?"
        if not include_deleted:
            sql += " AND deleted = 0"
        rows = self.connector.store.query(sql + " ORDER BY id", (dataset_id,))
        return [loads(r[0]) for r in rows]

    def versions(self, record_id: str) -> list[dict[str, Any]]:
        """Every version of a record, oldest first (what its stream history holds)."""
        rows = self.connector.store.query(
            "SELECT body FROM record_versions WHERE id = ? ORDER BY version", (record_id,))
        return [loads(r[0]) for r in rows]
