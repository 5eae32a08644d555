"""The codes the pmh hub raises (``trust.errors`` explains the registry), and its error
classes. Messages and details name fields (JSON paths, FHIR paths), never values: a name, a
birth date or a number of a mother or child must not reach a log or a problem response.

Blocks by feature, so that work on one feature merges cleanly with work on another.
"""

from __future__ import annotations

from typing import Any

from trust.errors import ErrorCode, ValidationError


class PmhCode(ErrorCode):
    # ---- The model and FHIR R4 conversion (domains.pmh.model, domains.pmh.fhir) ----
    SUBSIDY_NUMBER_INVALID = ("pmh.subsidy_number",
                              "a 公費負担者番号 or 受給者番号 has the wrong length, a non-digit "
                              "or a wrong check digit")
    MEASUREMENT_IMPOSSIBLE = ("pmh.measurement_impossible",
                              "an observation's value is outside what a person can have")
    RECORD_INVALID = "pmh.record_invalid", "a pmh record fails its JSON schema"
    FHIR_INVALID = "pmh.fhir.invalid", "a FHIR resource or Bundle fails FHIR R4 validation"
    FHIR_UNSUPPORTED = ("pmh.fhir.unsupported",
                        "a FHIR resource is of a kind or coding pmh does not hold")
    FHIR_REFERENCE = ("pmh.fhir.reference",
                      "a FHIR reference names a resource that is not in the Bundle")
    FHIR_MISSING = "pmh.fhir.missing", "a FHIR element pmh needs is absent"
    BUNDLE_REFUSED = ("pmh.fhir.bundle_refused",
                      "a FHIR Bundle was refused whole: every problem is listed")
    # ---- The routine vaccination schedule (domains.pmh.schedule; its error classes stay
    # beside the code that raises them: schedule.table, schedule.engine) ----
    SCHEDULE_INVALID = ("pmh.schedule_invalid",
                        "a schedule table or a municipality's override is malformed "
                        "(the message names the rule and the field)")
    DOSE_OUTSIDE_WINDOW = ("pmh.dose_outside_window",
                           "the dose date is outside the window of routine (public) vaccination")
    DOSE_TOO_SOON = ("pmh.dose_too_soon",
                     "the dose is too soon after an earlier dose of its series")
    DOSE_NOT_IN_SERIES = ("pmh.dose_not_in_series",
                          "the dose does not continue the child's series (vaccine, product or "
                          "dose number), or the series is complete")
    DOSE_NOT_ROUTINE = ("pmh.dose_not_routine",
                        "no routine rule covers this dose for this child on that date "
                        "(not yet in effect, birth cohort or sex)")
    # ---- The hub: clinics' checkups and vaccinations, vouchers, 里帰り claims
    # (domains.pmh.hub) ----
    HUB_UNAVAILABLE = ("pmh.hub_unavailable",
                       "this connector's pmh hub is not set up for what was asked (a "
                       "municipality's claims before it is set up as one)")
    NO_AGREEMENT = ("pmh.no_agreement",
                    "this clinic has no agreement with that municipality for the record kind")
    UNKNOWN_SUBJECT = ("pmh.unknown_subject",
                       "the mother or child is not one this municipality holds")
    NOT_A_NEW_RECORD = ("pmh.not_a_new_record",
                        "a clinic adds checkup and vaccination records; it does not revise "
                        "the municipality's")
    VOUCHER_REQUIRED = ("pmh.voucher_required",
                        "a checkup in the municipality's prefecture names the voucher that "
                        "pays for it")
    VOUCHER_INVALID = ("pmh.voucher_invalid",
                       "the voucher is not this municipality's, not the person's, of another "
                       "kind, or not valid on the checkup date")
    VOUCHER_USED = "pmh.voucher_used", "the voucher was already used for another checkup"
    ENCOUNTER_MISMATCH = ("pmh.encounter_mismatch",
                          "the observation names a visit of another person or clinic")
    CLAIM_NOT_FOUND = "pmh.claim_not_found", "no such reimbursement claim here"
    CLAIM_DECIDED = "pmh.claim_decided", "the reimbursement claim was already decided"
    DEVELOPMENT_ITEM = ("pmh.development_item",
                        "not a development item of the infant checkup age it names")
    # A notice, not a refusal: the test is kept, marked outside the 告示's periods.
    BLOOD_TEST_OUTSIDE_PERIOD = ("pmh.blood_test_outside_period",
                                 "a pregnancy blood test was taken outside the periods the "
                                 "MHLW standard (告示第226号) sets for it")
    # ---- Voucher settlement with clinics (hub/settlements.py)
    SETTLEMENT_NOT_FOUND = "pmh.settlement_not_found", "no such settlement batch here"
    SETTLEMENT_STATE = ("pmh.settlement_state",
                        "the settlement batch is not in the state this step needs")
    SETTLEMENT_EMPTY = ("pmh.settlement_empty",
                        "no used voucher of that clinic and month is left to settle")
    SETTLEMENT_PRICE = ("pmh.settlement_price",
                        "the municipality has no unit price for a voucher kind to settle")


class PmhInputError(ValidationError):
    """An input (a record, a FHIR resource) is refused; ``field`` is the path of the offending
    element (``$.systolic``, ``Bundle.entry[2].resource.valueQuantity.value``), never its value.
    """

    code = PmhCode.RECORD_INVALID

    def __init__(self, message: str, *, field: str, code: ErrorCode | None = None,
                 **details: Any) -> None:
        super().__init__(message, code=code, field=field, **details)
        self.field = field


class SubsidyNumberInvalid(PmhInputError):
    code = PmhCode.SUBSIDY_NUMBER_INVALID


class MeasurementImpossible(PmhInputError):
    code = PmhCode.MEASUREMENT_IMPOSSIBLE


class HubRefusal(ValidationError):
    """The hub refuses a checkup, a vaccination or a claim decision (the code says why);
    details name records and fields, never a person's values."""

    code = PmhCode.HUB_UNAVAILABLE


class FhirInvalid(PmhInputError):
    code = PmhCode.FHIR_INVALID


class BundleRefused(ValidationError):
    """A FHIR Bundle refused whole: ``problems`` lists each one (path, code, message), in
    Bundle order; nothing of the Bundle was converted or written."""

    code = PmhCode.BUNDLE_REFUSED

    def __init__(self, problems: list[ValidationError]) -> None:
        listed = [{"path": getattr(p, "field", ""), "code": p.code, "message": p.message}
                  for p in problems]
        first = "; ".join(f"[{p.code}] {p.message}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"the FHIR Bundle is refused whole, nothing was converted: "
                         f"{first}{more}", problems=listed)
        self.problems = problems
