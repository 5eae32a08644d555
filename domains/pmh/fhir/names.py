"""Names as JP Core (R4) writes them: one HumanName in kanji and one in kana, told apart by the
iso21090-EN-representation extension (IDE: ideographic, SYL: syllabic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.japanese.text import normalize_width
from domains.pmh.fhir import systems
from domains.pmh.fhir.refs import Json, Reader

# pmh field pairs: (family, given) for each representation.
FIELDS = {systems.KANJI: ("familyName", "givenName"),
          systems.KANA: ("familyNameKana", "givenNameKana")}
_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


def to_fhir(record: Mapping[str, Any]) -> list[Json]:
    names = []
    for representation, (family_field, given_field) in FIELDS.items():
        family, given = record.get(family_field), record.get(given_field)
        if family is None and given is None:
            continue
        name: Json = {"extension": [{"url": systems.EN_REPRESENTATION,
                                     "valueCode": representation}],
                      "use": "official",
                      "text": " ".join(p for p in (family, given) if p)}
        if family is not None:
            name["family"] = family
        if given is not None:
            name["given"] = [given]
        names.append(name)
    return names


def from_fhir(reader: Reader) -> dict[str, str]:
    """The name fields of a Patient; a HumanName without the extension counts as kana when it
    is all kana, else as kanji (many EHRs send only one). Kana is made full-width katakana."""
    out: dict[str, str] = {}
    for name in reader.resource.get("name") or ():
        if not isinstance(name, Mapping):
            continue
        representation = _representation(name)
        family_field, given_field = FIELDS[representation]
        if family_field in out or given_field in out:
            continue  # the first name of each representation counts
        # FHIR JSON allows null in a primitive array (its extension stands beside it).
        given = " ".join(g for g in name.get("given") or () if isinstance(g, str)) or None
        family = name.get("family")
        for field_name, value in ((family_field, family), (given_field, given)):
            if isinstance(value, str) and value.strip():
                out[field_name] = katakana(value) if representation == systems.KANA \
                    else value.strip()
    return out


def _representation(name: Mapping[str, Any]) -> str:
    for extension in name.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == \
                systems.EN_REPRESENTATION and extension.get("valueCode") in FIELDS:
            return extension["valueCode"]
    parts = [name.get("family"), *(name.get("given") or ())]
    text = "".join(p for p in parts if isinstance(p, str))
    return systems.KANA if text and all(_is_kana(c) for c in katakana(text)) \
        else systems.KANJI


def katakana(text: str) -> str:
    return normalize_width(text).strip().translate(_HIRAGANA)


def _is_kana(char: str) -> bool:
    return "\u30a0" <= char <= "\u30ff" or char in " \u3000"
