"""Contributions (flow 6, once-only): a participant revises fields of a record another holds.

Contributor C, holder H (the record's provider), agreement A (H assigner, C assignee):

1. C signs a change (eddsa-jcs-2022 with its own key) naming holder, agreement, record, the
   base version it read, the new field values (``null`` removes a field), its purpose and a
   timestamp, and sends it in a ``tsunagu:ContributionMessage`` (signed envelope, DSP bus).
2. H checks, writing nothing: shape -> signature by the envelope's sender -> addressed to H
   -> A is H's, names C as assignee and is active -> the record belongs to A's dataset ->
   no reserved field -> A permits ``tsunagu:contribute`` of each field for the purpose now ->
   ``baseVersion`` is the current version.
3. H applies the change to a copy, sets ``wasAttributedTo`` = C and ``wasDerivedFrom`` = the
   version it revises (``<record id>#v<n>``), and publishes it with RecordService.publish
   (schema, JSON-LD, proof by H, outbox): every subscriber gets it through its transfer. The
   signed change and an audit line commit in the same transaction as the version.

Creating a record (``baseVersion`` 0): a contributor may add a new record to the
agreement's dataset, when the holder keeps what others record about its people (a clinic's
checkup in the municipality's dataset: the municipality holds it, the clinic signs what it
adds). The change gives the record's ``@context`` and ``type`` besides its fields; the record
id must not exist at the holder (else ``contribution.conflict``); every other field is
authorized as above, the domain's change rules run with an empty ``before``, and the first
version carries ``wasAttributedTo`` (and no ``wasDerivedFrom``).

Field scope in ODRL: a permission whose action is ``odrl:modify`` (or ``tsunagu:contribute``,
included in modify) with a top-level constraint on the left operand ``tsunagu:field``, e.g.
``{"leftOperand": "tsunagu:field", "operator": "isAnyOf", "rightOperand": ["stayLocation"]}``.
Each changed field is evaluated as its own request (``tsunagu:field`` = that name), so a
change is allowed only if every field is. Only such scoped permissions count: under ODRL's
``includedIn`` a plain ``use`` permission covers ``modify``, and a read agreement must never
let its holder write into the provider's records.

Conflict rule (optimistic concurrency): a change applies only to the current version; H
answers any other base with ``contribution.conflict``, the current version and the fields
changed since the base. ``contribute_with_retry`` re-sends the same values on the new version
only if none of them was changed meanwhile (bounded attempts); otherwise the conflict goes
to the caller. So concurrent changes to different fields both land, and a concurrent change
to the same field is never overwritten without someone having seen it.

Every refusal is a ``ContributionError`` with its own code, sent back as a
``tsunagu:ContributionRefused`` reply (so the conflict can carry its versions) and audited on
both sides; nothing else is written. Codes (``contribution.``): ``invalid`` (malformed),
``bad_signature``, ``wrong_party``, ``duplicate_id``, ``unknown_agreement``, ``not_assignee``,
``agreement_inactive``, ``unknown_record``, ``field_not_allowed`` (details: field),
``not_granted`` (no field-scoped modify permission), ``denied`` (details: rule; purpose, role,
time, prohibition), ``conflict`` (details: currentVersion, changedFields), ``rule_violated``
(details: rule, the domain rule's own code), ``invalid_record`` (details: cause, the schema
or JSON-LD code). A change id already applied is answered with its first result, so resending
after a lost reply never makes a second version.

Domain rules: a policy says who may change which fields; whether a change makes sense for the
domain (a check-in to a closed shelter, a supply request jumping from requested to delivered)
is the domain's to say. Plug-ins declare ``change_rules`` (``connector.plugins.contract``) by
record type IRI; the holder expands the record's types with its own contexts, runs the matching
rules after the policy and version checks and before writing, with the versions before and
after (holder-set fields left out) and the ``Contributor``. The connector knows no domain: it
only looks the rules up by type.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.data.records import (
    SERVER_FIELDS,
    TOMBSTONE_FLAG,
    RecordService,
    RecordVersionConflict,
)
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.store.database import dumps, loads
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import ProofError, TsunaguError
from trust.proofs import format_datetime, sign_document, verify_document
from usage_policies.api import evaluate
from usage_policies.decision import Decision
from usage_policies.model import Constraint, Permission, Policy
from usage_policies.operands import attribute_resolver, find_left_operand, register_left_operand
from usage_policies.request import EvaluationRequest
from usage_policies.state import DutyStatus, State
from usage_policies.vocab import ODRL, TSUNAGU

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

MESSAGE_TYPE = "tsunagu:ContributionMessage"
ACCEPTED_TYPE = "tsunagu:ContributionAccepted"
REFUSED_TYPE = "tsunagu:ContributionRefused"
CHANGE_TYPE = "tsunagu:Contribution"
CONTRIBUTE = TSUNAGU + "contribute"
GRANTS = (ODRL + "modify", CONTRIBUTE)  # permissions that may grant a contribution
FIELD = TSUNAGU + "field"
# Set by the holder, never by a contributor: identity, versioning, proof and provenance.
RESERVED = frozenset({"@context", "id", "type", *SERVER_FIELDS, TOMBSTONE_FLAG,
                      "wasAttributedTo", "wasDerivedFrom"})
MAX_FIELDS = 100
# What a created record (baseVersion 0) names about itself besides its fields.
IDENTITY = frozenset({"@context", "id", "type"})
OUTCOMES = "tsunagu_contributions_total"

if find_left_operand(FIELD) is None:
    register_left_operand(FIELD, attribute_resolver(FIELD), None,
                          label_en="the record field changed", label_ja="変更する項目")

class ContributionError(TsunaguError):
    code = ConnectorCode.CONTRIBUTION_INVALID


class ContributionConflict(ContributionError):
    """The base version is not the current one; ``current_version`` and ``changed_fields``
    (None when unknown) say what to re-read."""

    code = ConnectorCode.CONTRIBUTION_CONFLICT

    @property
    def current_version(self) -> int:
        return int(self.details["currentVersion"])

    @property
    def changed_fields(self) -> list[str] | None:
        return self.details.get("changedFields")


Resolver = Callable[[ContributionConflict, Mapping[str, Any]], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Contributor:
    """Who asks for a change, as a domain rule sees it (``plugin_contract.ChangeRule``)."""

    did: str
    roles: tuple[str, ...]
    legal_id: str
    agreement_id: str
    dataset_id: str
    record_id: str
    holder: Connector  # the holder's own connector: its facts, its audit
    service: Any = None  # the service of the plug-in whose rule runs (None if it has none)


def keep_if_disjoint(conflict: ContributionConflict, changes: Mapping[str, Any]
                     ) -> Mapping[str, Any] | None:
    """The default conflict rule: re-send unchanged values only if nobody touched them."""
    changed = conflict.changed_fields
    if changed is None or set(changed) & set(changes):
        return None
    return changes


def version_iri(record_id: str, version: int) -> str:
    """The IRI of one version of a record, for ``wasDerivedFrom``."""
    # An id that already has a fragment gets the version appended to it (one '#' per IRI).
    return f"{record_id}{'.' if '#' in record_id else '#'}v{version}"


def _refuse(message: str, code: str, **details: Any) -> ContributionError:
    cls = ContributionConflict if code == ContributionConflict.code else ContributionError
    return cls(message, code=code, **details)


def _check_shape(change: Any) -> dict[str, Any]:
    def bad(what: str) -> ContributionError:
        return _refuse(f"the change is malformed: {what}", ConnectorCode.CONTRIBUTION_INVALID)

    if not isinstance(change, dict) or change.get("type") != CHANGE_TYPE:
        raise bad(f"expected a signed {CHANGE_TYPE} object in 'change'")
    for key in ("id", "holder", "contributor", "agreement", "record", "purpose", "created"):
        if not isinstance(change.get(key), str) or not change[key] or len(change[key]) > 2000:
            raise bad(f"'{key}' must be a non-empty string")
    base = change.get("baseVersion")
    if not isinstance(base, int) or isinstance(base, bool) or base < 0:
        raise bad("'baseVersion' must be 0 (a new record) or a positive integer")
    changes = change.get("changes")
    if not isinstance(changes, dict) or not changes or len(changes) > MAX_FIELDS:
        raise bad(f"'changes' must name 1..{MAX_FIELDS} fields")
    return change


def _creation(changes: dict[str, Any], record_id: str) -> dict[str, Any]:
    """The body of a record a contributor creates (``baseVersion`` 0): its ``@context`` and
    ``type`` name what it is (the dataset's schema then checks them), the record id is the
    change's, and every other field must be granted like any change."""
    if not changes.get("@context") or not changes.get("type"):
        raise _refuse("a new record's change gives its '@context' and 'type'",
                      ConnectorCode.CONTRIBUTION_INVALID)
    if "id" in changes and changes["id"] != record_id:
        raise _refuse("a new record's 'id' is the change's 'record'",
                      ConnectorCode.CONTRIBUTION_INVALID)
    if len(set(changes) - IDENTITY) == 0:
        raise _refuse("a new record needs at least one field besides its identity",
                      ConnectorCode.CONTRIBUTION_INVALID)
    return {**changes, "id": record_id}


def _scoped(rule: Permission) -> bool:
    return any(isinstance(c, Constraint) and c.left_operand == FIELD for c in rule.constraint)


def _unscoped(rule: Permission) -> Permission:
    kept = tuple(c for c in rule.constraint
                 if not (isinstance(c, Constraint) and c.left_operand == FIELD))
    return rule.model_copy(update={"constraint": kept})


def _decide(policy: Policy, claims: agreements.Claims, *, target: str, purpose: str,
            field: str, now: datetime, agreed_at: datetime, facts: Mapping[str, Any]
            ) -> Decision:
    """agreements.decide with one more request attribute, the field being changed."""
    request = EvaluationRequest.of(
        action=CONTRIBUTE, target=target, assignee=claims.did, purpose=purpose,
        **{"tsunagu:role": list(claims.roles), "tsunagu:legalId": claims.legal_id,
           "tsunagu:field": field})
    duties = {ODRL + a: DutyStatus(True, now) for a in agreements.CONNECTOR_DUTIES}
    return evaluate(policy, request, State(current_time=now, agreement_time=agreed_at,
                                           duties=duties, operands=facts))


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level fields whose values differ, leaving out what every version changes."""
    keys = (set(old) | set(new)) - RESERVED
    return sorted(k for k in keys if old.get(k) != new.get(k))


@dataclass(frozen=True)
class _Grants:
    """What ``_authorize`` needs of one signed agreement, parsed once: the same policy
    objects each time, so usage_policies reuses their compiled plans (a parse and two
    compilations per change cost ~3 ms)."""

    document: Mapping[str, Any]  # the signed agreement it was made from
    scoped: Policy | None  # the field-scoped modify permissions (None: there are none)
    unscoped: Policy | None  # the same without the field constraint
    agreed_at: datetime


_GRANTS_CACHE_SIZE = 256


class ContributionService:
    """``connector.contributions``: ``contribute`` (contributor) and the holder's handler."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._grants: OrderedDict[str, _Grants] = OrderedDict()

    async def startup(self) -> None:
        connector = self.connector
        connector.metrics.describe(OUTCOMES, "contributions sent and received, by outcome")
        connector.route(MESSAGE_TYPE, self._on_change)
        # A change carries record content: sealed to the holder, never plaintext on NATS.
        connector.bus.seal_payloads_of(MESSAGE_TYPE)

    async def shutdown(self) -> None:
        pass

    def _records(self) -> RecordService:
        return self.connector.records

    # --- contributor -------------------------------------------------------------------------

    def sign_change(self, holder_did: str, agreement_id: str, record_id: str,
                    base_version: int, changes: Mapping[str, Any], purpose: str
                    ) -> dict[str, Any]:
        return sign_document({
            "type": CHANGE_TYPE, "id": f"urn:uuid:{uuid.uuid4()}", "holder": holder_did,
            "contributor": self.connector.did, "agreement": agreement_id, "record": record_id,
            "baseVersion": base_version, "changes": dict(changes), "purpose": purpose,
            "created": format_datetime(datetime.now(UTC))}, self.connector.identity.key)

    async def contribute(self, holder_did: str, agreement_id: str, record_id: str,
                         base_version: int, changes: Mapping[str, Any], purpose: str, *,
                         timeout: float = 5.0) -> dict[str, Any]:
        """Send one signed change; returns ``{changeId, record, version, previousVersion}``.
        Raises ContributionError (ContributionConflict when the base is stale), or
        connector.messaging.RemoteError when the holder cannot be reached."""
        change = self.sign_change(holder_did, agreement_id, record_id, base_version, changes,
                                  purpose)
        return await self.send(holder_did, change, timeout=timeout)

    async def send(self, holder_did: str, change: dict[str, Any], *, timeout: float = 5.0
                   ) -> dict[str, Any]:
        """Send an already signed change (``contribute`` signs one for you)."""
        c = self.connector
        fields = sorted(change.get("changes") or {})
        audit = {"change": change.get("id"), "holder": holder_did,
                 "agreement": change.get("agreement"), "record": change.get("record"),
                 "baseVersion": change.get("baseVersion"), "fields": fields}
        try:
            env, _ = await c.dsp.request(holder_did, MESSAGE_TYPE, {"change": change},
                                         timeout=timeout)
            if env.message_type == REFUSED_TYPE:
                details = {k: v for k, v in env.payload.items() if k not in ("code", "message")}
                raise _refuse(str(env.payload.get("message", "refused")),
                              str(env.payload.get("code", "contribution.refused")), **details)
            if env.message_type != ACCEPTED_TYPE:
                raise _refuse(f"unexpected reply {env.message_type!r}",
                              ConnectorCode.CONTRIBUTION_INVALID)
        except TsunaguError as exc:  # refused, unreachable, or a reply that does not verify
            self._audit("contribution_sent", decision="refused", code=exc.code, **audit)
            raise
        self._audit("contribution_sent", decision="accepted",
                    version=env.payload.get("version"), **audit)
        return env.payload

    async def contribute_with_retry(
        self, holder_did: str, agreement_id: str, record_id: str, base_version: int,
        changes: Mapping[str, Any], purpose: str, *, attempts: int = 3,
        resolve: Resolver = keep_if_disjoint, backoff: float = 0.05,
    ) -> dict[str, Any]:
        """``contribute``, and on a conflict ask ``resolve`` for the changes to send on the
        holder's current version (None: give up and raise the conflict). At most
        ``attempts`` sends, so two contributors cannot chase each other for ever."""
        for attempt in range(1, attempts + 1):
            try:
                return await self.contribute(holder_did, agreement_id, record_id,
                                             base_version, changes, purpose)
            except ContributionConflict as conflict:
                rebased = resolve(conflict, changes)
                if rebased is None or attempt == attempts:
                    raise
                changes, base_version = dict(rebased), conflict.current_version
                await asyncio.sleep(backoff * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    # --- holder ------------------------------------------------------------------------------

    async def _on_change(self, env: Envelope, credential: VerifiedCredential
                         ) -> tuple[str, dict[str, Any]]:
        change = env.payload.get("change")
        try:
            return ACCEPTED_TYPE, await self._accept(change, credential)
        except ContributionError as exc:
            c = self.connector
            c.metrics.inc(OUTCOMES, outcome=exc.code)
            log.info("contribution refused", extra={"code": exc.code, "by": credential.did})
            ident = change if isinstance(change, dict) else {}
            self._audit("contribution", decision="deny", code=exc.code, by=credential.did,
                        change=ident.get("id"), agreement=ident.get("agreement"),
                        record=ident.get("record"), baseVersion=ident.get("baseVersion"),
                        fields=sorted(ident.get("changes") or {})
                        if isinstance(ident.get("changes"), dict) else None)
            return REFUSED_TYPE, exc.to_dict()

    async def _accept(self, payload: Any, credential: VerifiedCredential) -> dict[str, Any]:
        c, now = self.connector, datetime.now(UTC)
        change = _check_shape(payload)
        signer = credential.did
        try:  # the change itself must be the sender's: it is kept as evidence, apart from
            verify_document(change, expected_controller=signer,  # the envelope
                            key_check=c.checker.keys.check_proof)
        except ProofError as exc:
            raise _refuse(f"the change is not signed by the sender: {exc.message}",
                          ConnectorCode.CONTRIBUTION_BAD_SIGNATURE, cause=exc.code) from None
        if change["contributor"] != signer or change["holder"] != c.did:
            raise _refuse("the change names another contributor or holder",
                          ConnectorCode.CONTRIBUTION_WRONG_PARTY)
        done = self._done(change["id"])
        if done is not None:  # a resend after a lost reply: same answer, no second version
            if done[0] != change:
                raise _refuse(f"change id {change['id']} was already used",
                              ConnectorCode.CONTRIBUTION_DUPLICATE_ID)
            return done[1]

        agreement = agreements.load(c.store, change["agreement"])
        if agreement is None or agreement["role"] != "provider":
            raise _refuse(f"no agreement {change['agreement']} given by this connector",
                          ConnectorCode.CONTRIBUTION_UNKNOWN_AGREEMENT)
        if agreement["consumer"] != signer:
            raise _refuse("the agreement names another assignee",
                          ConnectorCode.CONTRIBUTION_NOT_ASSIGNEE)
        if agreement["status"] != "active":
            raise _refuse(f"the agreement is {agreement['status']}",
                          ConnectorCode.CONTRIBUTION_AGREEMENT_INACTIVE, status=agreement["status"])

        record_id, dataset_id = change["record"], agreement["datasetId"]
        changes: dict[str, Any] = change["changes"]
        current = c.records.rows.current([record_id]).get(record_id)
        if change["baseVersion"] == 0:  # a new record: it must not exist anywhere here
            if current is not None:
                raise _refuse(f"record {record_id} exists already",
                              ConnectorCode.CONTRIBUTION_CONFLICT,
                              currentVersion=current.version, changedFields=None)
            version, body = 0, {}
            changes = _creation(changes, record_id)
        else:
            if current is None or current.deleted or current.dataset_id != dataset_id:
                raise _refuse(f"no record {record_id} in the agreement's dataset",
                              ConnectorCode.CONTRIBUTION_UNKNOWN_RECORD)
            version, body = current.version, current.body
        self._authorize(agreement, credential, sorted(set(changes) - IDENTITY if version == 0
                                                      else changes),
                        change["purpose"], now)
        if change["baseVersion"] != version:
            raise self._conflict(record_id, change["baseVersion"], version)

        revised = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
        for name, value in changes.items():
            if value is None:
                revised.pop(name, None)
            else:
                revised[name] = value
        self._check_rules(body, revised, Contributor(
            signer, tuple(str(r) for r in credential.roles), credential.legal_id.value,
            agreement["id"], dataset_id, record_id, c))
        revised["wasAttributedTo"] = signer
        if version:  # a created record derives from nothing the holder had
            revised["wasDerivedFrom"] = version_iri(record_id, version)
        result = {"changeId": change["id"], "record": record_id, "version": version + 1,
                  "previousVersion": version}

        def keep(db: Any, signed: dict[str, Any]) -> None:
            db.execute("INSERT INTO contributions (id, record_id, version, contributor, "
                       "agreement_id, body, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (change["id"], record_id, signed["version"], signer,
                        agreement["id"], dumps(change), now.isoformat()))
            c.audit.append("contribution", now, decision="permit", by=signer,
                           change=change["id"], agreement=agreement["id"], record=record_id,
                           baseVersion=version, version=signed["version"],
                           fields=sorted(changes))

        try:
            await self._records().publish(dataset_id, revised, expected_version=version,
                                          on_commit=keep)
        except RecordVersionConflict as exc:  # someone else published meanwhile
            raise self._conflict(record_id, change["baseVersion"],
                                 int(exc.details["current"])) from None
        except TsunaguError as exc:
            raise _refuse(f"the revised record is not valid: {exc.message}",
                          ConnectorCode.CONTRIBUTION_INVALID_RECORD, cause=exc.code) from None
        c.metrics.inc(OUTCOMES, outcome="accepted")
        return result

    def _authorize(self, agreement: dict[str, Any], credential: VerifiedCredential,
                   fields: list[str], purpose: str, now: datetime) -> None:
        """Each field must be permitted by a field-scoped modify permission (see module doc).
        A denial that holds without the field scope too is not about the field: purpose,
        role, time or a prohibition, reported as ``contribution.denied``."""
        for name in fields:
            if name in RESERVED or name.startswith("@"):  # JSON-LD keywords change meaning
                raise _refuse(f"field {name!r} is set by the holder, not by contributors",
                              ConnectorCode.CONTRIBUTION_FIELD_NOT_ALLOWED, field=name)
        parsed = self._grants_of(agreement)
        scoped, unscoped, agreed_at = parsed.scoped, parsed.unscoped, parsed.agreed_at
        if scoped is None or unscoped is None:
            raise _refuse("the agreement grants no modify permission scoped to fields",
                          ConnectorCode.CONTRIBUTION_NOT_GRANTED)
        claims, target = agreements.Claims.of(credential), agreement["datasetId"]
        facts = self.connector.facts.operands()  # world facts, as in every other decision
        for name in fields:
            if _decide(scoped, claims, target=target, purpose=purpose, field=name, now=now,
                       agreed_at=agreed_at, facts=facts).permitted:
                continue
            other = _decide(unscoped, claims, target=target, purpose=purpose, field=name,
                            now=now, agreed_at=agreed_at, facts=facts)
            if other.permitted:
                raise _refuse(f"field {name!r} is outside what the agreement lets you modify",
                              ConnectorCode.CONTRIBUTION_FIELD_NOT_ALLOWED, field=name)
            where, why = agreements.explain_denial(other)
            raise _refuse(f"the agreement does not permit this change: {where}: {why}",
                          ConnectorCode.CONTRIBUTION_DENIED, rule=where)

    def _grants_of(self, agreement: dict[str, Any]) -> _Grants:
        """The agreement's grants, cached by id; a stored document that differs from the
        cached one (it never should: agreements are signed once) is parsed again."""
        document = agreement["document"]["signedAgreement"]
        hit = self._grants.get(agreement["id"])
        if hit is not None and hit.document == document:
            self._grants.move_to_end(agreement["id"])
            return hit
        policy = agreements.parse(document)
        grants = tuple(p for p in policy.permission if p.action.id in GRANTS and _scoped(p))
        made = _Grants(document,
                       policy.model_copy(update={"permission": grants}) if grants else None,
                       policy.model_copy(update={"permission": tuple(map(_unscoped, grants))})
                       if grants else None,
                       agreements.agreement_time(document))
        self._grants[agreement["id"]] = made
        if len(self._grants) > _GRANTS_CACHE_SIZE:
            self._grants.popitem(last=False)
        return made

    @staticmethod
    def _check_rules(before: Mapping[str, Any], after: Mapping[str, Any],
                     contributor: Contributor) -> None:
        """The active plug-ins' rules for the record's types; a refusal keeps its code."""
        c = contributor.holder
        # through the connector's own contexts; a created record has only its new version
        types = c.content_rules.type_iris(before or after)
        rules = [(rule, plugin.name) for plugin in c.plugins for iri in types
                 if (rule := plugin.change_rules.get(iri)) is not None]
        if not rules:
            return
        old = {k: v for k, v in before.items() if k not in RESERVED}
        new = {k: v for k, v in after.items() if k not in RESERVED}
        for rule, owner in rules:
            try:
                rule(old, new, replace(contributor, service=c.plugin_services.get(owner)))
            except ContributionError:
                raise
            except TsunaguError as exc:
                raise _refuse(f"the change breaks a rule of the record's domain: "
                              f"{exc.message}", ConnectorCode.CONTRIBUTION_RULE_VIOLATED,
                              rule=exc.code) from None

    def _conflict(self, record_id: str, base: int, current: int) -> ContributionConflict:
        bodies = self.connector.records.rows.versions(record_id, only=(base, current))
        changed = _diff(bodies[base], bodies[current]) \
            if base in bodies and current in bodies and base < current else None
        return ContributionConflict(f"record {record_id} is at version {current}, not "
                                    f"{base}: re-read it and send the change again",
                                    currentVersion=current, changedFields=changed)

    def _done(self, change_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(the stored signed change, the answer it got) for a change id already applied."""
        rows = self.connector.store.query(
            "SELECT body, record_id, version FROM contributions WHERE id = ?", (change_id,))
        if not rows:
            return None
        body, record_id, version = rows[0]
        return loads(body), {"changeId": change_id, "record": record_id, "version": version,
                             "previousVersion": version - 1}

    def _audit(self, event: str, **fields: Any) -> None:
        with self.connector.store.transaction():
            self.connector.audit.append(event, **fields)
