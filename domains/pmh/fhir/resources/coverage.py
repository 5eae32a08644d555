"""SubsidyCoverage and CheckupVoucher <-> Coverage, told apart by Coverage.type.

* A public subsidy (公費負担): the payer by its 公費負担者番号 (payor identifier), the
  受給者番号 as an identifier, the validity period; both check digits are checked on the way
  in, reported at the FHIR element.
* A voucher (受診票): the issuing municipality as payor, its kind as the ``plan`` class and its
  number in the series as the ``sequence`` class, the validity period.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import organisations, systems
from domains.pmh.fhir.refs import Json, Reader, Writer, coding, identifier
from domains.pmh.subsidy_numbers import check_payer_number, check_recipient_number

_TERMS = {systems.PUBLIC_SUBSIDY: vocab.SUBSIDY, systems.CHECKUP_VOUCHER: vocab.VOUCHER}


def term_of(resource: Mapping[str, Any]) -> str | None:
    return _TERMS.get(coding(resource.get("type"), systems.COVERAGE_TYPE) or "")


def _type(code: str) -> Json:
    return {"coding": [{"system": systems.COVERAGE_TYPE, "code": code}]}


def _period(record: Mapping[str, Any]) -> Json:
    return {k: record[f] for k, f in (("start", "validFrom"), ("end", "validUntil"))
            if f in record}


def _class(code: str, value: str, name: str | None = None) -> Json:
    out: Json = {"type": {"coding": [{"system": systems.COVERAGE_CLASS, "code": code}]},
                 "value": value}
    if name:
        out["name"] = name
    return out


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    out = writer.head("Coverage", record)
    subsidy = record["type"] == vocab.SUBSIDY
    if subsidy:
        out["identifier"].append({"system": systems.PUBLIC_RECIPIENT_NUMBER,
                                  "value": record["recipientNumber"]})
    elif "voucherNumber" in record:
        out["identifier"].append({"system": systems.VOUCHER_NUMBER,
                                  "value": record["voucherNumber"]})
    out["status"] = "active"
    out["type"] = _type(systems.PUBLIC_SUBSIDY if subsidy else systems.CHECKUP_VOUCHER)
    out["beneficiary"] = writer.ref(record["subject"], "subject")
    if period := _period(record):
        out["period"] = period
    if subsidy:
        out["payor"] = [{"identifier": {"system": systems.PUBLIC_PAYER_NUMBER,
                                        "value": record["payerNumber"]}}]
    else:
        kind = record["voucherKind"]
        out["payor"] = [organisations.municipality(record["issuer"])]
        out["class"] = [_class("plan", kind, vocab.VOUCHER_KINDS[kind][0]),
                        _class("sequence", str(record["sequence"]))]
    return out


def from_fhir(reader: Reader) -> Json:
    term = term_of(reader.resource)
    if term is None:
        raise PmhInputError(f"{reader.at('type')}: pmh holds a Coverage of type "
                            f"{systems.COVERAGE_TYPE} {systems.PUBLIC_SUBSIDY} or "
                            f"{systems.CHECKUP_VOUCHER}", field=reader.at("type"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    out = reader.head(term)
    out["subject"] = reader.ref(reader.need("beneficiary"), reader.at("beneficiary"),
                                "Patient")
    payor = reader.need("payor")[0]
    period = reader.resource.get("period") or {}
    if term == vocab.SUBSIDY:
        _subsidy(reader, payor, out)
    else:
        _voucher(reader, payor, out)
    if period.get("start"):
        out["validFrom"] = period["start"]
    if period.get("end"):
        out["validUntil"] = period["end"]
    return out


def _subsidy(reader: Reader, payor: Any, out: Json) -> None:
    payer = payor.get("identifier") if isinstance(payor, Mapping) else None
    path = reader.at("payor", 0, "identifier", "value")
    if not isinstance(payer, Mapping) or not isinstance(payer.get("value"), str):
        raise PmhInputError(f"{path}: the 公費負担者番号 is required by pmh", field=path,
                            code=PmhCode.FHIR_MISSING)
    out["payerNumber"] = check_payer_number(payer["value"], path)
    found = identifier(reader.resource, systems.PUBLIC_RECIPIENT_NUMBER)
    if found is None:
        raise PmhInputError(f"{reader.at('identifier')}: the 受給者番号 (system "
                            f"{systems.PUBLIC_RECIPIENT_NUMBER}) is required by pmh",
                            field=reader.at("identifier"), code=PmhCode.FHIR_MISSING)
    out["recipientNumber"] = check_recipient_number(
        found[1], reader.at("identifier", found[0], "value"))


def _voucher(reader: Reader, payor: Any, out: Json) -> None:
    classes = {coding(c.get("type"), systems.COVERAGE_CLASS): (i, c.get("value"))
               for i, c in enumerate(reader.resource.get("class") or ())
               if isinstance(c, Mapping)}
    kind = classes.get("plan", (0, None))[1]
    if kind not in vocab.VOUCHER_KINDS:
        raise PmhInputError(f"{reader.at('class')}: the voucher's kind (class plan) is one of "
                            f"{', '.join(vocab.VOUCHER_KINDS)}", field=reader.at("class"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    index, sequence = classes.get("sequence", (0, None))
    if not (isinstance(sequence, str) and sequence.isascii() and sequence.isdigit()):
        path = reader.at("class", index, "value")
        raise PmhInputError(f"{path}: the voucher's number in its series (class sequence) is "
                            "required by pmh", field=path, code=PmhCode.FHIR_MISSING)
    out["voucherKind"] = kind
    out["sequence"] = int(sequence)
    out["issuer"] = organisations.from_fhir(payor)
    if found := identifier(reader.resource, systems.VOUCHER_NUMBER):
        out["voucherNumber"] = found[1]
