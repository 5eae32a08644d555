"""The simulated My Number card: the 4 basic items as a credential a card issuer signed.

At a real reception the card reader gives the 券面事項 (name, address, birth date, sex) the
card holds, authenticated by the card. The demo simulates that with a credential signed by a
simulated card issuer (an Ed25519 did:key, ``eddsa-jcs-2022`` Data Integrity proof, as
``trust.proofs``), carrying only the 4 items, never the My Number:

    {"@context": [credentials v2, tsunagu v1, bosai v1],
     "type": ["VerifiableCredential", "ResidentCardCredential"],
     "issuer": "did:key:z6Mk...", "validFrom": "...Z", "validUntil": "...Z",
     "credentialSubject": {"familyName", "givenName", "birthDate", "sex", "address"},
     "proof": {...}}

Reception verifies and registers in one step (``register_card``): the shape is exact (no
other member anywhere, so nothing else can ride along), nothing in it looks like a My
Number, the issuer is one the municipality trusts and signed it, and the card is within its
validity period. Consent and stay location come from the reception desk, not the card.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domains.bosai import vocab
from domains.bosai.errors import BosaiCode
from domains.bosai.registry.errors import CardError, RegistryInputError, refuse_my_number
from domains.bosai.registry.forms import parse_form
from domains.bosai.registry.model import PersonInput, StayLocation
from domains.bosai.registry.registry import RegistrationResult, Registry
from trust.errors import ProofError
from trust.keys import KeyPair
from trust.proofs import format_datetime, sign_document, verify_document

CARD_TYPE = "ResidentCardCredential"
TYPES = ["VerifiableCredential", CARD_TYPE]
CONTEXT = list(vocab.RECORD_CONTEXT)
SUBJECT_FIELDS = frozenset({"familyName", "givenName", "birthDate", "sex", "address"})
MEMBERS = frozenset({"@context", "type", "issuer", "validFrom", "validUntil",
                     "credentialSubject", "proof"})


class CardIssuer:
    """A simulated card issuer (in the demo, standing in for the J-LIS card authentication)."""

    def __init__(self, key: KeyPair | None = None) -> None:
        self.key = key or KeyPair.generate()

    @property
    def did(self) -> str:
        return self.key.did

    def issue(self, *, family_name: str, given_name: str, birth_date: date | str, sex: str,
              address: str, valid_from: datetime | None = None,
              valid_until: datetime | None = None) -> dict[str, Any]:
        """A signed card credential. Refuses to put a My Number on it."""
        subject = {"familyName": family_name, "givenName": given_name,
                   "birthDate": birth_date if isinstance(birth_date, str)
                   else birth_date.isoformat(), "sex": sex, "address": address}
        refuse_my_number(subject, "credentialSubject")
        start = valid_from or datetime.now(UTC)
        credential = {
            "@context": CONTEXT, "type": TYPES, "issuer": self.did,
            "validFrom": format_datetime(start),
            "validUntil": format_datetime(valid_until or start + timedelta(days=3650)),
            "credentialSubject": subject,
        }
        return sign_document(credential, self.key, created=start)


def _fail(message: str, code: BosaiCode) -> CardError:
    return CardError(message, code=code)


def _instant(value: Any, member: str) -> datetime:
    if not isinstance(value, str):
        raise _fail(f"{member} is missing or not a date-time", BosaiCode.CARD_MALFORMED)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{member} is not a date-time", BosaiCode.CARD_MALFORMED) from None
    if moment.tzinfo is None:
        raise _fail(f"{member} has no time zone", BosaiCode.CARD_MALFORMED)
    return moment


def read_card(credential: Any, *, trusted_issuers: Collection[str],
              now: datetime | None = None) -> tuple[dict[str, Any], str]:
    """Verify a card credential; return its 4 items (form fields) and the issuer's DID.

    Raises MyNumberRefused if anything in it looks like a My Number, CardError otherwise:
    ``bosai.card_malformed``, ``bosai.card_untrusted_issuer``, ``bosai.card_signature``,
    ``bosai.card_not_yet_valid``, ``bosai.card_expired``.
    """
    if not isinstance(credential, Mapping):
        raise _fail("a card credential is a JSON object", BosaiCode.CARD_MALFORMED)
    refuse_my_number(credential, "card")
    extra = set(credential) - MEMBERS
    if extra:
        raise _fail(f"the card has members a card never has: {', '.join(sorted(extra))}",
                    BosaiCode.CARD_MALFORMED)
    if credential.get("@context") != CONTEXT or credential.get("type") != TYPES:
        raise _fail("the card's @context or type is not that of a card credential",
                    BosaiCode.CARD_MALFORMED)
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or set(subject) != SUBJECT_FIELDS or not all(
            isinstance(v, str) for v in subject.values()):
        raise _fail("the card must carry exactly the 4 basic items, as text",
                    BosaiCode.CARD_MALFORMED)
    issuer = credential.get("issuer")
    if not isinstance(issuer, str) or issuer not in trusted_issuers:
        raise _fail("the card was not issued by a trusted card issuer",
                    BosaiCode.CARD_UNTRUSTED_ISSUER)
    try:
        verify_document(dict(credential), expected_controller=issuer)
    except ProofError as exc:
        raise _fail(f"the card's signature does not verify ({exc.code})",
                    BosaiCode.CARD_SIGNATURE) from None
    moment = now or datetime.now(UTC)
    if moment < _instant(credential.get("validFrom"), "validFrom"):
        raise _fail("the card is not valid yet", BosaiCode.CARD_NOT_YET_VALID)
    if "validUntil" in credential and moment >= _instant(credential["validUntil"],
                                                         "validUntil"):
        raise _fail("the card has expired", BosaiCode.CARD_EXPIRED)
    return dict(subject), issuer


def person_from_card(credential: Any, *, trusted_issuers: Collection[str],
                     consent_to_disclose: Any, disclosure_scope: Any = None,
                     stay_location: Any = None, now: datetime | None = None,
                     today: date | None = None) -> tuple[PersonInput, str]:
    """The verified 4 items plus what reception adds (consent, stay), as a registration."""
    items, issuer = read_card(credential, trusted_issuers=trusted_issuers, now=now)
    form: dict[str, Any] = {**items, "consentToDisclose": consent_to_disclose}
    if disclosure_scope is not None:
        form["disclosureScope"] = disclosure_scope
    if stay_location is not None:
        form["stayLocation"] = (stay_location.to_json() if isinstance(stay_location,
                                                                      StayLocation)
                                else stay_location)
    try:
        return parse_form(form, today=today), issuer
    except RegistryInputError as exc:
        if exc.field in SUBJECT_FIELDS:  # signed but unusable: the issuer's fault
            raise _fail(f"the card's {exc.field} cannot be read", BosaiCode.CARD_MALFORMED
                        ) from None
        raise


def register_card(registry: Registry, credential: Any, *, trusted_issuers: Collection[str],
                  consent_to_disclose: Any, source: str, by: str | None = None,
                  disclosure_scope: Any = None, stay_location: Any = None,
                  now: datetime | None = None) -> RegistrationResult:
    """Reception in one step: verify the card, register (or merge) the person."""
    person, issuer = person_from_card(
        credential, trusted_issuers=trusted_issuers, consent_to_disclose=consent_to_disclose,
        disclosure_scope=disclosure_scope, stay_location=stay_location,
        now=now or registry.clock(), today=registry.today())
    return registry.register(person, source=source, kind="card", by=by, verified_by=issuer)
