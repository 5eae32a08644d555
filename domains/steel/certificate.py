"""An EN 10168 document as a tsunagu record and back.

The document is kept whole and verbatim as a JSON literal (``en10168``, ``@type: @json``):
export is that literal, so import -> export keeps every field and attachment byte for byte
after RFC 8785 canonicalisation. Beside it, the keys a data space searches by (certificate
number, heat numbers, product ids), the grade and every check result with ``flagged``.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from domains.steel import vocab
from domains.steel.checks import check, flagged, heat_numbers
from domains.steel.en10168 import refusals
from domains.steel.errors import CertificateRefused, Problem, SteelCode

# Certificate ids are name-based: the same manufacturer and document number is the same
# record, so publishing a corrected certificate makes its next version.
ID_NAMESPACE = uuid.UUID("6f1c3f3e-52a4-4f55-9a0a-1d0c5e7b5a10")


def certificate_id(manufacturer: str, number: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(ID_NAMESPACE, f"{manufacturer}\n{number}"))


def to_record(document: Any, *, product_ids: list[str] | None = None,
              legal_id: str | None = None) -> dict[str, Any]:
    """The record of an EN 10168 document; ``CertificateRefused`` (every problem) if the
    document fails the schema or carries a broken file. Grade failures only flag."""
    problems = refusals(document)
    if problems:
        raise CertificateRefused(problems)
    cert = document["Certificate"]
    commercial = cert["CommercialTransaction"]
    manufacturer = commercial["A01"]["Name"]
    grade, results = check(document)
    record: dict[str, Any] = {
        "@context": list(vocab.RECORD_CONTEXT),
        "id": certificate_id(manufacturer, commercial["A03"]),
        "type": vocab.CERTIFICATE,
        "certificateNumber": commercial["A03"],
        "heatNumbers": heat_numbers(cert),
        "productIds": list(product_ids or []),
        "manufacturer": manufacturer,
        "flagged": flagged(results),
        "checks": [r.to_json() for r in results],
        "en10168": copy.deepcopy(document),
    }
    if grade is not None:
        record |= {"gradeStandard": grade.standard, "gradeDesignation": grade.designation,
                   "gradeLabelJa": grade.label_ja}
    if legal_id is not None:
        record["manufacturerLegalId"] = legal_id
    return record


def to_en10168(record: dict[str, Any]) -> dict[str, Any]:
    """The EN 10168 document of a certificate record, checked against the schema again."""
    document = copy.deepcopy(record["en10168"])
    problems = refusals(document)
    if problems:
        raise CertificateRefused(problems)
    return document


def recheck(record: dict[str, Any]) -> None:
    """What every connector runs before it keeps a certificate record: the document is
    EN 10168 with sound files, and a record the checks fail is flagged (a record may not hide
    a failure). ``checks`` stay the issuer's: a receiver whose grade data is newer must not
    refuse a certificate for that, only one claiming to pass what fails."""
    document = record.get("en10168")
    problems = refusals(document)
    if problems:
        raise CertificateRefused(problems)
    _, results = check(document)
    if flagged(results) and record.get("flagged") is not True:
        failed = next(r for r in results if r.status == "fail")
        raise CertificateRefused([Problem("/flagged", SteelCode.RECORD_INVALID,
                                          f"not flagged, but {failed.path} fails "
                                          f"({failed.code})")])
