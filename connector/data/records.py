"""Publishing a provider's records: validate, version, sign, store, append to the stream.

Flow of ``RecordService.publish`` (ARCHITECTURE.md, flow 1), every check before any write:
size -> shape (@context, id, type) -> next version -> JSON schema of the dataset -> the
domains' content rules (connector.content_rules) -> JSON-LD
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
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.js.errors import NoStreamResponseError
from referencing.exceptions import Unresolvable

from connector.bus import subjects
from connector.bus.connection import PUBLISH_ASYNC_MAX_PENDING
from connector.data import erasure, refusals
from connector.data.datasets import (
    DatasetRow,
    ensure_stream,
    is_iri,
    load_dataset,
    stream_config,
)
from connector.data.record_events import RecordChange
from connector.data.record_rows import RecordRows, Unpublished, View
from connector.data.record_schema import RecordSchemas
from connector.errors import ConnectorCode
from connector.protocol.dsp.validation import MAX_REPORTED_ERRORS
from connector.store.database import StoreError, dumps
from trust import jsonld
from trust.batch_proofs import sign_batch
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import JsonLdError, TsunaguError
from trust.proofs import format_datetime, now_text, sign_document
from trust.sealing import SEAL_HEADER, ContentKey, bound_to, seal, seal_header

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

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
# publish_many: records per call (the app API's body limit, 1 MiB, usually binds first).
MAX_BATCH = 1000
# Outbox: JetStream publishes awaiting their ack at once (nats-py allows 4000 by default).
MAX_IN_FLIGHT = 1000


class RecordError(TsunaguError):
    code = ConnectorCode.RECORD_INVALID


class RecordVersionConflict(RecordError):
    # The record is not at the version the caller expected; ``current`` (in the details) is
    # the version it is at. (No docstring: the problem's title stays the code, as before.)

    code = ConnectorCode.RECORD_VERSION_CONFLICT


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
        given = "missing" if context is None else ("an inline object" if isinstance(
            context, dict) else f"a {type(context).__name__}")
        raise RecordError(
            f"record @context must be a context URL or a list of them (here it is {given}): "
            f"for example [\"{jsonld.TSUNAGU_V1}\", \"<your domain's context URL>\"]; "
            "inline context objects are not accepted",
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
    try:
        data = dumps(document)
    except TypeError as exc:  # orjson: nesting over 254 levels, integers beyond 64 bits
        raise RecordError(f"record cannot be serialised: {exc}",
                          code=ConnectorCode.RECORD_INVALID) from None
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(f"record is {len(data)} bytes, the limit is {MAX_RECORD_BYTES}",
                          code=ConnectorCode.RECORD_TOO_LARGE)
    return data


class _SchemaCache:
    """The dataset schema check of ``publish``, refusals as ``RecordError``."""

    def __init__(self) -> None:
        self._schemas = RecordSchemas()

    def check(self, schema: dict[str, Any], document: dict[str, Any]) -> None:
        try:
            errors = self._schemas.errors(schema, document)
        except Unresolvable as exc:
            raise RecordError(f"the dataset's schema has a $ref that cannot be resolved "
                              f"locally: {exc}", code=ConnectorCode.DATASET_SCHEMA_INVALID) from exc
        if errors:
            shown = errors[:MAX_REPORTED_ERRORS]
            listing = "; ".join(f"{e['path']}: {e['reason']}" for e in shown)
            raise RecordError(f"record does not match the dataset's schema: {listing}",
                              code=ConnectorCode.RECORD_SCHEMA_INVALID, errors=shown,
                              total=len(errors))


def _in_batch(exc: TsunaguError, index: int) -> TsunaguError:
    """The error of one record of a batch, naming its index."""
    exc.details.setdefault("index", index)
    exc.message = f"record {index} of the batch: {exc.message}"
    return exc


class RecordService:
    """A provider's records: publish, delete (tombstone), read; resumes its outbox on start."""

    def __init__(self, connector: Connector, *, publish_timeout: float = 5.0,
                 retry_interval: float = 5.0, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.connector = connector
        self.publish_timeout = publish_timeout
        self.retry_interval = retry_interval
        self.max_in_flight = max_in_flight
        # Every record_versions row with rowid <= this is published (see _flush).
        self._published_upto = 0
        self._schemas = _SchemaCache()
        self.rows: RecordRows
        # One flush at a time keeps the stream in commit order (version 2 never before 1).
        self._flush_lock = asyncio.Lock()
        self._retry_task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        connector = self.connector
        self.rows = RecordRows(connector.store)  # the store is opened again at each start
        connector.metrics.describe(PUBLISHED, "record versions appended to their stream")
        connector.metrics.describe(REJECTED, "records refused before storing, by code")
        connector.metrics.describe(PENDING, "committed record versions not yet in JetStream")
        connector.metrics.describe(erasure.ERASED, "deleted records' earlier versions "
                                   "removed from their stream")
        connector.metrics.describe(refusals.REFUSED_DOWNSTREAM, "our records consumers "
                                   "refused (dead-lettered), by code")
        connector.route(refusals.MESSAGE_TYPE, self._on_refusal)
        await self.flush_outbox()  # what a crash left behind, before new work
        await self.erase()
        self._retry_task = asyncio.create_task(self._retry_loop(), name="records-outbox")

    async def _on_refusal(self, env: Envelope, credential: VerifiedCredential
                          ) -> tuple[str, dict[str, Any]]:
        return await refusals.on_notice(self.connector, env, credential)

    async def shutdown(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None

    # --- writing -------------------------------------------------------------------------

    async def publish(self, dataset_id: str, record: dict[str, Any], *,
                      expected_version: int | None = None,
                      on_commit: Callable[[Any, dict[str, Any]], None] | None = None
                      ) -> dict[str, Any]:
        """Store a new version of ``record`` in ``dataset_id`` and append its event.

        Returns the signed record. It is durable once this returns; if NATS is away the
        event follows from the outbox. Refusals raise ``RecordError`` (or ``JsonLdError``)
        with the code also counted in tsunagu_records_rejected_total{reason}.
        ``expected_version`` (optimistic concurrency, used by connector.contributions):
        refuse with ``record.version_conflict`` unless the record's current version is
        exactly that (0: it must not exist). ``on_commit(db, signed)`` runs inside the
        store transaction, so a caller's own rows commit with the version or not at all.
        """
        try:
            dataset, signed, event = self._prepare(dataset_id, record, expected_version)
        except TsunaguError as exc:
            self.connector.metrics.inc(REJECTED, reason=exc.code)
            raise
        self._commit(dataset, signed, event, on_commit)
        await self._flush(full=False)
        return signed

    async def publish_many(self, dataset_id: str, records: list[Any]) -> list[dict[str, Any]]:
        """Publish a batch: all or nothing, every check of ``publish`` on every record.

        Each record is validated and signed exactly as ``publish`` does (a record id that
        appears twice gets consecutive versions); the first refusal raises, naming the
        record's ``index`` in the batch, and nothing is written. Then ONE store transaction
        (rows and audit lines in batch order) and one outbox flush with the JetStream
        publishes pipelined. Returns the signed records in batch order.
        """
        try:
            dataset, prepared = self._prepare_many(dataset_id, records)
        except TsunaguError as exc:
            self.connector.metrics.inc(REJECTED, reason=exc.code)
            raise
        self._commit_many(dataset, prepared)
        await self._flush(full=False)
        return [signed for signed, _ in prepared]

    async def delete(self, dataset_id: str, record_id: str) -> dict[str, Any]:
        """Append a signed tombstone version; deleting a deleted record returns its tombstone."""
        dataset, tombstone, new = self._tombstone(dataset_id, record_id)
        if new:
            # Under the flush lock: no publish of an earlier version is in flight while its
            # body is erased, so each earlier version is either in the stream with a known
            # sequence (erased there next) or never sent at all.
            async with self._flush_lock:
                self._commit(dataset, tombstone, "deleted")
            await self._flush(full=False)
            await self.erase()
        return tombstone

    async def erase(self) -> int:
        """Delete from the streams the earlier versions of deleted records (erasure.py)."""
        try:
            return await erasure.erase_pending(self.connector)
        except StoreError as exc:  # retried by the loop once the store takes writes again
            log.warning("stream erasure not recorded yet", extra={"code": exc.code})
            return 0

    def _tombstone(self, dataset_id: str, record_id: str
                   ) -> tuple[DatasetRow, dict[str, Any], bool]:
        """(dataset, signed tombstone, whether it is new): an already deleted record gives
        its existing tombstone."""
        dataset = self._dataset(dataset_id)
        current = self._current(record_id, dataset_id)
        if current is None:
            raise RecordError(f"no record {record_id} in dataset {dataset_id}",
                              code=ConnectorCode.RECORD_NOT_FOUND)
        if current[1]:
            return dataset, current[2], False
        body = current[2]
        tombstone = {"@context": body["@context"], "id": record_id, "type": body["type"],
                     "version": current[0] + 1,
                     "modified": format_datetime(datetime.now(UTC)), TOMBSTONE_FLAG: True}
        return dataset, sign_document(tombstone, self.connector.identity.key), True

    # --- publishing inside a caller's transaction --------------------------------------------

    def stage(self, db: Any, dataset_id: str, records: list[Any]) -> list[dict[str, Any]]:
        """``publish_many`` inside a store transaction the caller holds (``db``).

        For a domain whose own rows and the records it derives from them must commit
        together (a registration and the record it publishes): every check of
        ``publish_many``, then the rows, audit lines and record listeners on ``db``. A refusal
        raises before this call writes anything (the caller's transaction then rolls back).
        Nothing is sent before the caller commits: ``await flush()`` afterwards (else the
        outbox retry loop sends it). Returns the signed records in order.
        """
        try:
            dataset, prepared = self._prepare_many(dataset_id, records)
        except TsunaguError as exc:
            self.connector.metrics.inc(REJECTED, reason=exc.code)
            raise
        self._write(db, dataset, prepared)
        return [signed for signed, _ in prepared]

    def stage_delete(self, db: Any, dataset_id: str, record_id: str) -> dict[str, Any]:
        """``delete`` inside a transaction the caller holds (see ``stage``)."""
        dataset, tombstone, new = self._tombstone(dataset_id, record_id)
        if new:
            self._write(db, dataset, [(tombstone, "deleted")])
        return tombstone

    async def flush(self) -> int:
        """Send what was committed since the last flush (after ``stage``), then erase what a
        staged delete left to erase from the stream."""
        done = await self._flush(full=False)
        await self.erase()
        return done

    def _dataset(self, dataset_id: str) -> DatasetRow:
        dataset = load_dataset(self.connector.store, dataset_id)
        if dataset is None:
            raise RecordError(f"this connector offers no dataset {dataset_id}",
                              code=ConnectorCode.DATASET_NOT_FOUND)
        return dataset

    def _current(self, record_id: str, dataset_id: str
                 ) -> tuple[int, bool, dict[str, Any]] | None:
        return self._current_many({record_id}, dataset_id).get(record_id)

    def _current_many(self, record_ids: set[str], dataset_id: str
                      ) -> dict[str, tuple[int, bool, dict[str, Any]]]:
        """Latest (version, deleted, body) of each id that exists."""
        found: dict[str, tuple[int, bool, dict[str, Any]]] = {}
        for record_id, current in self.rows.current(record_ids).items():
            if current.dataset_id != dataset_id:
                # A record id belongs to one dataset (one stream); moving it would split
                # its history.
                raise RecordError(f"record {record_id} belongs to another dataset",
                                  code=ConnectorCode.RECORD_WRONG_DATASET)
            found[record_id] = (current.version, current.deleted, current.body)
        return found

    def _prepare(self, dataset_id: str, record: Any, expected_version: int | None = None
                 ) -> tuple[DatasetRow, dict[str, Any], str]:
        """All checks, in the order of the module docstring; writes nothing."""
        dataset = self._dataset(dataset_id)
        record = self._tree(record)
        _check_shape(record)
        _check_size(record)  # before the costly checks: a huge body is refused cheaply
        current = self._current(record["id"], dataset_id)
        document, event = self._sign(dataset, record, current, expected_version)
        return dataset, self._signed(dataset, [document])[0], event

    def _prepare_many(self, dataset_id: str, records: Any
                      ) -> tuple[DatasetRow, list[tuple[dict[str, Any], str]]]:
        """``_prepare`` for each record of a batch; the versions of an id repeated in the
        batch follow on from each other. Writes nothing."""
        if not isinstance(records, list) or not records:
            raise RecordError("a batch must be a non-empty list of records", path="$.records")
        if len(records) > MAX_BATCH:
            raise RecordError(f"a batch holds at most {MAX_BATCH} records, got {len(records)}",
                              code=ConnectorCode.RECORD_BATCH_TOO_LARGE)
        dataset = self._dataset(dataset_id)
        records = list(records)  # flattened ones are replaced by their tree, in this copy
        for index, record in enumerate(records):
            try:
                records[index] = record = self._tree(record)
                _check_shape(record)
                _check_size(record)
            except TsunaguError as exc:
                raise _in_batch(exc, index) from None
        # One query for the whole batch instead of one per record.
        earlier = self._current_many({r["id"] for r in records}, dataset_id)
        documents: list[dict[str, Any]] = []
        events: list[str] = []
        for index, record in enumerate(records):
            record_id = record["id"]
            try:
                document, event = self._sign(dataset, record, earlier.get(record_id))
            except TsunaguError as exc:
                raise _in_batch(exc, index) from None
            earlier[record_id] = (document["version"], False, document)
            documents.append(document)
            events.append(event)
        return dataset, list(zip(self._signed(dataset, documents), events, strict=True))

    def _tree(self, record: Any) -> Any:
        """A record flattened into ``{"@context", "@graph"}`` (RDF tools write that) as the
        one node it holds, compacted with its own @context; any other record as it is (the
        usual compact form pays one key lookup). Size first: expanding is costly."""
        if isinstance(record, dict) and "@graph" in record:
            _check_size(record)
            return jsonld.untangle(record, self.connector.contexts)
        return record

    def _sign(self, dataset: DatasetRow, record: dict[str, Any],
              current: tuple[int, bool, dict[str, Any]] | None,
              expected_version: int | None = None) -> tuple[dict[str, Any], str]:
        """Version, schema and JSON-LD of one shape-checked record: the document to sign
        (``_signed``) and its event."""
        at = current[0] if current else 0
        if expected_version is not None and at != expected_version:
            raise RecordVersionConflict(f"record {record['id']} is at version {at}, not "
                                        f"{expected_version}", current=at)
        # A republished deleted id starts over as "created" for consumers, at a new version.
        event = "updated" if current and not current[1] else "created"
        document = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
        document["version"] = current[0] + 1 if current else 1
        document["modified"] = now_text()
        if dataset.schema is not None:
            self._schemas.check(dataset.schema, document)
        # The domain's content rules (no My Number in free text): before anything is signed
        # or written, as every receiver runs them too.
        self.connector.content_rules.check(document)
        try:
            jsonld.check_no_dropped_terms(document, self.connector.contexts)
        except JsonLdError as exc:
            term = exc.details.get("term")
            if term in SERVER_FIELDS and term not in record:
                # The caller never sent it: say where it came from.
                raise JsonLdError(
                    f"the connector adds {term!r} to every record it signs, and no context in "
                    f"the record's @context defines it: put {jsonld.TSUNAGU_V1} first in the "
                    "record's @context", code=exc.code, term=term, path=f"$.{term}") from None
            raise
        return document, event

    def _signed(self, dataset: DatasetRow, documents: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
        """``documents`` with their proofs: one batch proof over them all where the dataset
        says so (datasets.RECORD_PROOFS) and there are several, else one proof each."""
        key = self.connector.identity.key
        if dataset.batch_proofs and len(documents) > 1:
            signed = sign_batch(documents, key)
        else:
            signed = [sign_document(document, key) for document in documents]
        for index, document in enumerate(signed):
            try:
                _check_size(document)
            except TsunaguError as exc:
                raise (_in_batch(exc, index) if len(signed) > 1 else exc) from None
        return signed

    def _commit(self, dataset: DatasetRow, signed: dict[str, Any], event: str,
                on_commit: Callable[[Any, dict[str, Any]], None] | None = None) -> None:
        """One transaction: latest version, the version row (outbox) and the audit line."""
        self._commit_many(dataset, [(signed, event)], on_commit)

    def _commit_many(self, dataset: DatasetRow, items: list[tuple[dict[str, Any], str]],
                     on_commit: Callable[[Any, dict[str, Any]], None] | None = None) -> None:
        """``_commit`` for several versions in ONE transaction, in the order given."""
        with self.connector.store.transaction() as db:
            self._write(db, dataset, items, on_commit)

    def _write(self, db: Any, dataset: DatasetRow, items: list[tuple[dict[str, Any], str]],
               on_commit: Callable[[Any, dict[str, Any]], None] | None = None) -> None:
        """The rows of each version, in an open transaction: latest version, version row
        (outbox), audit line, ``on_commit`` and the record listeners."""
        c = self.connector
        for signed, event in items:
            record_id, version = signed["id"], signed["version"]
            self.rows.write(db, record_id=record_id, dataset_id=dataset.id, version=version,
                            event=event, body=dumps(signed), modified=signed["modified"])
            if event == "deleted":
                # Deleted, not hidden: earlier bodies go with the tombstone's commit; their
                # stream messages follow once the tombstone is in the stream (erasure.py).
                erasure.erase_in_store(db, c, record_id, version, signed["modified"])
            # Identifiers only: the audit log never holds record bodies.
            c.audit.append("published", record=record_id, version=version, change=event,
                           dataset=dataset.id)
            if on_commit is not None:
                on_commit(db, signed)
            c.record_listeners(db, RecordChange(dataset.id, signed, event, held=False,
                                                provider=c.did))

    # --- the outbox ----------------------------------------------------------------------

    def _pending(self, after: int = 0) -> list[Unpublished]:
        # rowid follows insertion order, so the stream receives versions in commit order.
        return self.rows.unpublished(after)

    async def flush_outbox(self) -> int:
        """Publish committed versions JetStream has not acknowledged, in commit order; stop
        at the first failure so order holds. Returns how many were acknowledged."""
        return await self._flush(full=True)

    async def _flush(self, *, full: bool) -> int:
        """``full``: look at every row (start, retry loop, callers); else only at rows after
        ``_published_upto``. That mark only moves over a prefix (in rowid order) of the
        unpublished rows this flush saw, all acknowledged, and new rows always get a larger
        rowid, so every unpublished row stays above it."""
        async with self._flush_lock:
            c = self.connector
            pending = self._pending(0 if full else self._published_upto)
            done = 0
            while done < len(pending):
                window = self._window(pending, done)
                acked = await self._send_window(window)
                done += acked
                if acked < len(window):
                    break
            if done < len(pending):
                self._published_upto = pending[done].rowid - 1
            elif pending:
                self._published_upto = pending[-1].rowid
            c.metrics.set(PENDING, len(pending) - done)
            return done

    def _window(self, pending: list[Unpublished], start: int) -> list[Unpublished]:
        """The next versions to have in flight together: at most ``max_in_flight``, and at
        most one version per record (version n+1 is sent only once n is acknowledged)."""
        window: list[Unpublished] = []
        ids: set[str] = set()
        for item in pending[start:start + self.max_in_flight]:
            if item.record_id in ids:
                break
            ids.add(item.record_id)
            window.append(item)
        return window

    async def _send_window(self, window: list[Unpublished]) -> int:
        """Publish ``window`` pipelined (publish_async, in order on one connection) and
        mark the acknowledged prefix published in one transaction. Returns its length.

        JetStream stores the messages of one connection in the order sent, so an ack for
        message k+1 means k was handled too; versions after the first failure stay in the
        outbox and are sent again with the same Nats-Msg-Id (deduplicated if stored)."""
        c = self.connector
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        # With a stall timeout nats-py wraps each publish in asyncio.wait_for, which yields
        # to the event loop every time, so its flusher writes every message with a syscall
        # of its own. When the whole window fits under the client's pending limit the wait
        # cannot block, and the window goes out in a few writes.
        fits = c.js.publish_async_pending() + len(window) <= PUBLISH_ASYNC_MAX_PENDING
        stall = None if fits else self.publish_timeout
        now = datetime.now(UTC)
        keys: dict[str, ContentKey] = {}  # per dataset, for this window
        for item in window:
            subject = subjects.data_subject(c.did, item.dataset_id, item.event)
            # stream= makes the server refuse a subject bound to any other stream.
            stream = subjects.dataset_stream(c.did, item.dataset_id)
            message_id = subjects.message_id(item.record_id, item.version)
            # Sealed for the dataset's consumers (trust.sealing): NATS carries ciphertext,
            # bound to this subject and message id. A resend seals again, under the same id.
            key = keys.get(item.dataset_id) or c.content_keys.current(item.dataset_id, now)
            keys[item.dataset_id] = key
            headers = {"Nats-Msg-Id": message_id, SEAL_HEADER: seal_header(key.epoch)}
            body = seal(key, item.body, context=bound_to(subject, message_id))
            try:
                futures.append(await c.js.publish_async(
                    subject, body, wait_stall=stall, stream=stream,
                    headers=headers))
            except (TimeoutError, nats.errors.Error) as exc:
                failure = exc
                break
        if futures:
            # publish_async futures have no timeout of their own.
            await asyncio.wait(futures, timeout=self.publish_timeout)
        acked: list[tuple[Unpublished, Any]] = []
        for item, future in zip(window, futures, strict=False):
            if not future.done() or future.cancelled():
                failure = TimeoutError()
                break
            if future.exception() is not None:
                failure = future.exception()
                break
            acked.append((item, future.result()))
        for future in futures[len(acked):]:
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: a later failure is reported once, below
            else:
                future.cancel()  # frees its nats-py slot; a late ack changes nothing
        if acked:
            try:
                with c.store.transaction() as db:
                    # The sequence is what erasure deletes by; a duplicate's ack carries
                    # the sequence of the stored copy.
                    self.rows.mark_published(db, [(ack.seq, item.rowid)
                                                  for item, ack in acked])
            except StoreError as exc:
                # The versions are committed and in the stream: failing the app's request now
                # (disk full after the commit) would make it send them again as new versions.
                # Unmarked, they stay in the outbox and go out again, deduplicated by their
                # Nats-Msg-Id, once the store takes writes again.
                log.warning("records published but not marked yet; kept in the outbox",
                            extra={"code": exc.code, "reason": exc.message})
                return 0
            for item, ack in acked:
                if not ack.duplicate:
                    c.metrics.inc(PUBLISHED, dataset=item.dataset_id)
        if failure is not None:
            await self._publish_failed(window[len(acked)], failure)
        return len(acked)

    async def _publish_failed(self, item: Unpublished, exc: BaseException) -> None:
        c = self.connector
        if isinstance(exc, NoStreamResponseError):
            # The stream is gone (NATS store lost, deleted by hand): make it again; the
            # version goes out on the next flush.
            stream = subjects.dataset_stream(c.did, item.dataset_id)
            log.warning("dataset stream missing, recreating it", extra={"stream": stream})
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await ensure_stream(c.js, stream_config(c.did, item.dataset_id,
                                                        c.config.nats.stream_replicas))
        elif isinstance(exc, TimeoutError | nats.errors.Error):
            log.warning("record event not published yet, kept in the outbox",
                        extra={"record": item.record_id, "version": item.version,
                               "error": type(exc).__name__})
        else:
            raise exc

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                if self._pending():
                    await self.flush_outbox()
                await self.erase()  # pending erasures (NATS was away, or a crash)
            except Exception:  # the loop must outlive a store or NATS hiccup
                log.exception("outbox retry failed")

    # --- reading -------------------------------------------------------------------------

    def get(self, record_id: str) -> dict[str, Any] | None:
        """The latest version (a tombstone once deleted), or None."""
        return self.rows.latest(record_id)

    def view(self, record_id: str) -> View | None:
        """The latest version with its dataset, flags and time, as the app API shows it."""
        return self.rows.view(record_id)

    def list(self, dataset_id: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.rows.in_dataset(dataset_id, include_deleted=include_deleted)

    def known(self, record_ids: Iterable[str]) -> set[str]:
        """Which of ``record_ids`` are records of this connector's own (deleted ones too)."""
        return self.rows.known(record_ids)

    def versions(self, record_id: str) -> list[dict[str, Any]]:
        """Every version of a record, oldest first (what its stream history holds)."""
        return list(self.rows.versions(record_id).values())
