"""Form input -> ``PersonInput``: every field checked, errors naming the field, never a value.

A form is a JSON object shaped like an ``Evacuee`` record (``familyName``, ``givenName``,
``familyNameKana``, ``givenNameKana``, ``birthDate``, ``sex``, ``address``, ``contact``,
``household``, ``stayLocation``, ``careNeeds`` or ``careCategory``/``medicalNeed``/
``careNotes``, ``consentToDisclose``, ``disclosureScope``); ``@context``, ``id``, ``type``,
``version`` and ``modified`` of a full record are accepted and ignored. Tokens may be given as
the token, its Japanese label or its English label ("車中泊", "vehicle"); dates in 西暦 or
和暦; kana in katakana, hiragana or half-width. Anything that looks like a My Number is
refused first, whatever the field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from domains.bosai import vocab
from domains.bosai.registry.errors import RegistryInputError, refuse_my_number
from domains.bosai.registry.model import (
    Consent,
    Contact,
    Household,
    Medical,
    PersonInput,
    StayLocation,
)
from domains.bosai.registry.normalize import (
    display_text,
    parse_birth_date,
    parse_sex,
    to_katakana,
)
from domains.japanese.dates import JST

MAX_NAME = 100
MAX_ADDRESS = 300
MAX_ID = 64
MAX_NOTES = 1000
_KANA = re.compile(r"^[ァ-ヶー・　 ]+$")
_TELEPHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,23}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IGNORED = frozenset({"@context", "id", "type", "version", "modified"})
FIELDS = frozenset({
    "familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate", "sex",
    "address", "contact", "household", "stayLocation", "careNeeds", "careCategory",
    "medicalNeed", "careNotes", "consentToDisclose", "disclosureScope",
})
_TRUE = frozenset({"true", "yes", "y", "1", "はい", "同意", "同意する", "する", "可", "○", "◯"})
_FALSE = frozenset({"false", "no", "n", "0", "いいえ", "同意しない", "しない", "不可", "×",
                    "✕"})
_LIST_SEPARATORS = re.compile(r"[;,、，；]")


def _fail(field: str, message: str) -> RegistryInputError:
    return RegistryInputError(f"{field} {message}", field=field)


@functools.lru_cache(maxsize=1 << 16)
def _shown(value: str) -> tuple[str, bool]:
    """Display form and whether it holds control characters (names repeat: cached)."""
    shown = display_text(value)
    return shown, _CONTROL.search(shown) is not None


def text(value: Any, field: str, *, max_len: int, required: bool = True) -> str | None:
    if value is None:
        shown = ""
    elif isinstance(value, str):
        shown, control = _shown(value)
        if control:
            raise _fail(field, "contains control characters")
    else:
        raise _fail(field, "must be text")
    if not shown:
        if required:
            raise _fail(field, "is required")
        return None
    if len(shown) > max_len:
        raise _fail(field, f"is longer than {max_len} characters")
    return shown


_SPELLINGS: dict[int, dict[str, str]] = {}


def _spellings(labels: vocab.Labels) -> dict[str, str]:
    """Every accepted spelling of a vocabulary's tokens (token, ja, en) -> token."""
    found = _SPELLINGS.get(id(labels))
    if found is None:
        found = {}
        for key, (ja, en) in reversed(labels.items()):
            found.update({en.casefold(): key, ja.casefold(): key})
        found.update({key: key for key in labels})
        _SPELLINGS[id(labels)] = found
    return found


def token(value: Any, field: str, labels: vocab.Labels) -> str:
    if isinstance(value, str):
        key = _spellings(labels).get(display_text(value).casefold())
        if key is not None:
            return key
    raise _fail(field, f"must be one of {', '.join(labels)}")


def tokens(value: Any, field: str, labels: vocab.Labels) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items: Iterable[Any]
    if isinstance(value, str):
        items = [p for p in _LIST_SEPARATORS.split(value) if p.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise _fail(field, "must be a list")
    found = {token(item, f"{field}[{i}]", labels) for i, item in enumerate(items)}
    return tuple(t for t in labels if t in found)


def boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        folded = display_text(value).casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
    raise _fail(field, "must be true or false (はい/いいえ)")


def _object(value: Any, field: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(field, "must be an object")
    for key in value:
        if key not in allowed:
            raise _fail(f"{field}.{key}", "is not a field of the registry")
    return value


def kana(value: Any, field: str) -> str | None:
    shown = text(value, field, max_len=MAX_NAME, required=False)
    if shown is None:
        return None
    katakana = _katakana(shown)
    if katakana is None:
        raise _fail(field, "must be kana (カタカナ or ひらがな)")
    return katakana


@functools.lru_cache(maxsize=1 << 14)
def _katakana(shown: str) -> str | None:
    katakana = to_katakana(shown)
    return katakana if _KANA.match(katakana) else None


def parse_stay(value: Any, field: str = "stayLocation") -> StayLocation:
    """A stay location object, or just its type as text."""
    if isinstance(value, str):
        value = {"stayType": value}
    value = _object(value, field, frozenset({"stayType", "shelterId", "checkedIn",
                                             "checkedOut", "checkedOutOf"}))
    stay_type = token(value.get("stayType"), f"{field}.stayType", vocab.STAY_TYPES)
    shelter = text(value.get("shelterId"), f"{field}.shelterId", max_len=MAX_ID,
                   required=stay_type == "shelter")
    left = text(value.get("checkedOutOf"), f"{field}.checkedOutOf", max_len=MAX_ID,
                required=value.get("checkedOut") is not None)
    return StayLocation(stay_type, shelter, instant(value.get("checkedIn"), f"{field}.checkedIn"),
                        instant(value.get("checkedOut"), f"{field}.checkedOut",
                                required=left is not None), left)


def instant(value: Any, field: str, *, required: bool = False) -> str | None:
    """An aware ISO 8601 date-time, as UTC with ``Z`` (check-in and check-out times)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _fail(field, "must be an ISO 8601 date-time with a time zone")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(field, "must be an ISO 8601 date-time with a time zone") from None
    if moment.tzinfo is None:
        raise _fail(field, "must be an ISO 8601 date-time with a time zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_contact(value: Any, field: str = "contact") -> Contact | None:
    value = _object(value, field, frozenset({"telephone", "email"}))
    telephone = text(value.get("telephone"), f"{field}.telephone", max_len=24, required=False)
    email = text(value.get("email"), f"{field}.email", max_len=254, required=False)
    if telephone is not None and not _TELEPHONE.match(telephone):
        raise _fail(f"{field}.telephone", "is not a telephone number")
    if email is not None and not _EMAIL.match(email):
        raise _fail(f"{field}.email", "is not an email address")
    return Contact(telephone, email) if telephone or email else None


def parse_household(value: Any, field: str = "household") -> Household:
    value = _object(value, field, frozenset({"householdId", "relationship"}))
    household_id = text(value.get("householdId"), f"{field}.householdId", max_len=MAX_ID)
    relationship = value.get("relationship")
    return Household(household_id or "", token(relationship, f"{field}.relationship",
                                                vocab.HOUSEHOLD_RELATIONSHIPS)
                     if relationship not in (None, "") else None)


def parse_consent(consent: Any, scope: Any = None, field: str = "consentToDisclose") -> Consent:
    if consent is None or consent == "":
        raise _fail(field, "is required (安否確認への回答に同意するか)")
    disclose = boolean(consent, field)
    items = tokens(scope, "disclosureScope", vocab.DISCLOSURE_ITEMS) if scope else None
    return Consent.given(disclose, items)


def _medical(form: Mapping[str, Any], care: Mapping[str, Any]) -> Medical | None:
    needs = tokens(care.get("medicalNeed", form.get("medicalNeed")),
                   "careNeeds.medicalNeed", vocab.MEDICAL_NEEDS)
    note = text(care.get("careNotes", form.get("careNotes")), "careNeeds.careNotes",
                max_len=MAX_NOTES, required=False)
    medical = Medical(needs, (note,) if note else ())
    return medical or None


def parse_form(form: Mapping[str, Any], *, today: date | None = None) -> PersonInput:
    """Validate a form; raise RegistryInputError (or MyNumberRefused) naming the field."""
    if not isinstance(form, Mapping):
        raise _fail("input", "must be an object")
    refuse_my_number(form)
    for key in form:
        if key not in FIELDS and key not in _IGNORED:
            raise _fail(str(key), "is not a field of the registry")
    today = today or today_in_japan()
    family_kana = kana(form.get("familyNameKana"), "familyNameKana")
    given_kana = kana(form.get("givenNameKana"), "givenNameKana")
    if (family_kana is None) != (given_kana is None):
        missing = "givenNameKana" if given_kana is None else "familyNameKana"
        raise _fail(missing, "is required when the other kana is given")
    care = form.get("careNeeds") or {}
    care = _object(care, "careNeeds", frozenset({"careCategory", "medicalNeed", "careNotes"}))
    return PersonInput(
        family_name=text(form.get("familyName"), "familyName", max_len=MAX_NAME) or "",
        given_name=text(form.get("givenName"), "givenName", max_len=MAX_NAME) or "",
        family_name_kana=family_kana, given_name_kana=given_kana,
        birth_date=parse_birth_date(form.get("birthDate"), today=today),
        sex=parse_sex(form.get("sex")),
        address=text(form.get("address"), "address", max_len=MAX_ADDRESS) or "",
        consent=parse_consent(form.get("consentToDisclose"), form.get("disclosureScope")),
        contact=parse_contact(form["contact"]) if form.get("contact") else None,
        household=parse_household(form["household"]) if form.get("household") else None,
        stay=parse_stay(form["stayLocation"]) if form.get("stayLocation") else None,
        care_categories=tokens(care.get("careCategory", form.get("careCategory")),
                               "careNeeds.careCategory", vocab.CARE_CATEGORIES),
        medical=_medical(form, care),
    )


def today_in_japan() -> date:
    return datetime.now(JST).date()
