"""The datasets a provider offers: DCAT entries with ODRL offers, their streams, the DSP catalog.

``DatasetService.offer_dataset`` stores a DCAT Dataset (DSP 2025-1 compact shape, offers kept
exactly as given) and makes sure the dataset's JetStream stream exists; the same service
answers ``CatalogRequestMessage`` and ``DatasetRequestMessage`` over the DSP bus. Records of a
dataset are published by ``connector.data.records``, which reads the dataset rows written here.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jsonschema
import orjson
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError

from connector.bus import subjects
from connector.errors import ConnectorCode
from connector.protocol.agreements import parse as parse_offer
from connector.protocol.catalog_client import CONTINUATION, NEXT_PAGE
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import DspValidationError, validate_message
from connector.runtime.identity import participant_id
from connector.store.database import dumps, loads
from trust import batch_proofs, jsonld
from trust.canonical import canonical_json
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import ErrorCode, JsonLdError, TsunaguError, ValidationError
from trust.proofs import sign_document

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from connector.runtime.connector import Connector
    from connector.store.database import Store

log = logging.getLogger(__name__)

# DSP names the transport by a distribution format; tests/dsp and transfers use the same token.
DISTRIBUTION_FORMAT = "nats-jetstream"

# Long enough to cover nats-py's buffered resend after a reconnect, publish retries and a
# connector restart that republishes its outbox (connector.records). The server keeps every
# Nats-Msg-Id of the window in memory, so it is not "forever": a version republished after
# a longer outage can appear twice in the stream, and consumers dedupe on (record id,
# version) anyway (the ``deliveries`` table is unique on it).
DUPLICATE_WINDOW_S = 3600.0


# Catalog change events (connector.bus.subjects.catalog_subject), read by catalog nodes.
CHANGE_TYPE = "tsunagu:CatalogChange"
CHANGED = "changed"
WITHDRAWN_EVENT = "withdrawn"
WITHDRAWN = "tsunagu:withdrawn"  # set in a stored entry that is no longer listed
# Datasets per catalog page: a page of offered datasets stays well under NATS's 1 MB payload.
CATALOG_PAGE_SIZE = 100


def catalog_stream_config(provider_did: str, replicas: int = 1) -> StreamConfig:
    """The provider's catalog change events: kept (up to a bound) so a catalog node that was
    down catches up from where its durable consumer stopped; ``replicas`` as its datasets'
    streams (``stream_config``)."""
    return StreamConfig(
        name=subjects.catalog_stream(provider_did),
        description="tsunagu catalog change events",
        subjects=[subjects.catalog_subject(provider_did)],
        retention=RetentionPolicy.LIMITS, discard=DiscardPolicy.OLD,
        max_msgs=100_000, max_age=0, storage=StorageType.FILE, num_replicas=replicas,
        allow_rollup_hdrs=False)


class DatasetError(TsunaguError):
    code = ConnectorCode.DATASET_INVALID


@dataclass(frozen=True)
class DatasetRow:
    id: str
    body: dict[str, Any]  # the DCAT Dataset entry (no @context), offers as given
    schema: dict[str, Any] | None
    stream: str
    subject: str  # data_subject(provider, dataset) wildcard over its events

    @property
    def batch_proofs(self) -> bool:
        """Its records are signed a batch at a time (RECORD_PROOFS)."""
        return self.body.get(RECORD_PROOF) == batch_proofs.CRYPTOSUITE


_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
MAX_IRI_CHARS = 2048


def is_iri(value: Any) -> bool:
    """An absolute IRI: a scheme, a colon and no characters IRIs forbid."""
    return isinstance(value, str) and len(value) <= MAX_IRI_CHARS \
        and _IRI.fullmatch(value) is not None


def schema_id_for(schema: dict[str, Any]) -> str:
    """Content address of a JSON schema: editing a schema gives it a new id."""
    return f"urn:tsunagu:schema:sha256:{hashlib.sha256(canonical_json(schema)).hexdigest()}"


def load_dataset(store: Store, dataset_id: str) -> DatasetRow | None:
    rows = store.query("SELECT d.id, d.body, d.stream, d.subject, s.body FROM datasets d "
                       "LEFT JOIN json_schemas s ON s.id = d.schema_id WHERE d.id = ?",
                       (dataset_id,))
    if not rows:
        return None
    row = rows[0]
    return DatasetRow(id=row[0], body=loads(row[1]), stream=row[2], subject=row[3],
                      schema=loads(row[4]) if row[4] is not None else None)


def stream_config(provider_did: str, dataset_id: str, replicas: int = 1) -> StreamConfig:
    """The stream of one dataset: an append-only, deduplicated log of its record events.

    ``replicas``: copies kept by a JetStream cluster ([nats] stream_replicas, announced by
    the authority: 1 on one server, 3 on a 3-node cluster so one lost server loses
    nothing). ``ensure_stream`` scales an existing stream to it."""
    return StreamConfig(
        name=subjects.dataset_stream(provider_did, dataset_id),
        description=f"tsunagu record events of {dataset_id}"[:256],
        subjects=[subjects.data_subject(provider_did, dataset_id, e) for e in subjects.EVENTS],
        # limits + no max_age: the full history stays, so a consumer whose agreement starts
        # today can replay every version; what a consumer may keep is enforced at its side.
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=0,
        storage=StorageType.FILE,  # survives a server crash (see ../shared/notes/nats.md)
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        # No per-message TTL: a "Nats-TTL: never" header would be exempt from max_age, and
        # nothing but the connector publishes here.
        allow_msg_ttl=False,
        # Single messages are deleted only to erase a deleted record's earlier versions
        # (connector.erasure): the tombstone stays, so no consumer keeps a record its provider
        # deleted. Allowing it is safe because only the provider can call its stream's
        # JetStream API: in operator mode the stream lives in the provider's account and
        # other accounts import one durable consumer's NEXT/INFO/ACK subjects, never
        # STREAM.MSG.DELETE (authority/accounts.py). Streams made with deny_delete=True
        # (before erasure existed) keep it: the server refuses to clear the flag (error
        # 10052), see ensure_stream and docs/security.md.
        deny_delete=False,
        # Purge stays allowed: withdrawing a dataset or a legal erasure request must be able
        # to remove its whole history, and a purge (unlike one delete) is visible as such.
        deny_purge=False,
        allow_rollup_hdrs=False,  # a rollup header is a purge any publisher could send
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or bring an existing one to ``config`` (idempotent)."""
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != 10058:  # "stream name already in use with a different configuration"
            raise
        try:
            await js.update_stream(config)
        except APIError as exc:
            if exc.err_code != 10052 or config.deny_delete:  # 10052: "can not cancel deny
                raise                                       # message deletes"
            # A stream made before erasure existed: it keeps refusing deletes, and erasure
            # records that per version (connector.erasure, msg_erased = 2).
            log.warning("dataset stream refuses message deletes; erasure of deleted records "
                        "needs it recreated", extra={"stream": config.name})
            await js.update_stream(dataclasses.replace(config, deny_delete=True))


def _text_list(name: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise DatasetError(f"{name} must be a list of non-empty strings")
    return list(values)


# How the provider signs a dataset's records, stated in its catalog entry so a consumer
# knows before it negotiates: "per-record" (eddsa-jcs-2022, the default) or "batch"
# (trust.batch_proofs: one signature per batch, each record still verifiable on its own).
RECORD_PROOFS = ("per-record", "batch")
RECORD_PROOF = "tsunagu:recordProof"  # the entry names the batch cryptosuite when "batch"


def build_entry(provider_did: str, dataset_id: str, *, title: str,
                offers: Sequence[dict[str, Any]], description: str | None = None,
                keywords: Sequence[str] = (), record_proofs: str = "per-record"
                ) -> dict[str, Any]:
    """The DCAT Dataset entry as listed in the catalog (DSP shape, no @context)."""
    if record_proofs not in RECORD_PROOFS:
        raise DatasetError(f"recordProofs (how its records are signed) must be one of "
                           f"{', '.join(RECORD_PROOFS)}, not "
                           f"{str(record_proofs)[:40]!r}", field="recordProofs")
    if not isinstance(title, str) or not title.strip():
        raise DatasetError("a dataset needs a non-empty title")
    if not offers or not all(isinstance(o, dict) for o in offers):
        raise DatasetError("a dataset needs at least one ODRL offer (a JSON object)")
    entry = m.dataset_entry(dataset_id, offers=offers, distributions=[
        m.distribution(DISTRIBUTION_FORMAT, service_id(provider_did))])
    # dct/dcat prefixes come from the DSP context; DSP defines no bare title/keyword terms.
    entry["dct:title"] = title
    if description:
        entry["dct:description"] = description
    if keywords:
        entry["dcat:keyword"] = _text_list("keywords", keywords)
    if record_proofs == "batch":
        entry[RECORD_PROOF] = batch_proofs.CRYPTOSUITE
    return entry


def service_id(provider_did: str) -> str:
    return f"{provider_did}#dsp"


def data_service(provider_did: str) -> dict[str, Any]:
    # The DSP endpoint of a connector is its request subject, as in callbackAddress.
    return m.data_service(service_id(provider_did), f"tsunagu.dsp.{participant_id(provider_did)}")


def dataset_message(provider_did: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The DatasetRequestMessage answer: the entry with its DataService inlined."""
    service = data_service(provider_did)
    distributions = [{**d, "accessService": service} for d in entry["distribution"]]
    return {"@context": [m.DSP_CONTEXT], **entry, "distribution": distributions}


def check_entry(provider_did: str, entry: dict[str, Any]) -> None:
    """The entry must make a valid DSP Dataset and lose no term under the DSP context."""
    message = dataset_message(provider_did, entry)
    try:
        validate_message(message)
        jsonld.check_no_dropped_terms(message)
    except DspValidationError as exc:
        raise DatasetError(f"dataset {entry['@id']} is not a valid DSP Dataset: {exc.message}",
                           errors=exc.details.get("errors", [])) from exc
    except JsonLdError as exc:
        raise DatasetError(f"dataset {entry['@id']}: {exc.message}", code=exc.code,
                           **exc.details) from exc


def check_offers(offers: Sequence[dict[str, Any]]) -> None:
    """Every offer must compile as the provider will evaluate it when a consumer asks for it
    (``connector.protocol.agreements.parse``): an unknown left operand, operator, action or
    datatype is refused now, with the policy error's code and path, rather than offered to
    everyone and denied at every negotiation (fail closed, and early)."""
    for offer in offers:
        try:
            parse_offer(offer)
        except TsunaguError as exc:
            raise DatasetError(f"offer {str(offer.get('@id'))[:200]}: {exc.message}",
                               code=exc.code, **exc.details) from exc


def check_schema(schema: dict[str, Any]) -> None:
    if not isinstance(schema, dict):
        raise DatasetError("a record schema must be a JSON object",
                           code=ConnectorCode.DATASET_SCHEMA_INVALID)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise DatasetError(f"record schema is not a valid JSON schema at {exc.json_path}: "
                           f"{exc.message}", code=ConnectorCode.DATASET_SCHEMA_INVALID) from exc


class DatasetService:
    """Offers datasets and serves the DSP catalog endpoints."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.page_size = CATALOG_PAGE_SIZE  # datasets per DSP catalog page

    async def startup(self) -> None:
        connector = self.connector
        # Streams can be lost with a NATS store or moved to a new cluster: recreate them all
        # before any record is (re)published to them.
        for (dataset_id,) in connector.store.query("SELECT id FROM datasets"):
            await ensure_stream(connector.js, stream_config(
                connector.did, dataset_id, connector.config.nats.stream_replicas))
        await ensure_stream(connector.js, catalog_stream_config(
            connector.did, connector.config.nats.stream_replicas))
        connector.route("CatalogRequestMessage", self._on_catalog_request)
        connector.route("DatasetRequestMessage", self._on_dataset_request)

    async def shutdown(self) -> None:
        pass

    async def offer_dataset(self, dataset_id: str, title: str, offers: list[dict[str, Any]],
                            schema: dict[str, Any] | None = None, *,
                            description: str | None = None,
                            keywords: Sequence[str] = (),
                            record_proofs: str = "per-record") -> dict[str, Any]:
        """Offer (or re-offer, replacing title, offers and schema) a dataset; returns its entry.
        ``record_proofs`` (RECORD_PROOFS): how its records are signed from now on.

        Everything is checked before anything is written; the stream is made first so a
        listed dataset always has somewhere to publish to.
        """
        c = self.connector
        if not is_iri(dataset_id):
            raise DatasetError("dataset id must be an absolute IRI (scheme:...), no spaces")
        entry = build_entry(c.did, dataset_id, title=title, offers=offers,
                            description=description, keywords=keywords,
                            record_proofs=record_proofs)
        check_entry(c.did, entry)
        check_offers(offers)
        if schema is not None:
            check_schema(schema)
        config = stream_config(c.did, dataset_id, c.config.nats.stream_replicas)
        await ensure_stream(c.js, config)
        schema_id = schema_id_for(schema) if schema is not None else None
        now = datetime.now(UTC).isoformat()
        with c.store.transaction() as db:
            if schema is not None:
                db.execute("INSERT OR IGNORE INTO json_schemas (id, body) VALUES (?, ?)",
                           (schema_id, dumps(schema)))
            db.execute(
                "INSERT INTO datasets (id, body, schema_id, stream, subject, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body, "
                "schema_id = excluded.schema_id", (dataset_id, dumps(entry), schema_id,
                                                   config.name, subjects.data_subject(
                                                       c.did, dataset_id), now))
            c.audit.append("dataset_offered", dataset=dataset_id, schema=schema_id)
        log.info("dataset offered", extra={"dataset": dataset_id})
        await self._announce(CHANGED, dataset_message(c.did, entry))
        return entry

    async def withdraw_dataset(self, dataset_id: str) -> bool:
        """Stop listing a dataset (its stream and agreements stay: ending those is the
        agreements' business); catalog nodes are told. False if it is not listed."""
        c = self.connector
        row = self.get(dataset_id)
        if row is None or row.body.get(WITHDRAWN):
            return False
        now = datetime.now(UTC).isoformat()
        with c.store.transaction() as db:
            db.execute("UPDATE datasets SET body = ? WHERE id = ?",
                       (dumps({**row.body, WITHDRAWN: now}), dataset_id))
            c.audit.append("dataset_withdrawn", dataset=dataset_id)
        await self._announce(WITHDRAWN_EVENT, {"@id": dataset_id})
        return True

    async def _announce(self, event: str, dataset: dict[str, Any]) -> None:
        """A signed catalog change event on the provider's catalog stream. A failure is
        logged, not raised: the dataset is offered either way and a crawl will see it."""
        c = self.connector
        document = sign_document({"type": CHANGE_TYPE, "event": event, "provider": c.did,
                                  "at": datetime.now(UTC).isoformat(), "dataset": dataset},
                                 c.identity.key)
        try:
            # No expected-stream header: in operator mode a catalog node's own stream
            # (another account, docs/catalog.md) captures the same message through its
            # import and would refuse one that names this account's stream.
            await c.js.publish(subjects.catalog_subject(c.did), canonical_json(document))
        except Exception as exc:
            log.warning("catalog change event not published",
                        extra={"dataset": dataset.get("@id"), "error": type(exc).__name__})

    def get(self, dataset_id: str) -> DatasetRow | None:
        return load_dataset(self.connector.store, dataset_id)

    def list(self) -> list[dict[str, Any]]:
        """The listed datasets (withdrawn ones left out), as the DSP catalog shows them."""
        bodies = [loads(r[0]) for r in self.connector.store.query(
            "SELECT body FROM datasets ORDER BY created, id")]
        return [b for b in bodies if WITHDRAWN not in b]

    def entries(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        """Datasets as the app API lists them: id, stream, subject, schema id, created and
        the DCAT entry (one dataset, or all in the order they were offered)."""
        where = " WHERE id = ?" if dataset_id is not None else ""
        rows = self.connector.store.query(
            "SELECT id, stream, subject, schema_id, created, body FROM datasets" + where
            + " ORDER BY created, id", (dataset_id,) if dataset_id is not None else ())
        return [{"id": i, "stream": st, "subject": su, "schema": sc, "created": c,
                 "dataset": loads(b)} for i, st, su, sc, c, b in rows]

    # --- DSP catalog endpoints -------------------------------------------------------------

    def catalog(self, continuation: str | None = None) -> dict[str, Any]:
        """One page of the DSP catalog (``page_size`` datasets, in the order offered), with
        the next page's reference if there is one (``catalog_client``: the NATS binding's
        equivalent of DSP's ``Link: <...?continuationToken=T>; rel="next"``). Raises
        ValidationError for a continuation token this connector did not give."""
        did = self.connector.did
        entries, last = self._page(_decode_token(continuation) if continuation else None)
        services = [data_service(did)]
        https = self.connector.dsp_http
        if https is not None:  # the DSP over HTTPS endpoint too (connector.dsp_http)
            services.append(m.data_service(f"{did}#dsp-https", https.base_url))
        catalog = m.catalog(f"{did}#catalog", participant_id=did, datasets=entries,
                            services=services)
        if last is not None:
            catalog[NEXT_PAGE] = _encode_token(last)
        return catalog

    def _page(self, after: tuple[str, str] | None
              ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """Up to ``page_size`` listed datasets after the key ``after`` (created, id), and
        the key of the last one if more follow (keyset paging: a dataset offered or
        withdrawn meanwhile shifts nothing)."""
        size, key = self.page_size, after
        out: list[dict[str, Any]] = []
        last: tuple[str, str] | None = None
        while True:
            rows = self.connector.store.query(
                "SELECT created, id, body FROM datasets WHERE ? IS NULL OR (created, id) > (?, ?)"
                " ORDER BY created, id LIMIT ?",
                (key and key[0], key and key[0], key and key[1], size + 1))
            for created, ident, body in rows:
                entry = loads(body)
                if WITHDRAWN in entry:
                    continue
                if len(out) == size:  # one more is listed: this page ends here
                    return out, last
                out.append(entry)
                last = (created, ident)
            if len(rows) <= size:
                return out, None
            key = (rows[-1][0], rows[-1][1])

    async def _on_catalog_request(self, env: Envelope, credential: VerifiedCredential
                                  ) -> tuple[str, dict[str, Any]]:
        refused = _check_request(env.payload, "CatalogRequestMessage")
        if refused:
            return refused
        if env.payload.get("filter"):
            # Returning everything for a filter we do not understand would mislead the asker.
            return _catalog_error(ConnectorCode.CATALOG_FILTER_UNSUPPORTED,
                                  "this connector does not support catalog filters")
        continuation = env.payload.get(CONTINUATION)
        if continuation is not None and not isinstance(continuation, str):
            return _catalog_error(ConnectorCode.DSP_INVALID_MESSAGE,
                                  f"{CONTINUATION} must be a string")
        try:
            return "Catalog", self.catalog(continuation)
        except ValidationError as exc:
            return _catalog_error(exc.code, exc.message)

    async def _on_dataset_request(self, env: Envelope, credential: VerifiedCredential
                                  ) -> tuple[str, dict[str, Any]]:
        refused = _check_request(env.payload, "DatasetRequestMessage")
        if refused:
            return refused
        row = self.get(env.payload["dataset"])
        if row is None or WITHDRAWN in row.body:
            return _catalog_error(ConnectorCode.DATASET_NOT_FOUND,
                                  "no dataset with this id is offered here")
        return "Dataset", dataset_message(self.connector.did, row.body)


def _encode_token(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(canonical_json(list(key))).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, str]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key):
            return key[0], key[1]
    except (ValueError, binascii.Error):
        pass
    raise ValidationError("the continuation token is not one this connector gave",
                          code=ConnectorCode.DSP_INVALID_MESSAGE, field=CONTINUATION)


def _catalog_error(code: ErrorCode, reason: str) -> tuple[str, dict[str, Any]]:
    return "CatalogError", m.catalog_error(code=code, reason=[reason])


def _check_request(payload: Any, expected: str) -> tuple[str, dict[str, Any]] | None:
    """A CatalogError answer if the request is not a valid ``expected`` message."""
    try:
        if validate_message(payload) != expected:
            raise ValidationError(f"expected a {expected}", code=ConnectorCode.DSP_INVALID_MESSAGE)
    except ValidationError as exc:
        return _catalog_error(exc.code, exc.message)
    return None
