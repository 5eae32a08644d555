"""Evacuee registry: exact merge, review queue, never merging on fewer than the 4 items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from connector.control.audit import AuditLog, verify_chain
from connector.plugins.registry import activate_plugins, dataset_schema, plugin_contexts
from connector.store.database import StoreError
from domains.bosai import plugin as bosai
from domains.bosai.registry import (
    AddressContext,
    PersonNotFound,
    Registry,
    RegistryInputError,
    ReviewDecided,
    ReviewNotFound,
    StayLocation,
    VersionConflict,
    to_record,
)
from trust import jsonld

CONTEXTS = plugin_contexts([bosai])  # what a connector running bosai serves


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 17, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def registry(tmp_path):
    r = Registry.open(tmp_path / "registry.sqlite", place=AddressContext("兵庫県", "神戸市"),
                      clock=Clock())
    yield r
    r.close()


def hanako(**changes) -> dict:
    form = {"familyName": "山田", "givenName": "花子", "familyNameKana": "ヤマダ",
            "givenNameKana": "ハナコ", "birthDate": "1948-04-01", "sex": "female",
            "address": "兵庫県神戸市東灘区本山北町3丁目6番1号",
            "stayLocation": {"stayType": "shelter", "shelterId": "28110-0001"},
            "consentToDisclose": True}
    return {k: v for k, v in {**form, **changes}.items() if v is not None}


# --------------------------------------------------------------------------- exact merges

@pytest.mark.parametrize("variant", [
    {"familyNameKana": "やまだ", "givenNameKana": "ﾊﾅｺ"},
    {"birthDate": "昭和23年4月1日"},
    {"birthDate": "S23.4.1", "sex": "女"},
    {"address": "神戸市東灘区本山北町３－６－１"},
    {"address": "兵庫県神戸市東灘区本山北町3-6-1", "familyName": "山田 "},
    {"familyNameKana": None, "givenNameKana": None},  # a card has no kana
], ids=["kana", "wareki", "letter-era", "address", "spaces", "no-kana"])
def test_the_same_person_written_differently_is_merged(registry, variant):
    first = registry.register(hanako(), source="reception:28110-0001")
    again = registry.register(hanako(**variant), source="csv:list.csv#line=2", kind="csv")
    assert (first.outcome, again.outcome) == ("new", "merged")
    assert again.person_id == first.person_id and registry.count() == 1


def test_old_character_forms_merge(registry):
    first = registry.register(hanako(familyName="髙﨑", familyNameKana="タカサキ"), source="a")
    again = registry.register(hanako(familyName="高崎", familyNameKana="タカサキ"), source="b")
    assert again.outcome == "merged" and again.person_id == first.person_id


def test_a_merge_keeps_both_inputs_and_their_provenance(registry):
    first = registry.register(hanako(familyName="髙田", familyNameKana="タカダ",
                                     careNeeds={"careCategory": ["elderly"],
                                                "medicalNeed": ["dialysis"]}),
                              source="reception:28110-0001", by="staff-7")
    registry.register(hanako(familyName="高田", familyNameKana=None, givenNameKana=None,
                             contact={"telephone": "078-123-4567"}, consentToDisclose=False,
                             stayLocation={"stayType": "vehicle"},
                             careNeeds={"careCategory": ["disabled"],
                                        "medicalNeed": ["oxygen"]}),
                      source="card-reader:desk-2", kind="card", verified_by="did:key:z6MkCard")
    person = registry.get_person(first.person_id, with_sources=True)
    assert person.version == 2
    assert (person.family_name, person.family_name_kana) == ("髙田", "タカダ")  # as first written
    assert [s.basic_items["familyName"] for s in person.sources] == ["髙田", "高田"]
    assert [(s.source, s.kind, s.outcome, s.by, s.verified_by) for s in person.sources] == [
        ("reception:28110-0001", "form", "new", "staff-7", None),
        ("card-reader:desk-2", "card", "merged", None, "did:key:z6MkCard")]
    assert person.care_categories == ("elderly", "disabled")
    assert person.contact.telephone == "078-123-4567"
    assert person.stay == StayLocation("vehicle")  # the newer input says where they are now
    assert person.consent.disclose is False  # a merge never widens what may be disclosed
    medical = registry.medical(first.person_id, by="doctor-1")
    assert medical.needs == ("dialysis", "oxygen")
    assert all("medicalNeed" not in s.basic_items for s in person.sources)


def test_people_in_one_batch_match_each_other(registry):
    stats = registry.register_many([hanako(), hanako(birthDate="昭和23年4月1日"),
                                    hanako(givenName="太郎", givenNameKana="タロウ", sex="male")],
                                   source="csv:x")
    assert [r.outcome for r in stats.results] == ["new", "merged", "new"]
    assert stats.results[1].person_id == stats.results[0].person_id
    assert (stats.new, stats.merged, stats.review, registry.count()) == (2, 1, 0, 2)


# --------------------------------------------------------------------------- near matches

@pytest.mark.parametrize("changes, reason", [
    ({"address": "兵庫県神戸市東灘区本山北町3丁目6番2号"}, "address_differs"),
    ({"sex": "male"}, "sex_differs"),
    ({"birthDate": "1948-04-02"}, "birth_date_differs"),
    ({"givenNameKana": "ハナゴ"}, "kana_differs"),
    ({"givenName": "華子"}, "name_differs_same_kana"),
    ({"givenName": "華子", "givenNameKana": "ハナゴ"}, "kana_one_edit"),
    ({"givenName": "華子", "familyNameKana": None, "givenNameKana": None}, "name_one_edit"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_three_of_four_items_go_to_review_never_merge(registry, changes, reason):
    first = registry.register(hanako(), source="a")
    near = registry.register(hanako(**changes), source="b")
    assert near.outcome == "review" and near.person_id != first.person_id
    assert registry.count() == 2
    (review,) = registry.reviews()
    assert (review.person_id, review.candidate_id) == (near.person_id, first.person_id)
    assert reason in review.reasons and review.status == "open"
    assert near.reviews[0].review_id == review.id


def test_saito_with_different_characters_is_a_review_not_a_merge(registry):
    first = registry.register(hanako(familyName="斎藤", familyNameKana="サイトウ"), source="a")
    other = registry.register(hanako(familyName="斉藤", familyNameKana="サイトウ"), source="b")
    assert other.outcome == "review" and other.person_id != first.person_id
    assert registry.reviews()[0].reasons == ("name_differs_same_kana", "name_one_edit")


@pytest.mark.parametrize("changes", [
    {"sex": "male", "address": "兵庫県神戸市中央区1-1"},  # name + birth date only
    {"birthDate": "1950-01-01", "sex": "male"},  # name + address only
    {"familyName": "佐藤", "familyNameKana": "サトウ", "givenName": "一郎",
     "givenNameKana": "イチロウ"},  # birth date + sex + address only
])
def test_two_items_in_common_are_different_people(registry, changes):
    registry.register(hanako(), source="a")
    other = registry.register(hanako(**changes), source="b")
    assert other.outcome in ("new", "review") and registry.count() == 2


def test_several_exact_matches_are_ambiguous_and_reviewed(registry):
    a = registry.register(hanako(), source="a")
    b = registry.register(hanako(givenNameKana="ハナゴ"), source="b")  # kana differs: review
    registry.decide(registry.reviews()[0].id, "keep_apart", by="staff-1")
    c = registry.register(hanako(familyNameKana=None, givenNameKana=None), source="card")
    assert c.outcome == "review"
    assert {(r.candidate_id, r.reasons) for r in c.reviews} == {
        (a.person_id, ("ambiguous_exact",)), (b.person_id, ("ambiguous_exact",))}


# --------------------------------------------------------------------------- decisions

def test_merge_decision_folds_the_newer_registration_into_the_older(registry, tmp_path):
    first = registry.register(hanako(careNeeds={"medicalNeed": ["allergy"]}), source="a")
    near = registry.register(hanako(address="神戸市東灘区本山北町3-6-2",
                                    stayLocation={"stayType": "relatives"}), source="b")
    third = registry.register(hanako(address="神戸市東灘区本山北町3-6-2", givenNameKana="ハナゴ"),
                              source="c")
    # third is near both; once `near` is merged its review against it is a duplicate
    review = next(r for r in registry.reviews() if r.person_id == near.person_id)
    decided = registry.decide(review.id, "merge", by="staff-2")
    assert (decided.status, decided.decided_by) == ("merged", "staff-2")
    assert registry.count() == 2
    merged = registry.get_person(near.person_id, with_sources=True)  # old id still answers
    assert merged.id == first.person_id and registry.resolve(near.person_id) == first.person_id
    assert [s.source for s in merged.sources] == ["a", "b"]
    assert merged.stay == StayLocation("relatives")
    assert registry.medical(near.person_id, by="doctor").needs == ("allergy",)
    open_reviews = registry.reviews()
    assert {(r.person_id, r.candidate_id) for r in open_reviews} == {
        (third.person_id, first.person_id)}
    assert registry.reviews("obsolete")  # the duplicate pair after the merge
    entries = AuditLog(registry.store).entries("bosai.review_decided")
    assert entries[-1]["person"] == first.person_id and entries[-1]["by"] == "staff-2"
    assert verify_chain(AuditLog(registry.store).lines()).ok


def test_keep_apart_is_final_and_decisions_are_checked(registry):
    registry.register(hanako(), source="a")
    registry.register(hanako(sex="male"), source="b")
    review = registry.reviews()[0]
    with pytest.raises(RegistryInputError) as caught:
        registry.decide(review.id, "maybe", by="staff-1")
    assert caught.value.field == "decision"
    assert registry.decide(review.id, "keep_apart", by="staff-1").status == "kept_apart"
    with pytest.raises(ReviewDecided):
        registry.decide(review.id, "merge", by="staff-1")
    with pytest.raises(ReviewNotFound):
        registry.decide("urn:uuid:nope", "merge", by="staff-1")
    assert registry.count() == 2 and registry.reviews() == []


# --------------------------------------------------------------------------- stay and record

def test_stay_updates_are_versioned_with_who_and_when(registry):
    person = registry.register(hanako(), source="reception:28110-0001", by="staff-1")
    moved = registry.update_stay(person.person_id, {"stayType": "shelter",
                                                    "shelterId": "28110-0002"},
                                 by="did:key:z6MkShelterNpo", expected_version=1)
    assert moved.version == 2 and moved.stay.shelter_id == "28110-0002"
    assert moved.stay_updated_by == "did:key:z6MkShelterNpo"
    with pytest.raises(VersionConflict):
        registry.update_stay(person.person_id, "home", by="x", expected_version=1)
    registry.update_stay(person.person_id, "在宅", by="staff-3")
    assert [(h["stayType"], h["shelterId"], h["by"]) for h in
            registry.stay_history(person.person_id)] == [
        ("shelter", "28110-0001", "staff-1"), ("shelter", "28110-0002", "did:key:z6MkShelterNpo"),
        ("home", None, "staff-3")]
    with pytest.raises(RegistryInputError) as caught:
        registry.update_stay(person.person_id, {"stayType": "shelter"}, by="x")
    assert caught.value.field == "stayLocation.shelterId"
    with pytest.raises(PersonNotFound):
        registry.update_stay("urn:uuid:unknown", "home", by="x")
    assert [e["by"] for e in AuditLog(registry.store).entries("bosai.stay_updated")] == [
        "did:key:z6MkShelterNpo", "staff-3"]


def test_records_fit_the_evacuee_schema_and_context(registry, isolated_registries):
    activate_plugins([bosai])
    person = registry.register(hanako(contact={"telephone": "078-123-4567",
                                               "email": "h@example.jp"},
                                      household={"householdId": "H-1", "relationship": "head"},
                                      disclosureScope=["stay_type", "shelter"],
                                      careNeeds={"careCategory": ["elderly"],
                                                 "medicalNeed": ["dialysis"],
                                                 "careNotes": "週3回"}), source="a")
    stored = registry.get_person(person.person_id)
    public = to_record(stored)
    full = to_record(stored, medical=registry.medical(person.person_id, by="doctor"))
    assert "medicalNeed" not in public["careNeeds"] and full["careNeeds"]["careNotes"] == "週3回"
    assert public["disclosureScope"] == ["safety", "stay_type", "shelter"]
    for record in (public, full):
        jsonschema.validate(record, dataset_schema("evacuee"))
        jsonld.check_no_dropped_terms(record, CONTEXTS)


def test_a_failing_batch_leaves_nothing_behind(registry, monkeypatch):
    registry.register(hanako(), source="a")
    calls = {"n": 0}
    original = registry._register

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise StoreError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(registry, "_register", flaky)
    forms = [hanako(givenName=f"子{i}", givenNameKana="コ" * (i + 1)) for i in range(5)]
    with pytest.raises(StoreError):
        registry.register_many(forms, source="csv:x")
    assert registry.count() == 1
    assert registry.store.query("SELECT count(*) FROM bosai_person_sources")[0][0] == 1


def test_register_many_reports_refusals_by_index(registry):
    stats = registry.register_many([hanako(), {"familyName": "山田"}, hanako(sex="?")],
                                   source="x")
    assert [(r.index, r.field) for r in stats.refused] == [(1, "givenName"), (2, "sex")]
    assert stats.results[1] is None and stats.new == 1


# --------------------------------------------------------------------------- unknown items

@pytest.mark.parametrize("unknown", [
    {"sex": "不明", "address": "不明"},
    {"sex": "not_known", "address": "未記入"},
    {"sex": "不明", "address": "ー"},
    {"sex": "不明", "address": "-"},
    {"sex": "female", "address": "不明"},
    {"sex": "不明"},
    {"address": "－"},
    {"address": "不詳"},
], ids=["both-fumei", "not-known-mikinyu", "choon", "hyphen", "address-only", "sex-only",
        "full-width-hyphen", "fusho"])
def test_unknown_items_never_count_as_a_match(registry, unknown):
    """Issue 10 item 2: same name and birth date with 性別 不明 and 住所 不明 on both sides
    auto-merged (the normalised placeholders compared equal). Unknown is equal to nothing:
    such a pair goes to a person for review, never to an automatic merge."""
    first = registry.register(hanako(**unknown), source="a")
    again = registry.register(hanako(**unknown), source="b")
    assert (first.outcome, again.outcome) == ("new", "review")
    assert again.person_id != first.person_id and registry.count() == 2
    (ref,) = again.reviews
    assert ref.candidate_id == first.person_id and "unknown_items" in ref.reasons
    assert [r.id for r in registry.reviews()] == [ref.review_id]


def test_unknown_on_one_side_only_goes_to_review_too(registry):
    first = registry.register(hanako(), source="a")
    again = registry.register(hanako(sex="不明", address="不明"), source="b")
    assert again.outcome == "review" and registry.count() == 2
    assert again.reviews[0].candidate_id == first.person_id
    assert "unknown_items" in again.reviews[0].reasons


def test_known_items_still_merge_and_unknown_ones_never_differ_silently(registry):
    first = registry.register(hanako(sex="不明", address="不明"), source="a")
    other = registry.register(hanako(sex="不明", address="不明", birthDate="1950-01-01"),
                              source="b")  # a different birth date: unrelated people
    assert other.outcome == "new" and registry.count() == 2
    known = registry.register(hanako(), source="c")  # all 4 items known: nothing to merge
    assert known.outcome == "review" and first.person_id in {
        r.candidate_id for r in known.reviews}
