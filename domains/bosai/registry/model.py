"""The person as the registry holds it: the basic part, and the medical part kept apart.

The basic part (4 items with kana, contact, household, stay location, 要配慮 categories,
consent) is one row; medical needs and notes are another table, read through an audited
call only. ``to_record`` renders a person as an ``Evacuee`` record of
``evacuee.schema.json`` (the medical part only when asked for).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domains.bosai import vocab

# "safety" is what every disclosure reveals; a consenting card with no scope discloses this.
DEFAULT_DISCLOSURE = ("safety", "stay_type", "shelter")
MAX_CARE_NOTES = 1000


@dataclass(frozen=True)
class StayLocation:
    """Where the person stays: a shelter (with its id), at home (在宅), in a vehicle (車中泊),
    with relatives, or elsewhere. A vehicle or home stay may name the shelter that looks after
    it (cars parked in a shelter's grounds)."""

    stay_type: str
    shelter_id: str | None = None
    # As a shelter operator reported them (ISO 8601, UTC): the check-in at ``shelter_id``, or
    # the check-out of ``checked_out_of`` that led to this stay.
    checked_in: str | None = None
    checked_out: str | None = None
    checked_out_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stayType": self.stay_type}
        for key, value in (("shelterId", self.shelter_id), ("checkedIn", self.checked_in),
                           ("checkedOut", self.checked_out),
                           ("checkedOutOf", self.checked_out_of)):
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> StayLocation:
        return cls(body["stayType"], body.get("shelterId"), body.get("checkedIn"),
                   body.get("checkedOut"), body.get("checkedOutOf"))


@dataclass(frozen=True)
class Contact:
    telephone: str | None = None
    email: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("telephone", self.telephone), ("email", self.email)) if v}


@dataclass(frozen=True)
class Household:
    household_id: str
    relationship: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"householdId": self.household_id}
        if self.relationship is not None:
            out["relationship"] = self.relationship
        return out


@dataclass(frozen=True)
class Consent:
    """Consent to answer safety inquiries, and with what (tokens of vocab.DISCLOSURE_ITEMS).
    Without consent the scope is empty; with consent it always holds "safety"."""

    disclose: bool
    scope: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _scope(self.disclose, tuple(self.scope)))

    @classmethod
    def given(cls, disclose: bool, scope: tuple[str, ...] | None = None) -> Consent:
        return cls(disclose, DEFAULT_DISCLOSURE if scope is None else scope)

    def narrowed(self, other: Consent) -> Consent:
        """Both consents at once: a merge never widens what may be disclosed."""
        return Consent(self.disclose and other.disclose,
                       tuple(t for t in self.scope if t in other.scope))


@dataclass(frozen=True)
class Medical:
    """The restricted part: medical needs (vocab.MEDICAL_NEEDS) and free-text notes."""

    needs: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.needs or self.notes)

    def merged(self, other: Medical | None) -> Medical:
        if not other:
            return self
        return Medical(_union(self.needs, other.needs, vocab.MEDICAL_NEEDS),
                       self.notes + tuple(n for n in other.notes if n not in self.notes))

    def to_json(self) -> dict[str, Any]:
        return {"medicalNeed": list(self.needs), "careNotes": list(self.notes)}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Medical:
        return cls(tuple(body.get("medicalNeed", ())), tuple(body.get("careNotes", ())))


@functools.lru_cache(maxsize=256)
def _scope(disclose: bool, scope: tuple[str, ...]) -> tuple[str, ...]:
    """The canonical scope: vocabulary order, "safety" implied, empty without consent."""
    wanted = set(scope) | {"safety"} if disclose else set()
    return tuple(t for t in vocab.DISCLOSURE_ITEMS if t in wanted)


def _union(a: tuple[str, ...], b: tuple[str, ...], order: dict[str, Any]) -> tuple[str, ...]:
    both = set(a) | set(b)
    return tuple(t for t in order if t in both)


@dataclass(frozen=True)
class PersonInput:
    """A validated registration (from a form, a CSV row or a card), not yet stored."""

    family_name: str
    given_name: str
    birth_date: date
    sex: str
    address: str
    consent: Consent
    family_name_kana: str | None = None
    given_name_kana: str | None = None
    contact: Contact | None = None
    household: Household | None = None
    stay: StayLocation | None = None
    care_categories: tuple[str, ...] = ()
    medical: Medical | None = None

    def basic_items(self) -> dict[str, Any]:
        """The 4 items as written (kept per source as provenance)."""
        out: dict[str, Any] = {"familyName": self.family_name, "givenName": self.given_name}
        if self.family_name_kana and self.given_name_kana:
            out["familyNameKana"] = self.family_name_kana
            out["givenNameKana"] = self.given_name_kana
        out.update(birthDate=self.birth_date.isoformat(), sex=self.sex, address=self.address)
        return out

    def body(self) -> dict[str, Any]:
        """The stored basic part (never the medical part)."""
        out = self.basic_items()
        if self.contact and self.contact.to_json():
            out["contact"] = self.contact.to_json()
        if self.household:
            out["household"] = self.household.to_json()
        if self.stay:
            out["stayLocation"] = self.stay.to_json()
        if self.care_categories:
            out["careCategory"] = list(self.care_categories)
        out["consentToDisclose"] = self.consent.disclose
        if self.consent.disclose:
            out["disclosureScope"] = list(self.consent.scope)
        return out

    @classmethod
    def from_body(cls, body: dict[str, Any], medical: Medical | None = None) -> PersonInput:
        stay = body.get("stayLocation")
        contact = body.get("contact")
        household = body.get("household")
        return cls(
            family_name=body["familyName"], given_name=body["givenName"],
            family_name_kana=body.get("familyNameKana"),
            given_name_kana=body.get("givenNameKana"),
            birth_date=date.fromisoformat(body["birthDate"]), sex=body["sex"],
            address=body["address"],
            consent=Consent(body["consentToDisclose"], tuple(body.get("disclosureScope", ()))),
            contact=Contact(**contact) if contact else None,
            household=Household(household["householdId"], household.get("relationship"))
            if household else None,
            stay=StayLocation.from_json(stay) if stay else None,
            care_categories=tuple(body.get("careCategory", ())),
            medical=medical)

    def merged(self, newer: PersonInput) -> PersonInput:
        """This person with a newer input of the same person folded in.

        The 4 items stay as first written (each input's own spelling is kept with its source);
        kana is added if missing; contact fields, household and stay location take the newer
        value where it has one (a newer registration says where the person is now); 要配慮
        categories and medical needs are the union; consent is the narrower of the two.
        """
        kana = (self.family_name_kana, self.given_name_kana)
        if not all(kana):
            kana = (newer.family_name_kana, newer.given_name_kana)
        contact = self.contact
        if newer.contact:
            old = self.contact or Contact()
            contact = Contact(newer.contact.telephone or old.telephone,
                              newer.contact.email or old.email)
        medical = (self.medical or Medical()).merged(newer.medical)
        return PersonInput(
            family_name=self.family_name, given_name=self.given_name,
            family_name_kana=kana[0], given_name_kana=kana[1],
            birth_date=self.birth_date, sex=self.sex, address=self.address,
            consent=self.consent.narrowed(newer.consent), contact=contact,
            household=newer.household or self.household, stay=newer.stay or self.stay,
            care_categories=_union(self.care_categories, newer.care_categories,
                                   vocab.CARE_CATEGORIES),
            medical=medical or None)


@dataclass(frozen=True)
class Source:
    """One input that went into a person: provenance kept across merges."""

    source: str
    kind: str  # form | csv | card | api
    outcome: str  # new | merged | review (kept when a review later merges the person)
    at: str
    by: str | None = None
    verified_by: str | None = None  # the card issuer's DID, for card inputs
    basic_items: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    """A registered person (basic part). ``medical`` is never filled by ``get_person``."""

    id: str
    version: int
    created: str
    modified: str
    data: PersonInput
    stay_updated_by: str | None = None
    stay_updated_at: str | None = None
    sources: tuple[Source, ...] = ()

    def __getattr__(self, name: str) -> Any:
        # person.family_name, person.stay ... read through to the data.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.data, name)


def to_record(person: Person, *, medical: Medical | None = None) -> dict[str, Any]:
    """The person as an ``Evacuee`` record (evacuee.schema.json), medical part only if given."""
    body = person.data.body()
    record: dict[str, Any] = {"@context": list(vocab.RECORD_CONTEXT), "id": person.id,
                              "type": "Evacuee", "version": person.version,
                              "modified": person.modified, **body}
    categories = record.pop("careCategory", None)
    care: dict[str, Any] = {}
    if categories:
        care["careCategory"] = categories
    if medical and medical.needs:
        care["medicalNeed"] = list(medical.needs)
    if medical and medical.notes:
        notes = "\n".join(medical.notes)
        care["careNotes"] = notes if len(notes) <= MAX_CARE_NOTES else (
            notes[:MAX_CARE_NOTES - 1] + "…")
    if care:
        record["careNeeds"] = care
    return record
