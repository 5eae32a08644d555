"""What a pmh record must satisfy beyond its JSON schema, and the schema check itself, with
errors naming the field's path (never its value).

``check_record`` runs the domain checks first, so that an impossible measurement is reported
as one (``pmh.measurement_impossible`` naming the field) rather than as a schema failure.
The checks take ``where``: the path of a record field in the input the caller read, so that
the FHIR importer reports ``Bundle.entry[2].resource.component[0].valueQuantity.value``
where the record would say ``$.systolic``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from typing import Any

import jsonschema

from domains.pmh import vocab
from domains.pmh.errors import MeasurementImpossible, PmhCode, PmhInputError
from domains.pmh.model.datasets import BY_TERM, schema_of
from domains.pmh.model.development import check_item
from domains.pmh.subsidy_numbers import check_payer_number, check_recipient_number
from trust.legal_id import local_government_check_digit

Where = Callable[[str], str]
Record = Mapping[str, Any]


def json_path(field: str) -> str:
    return f"$.{field}" if field else "$"


def record_term(record: Record, where: Where = json_path) -> str:
    """The pmh record type (``Mother``) ``record`` declares, or a refusal: exactly one, as a
    FHIR resource has one resourceType."""
    declared = record.get("type")
    if not isinstance(declared, str) or declared not in BY_TERM:
        raise PmhInputError(f"{where('type')}: a pmh record's type is one of "
                            f"{', '.join(BY_TERM)}", field=where("type"))
    return declared


def check_record(record: Record, where: Where = json_path) -> str:
    """Refuse ``record`` unless it is a valid pmh record; returns its type term."""
    term = record_term(record, where)
    check_domain_rules(term, record, where)
    errors = sorted(_validator(term).iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        field = where(".".join(str(p) for p in first.absolute_path))
        # jsonschema's own message may quote the value: only the keyword and the names of
        # missing properties are said.
        missing = [p for p in first.validator_value if p not in first.instance] \
            if first.validator == "required" and isinstance(first.instance, Mapping) else []
        said = f"lacks {', '.join(missing)}" if missing else f"fails '{first.validator}'"
        raise PmhInputError(f"{field} {said} (the {term} schema)", field=field,
                            keyword=first.validator)
    return term


@cache
def _validator(term: str) -> jsonschema.protocols.Validator:
    schema = schema_of(term)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_domain_rules(term: str, record: Record, where: Where = json_path) -> None:
    """The checks of ``term`` records a schema cannot say."""
    for field in ("issuingMunicipality", "payingMunicipality", "issuer"):
        organisation = record.get(field)
        if isinstance(organisation, Mapping) and isinstance(organisation.get("code"), str):
            check_municipality_code(organisation["code"], where(f"{field}.code"))
    if term == vocab.OBSERVATION:
        check_measurement(record, where)
    elif term == vocab.SUBSIDY:
        check_payer_number(record.get("payerNumber"), where("payerNumber"))
        check_recipient_number(record.get("recipientNumber"), where("recipientNumber"))
    _in_order(record, "validFrom", "validUntil", where)
    _in_order(record, "handbookIssued", "expectedDelivery", where)


def check_municipality_code(code: str, field: str) -> None:
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        raise PmhInputError(f"{field}: a 全国地方公共団体コード is 6 digits", field=field)
    if local_government_check_digit(code[:5]) != int(code[5]):
        raise PmhInputError(f"{field}: the 全国地方公共団体コード's check digit is wrong",
                            field=field)


def _in_order(record: Record, first: str, then: str, where: Where) -> None:
    a, b = record.get(first), record.get(then)
    if isinstance(a, str) and isinstance(b, str):
        try:
            wrong = date.fromisoformat(a) > date.fromisoformat(b)
        except ValueError:
            return  # the schema names the malformed date
        if wrong:
            raise PmhInputError(f"{where(then)} is before {where(first)}", field=where(then))


def check_measurement(record: Record, where: Where = json_path) -> None:
    """Refuse values no person can have (blood pressure 500/300, gestational week 60, EPDS
    31), naming the field."""
    kind = record.get("measurement")
    measurement = vocab.MEASUREMENTS.get(kind) if isinstance(kind, str) else None
    if measurement is None:
        return  # the schema names an unknown measurement
    if record.get("epdsItem10") is not None and kind != "epds_total":
        raise PmhInputError(f"{where('epdsItem10')}: EPDS item 10 goes with an epds_total",
                            field=where("epdsItem10"))
    if measurement.shape in ("quantity", "score"):
        _within(record, "value", measurement, where,
                integral=measurement.shape == "score")
        _within(record, "epdsItem10", vocab.EPDS_ITEM10, where, integral=True)
    elif measurement.shape == "bp":
        _within(record, "systolic", vocab.SYSTOLIC, where, integral=True)
        _within(record, "diastolic", vocab.DIASTOLIC, where, integral=True)
        systolic, diastolic = record.get("systolic"), record.get("diastolic")
        if _number(systolic) and _number(diastolic) and systolic <= diastolic:
            raise MeasurementImpossible(f"{where('systolic')}: the systolic pressure must be "
                                        "above the diastolic", field=where("systolic"))
    elif measurement.shape == "development":
        check_item(record.get("checkupAge"), record.get("item"), where("item"))
    elif measurement.shape == "titer":
        _titer(record, measurement, where)
    if measurement.shape == "ga" or measurement.pregnancy_test:
        _within(record, "weeks", vocab.GESTATIONAL_WEEKS, where, integral=True)
        _within(record, "days", vocab.GESTATIONAL_DAYS, where, integral=True)


def _titer(record: Record, measurement: vocab.Measurement, where: Where) -> None:
    """A titre is the reciprocal of a doubling dilution from the lowest tested (HI: 8, 16,
    ... 8192); "below 8" is 8 with the comparator "<"."""
    _within(record, "value", measurement, where, integral=True)
    value = record.get("value")
    if _number(value) and int(value) & (int(value) - 1):
        raise MeasurementImpossible(f"{where('value')}: a {measurement.en} is a doubling "
                                    f"dilution ({measurement.low:g}, {2 * measurement.low:g}, "
                                    f"... {measurement.high:g})", field=where("value"),
                                    low=measurement.low, high=measurement.high,
                                    unit=measurement.unit)
    if record.get("comparator") is not None and value != measurement.low:
        raise PmhInputError(f"{where('comparator')}: '<' goes only with the lowest dilution "
                            f"({measurement.low:g})", field=where("comparator"),
                            code=PmhCode.MEASUREMENT_IMPOSSIBLE)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def _within(record: Record, field: str, limits: vocab.Measurement, where: Where, *,
            integral: bool) -> None:
    value = record.get(field)
    if value is None:
        return  # the schema says which fields are required
    if not _number(value) or (integral and value != int(value)):
        raise PmhInputError(f"{where(field)}: {limits.en} is a "
                            f"{'whole ' if integral else ''}number", field=where(field),
                            code=PmhCode.MEASUREMENT_IMPOSSIBLE)
    if not limits.low <= value <= limits.high:
        raise MeasurementImpossible(
            f"{where(field)}: no person has a {limits.en} ({limits.ja}) outside "
            f"{limits.low:g}-{limits.high:g} {limits.unit}", field=where(field),
            low=limits.low, high=limits.high, unit=limits.unit)
