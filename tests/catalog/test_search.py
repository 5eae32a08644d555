"""Index and text search: Japanese (kana, width, readings, short terms), facets, ranking,
cursor pagination, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.areas import check_digit, normalize_area
from catalog.index import CursorError, Filters
from catalog.service import Catalog, page_json
from catalog.text import fold_reading, reading
from tests.catalog.helpers import (
    CITY,
    PARTICIPANTS,
    RIVER,
    SHELTER,
    catalog,
    entry,
    offer,
    role,
)

OPEN = offer("urn:offer:open")


@pytest.fixture(scope="module")
def cat() -> Catalog:
    c = Catalog()
    c.set_participants(PARTICIPANTS)
    c.ingest_catalog(CITY, catalog(CITY, [
        entry(CITY, "urn:ds:shelters", "指定避難所一覧", [OPEN],
              description="仙台市の指定避難所と収容人数", keywords=("避難所", "防災"),
              **{"dct:spatial": "041009", "dct:modified": "2026-04-01T00:00:00Z",
                 "dct:type": "bosai:ShelterList", "tsunagu:domain": "bosai",
                 "dcat:theme": ["http://data.europa.eu/bna/c_dd313021"]}),
        entry(CITY, "urn:ds:support", "避難行動要支援者名簿", [offer("urn:offer:m", role(
              "municipality"))], **{"dct:spatial": "04100", "dct:modified": "2026-03-01",
                                    "tsunagu:domain": "bosai"}),
        entry(CITY, "urn:ds:tokyo", "千代田区 緊急避難場所", [OPEN],
              **{"dct:spatial": "13101", "dct:modified": "2026-05-01T00:00:00Z"}),
    ]))
    c.ingest_catalog(RIVER, catalog(RIVER, [
        entry(RIVER, "urn:ds:river", "河川水位 River water levels", [OPEN],
              description="Hourly water levels of the Hirose river", keywords=("河川",),
              **{"dct:spatial": "04", "dct:temporal": {"dcat:startDate": "2020-01-01",
                                                       "dcat:endDate": "2026-12-31"}}),
        entry(RIVER, "urn:ds:hinan", "ヒナンジョ ｶﾞｲﾄﾞ", [OPEN]),
    ]))
    return c


def titles(page) -> list[str]:
    return [h.dataset.title for h in page.hits]


def test_longer_word_finds_the_compound(cat):
    assert titles(cat.search("避難所")) == ["指定避難所一覧"]


def test_two_characters_find_everything_containing_them(cat):
    found = set(titles(cat.search("避難")))
    assert {"指定避難所一覧", "避難行動要支援者名簿", "千代田区 緊急避難場所"} <= found


def test_one_character_finds_too(cat):
    assert "指定避難所一覧" in titles(cat.search("覧"))
    assert "避難行動要支援者名簿" in titles(cat.search("簿"))


def test_reading_finds_kanji(cat):
    found = titles(cat.search("ひなんじょ"))
    assert "指定避難所一覧" in found
    assert "ヒナンジョ ｶﾞｲﾄﾞ" in found  # the kana surface itself


def test_kana_and_width_are_normalised(cat):
    assert titles(cat.search("ｶﾞｲﾄﾞ")) == ["ヒナンジョ ｶﾞｲﾄﾞ"]
    assert titles(cat.search("がいど")) == ["ヒナンジョ ｶﾞｲﾄﾞ"]
    assert titles(cat.search("ＲＩＶＥＲ")) == ["河川水位 River water levels"]


def test_kanji_terms_match_the_surface_only(cat):
    assert cat.search("非難").total == 0  # same reading as 避難, another word


def test_every_term_must_match(cat):
    assert titles(cat.search("避難 一覧")) == ["指定避難所一覧"]
    assert cat.search("避難 river").total == 0


def test_relevance_then_recency(cat):
    # the title match outranks the description-only match
    assert titles(cat.search("hirose water"))[0] == "河川水位 River water levels"
    # no text: most recently modified first
    assert titles(cat.search(""))[:3] == ["千代田区 緊急避難場所", "指定避難所一覧",
                                          "避難行動要支援者名簿"]


@pytest.mark.parametrize("query", ['"', "((", "a)", "NEAR(a b", "*", "避難*", "title:x",
                                   '"避難" OR', "AND", "^", "{reading}: x", "-", "x" * 5000,
                                   "\x00", "a\x00bc", "\u202e\x00x", "🙂🙂", "\u3099", "  ",
                                   "a b c d e f g h i j k l m n"])
def test_fts_syntax_is_text(cat, query):
    page = cat.search(query)
    assert page.total >= 0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_input_is_safe(cat, query):
    cat.search(query, Filters(area=query[:6] or None, keyword=(query,)))


def test_facet_filters(cat):
    assert titles(cat.search("", Filters(domain=("bosai",)))) == ["指定避難所一覧",
                                                                  "避難行動要支援者名簿"]
    assert titles(cat.search("", Filters(dataset_type=("bosai:ShelterList",)))) == [
        "指定避難所一覧"]
    assert titles(cat.search("", Filters(keyword=("防災",)))) == ["指定避難所一覧"]
    assert titles(cat.search("", Filters(theme=("http://data.europa.eu/bna/c_dd313021",)))
                  ) == ["指定避難所一覧"]
    assert set(titles(cat.search("", Filters(publisher=(RIVER,))))) == {
        "河川水位 River water levels", "ヒナンジョ ｶﾞｲﾄﾞ"}
    assert set(titles(cat.search("", Filters(role=("river_office",))))) == {
        "河川水位 River water levels", "ヒナンジョ ｶﾞｲﾄﾞ"}


def test_prefecture_contains_its_municipalities(cat):
    miyagi = set(titles(cat.search("", Filters(area="04"))))
    assert miyagi == {"指定避難所一覧", "避難行動要支援者名簿", "河川水位 River water levels"}
    # a municipality finds its own datasets and the prefecture-wide ones
    sendai = set(titles(cat.search("", Filters(area="041009"))))
    assert sendai == miyagi
    assert titles(cat.search("", Filters(area="JP-13"))) == ["千代田区 緊急避難場所"]
    assert cat.search("", Filters(area="99")).total == 0
    assert cat.search("", Filters(area="041008")).total == 0  # wrong check digit


def test_temporal_coverage(cat):
    assert titles(cat.search("", Filters(temporal_from="2025-01-01", temporal_to="2025-12-31"))
                  ) == ["河川水位 River water levels"]
    assert cat.search("", Filters(temporal_from="2027-01-01")).total == 0


def test_facet_counts(cat):
    page = cat.search("避難", facets=True)
    assert page.facets["publisher"][CITY] == 3
    assert page.facets["prefecture"]["04"] == 2
    assert page.facets["role"]["municipality"] == 3


def test_cursor_pages_without_gaps_or_repeats(cat):
    seen, cursor = [], None
    while True:
        page = cat.search("", limit=2, cursor=cursor)
        assert page.total == 5
        seen += [h.dataset.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert seen == [h.dataset.id for h in cat.search("", limit=10).hits]


def test_foreign_cursor_is_refused(cat):
    cursor = cat.search("", limit=1).next_cursor
    with pytest.raises(CursorError):
        cat.search("避難", limit=1, cursor=cursor)
    with pytest.raises(CursorError):
        cat.search("", cursor="not-a-cursor")


def test_results_are_dsp_datasets_with_explained_offers(cat):
    doc = page_json(cat.search("指定避難所"))
    assert doc["@type"] == "Catalog"
    ds = doc["dataset"][0]
    assert ds["@type"] == "Dataset" and ds["@id"] == "urn:ds:shelters"
    assert ds["dct:publisher"]["@id"] == CITY and ds["dct:publisher"]["foaf:name"] == "仙台市"
    explained = ds["hasPolicy"][0]["tsunagu:explanation"]
    assert any("認められます" in s for s in explained["ja"])
    assert any("may use the data" in s for s in explained["en"])


def test_change_and_withdraw():
    c = Catalog()
    c.set_participants(PARTICIPANTS)
    c.ingest_dataset(SHELTER, entry(SHELTER, "urn:ds:x", "物資要請", [OPEN]))
    assert titles(c.search("物資")) == ["物資要請"]
    c.ingest_dataset(SHELTER, entry(SHELTER, "urn:ds:x", "食料の要請", [OPEN]))
    assert c.search("物資").total == 0 and titles(c.search("食料")) == ["食料の要請"]
    assert c.withdraw(SHELTER, "urn:ds:x")
    assert c.search("食料").total == 0


def test_bad_entries_are_dropped_and_counted():
    c = Catalog()
    c.set_participants(PARTICIPANTS)
    bad_policy = offer("urn:offer:bad", {"leftOperand": "odrl:noSuchOperand",
                                         "operator": "eq", "rightOperand": "x"})
    result = c.ingest_catalog(CITY, catalog(CITY, [
        entry(CITY, "urn:ds:ok", "正しい", [OPEN]),
        entry(CITY, "urn:ds:badpolicy", "不正なポリシー", [bad_policy]),
        {"@id": "urn:ds:notitle", "@type": "Dataset", "hasPolicy": [OPEN], "distribution": []},
        "not an object",
    ]))
    assert result.admitted == ["urn:ds:ok"]
    assert c.drops[(CITY, "invalid_policy")] == 1
    assert c.drops[(CITY, "invalid_entry")] == 2
    unknown = c.ingest_catalog("did:key:z6MkStranger", catalog("did:key:z6MkStranger", [
        entry("did:key:z6MkStranger", "urn:ds:s", "外部", [OPEN])]))
    assert unknown.admitted == [] and c.drops[("did:key:z6MkStranger",
                                               "unknown_participant")] == 1
    # a catalog naming someone else is not theirs to list
    assert c.ingest_catalog(RIVER, catalog(CITY, [entry(CITY, "urn:ds:y", "他人", [OPEN])])
                            ).admitted == []


def test_revoked_participant_disappears():
    c = Catalog()
    c.set_participants(PARTICIPANTS)
    c.ingest_dataset(SHELTER, entry(SHELTER, "urn:ds:x", "物資要請", [OPEN]))
    c.ingest_dataset(CITY, entry(CITY, "urn:ds:y", "物資の一覧", [OPEN]))
    assert c.search("物資").total == 2
    removed = c.set_participants([p for p in PARTICIPANTS if p["id"] != SHELTER])
    assert removed == [SHELTER]
    assert [h.dataset.id for h in c.search("物資").hits] == ["urn:ds:y"]


def test_area_codes():
    assert check_digit("04100") == "9" and check_digit("13101") == "6"
    assert normalize_area("041009") == "04100" and normalize_area("04000") == "04"
    assert normalize_area("JP-04") == "04" and normalize_area("48") is None


def test_readings_are_folded():
    assert reading("指定避難所一覧") == "していひなんしよいちらん"
    assert fold_reading("ヒナンジョ") == fold_reading("ひなんしょ") == "ひなんしよ"
    assert reading("River") == ""
