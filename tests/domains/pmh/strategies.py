"""Hypothesis strategies for pmh records: a family of every record type, with optional fields
present or not and values anywhere within their limits (synthetic people only)."""

from __future__ import annotations

from hypothesis import strategies as st

from domains.pmh import vocab
from domains.pmh.model import development
from domains.pmh.subsidy_numbers import with_check_digit
from tests.domains.pmh import family

KANJI = st.sampled_from(["山田", "佐藤", "鈴木", "髙橋", "渡邉", "齋藤", "花子", "美咲", "陽菜",
                         "蓮", "さくら", "結衣"])
KANA = st.text("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
               "ラリルレロワヲンガギグゲゴパピプペポャュョッー", min_size=1, max_size=8)
DATES = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)
CODE = st.sampled_from([family.CHIYODA, family.SAPPORO, {"code": "130001"}])
CLINIC = st.sampled_from([family.CLINIC, {"name": "つなぐ助産院"}, {"code": "0112345678"}])


def optional(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


def measurement_fields(kind: str) -> st.SearchStrategy[dict]:
    m = vocab.MEASUREMENTS[kind]
    fields = _shape_fields(m)
    if not m.pregnancy_test:
        return fields
    ga = st.fixed_dictionaries({"weeks": st.integers(0, 45), "days": st.integers(0, 6)})
    return st.tuples(fields, ga).map(lambda both: {**both[0], **both[1]})


def _development_item() -> st.SearchStrategy[dict]:
    listed = [(age, key) for age, found in development.items().items() for key in found]
    return st.sampled_from(listed).flatmap(lambda pair: st.fixed_dictionaries({
        "checkupAge": st.just(pair[0]), "item": st.just(pair[1]),
        "answer": st.sampled_from(list(vocab.ANSWERS))}))


def _shape_fields(m: vocab.Measurement) -> st.SearchStrategy[dict]:
    if m.shape == "development":
        return _development_item()
    if m.shape == "qualitative":
        return st.fixed_dictionaries({"result": st.sampled_from(list(vocab.LAB_RESULTS))})
    if m.shape == "blood_group":
        return st.fixed_dictionaries({"abo": st.sampled_from(list(vocab.ABO_GROUPS)),
                                      "rhD": st.sampled_from(list(vocab.RH_D))})
    if m.shape == "titer":
        return st.one_of(st.builds(lambda k: {"value": 8 << k}, st.integers(0, 10)),
                         st.just({"value": 8, "comparator": "<"}))
    if m.shape == "quantity":
        return st.fixed_dictionaries({"value": st.one_of(
            st.integers(int(m.low) + 1, int(m.high)),
            st.floats(m.low, m.high, allow_nan=False).map(lambda v: round(v, 2)))})
    if m.shape == "score":
        return st.fixed_dictionaries({"value": st.integers(int(m.low), int(m.high))})
    if m.shape == "bp":
        return st.integers(60, 260).flatmap(lambda s: st.fixed_dictionaries(
            {"systolic": st.just(s), "diastolic": st.integers(20, min(s - 1, 200))}))
    if m.shape == "ga":
        return st.fixed_dictionaries({"weeks": st.integers(0, 45), "days": st.integers(0, 6)})
    return st.fixed_dictionaries({m.shape: st.sampled_from(
        list(vocab.GRADES if m.shape == "grade" else vocab.HEARING_RESULTS))})


@st.composite
def families(draw) -> list[dict]:
    names = optional(familyName=KANJI, givenName=KANJI, familyNameKana=KANA,
                     givenNameKana=KANA)
    mother = family.mother(**draw(optional(address=st.just("大阪府大阪市北区1-1"))))
    for key in ("address", "version", "modified"):
        mother.pop(key)
    mother.update(familyName=draw(KANJI), givenName=draw(KANJI), birthDate=draw(DATES),
                  **draw(optional(version=st.integers(1, 99),
                                  modified=st.just("2026-05-01T09:00:00Z"),
                                  wasAttributedTo=st.just("did:key:z6MkClinicOfChiyoda"),
                                  wasDerivedFrom=st.just(family.MOTHER + "#v1"))))
    for key in ("familyNameKana", "givenNameKana"):
        mother[key] = draw(KANA)
    child = {k: v for k, v in family.child().items() if not k.endswith("Name")
             and not k.endswith("Kana")}
    child.update(birthDate=draw(DATES), sex=draw(st.sampled_from(list(vocab.SEXES))),
                 **draw(names))
    kind = draw(st.sampled_from(list(vocab.MEASUREMENTS)))
    observation = {k: v for k, v in family.observation().items()
                   if k not in ("systolic", "diastolic", "encounter")}
    observation.update(measurement=kind, subject=draw(st.sampled_from([family.MOTHER,
                                                                       family.CHILD])),
                       effective=draw(st.sampled_from(["2026-06-01",
                                                       "2026-06-01T10:10:00+09:00"])),
                       **draw(measurement_fields(kind)),
                       **draw(optional(encounter=st.just(family.ENCOUNTER))))
    encounter = {k: v for k, v in family.encounter().items()
                 if k not in ("end", "clinic", "payingMunicipality", "voucher")}
    encounter.update(encounterKind=draw(st.sampled_from(list(vocab.ENCOUNTER_KINDS))),
                     **draw(optional(end=st.just("2026-06-01T11:00:00+09:00"), clinic=CLINIC,
                                     payingMunicipality=CODE,
                                     voucher=st.just(family.VOUCHER))))
    dose = {k: v for k, v in family.immunization().items()
            if k not in ("series", "lotNumber", "clinic")}
    dose.update(vaccine=draw(st.sampled_from(list(vocab.VACCINES))),
                doseNumber=draw(st.integers(1, 4)), occurred=draw(DATES),
                **draw(optional(series=st.sampled_from(["1期", "2期", "追加"]),
                                lotNumber=st.from_regex(r"[0-9A-Z]{1,10}", fullmatch=True),
                                clinic=CLINIC, encounter=st.just(family.ENCOUNTER))))
    voucher = {k: v for k, v in family.voucher().items()
               if k not in ("voucherNumber", "validFrom", "validUntil")}
    voucher.update(voucherKind=draw(st.sampled_from(list(vocab.VOUCHER_KINDS))),
                   sequence=draw(st.integers(1, 14)), issuer=draw(CODE),
                   **draw(optional(voucherNumber=st.from_regex(r"[0-9A-Za-z-]{1,20}",
                                                               fullmatch=True),
                                   validFrom=st.just("2026-01-01"),
                                   validUntil=st.just("2027-12-31"))))
    subsidy = family.subsidy(
        payerNumber=with_check_digit(draw(st.from_regex(r"[0-9]{7}", fullmatch=True))),
        recipientNumber=with_check_digit(draw(st.from_regex(r"[0-9]{6}", fullmatch=True))))
    if draw(st.booleans()):
        del subsidy["validUntil"]
    registration = family.registration(issuingMunicipality=draw(CODE))
    if draw(st.booleans()):
        del registration["handbookNumber"]
    return [mother, child, family.link(), registration, encounter, observation, dose,
            voucher, subsidy]
