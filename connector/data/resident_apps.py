"""Resident app participants: a person's app that is a participant of the data space.

A person may use an app run by a participant of its own (role ``resident_app``, a connector
with a credential from the authority) rather than the provider's app API. The provider must
then know that this participant acts for this person: the person registers the app for
themselves (``register``, through the app API with their own token or with staff assisting,
``POST /api/v1/residents/{person}/apps``), and from then on the app's signed
``tsunagu:ResidentRequest`` (over the bus, sealed both ways: it names a person) is handled as
the person's own: consent withdrawal, its status, disclosure, a correction request, the
person's corrections. A participant without the role, or not registered for the person named,
is refused with ``residents.not_the_subject``, nothing changed, the attempt audited
(``residents_refused``). Registrations only grow here; revoking one is a next step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from connector.data.consent import ResidentsError, check_subject
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError
from trust.keys import resolve_did_key

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

REQUEST_TYPE = "tsunagu:ResidentRequest"
REPLY_TYPE = "tsunagu:ResidentReply"
ROLE = "resident_app"
ACTIONS = ("withdraw_consent", "consent_withdrawals", "disclosure", "request_correction",
           "corrections")


class ResidentAppService:
    """``connector.resident_apps``: registrations (provider), requests (both sides)."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def startup(self) -> None:
        self.connector.route(REQUEST_TYPE, self._on_request)
        self.connector.bus.seal_payloads_of(REQUEST_TYPE, REPLY_TYPE)

    async def shutdown(self) -> None:
        pass

    # --- provider ------------------------------------------------------------------------

    def register(self, subject: str, participant: str, *, registered_by: str) -> dict[str, Any]:
        """The person's app ``participant`` (a did:key) acts for ``subject`` from now on."""
        c, now = self.connector, datetime.now(UTC)
        check_subject(subject)
        try:
            if not isinstance(participant, str) or "#" in participant:
                raise ValueError(participant)
            resolve_did_key(participant)
        except (TsunaguError, ValueError):  # say which field; the value is not echoed
            raise ResidentsError("'participant' must be the did:key of the person's app",
                                 field="participant") from None
        with c.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO resident_apps (participant, subject, "
                       "registered_by, at) VALUES (?, ?, ?, ?)",
                       (participant, subject, registered_by, now.isoformat()))
            c.audit.append("resident_app_registered", now, participant=participant,
                           subjects=[subject], by=registered_by)
        return next(a for a in self.of_subject(subject) if a["participant"] == participant)

    def of_subject(self, subject: str) -> list[dict[str, Any]]:
        return [{"participant": p, "registeredBy": by, "at": at}
                for p, by, at in self.connector.store.query(
                    "SELECT participant, registered_by, at FROM resident_apps WHERE "
                    "subject = ? ORDER BY at, participant", (subject,))]

    def acts_for(self, participant: str, subject: str) -> bool:
        return bool(self.connector.store.query(
            "SELECT 1 FROM resident_apps WHERE participant = ? AND subject = ?",
            (participant, subject)))

    async def _on_request(self, env: Envelope, credential: VerifiedCredential
                          ) -> tuple[str, dict[str, Any]]:
        c, p = self.connector, env.payload
        subject, action = check_subject(p.get("subject")), p.get("action")
        if action not in ACTIONS:
            raise ResidentsError(f"'action' is one of {', '.join(ACTIONS)}", field="action")
        if not credential.has_role(ROLE) or not self.acts_for(credential.did, subject):
            with c.store.transaction():
                c.audit.append("residents_refused", datetime.now(UTC), by=credential.did,
                               action=action, subjects=[subject],
                               code=ConnectorCode.RESIDENTS_NOT_THE_SUBJECT)
            raise ResidentsError("this participant is not registered as an app of the person "
                                 "named", code=ConnectorCode.RESIDENTS_NOT_THE_SUBJECT)
        by = f"app:{credential.did}"
        return REPLY_TYPE, {"action": action, "result": await self._perform(
            action, subject, p, by)}

    async def _perform(self, action: str, subject: str, p: dict[str, Any], by: str) -> Any:
        c = self.connector
        if action == "withdraw_consent":
            reason = p.get("reason")
            if reason is not None and (not isinstance(reason, str) or len(reason) > 1000):
                raise ResidentsError("'reason' is a text of at most 1000 characters",
                                     field="reason")
            return await c.consent.withdraw(subject, requested_by=by, reason=reason)
        if action == "consent_withdrawals":
            return c.consent.status(subject)
        if action == "disclosure":
            return await c.disclosure.disclose(subject, requested_by=by)
        if action == "request_correction":
            if "value" not in p:
                raise ResidentsError("'value' is the value asked for", field="value")
            return c.corrections.request(subject, p.get("record"), p.get("field"),
                                         p["value"], p.get("reason"),
                                         requested_by=by).to_json()
        return [x.to_json() for x in c.corrections.of_subject(subject)]

    # --- the resident app's side ---------------------------------------------------------

    async def ask(self, provider: str, subject: str, action: str, *, timeout: float = 10.0,
                  **fields: Any) -> Any:
        """Send the person's request to the provider holding their records; the result
        as the app API would answer it (``RemoteError`` with the provider's code if
        refused)."""
        env, _ = await self.connector.dsp.request(
            provider, REQUEST_TYPE, {"subject": subject, "action": action, **fields},
            timeout=timeout)
        return env.payload.get("result")
