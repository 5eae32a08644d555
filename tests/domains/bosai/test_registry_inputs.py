"""Evacuee registry inputs: forms, CSV with a per-line report, the simulated My Number card."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from domains.bosai.demo_people import evacuee
from domains.bosai.registry import (
    AddressContext,
    CardError,
    Registry,
    RegistryInputError,
    StayLocation,
    parse_form,
)
from domains.bosai.registry.card import CardIssuer, read_card, register_card
from domains.bosai.registry.csv_import import CsvFileError, import_csv
from trust.keys import KeyPair

NOW = datetime(2025, 1, 17, 6, 0, tzinfo=UTC)
TODAY = date(2025, 1, 17)


@pytest.fixture
def registry(tmp_path):
    r = Registry.open(tmp_path / "registry.sqlite", place=AddressContext("兵庫県", "神戸市"),
                      clock=lambda: NOW)
    yield r
    r.close()


def hanako(**changes) -> dict:
    form = {"familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ",
            "givenNameKana": "ハナコ", "birthDate": "1948-04-01", "sex": "female",
            "address": "兵庫県神戸市東灘区本山北町3丁目6番1号", "consentToDisclose": True}
    return {k: v for k, v in {**form, **changes}.items() if v is not None}


# --------------------------------------------------------------------------- forms

def test_a_form_accepts_labels_kana_scripts_and_wareki():
    person = parse_form(hanako(familyNameKana="やまだ", givenNameKana="ﾊﾅｺ",
                               birthDate="昭和23年4月1日", sex="女性", consentToDisclose="はい",
                               stayLocation={"stayType": "車中泊"},
                               household={"householdId": "H-7", "relationship": "世帯主"},
                               careCategory="高齢者;乳幼児", medicalNeed=["人工透析"],
                               disclosureScope="stay_type、shelter"), today=TODAY)
    assert (person.family_name_kana, person.given_name_kana) == ("ヤマダ", "ハナコ")
    assert person.birth_date == date(1948, 4, 1) and person.sex == "female"
    assert person.stay == StayLocation("vehicle")
    assert person.household.relationship == "head"
    assert person.care_categories == ("elderly", "infant")
    assert person.medical.needs == ("dialysis",)
    assert person.consent.scope == ("safety", "stay_type", "shelter")


def test_a_full_evacuee_record_is_a_valid_form():
    record = evacuee(1, random.Random(1), ["S1"])
    assert parse_form(record, today=TODAY).family_name == record["familyName"]


@pytest.mark.parametrize("changes, field", [
    ({"familyName": None}, "familyName"),
    ({"givenName": "  "}, "givenName"),
    ({"givenName": 7}, "givenName"),
    ({"birthDate": None}, "birthDate"),
    ({"birthDate": "平成31年5月1日"}, "birthDate"),
    ({"sex": "x"}, "sex"),
    ({"address": None}, "address"),
    ({"consentToDisclose": None}, "consentToDisclose"),
    ({"consentToDisclose": "たぶん"}, "consentToDisclose"),
    ({"givenNameKana": None}, "givenNameKana"),
    ({"familyNameKana": "Yamada"}, "familyNameKana"),
    ({"stayLocation": {"stayType": "shelter"}}, "stayLocation.shelterId"),
    ({"stayLocation": {"stayType": "tent"}}, "stayLocation.stayType"),
    ({"stayLocation": {"stayType": "home", "floor": 2}}, "stayLocation.floor"),
    ({"contact": {"telephone": "abc"}}, "contact.telephone"),
    ({"contact": {"email": "no-at-sign"}}, "contact.email"),
    ({"household": {"relationship": "head"}}, "household.householdId"),
    ({"careNeeds": {"careCategory": ["elderly", "vip"]}}, "careNeeds.careCategory[1]"),
    ({"careNeeds": {"careNotes": "x" * 1001}}, "careNeeds.careNotes"),
    ({"disclosureScope": ["everything"]}, "disclosureScope[0]"),
    ({"nickname": "はなちゃん"}, "nickname"),
    ({"familyName": "山\x00田"}, "familyName"),
])
def test_form_errors_name_the_field(changes, field):
    with pytest.raises(RegistryInputError) as caught:
        parse_form(hanako(**changes), today=TODAY)
    assert caught.value.field == field and caught.value.code == "bosai.input_invalid"


# --------------------------------------------------------------------------- CSV

GOOD_AND_BAD = (
    "氏,名,セイ,メイ,生年月日,性別,住所,電話番号,滞在場所,避難所ID,要配慮,安否情報の開示\n"  # 1
    "山田,花子,ヤマダ,ハナコ,昭和23年4月1日,女,神戸市東灘区本山北町3-6-1,078-123-4567,避難所,"
    "28110-0001,高齢者,はい\n"  # 2
    "佐藤,一郎,サトウ,イチロウ,昭和25年2月30日,男,神戸市中央区1-1,,在宅,,,はい\n"  # 3 bad date
    ",次郎,,,1960-01-01,男,神戸市中央区1-2,,在宅,,,いいえ\n"  # 4 no family name
    "鈴木,\"三\n郎\",,,1961-01-01,男,神戸市中央区1-3,,在宅,,,いいえ\n"  # 5-6 quoted newline
    "田中,四郎,,,1962-01-01\n"  # 7 too few cells
    "\n"  # 8 blank
    "山田,花子,やまだ,はなこ,1948/4/1,女性,兵庫県神戸市東灘区本山北町三丁目6番1号,,避難所,"
    "28110-0002,,はい\n"  # 9 the same person as line 2
    "高橋,五郎,タカハシ,ゴロウ,1970-01-01,男,神戸市中央区1-4,,テント,,,はい\n"  # 10 bad stay
)


def test_csv_lines_are_reported_with_their_line_numbers(registry):
    report = import_csv(registry, GOOD_AND_BAD.encode(), source="csv:kobe.csv", by="staff-1")
    got = [(line.line, line.outcome, line.field, line.column) for line in report.lines]
    assert got == [
        (2, "new", None, None),
        (3, "refused", "birthDate", "生年月日"),
        (4, "refused", "familyName", "氏"),
        (5, "new", None, None),  # a quoted field over two lines is reported where it starts
        (7, "refused", "line", None),
        (9, "merged", None, None),
        (10, "refused", "stayLocation.stayType", "滞在場所"),
    ]
    assert report.lines[0].person_id == report.lines[5].person_id
    assert registry.get_person(report.lines[3].person_id).given_name == "三 郎"
    assert report.summary() == "registered 3 (new 2, merged 1, review 0), refused 4"
    person = registry.get_person(report.lines[0].person_id, with_sources=True)
    assert [s.source for s in person.sources] == ["csv:kobe.csv#line=2", "csv:kobe.csv#line=9"]
    assert {s.kind for s in person.sources} == {"csv"} and person.sources[0].by == "staff-1"
    assert person.stay == StayLocation("shelter", "28110-0002")
    assert "三" not in str(report.to_json()) and "1950" not in str(report.to_json())


def test_csv_encodings_full_names_and_a_column_mapping(registry):
    text = ("氏名,フリガナ,誕生日,性別,現住所,開示\n"
            "山田　花子,ヤマダ ハナコ,S23.4.1,女,神戸市東灘区本山北町3-6-1,同意する\n")
    columns = {"誕生日": "birthDate", "現住所": "address", "開示": "consentToDisclose"}
    for data in (text.encode("cp932"), "\ufeff".encode() + text.encode()):
        report = import_csv(registry, data, source="csv:x", columns=columns)
        assert [line.outcome for line in report.lines] in (["new"], ["merged"])
    person = registry.get_person(report.lines[0].person_id)
    assert (person.family_name, person.given_name, person.given_name_kana) == (
        "山田", "花子", "ハナコ")


@pytest.mark.parametrize("data, field", [
    (b"", "header"),
    (b"\xff\xfe\x00\x01\x80\x81\xfd", "file"),
    ("色,形\n赤,丸\n".encode(), "header"),
    ("氏,姓\n山田,山田\n".encode(), "header"),
])
def test_unreadable_csv_files_are_refused_whole(registry, data, field):
    with pytest.raises(CsvFileError) as caught:
        import_csv(registry, data, source="csv:x")
    assert caught.value.field == field and registry.count() == 0


def test_a_column_mapped_to_an_unknown_field_is_refused(registry):
    with pytest.raises(CsvFileError):
        import_csv(registry, "氏,名\n山田,花子\n", source="csv:x", columns={"名": "nickname"})


# --------------------------------------------------------------------------- the card

@pytest.fixture
def issuer():
    return CardIssuer(KeyPair.from_seed(bytes(range(32))))


def card(issuer, **changes):
    fields = {"family_name": "山田", "given_name": "花子", "birth_date": date(1948, 4, 1),
              "sex": "female", "address": "兵庫県神戸市東灘区本山北町3丁目6番1号",
              "valid_from": NOW - timedelta(days=1)}
    return issuer.issue(**{**fields, **changes})


def test_reception_verifies_the_card_and_registers_in_one_step(registry, issuer):
    result = register_card(registry, card(issuer), trusted_issuers={issuer.did},
                           consent_to_disclose=True, source="reception:28110-0001",
                           by="staff-1", stay_location=StayLocation("shelter", "28110-0001"))
    assert result.outcome == "new"
    person = registry.get_person(result.person_id, with_sources=True)
    assert person.sources[0].kind == "card" and person.sources[0].verified_by == issuer.did
    assert person.family_name_kana is None and person.stay.shelter_id == "28110-0001"
    # the same person at another desk, by form with kana: one person
    again = registry.register(hanako(familyNameKana="ヤマダ"), source="reception:28110-0002")
    assert again.outcome == "merged" and again.person_id == result.person_id
    assert registry.get_person(result.person_id).family_name_kana == "ヤマダ"


def test_the_card_carries_only_the_four_items(issuer):
    credential = card(issuer)
    assert set(credential["credentialSubject"]) == {"familyName", "givenName", "birthDate",
                                                    "sex", "address"}
    items, who = read_card(credential, trusted_issuers={issuer.did}, now=NOW)
    assert who == issuer.did and items["birthDate"] == "1948-04-01"


def _tampered(credential):
    changed = copy.deepcopy(credential)
    changed["credentialSubject"]["address"] = "兵庫県神戸市中央区加納町6-5-1"
    return changed


def _forged(issuer):
    """Signed by someone else's key, claiming the trusted issuer."""
    forger = CardIssuer()
    credential = card(forger)
    credential["issuer"] = issuer.did
    return credential


def _resigned_with_extra_member(issuer):
    extra = {k: v for k, v in card(issuer).items() if k != "proof"}
    extra["credentialSubject"] = {**extra["credentialSubject"], "nickname": "はな"}
    from trust.proofs import sign_document
    return sign_document(extra, issuer.key)


@pytest.mark.parametrize("make, code", [
    (lambda i: _tampered(card(i)), "bosai.card_signature"),
    (_forged, "bosai.card_signature"),
    (lambda i: card(CardIssuer()), "bosai.card_untrusted_issuer"),
    (lambda i: {**card(i), "proof": None}, "bosai.card_signature"),
    (lambda i: {k: v for k, v in card(i).items() if k != "proof"}, "bosai.card_signature"),
    (lambda i: card(i, valid_until=NOW - timedelta(seconds=1)), "bosai.card_expired"),
    (lambda i: card(i, valid_from=NOW + timedelta(days=1)), "bosai.card_not_yet_valid"),
    (_resigned_with_extra_member, "bosai.card_malformed"),
    (lambda i: {**card(i), "note": "x"}, "bosai.card_malformed"),
    (lambda i: {**card(i), "type": ["VerifiableCredential"]}, "bosai.card_malformed"),
    (lambda i: card(i, birth_date="1948-02-30"), "bosai.card_malformed"),
    (lambda i: "not a card", "bosai.card_malformed"),
], ids=["tampered", "forged", "untrusted", "no-proof", "proof-removed", "expired",
        "not-yet-valid", "extra-member", "extra-top-member", "wrong-type", "bad-date",
        "not-json-object"])
def test_bad_cards_are_refused_and_nothing_is_registered(registry, issuer, make, code):
    with pytest.raises(CardError) as caught:
        register_card(registry, make(issuer), trusted_issuers={issuer.did},
                      consent_to_disclose=True, source="reception:1")
    assert caught.value.code == code
    assert "山田" not in str(caught.value) and "本山" not in str(caught.value)
    assert registry.count() == 0


def test_reception_must_still_ask_for_consent(registry, issuer):
    with pytest.raises(RegistryInputError) as caught:
        register_card(registry, card(issuer), trusted_issuers={issuer.did},
                      consent_to_disclose=None, source="reception:1")
    assert caught.value.field == "consentToDisclose" and registry.count() == 0
