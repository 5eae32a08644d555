"""Evacuee registry: no My Number ever stored, consent-limited safety inquiries, audit,
the medical part kept apart, and no personal data in errors or logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
import pytest

from connector.control.audit import AuditLog, verify_chain
from domains.bosai.registry import (
    AddressContext,
    MyNumberRefused,
    Registry,
    RegistryInputError,
)
from domains.bosai.registry.card import CardIssuer, register_card
from domains.bosai.registry.csv_import import import_csv
from domains.japanese.mynumber import check_digit

NOW = datetime(2025, 1, 17, 6, 0, tzinfo=UTC)
FIRST11 = "31415926535"
MY_NUMBER = FIRST11 + str(check_digit(FIRST11))
# How the number could land in a file: ASCII, full-width (UTF-8), grouped as on the card.
SPELLINGS = [MY_NUMBER, "".join(chr(ord(c) + 0xFEE0) for c in MY_NUMBER),
             f"{MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]}",
             f"{MY_NUMBER[:4]}-{MY_NUMBER[4:8]}-{MY_NUMBER[8:]}"]


@pytest.fixture
def registry(tmp_path):
    r = Registry.open(tmp_path / "registry.sqlite", place=AddressContext("兵庫県", "神戸市"),
                      clock=lambda: NOW)
    yield r
    r.close()


def hanako(**changes) -> dict:
    form = {"familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ",
            "givenNameKana": "ハナコ", "birthDate": "1948-04-01", "sex": "female",
            "address": "兵庫県神戸市東灘区本山北町3丁目6番1号",
            "contact": {"telephone": "078-123-4567"},
            "stayLocation": {"stayType": "shelter", "shelterId": "28110-0001"},
            "consentToDisclose": True}
    return {k: v for k, v in {**form, **changes}.items() if v is not None}


def store_bytes(registry) -> bytes:
    registry.store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    path = registry.store.path
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"),
                                             path.with_name(path.name + "-shm")) if p.exists())


def assert_never_stored(registry) -> None:
    data = store_bytes(registry)
    for spelling in SPELLINGS:
        assert spelling.encode() not in data, spelling
    assert MY_NUMBER[4:].encode() not in data  # not even a tail of it


# --------------------------------------------------------------------------- My Number

@pytest.mark.parametrize("number", SPELLINGS, ids=["ascii", "full-width", "spaced", "hyphens"])
@pytest.mark.parametrize("where, field", [
    ({"myNumber": "{n}"}, "myNumber"),
    ({"contact": {"telephone": "{n}"}}, "contact.telephone"),
    ({"careNeeds": {"careNotes": "個人番号 {n}"}}, "careNeeds.careNotes"),
    ({"address": "神戸市東灘区本山北町3-6-1 {n}"}, "address"),
    ({"household": {"householdId": "{n}"}}, "household.householdId"),
])
def test_a_my_number_anywhere_in_a_form_is_refused_and_never_written(registry, number, where,
                                                                     field):
    form = orjson.loads(orjson.dumps({**hanako(), **where}).decode().replace("{n}", number))
    with pytest.raises(MyNumberRefused) as caught:
        registry.register(form, source="reception:1")
    assert caught.value.field == field
    assert number not in str(caught.value) and MY_NUMBER not in str(caught.value.to_dict())
    assert registry.count() == 0
    assert_never_stored(registry)


def test_my_numbers_are_refused_in_every_input_channel(registry):
    person_id = registry.register(hanako(), source="reception:1").person_id
    csv = ("氏,名,生年月日,性別,住所,安否情報の開示,備考\n"
           f"佐藤,一郎,1950-01-01,男,神戸市中央区1-1,はい,{MY_NUMBER}\n"
           "鈴木,二郎,1951-01-01,男,神戸市中央区1-2,はい,\n")
    report = import_csv(registry, csv.encode(), source="csv:list.csv")
    assert [(line.line, line.outcome, line.code) for line in report.lines] == [
        (2, "refused", "personal_number.refused"), (3, "new", None)]
    assert report.lines[0].column == "備考"
    with pytest.raises(MyNumberRefused):
        import_csv(registry, "氏,名,マイナンバー\n山田,花子,\n", source="csv:bad.csv")
    with pytest.raises(MyNumberRefused):
        registry.inquire(f"山田 {MY_NUMBER}", "1948-04-01", asked_by="call-center")
    with pytest.raises(MyNumberRefused):
        registry.update_stay(person_id, {"stayType": "shelter", "shelterId": MY_NUMBER},
                             by="staff-1")
    with pytest.raises(MyNumberRefused):
        registry.register(hanako(), source=f"reception:{MY_NUMBER}")
    issuer = CardIssuer()
    with pytest.raises(MyNumberRefused):
        issuer.issue(family_name="山田", given_name="花子", birth_date="1948-04-01",
                     sex="female", address=f"神戸市 {MY_NUMBER}")
    card = issuer.issue(family_name="山田", given_name="花子", birth_date="1948-04-01",
                        sex="female", address="神戸市東灘区本山北町3-6-1", valid_from=NOW)
    smuggled = {**card, "credentialSubject": {**card["credentialSubject"],
                                              "myNumber": MY_NUMBER}}
    with pytest.raises(MyNumberRefused):
        register_card(registry, smuggled, trusted_issuers={issuer.did},
                      consent_to_disclose=True, source="desk-1")
    assert registry.count() == 2
    assert_never_stored(registry)


def test_no_table_has_a_my_number_column(registry):
    columns = {row[1].casefold() for (table,) in registry.store.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'bosai_%'")
        for row in registry.store.query(f"PRAGMA table_info({table})")}
    assert not {c for c in columns if "number" in c or "mynumber" in c or "kojin" in c}


# --------------------------------------------------------------------------- safety inquiries

def test_an_inquiry_is_answered_with_what_the_person_consented_to(registry):
    registry.register(hanako(disclosureScope=["shelter"]), source="a")
    answer = registry.inquire("やまだ はなこ", "昭和23年4月1日", asked_by="call-center:7")
    assert answer.found and answer.people == ({"accountedFor": True,
                                              "shelterId": "28110-0001"},)
    assert registry.inquire("山田花子", "1948/4/1", asked_by="x").people == answer.people


@pytest.mark.parametrize("scope, shown", [
    (None, {"accountedFor", "stayType", "shelterId"}),
    (["safety"], {"accountedFor"}),
    (["address", "contact"], {"accountedFor", "address", "contact"}),
    (["stay_type"], {"accountedFor", "stayType"}),
])
def test_only_consented_items_are_disclosed(registry, scope, shown):
    registry.register(hanako(disclosureScope=scope), source="a")
    (person,) = registry.inquire("山田花子", "1948-04-01", asked_by="x").people
    assert set(person) == shown


def test_non_consenting_and_unknown_people_get_the_same_no_information(registry):
    registry.register(hanako(consentToDisclose=False), source="a")
    withheld = registry.inquire("山田花子", "1948-04-01", asked_by="call-center:7")
    unknown = registry.inquire("山田太郎", "1948-04-01", asked_by="call-center:7")
    assert not withheld.found and not unknown.found
    strip = [{k: v for k, v in a.to_json().items() if k != "inquiry"} for a in (withheld,
                                                                               unknown)]
    assert strip[0] == strip[1] and strip[0]["people"] == []
    assert withheld.message("ja") == unknown.message("ja")


def test_a_merge_that_withdraws_consent_stops_disclosure(registry):
    registry.register(hanako(), source="a")
    registry.register(hanako(consentToDisclose="いいえ"), source="b")
    assert not registry.inquire("山田花子", "1948-04-01", asked_by="x").found
    person_id = registry.store.query("SELECT id FROM bosai_persons")[0][0]
    registry.set_consent(person_id, True, ["safety"], by="staff-1")  # the person says so
    assert registry.inquire("山田花子", "1948-04-01", asked_by="x").people == (
        {"accountedFor": True},)


def test_every_inquiry_is_audited_with_who_asked_and_no_personal_data(registry):
    consenting = registry.register(hanako(), source="a")
    silent = registry.register(hanako(givenName="太郎", givenNameKana="タロウ", sex="male",
                                      consentToDisclose=False), source="b")
    registry.inquire("山田花子", "1948-04-01", asked_by="call-center:7")
    registry.inquire("山田太郎", "1948-04-01", asked_by="app:anpi")
    registry.inquire("田中一郎", "1950-01-01", asked_by="app:anpi")
    with pytest.raises(RegistryInputError):
        registry.inquire("山田花子", "not a date", asked_by="app:anpi")
    entries = AuditLog(registry.store).entries("bosai.safety_inquiry")
    assert [(e["asked_by"], e["outcome"]) for e in entries] == [
        ("call-center:7", "answered"), ("app:anpi", "no_information"),
        ("app:anpi", "no_information"), ("app:anpi", "refused")]
    assert entries[0]["disclosed"] == [consenting.person_id]
    assert entries[1]["withheld"] == [silent.person_id]  # who is being looked for, for staff
    assert entries[3]["field"] == "birthDate"
    lines = "\n".join(AuditLog(registry.store).lines())
    # The telephone number whole: "078" alone turns up in the lines' hex hashes by chance.
    for personal in ("山田", "花子", "太郎", "田中", "1948-04-01", "1950", "本山",
                     "078-123-4567", "123-4567"):
        assert personal not in lines
    assert verify_chain(AuditLog(registry.store).lines()).ok


def test_inquiries_need_a_name_a_date_and_who_asks(registry):
    for name, born, asked_by, field in [("", "1948-04-01", "x", "name"),
                                        ("山田花子", "", "x", "birthDate"),
                                        ("山田花子", "1948-04-01", "", "asked_by")]:
        with pytest.raises(RegistryInputError) as caught:
            registry.inquire(name, born, asked_by=asked_by)
        assert caught.value.field == field


# --------------------------------------------------------------------------- medical part

def test_medical_needs_live_apart_and_every_read_is_audited(registry):
    person = registry.register(hanako(careNeeds={"careCategory": ["elderly"],
                                                 "medicalNeed": ["dialysis"],
                                                 "careNotes": "週3回の人工透析"}), source="a")
    body = registry.store.query("SELECT body FROM bosai_persons")[0][0]
    assert b"dialysis" not in body and "透析".encode() not in body
    sources = registry.store.query("SELECT basic_items FROM bosai_person_sources")[0][0]
    assert b"dialysis" not in sources and b"careCategory" not in sources
    stored = registry.get_person(person.person_id, with_sources=True)
    assert stored.care_categories == ("elderly",) and stored.data.medical is None
    medical = registry.medical(person.person_id, by="clinic:did:key:z6MkClinic",
                               purpose="medical_care")
    assert medical.needs == ("dialysis",) and medical.notes == ("週3回の人工透析",)
    (entry,) = AuditLog(registry.store).entries("bosai.medical_read")
    assert (entry["person"], entry["by"], entry["purpose"]) == (
        person.person_id, "clinic:did:key:z6MkClinic", "medical_care")
    answer = registry.inquire("山田花子", "1948-04-01", asked_by="x")
    assert "透析" not in orjson.dumps(answer.to_json()).decode()


# --------------------------------------------------------------------------- errors and logs

PERSONAL = ("山田", "花子", "ヤマダ", "1948", "本山北町", "078-123")


@pytest.mark.parametrize("changes, field", [
    ({"birthDate": "1948-02-30 山田花子"}, "birthDate"),
    ({"sex": "山田花子"}, "sex"),
    ({"familyNameKana": "山田"}, "familyNameKana"),
    ({"contact": {"telephone": "078-123-山田"}}, "contact.telephone"),
    ({"stayLocation": {"stayType": "本山北町"}}, "stayLocation.stayType"),
    ({"careNeeds": {"careCategory": ["花子"]}}, "careNeeds.careCategory[0]"),
    ({"consentToDisclose": "山田"}, "consentToDisclose"),
    ({"address": "本山北町" * 100}, "address"),
])
def test_errors_name_the_field_never_the_value(registry, changes, field, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RegistryInputError) as caught:
        registry.register(hanako(**changes), source="reception:1")
    assert caught.value.field == field
    shown = str(caught.value) + repr(caught.value.to_dict()) + caplog.text
    assert not [p for p in PERSONAL if p in shown], shown


def test_nothing_personal_is_logged(registry, caplog):
    caplog.set_level(logging.DEBUG)
    person = registry.register(hanako(), source="a")
    registry.register(hanako(sex="male"), source="b")
    registry.inquire("山田花子", "1948-04-01", asked_by="x")
    registry.update_stay(person.person_id, "home", by="x")
    registry.decide(registry.reviews()[0].id, "keep_apart", by="x")
    assert not [p for p in PERSONAL if p in caplog.text]
