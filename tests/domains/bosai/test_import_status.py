"""Shelter status snapshots through per-municipality column mappings."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from domains.bosai import vocab
from domains.bosai.importers import (
    MappingError,
    Outcome,
    SourceError,
    load_mapping,
    parse_mapping,
    read_status,
    shelter_types,
)
from domains.japanese import JST

DATA = Path(__file__).parent / "data"
IMP, COR, REF = Outcome.IMPORTED, Outcome.CORRECTED, Outcome.REFUSED


def read(csv: str, mapping: str):
    return read_status((DATA / csv).read_bytes(), load_mapping(DATA / mapping)[0])


def problem(report, line: int) -> str:
    row = next(r for r in report.rows if r.line == line)
    return " | ".join(f"{p.column}: {p.message} ({p.code})" for p in row.problems)


def test_city_a_toml_mapping():
    report, entries = read("status_city_a.csv", "status_city_a.toml")
    assert {r.line: r.outcome for r in report.rows} == {
        2: IMP, 3: COR, 4: REF, 5: REF, 6: REF, 7: IMP, 8: COR, 9: COR, 10: IMP, 11: COR}
    first = entries[0]
    assert first.observed_at == datetime(2024, 4, 30, 6, tzinfo=JST)  # 令和6年4月30日午前6時
    assert (first.open, first.types, first.capacity, first.count, first.day, first.night) == (
        True, ["designated_shelter"], 450, 120, 100, 310)
    assert first.needs == ["粉ミルク", "おむつ", "飲料水"]  # text column, then flag columns
    assert first.raw["更新日時"] == "令和6年4月30日午前6時"
    welfare = entries[1]  # full-width numbers, 全角 date, two types, ○ flags
    assert welfare.observed_at == first.observed_at
    assert (welfare.capacity, welfare.count, welfare.day, welfare.night) == (80, 12, 10, 25)
    assert set(welfare.types) == {"designated_shelter", "welfare_shelter"}
    assert welfare.needs == ["飲料水", "毛布"]
    assert "day 31 does not exist" in problem(report, 4) and "ja.date_invalid" in problem(
        report, 4)
    assert "平成 ended on 2019-04-30" in problem(report, 5)
    assert "duplicate status of 'E1310100001001'" in problem(report, 6)
    assert "first on line 2" in problem(report, 6)
    closed = entries[2]
    assert (closed.shelter_id, closed.open) == ("E1310100001003", False)
    # issue 12 item 7: an unreadable open cell or count costs the cell, not the row
    unknown = entries[3]
    assert (unknown.shelter_id, unknown.open) == ("E1310100001005", None)
    assert "'調整中' is neither open nor closed" in unknown.flagged["開設状況"]
    assert unknown.raw["開設状況"] == "調整中"
    adhoc = entries[4]
    assert adhoc.count == 20 and adhoc.types == [] and adhoc.needs == ["タオル", "歯ブラシ"]
    assert "approximate" in next(r for r in report.rows if r.line == 9).corrections[0].message
    later = entries[5]
    assert later.observed_at == datetime(2024, 4, 30, 18, tzinfo=JST) and later.count == 150
    households = entries[6]
    assert households.count is None and households.raw["避難者数"] == "3世帯"
    assert "counts households, not people" in households.flagged["避難者数"]


def test_city_b_json_mapping_split_date_and_time_in_shift_jis():
    report, entries = read("status_city_b.csv", "status_city_b.json")
    assert report.encoding == "cp932"
    assert {r.line: r.outcome for r in report.rows} == {2: COR, 3: IMP, 4: REF, 5: REF}
    assert entries[0].observed_at == datetime(2024, 4, 30, 18, 30, tzinfo=JST)
    assert entries[1].observed_at == datetime(2024, 4, 30, 18, 30, tzinfo=JST)  # 午後6時半
    assert (entries[0].day, entries[0].night, entries[0].open) == (120, 340, True)
    assert entries[0].needs == ["毛布", "飲料水"]
    assert "day 30 does not exist (2024-02 has 29 days)" in problem(report, 4)
    assert "施設コード is empty" in problem(report, 5)


def test_entry_fills_a_shelter_status_record():
    _, entries = read("status_city_a.csv", "status_city_a.toml")
    schema = json.loads((vocab.HERE / "shelter-status.schema.json").read_text())
    record = {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:uuid:1", "type": "ShelterStatus",
              **entries[1].record_fields()}
    jsonschema.validate(record, schema)
    assert record["population"] == {"day": 10, "night": 25}
    assert record["modified"] == "2024-04-29T21:00:00Z"


@pytest.mark.parametrize(("text", "types"), [
    ("指定避難所", ["designated_shelter"]),
    ("指定緊急避難場所", ["designated_emergency_evacuation_site"]),
    ("福祉避難所", ["welfare_shelter"]),
    ("指定避難所・福祉避難所", ["welfare_shelter", "designated_shelter"]),
    ("指定緊急避難場所/指定避難所", ["designated_emergency_evacuation_site", "designated_shelter"]),
    ("welfare_shelter designated_shelter", ["welfare_shelter", "designated_shelter"]),
    ("公民館", []),
])
def test_shelter_types(text, types):
    assert shelter_types(text) == types


def test_mapping_columns_must_exist_in_the_file():
    mapping = parse_mapping({"columns": {"shelter_id": "避難所ID", "open": "状態",
                                         "timestamp": "更新日時"}})
    with pytest.raises(SourceError) as info:
        read_status((DATA / "status_city_a.csv").read_bytes(), mapping)
    assert info.value.code == "bosai.mapping.columns" and "状態" in info.value.message


def test_open_values_extend_the_defaults():
    mapping = parse_mapping({"columns": {"shelter_id": "id", "open": "状態"},
                             "open_values": {"open": ["受入中"], "closed": ["受入停止"]},
                             "defaults": {"timestamp": "R6.4.30 6:00"}})
    data = "id,状態\nA,受入中\nB,受入停止\nC,開設\nD,\n".encode()
    report, entries = read_status(data, mapping)
    assert [(e.shelter_id, e.open) for e in entries] == [
        ("A", True), ("B", False), ("C", True), ("D", None)]  # issue 12 item 7: flagged
    assert "empty: open or closed?" in entries[3].flagged["状態"]
    assert all(e.observed_at == datetime(2024, 4, 30, 6, tzinfo=JST) for e in entries)


@pytest.mark.parametrize(("mapping", "words"), [
    ([], "a table"),
    ({"columns": {}}, "shelter_id is required"),
    ({"columns": {"shelter_id": "a", "open": "b"}}, "timestamp is required"),
    ({"columns": {"shelter_id": "a", "timestamp": "t"}}, "open is required"),
    ({"columns": {"shelter_id": "a", "open": "b", "timestamp": "t", "capcity": "c"}},
     "unknown key in [columns]: capcity"),
    ({"columns": {"shelter_id": ["a", "b"]}}, "one column name"),
    ({"columns": {"shelter_id": "a", "open": "b"}, "defaults": {"timestamp": "令和6年2月30日"}},
     "day 30 does not exist"),
    ({"columns": {"shelter_id": "a", "timestamp": "t"}, "defaults": {"open": "yes"}},
     "true or false"),
    ({"columns": {"shelter_id": "a", "open": "b", "timestamp": "t"},
      "open_values": {"open": ["x"], "closed": ["X"]}}, "both open and closed"),
    ({"columns": {"shelter_id": "a", "open": "b", "timestamp": "t"}, "encoding": "latin-1"},
     "encoding"),
    ({"columns": {"shelter_id": "a", "open": "b", "timestamp": "t"}, "extra": 1},
     "unknown key in the mapping: extra"),
])
def test_bad_mappings_are_named(mapping, words):
    with pytest.raises(MappingError) as info:
        parse_mapping(mapping)
    assert words in info.value.message and info.value.code == "bosai.mapping.invalid"


def test_mapping_file_syntax_errors(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text("[columns\nshelter_id = 1", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(bad)
    with pytest.raises(MappingError, match="cannot read mapping"):
        load_mapping(tmp_path / "missing.json")


# --- issue 12 item 7: only the identity refuses a row; other cells are flagged ---------------

FREE_TEXT = parse_mapping({
    "columns": {"shelter_id": "ID", "open": "状況", "type": "種別", "capacity": "収容",
                "count": "人数", "timestamp": "日時"}})


def test_a_free_text_capacity_imports_with_indoor_outdoor_and_notes():
    data = ("ID,状況,種別,収容,人数,日時\n"
            'A,開設,指定避難所,"屋内1,700人／屋外2,250人(面積の1/2)",約30,2024/4/30 6:00\n'
            "B,開設,指定避難所,多数,10,2024/4/30 6:00\n").encode()
    report, entries = read_status(data, FREE_TEXT)
    assert [r.outcome for r in report.rows] == [COR, COR]
    a, b = entries
    assert a.capacity == 3950 and a.count == 30
    assert a.capacity_detail == {"total": 3950, "indoor": 1700, "outdoor": 2250,
                                 "notes": ["面積の1/2"],
                                 "raw": "屋内1,700人／屋外2,250人(面積の1/2)"}
    assert a.approximate == ["count"] and a.parsed()["approximate"] == ["count"]
    assert "approximate" not in a.record_fields()  # not a field of the published record
    # an unreadable capacity costs the cell, not the row: flagged, kept as written
    assert b.capacity is None and b.count == 10 and b.raw["収容"] == "多数"
    assert "has no number of people" in b.flagged["収容"]
    assert b.parsed()["flagged"] == b.flagged


def test_only_the_shelter_id_or_the_time_refuses_a_row():
    data = ("ID,状況,種別,収容,人数,日時\n"
            ",開設,指定避難所,10,1,2024/4/30 6:00\n"  # no id
            "B,開設,指定避難所,10,1,2024/4/31 6:00\n"  # no such day
            "C,調整中,公民館,十数人,3世帯,2024/4/30 6:00\n").encode()  # every other cell bad
    report, entries = read_status(data, FREE_TEXT)
    assert [r.outcome for r in report.rows] == [REF, REF, COR]
    [c] = entries
    assert (c.open, c.types, c.capacity, c.count) == (None, [], None, None)
    assert set(c.flagged) == {"状況", "種別", "収容", "人数"}
    assert c.raw == {"ID": "C", "状況": "調整中", "種別": "公民館", "収容": "十数人",
                     "人数": "3世帯", "日時": "2024/4/30 6:00"}


def test_an_open_cell_holding_a_my_number_is_unknown_not_the_default():
    from domains.japanese.mynumber import check_digit
    number = "12345678901" + str(check_digit("12345678901"))
    mapping = parse_mapping({"columns": {"shelter_id": "ID", "open": "状況"},
                             "defaults": {"open": True, "timestamp": "R6.4.30 6:00"}})
    report, [entry] = read_status(f"ID,状況\nA,{number}\n".encode(), mapping)
    assert report.rows[0].outcome is COR and entry.open is None
    assert "My Number" in entry.flagged["状況"] and "状況" not in entry.raw
    assert number not in json.dumps(report.to_dict(), ensure_ascii=False)


def test_complete_snapshot_is_a_mapping_key():
    base = {"columns": {"shelter_id": "a", "open": "b", "timestamp": "t"}}
    assert parse_mapping(base).complete_snapshot is False
    assert parse_mapping({**base, "complete_snapshot": True}).complete_snapshot is True
    with pytest.raises(MappingError, match="complete_snapshot must be true or false"):
        parse_mapping({**base, "complete_snapshot": "yes"})
    # TOML puts a key written below [columns] into [columns]: the error says where it goes.
    misplaced = tomllib.loads('[columns]\nshelter_id = "a"\nopen = "b"\ntimestamp = "t"\n'
                              "complete_snapshot = true\n")
    with pytest.raises(MappingError, match=r"go above the first \[table\]"):
        parse_mapping(misplaced)
