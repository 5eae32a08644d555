"""Safety inquiries (安否確認): what a consenting person lets the registry say about them.

An answer lists one disclosure per consenting person whose normalised name (kanji or kana)
and birth date match; each holds only the items that person consented to. A person who did
not consent is left out exactly as if unknown, so an empty answer ("no information") never
tells whether someone is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.bosai.registry.model import PersonInput

NO_INFORMATION_JA = "お尋ねの方について、お答えできる情報はありません。"
NO_INFORMATION_EN = "There is no information we can give about this person."


def disclosure(person: PersonInput) -> dict[str, Any] | None:
    """The consented part of a person for an inquirer, or None without consent."""
    consent = person.consent
    if not consent.disclose:
        return None
    out: dict[str, Any] = {"accountedFor": True}
    stay = person.stay
    if "stay_type" in consent.scope and stay is not None:
        out["stayType"] = stay.stay_type
    if "shelter" in consent.scope and stay is not None and stay.shelter_id:
        out["shelterId"] = stay.shelter_id
    if "address" in consent.scope:
        out["address"] = person.address
    if "contact" in consent.scope and person.contact and person.contact.to_json():
        out["contact"] = person.contact.to_json()
    return out


@dataclass(frozen=True)
class InquiryAnswer:
    """``people`` is empty for "no information" (unknown, or no consent: the same answer)."""

    inquiry_id: str
    people: tuple[dict[str, Any], ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.people)

    def message(self, lang: str = "ja") -> str | None:
        if self.people:
            return None
        return NO_INFORMATION_JA if lang == "ja" else NO_INFORMATION_EN

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inquiry": self.inquiry_id, "people": list(self.people)}
        if not self.people:
            out["message"] = {"ja": NO_INFORMATION_JA, "en": NO_INFORMATION_EN}
        return out
