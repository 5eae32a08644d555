"""The municipality's change rules: what a clinic may add to its records (run by
connector.contributions after the policy and before anything is written; a refusal keeps
its pmh code as the ``rule`` of ``contribution.rule_violated``).

Every rule: the record is new (clinics add, they do not revise the municipality's), and
its subject is a mother or child this municipality holds. Then, by type:

* ``Encounter`` of a checkup kind: a clinic in the municipality's prefecture names the
  voucher that pays for it, which must be usable (``vouchers.check_usable``) and unused; a
  clinic in another prefecture (里帰り出産) cannot use the voucher, names none, and the
  checkup is reimbursed by a claim the hub opens when the record is stored (``service``).
* ``Observation``: the visit it names (if any) is the same person's, recorded by the same
  clinic; a development item names an infant checkup of its own age (the visit's voucher,
  when it has one, is that age's). Impossible values (the model's ``check_domain_rules``,
  which the content rules of every published pmh record run too) are refused first, with
  their own code.
* ``Immunization``: the child's routine schedule allows the dose (``schedule.check_dose``
  with the doses this municipality holds): refused with the schedule's code when outside
  its window, too soon, or out of its series.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from domains.pmh import vocab
from domains.pmh.errors import HubRefusal, PmhCode
from domains.pmh.hub import vouchers
from domains.pmh.hub.setup import prefecture
from domains.pmh.hub.vaccines import dose_of, doses_of
from domains.pmh.model import development
from domains.pmh.model.checks import check_domain_rules
from domains.pmh.schedule import Child, check_dose

if TYPE_CHECKING:
    from connector.data.contributions import Contributor
    from domains.pmh.hub.service import PmhHub

Record = Mapping[str, Any]


def day_of(value: str) -> date:
    """The date of a FHIR date or dateTime (its own calendar day, as the clinic wrote it)."""
    return date.fromisoformat(value[:10])


def _hub(contributor: Contributor) -> PmhHub:
    hub = contributor.service
    if hub is None or hub.municipality is None:
        raise HubRefusal("this connector's pmh hub is not set up as a municipality",
                         code=PmhCode.HUB_UNAVAILABLE)
    return hub


def _common(term: str, before: Record, after: Record, contributor: Contributor,
            kinds: tuple[str, ...]) -> PmhHub:
    # The model's own checks first, so an impossible value is refused as one
    # (pmh.measurement_impossible naming the field), not as the schema failure the
    # publication would report next.
    check_domain_rules(term, after)
    if before:
        raise HubRefusal("a clinic adds records; it does not revise the municipality's",
                         code=PmhCode.NOT_A_NEW_RECORD)
    hub = _hub(contributor)
    person = hub.own(after.get("subject"))
    if person is None or person.get("type") not in kinds:
        raise HubRefusal("the subject is not a person this municipality holds",
                         code=PmhCode.UNKNOWN_SUBJECT, field="subject")
    return hub


def clinic_away(hub: PmhHub, record: Record) -> bool:
    """Whether the clinic is in another prefecture than the municipality (里帰り)."""
    code = (record.get("clinic") or {}).get("code")
    assert hub.municipality is not None
    return isinstance(code, str) and prefecture(code) != hub.municipality.prefecture


def encounter(before: Record, after: Record, contributor: Contributor) -> None:
    hub = _common(vocab.ENCOUNTER, before, after, contributor, (vocab.MOTHER, vocab.CHILD))
    kind = after.get("encounterKind")
    if kind not in vouchers.PAYS_FOR:
        return  # a vaccination visit or another visit: no checkup voucher pays for it
    voucher = after.get("voucher")
    if clinic_away(hub, after):
        if voucher is not None:
            raise HubRefusal("a voucher is not usable outside its prefecture: the checkup "
                             "is reimbursed by claim (償還払い); send it without the voucher",
                             code=PmhCode.VOUCHER_INVALID, field="voucher")
        return
    if voucher is None:
        raise HubRefusal("a checkup in the municipality's prefecture names its voucher",
                         code=PmhCode.VOUCHER_REQUIRED, field="voucher")
    assert hub.municipality is not None
    vouchers.check_usable(hub.own(voucher), subject=after["subject"], kind=kind,
                          on=day_of(after["start"]), issuer=hub.municipality.code)
    if vouchers.used_by(hub.connector.store, voucher) is not None:
        raise HubRefusal("the voucher was already used", code=PmhCode.VOUCHER_USED,
                         field="voucher")


def observation(before: Record, after: Record, contributor: Contributor) -> None:
    hub = _common(vocab.OBSERVATION, before, after, contributor,
                  (vocab.MOTHER, vocab.CHILD))
    visit_id = after.get("encounter")
    if visit_id is None:
        return
    visit = hub.own(visit_id)
    if visit is None or visit.get("type") != vocab.ENCOUNTER \
            or visit.get("subject") != after.get("subject") \
            or visit.get("wasAttributedTo") != contributor.did:
        raise HubRefusal("the visit named is not this person's at this clinic",
                         code=PmhCode.ENCOUNTER_MISMATCH, field="encounter")
    if after.get("measurement") == "development_item":
        _development_at(hub, visit, after)


def _development_at(hub: PmhHub, visit: Record, item: Record) -> None:
    """A development item belongs to an infant checkup of its own age."""
    paid_by = hub.own(visit.get("voucher")) if visit.get("voucher") else None
    expected = development.vouchers().get(item.get("checkupAge", ""))
    if visit.get("encounterKind") != "infant_checkup" or (
            paid_by is not None and paid_by.get("voucherKind") != expected):
        raise HubRefusal("the development item's checkup age is not the visit's infant "
                         "checkup", code=PmhCode.DEVELOPMENT_ITEM, field="checkupAge")


def immunization(before: Record, after: Record, contributor: Contributor) -> None:
    hub = _common(vocab.IMMUNIZATION, before, after, contributor, (vocab.CHILD,))
    child = hub.own(after["subject"])
    assert child is not None
    if child.get("sex") not in ("female", "male"):
        raise HubRefusal("the child's sex is not recorded: the schedule cannot be checked",
                         code=PmhCode.DOSE_NOT_ROUTINE, field="subject")
    given = doses_of(hub.immunizations_of(after["subject"]))
    check_dose(Child(date.fromisoformat(child["birthDate"]), child["sex"]), given,
               dose_of(after), hub.schedule).raise_if_refused()


RULES = {vocab.type_iri(vocab.ENCOUNTER): encounter,
         vocab.type_iri(vocab.OBSERVATION): observation,
         vocab.type_iri(vocab.IMMUNIZATION): immunization}
