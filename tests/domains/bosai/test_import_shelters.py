"""Shelter master CSVs: every row imported, corrected or refused, with line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from domains.bosai.importers import Outcome, SourceError, read_shelters

DATA = Path(__file__).parent / "data"
IMP, COR, REF = Outcome.IMPORTED, Outcome.CORRECTED, Outcome.REFUSED


def outcomes(report) -> dict[int, Outcome]:
    return {row.line: row.outcome for row in report.rows}


def problem(report, line: int) -> str:
    row = next(r for r in report.rows if r.line == line)
    return " | ".join(f"{p.column}: {p.message} ({p.code})" for p in row.problems)


def corrections(report, line: int) -> dict[str, str]:
    row = next(r for r in report.rows if r.line == line)
    return {n.column: n.message for n in row.corrections}


def test_gsi_emergency_with_bom():
    report, sites = read_shelters((DATA / "gsi_emergency_bom.csv").read_bytes(),
                                  source="gsi_emergency_bom.csv")
    assert (report.format, report.encoding) == ("gsi-emergency", "utf-8-sig")
    assert outcomes(report) == {2: IMP, 3: COR, 4: COR, 5: REF, 6: REF, 7: COR, 9: COR,
                                10: COR, 12: REF, 13: REF, 14: REF, 15: COR}
    assert report.summary() == "imported 1, corrected 6, refused 5"
    assert report.file_notes == ["blank lines: 8"]
    by_id = {s.id: s for s in sites}
    # Line 2 exactly as GSI publishes it.
    clean = by_id["E1310100002201"]
    assert clean.raw["施設・場所名"] == "番町小学校" and clean.raw["緯度"] == "35.688111802263"
    assert clean.municipality_code == "131016"  # from the 共通ID, with its check digit
    assert clean.hazards["flood"] and clean.hazards["storm_surge"] and not clean.hazards["tsunami"]
    assert clean.types == ["designated_emergency_evacuation_site"]
    # Line 3: "1.0", "○", "◯" flags, full-width digits and ー in the address and coordinates.
    messy = by_id["E1310100002202"]
    assert messy.address == "東京都千代田区麹町2-5-1"
    assert (messy.lat, messy.lon) == (35.6837, 139.7381)
    assert messy.hazards["flood"] and messy.hazards["landslide"] and messy.hazards["earthquake"]
    assert messy.raw["住所"] == "東京都千代田区麹町２ー５ー１"  # the raw row beside the parsed
    fixes = corrections(report, 3)
    assert fixes["洪水"] == "flag '1.0' read as yes (1)"
    assert "'○'" in fixes["崖崩れ、土石流及び地滑り"] and "'◯'" in fixes["地震"]
    assert "1-2" not in fixes["住所"] and "2-5-1" in fixes["住所"]
    # Line 4: 福祉避難所 suffix taken off the name into its own field and type.
    welfare = by_id["E1310100002203"]
    assert (welfare.name, welfare.name_suffix) == ("いきいきプラザ一番町", "福祉避難所")
    assert "welfare_shelter" in welfare.types
    # Line 7: swapped coordinates; line 9: "△" is neither yes nor no; lines 10-11: a
    # quoted address spanning two lines; line 15: degrees, minutes, seconds.
    assert (by_id["E1310100002206"].lat, by_id["E1310100002206"].lon) == (35.6912, 139.7503)
    assert by_id["E1310100002208"].hazards["flood"] is None
    assert "left unknown" in corrections(report, 9)["洪水"]
    spanning = next(r for r in report.rows if r.line == 10)
    assert [n.message for n in spanning.notes] == ["record spans lines 10-11"]
    assert by_id["E1310100002213"].lat == pytest.approx(35.686250)
    # Refusals, each with its line.
    assert "duplicate id 'E1310100002201': first on line 2" in problem(report, 5)
    assert "outside Japan" in problem(report, 6)
    assert "prefecture 99" in problem(report, 12)
    assert "row has 9 fields, the header has 17" in problem(report, 13)
    assert "not a coordinate" in problem(report, 14)
    assert len(sites) == 7


def test_gsi_shelter_in_shift_jis_below_a_title_line():
    report, sites = read_shelters((DATA / "gsi_shelter_sjis.csv").read_bytes())
    assert (report.format, report.encoding) == ("gsi-shelter", "cp932")
    assert outcomes(report) == {1: REF, 3: COR, 4: COR, 5: COR, 6: COR, 7: REF}
    assert "line before the header row (line 2)" in problem(report, 1)
    assert "共通ID is empty" in problem(report, 7)
    by_id = {s.id: s for s in sites}
    hall = by_id["E1310100001002"]
    assert hall.name == "髙橋記念ホール"  # a cp932-only (IBM extension) kanji survives
    assert hall.notes == "①館内のみ"  # NFKC would have made this "1館内のみ"
    assert "welfare_shelter" in hall.types  # from 受入対象者
    assert by_id["E1310100001003"].name == "チヨダクミンカイカン"  # half-width kana
    assert by_id["E1310100001004"].address == "東京都千代田区富士見1-10-3"
    assert by_id["E1310100001001"].municipality_name is None  # per-city files lack the column


def test_an_unreadable_elevation_costs_the_cell_not_the_site():
    lines = (DATA / "opendata_emergency.csv").read_text(encoding="utf-8-sig").splitlines()
    header, first = lines[:2]
    cells = first.split(",")
    cells[header.split(",").index("標高")] = "約10m"
    report, [site] = read_shelters(("\n".join([header, ",".join(cells)]) + "\n").encode())
    assert outcomes(report) == {2: COR}
    assert site.elevation is None and site.raw["標高"] == "約10m"
    assert "'約10m' is not a number of metres" in site.flagged["標高"]


def test_opendata_39_columns():
    report, sites = read_shelters((DATA / "opendata_emergency.csv").read_bytes())
    assert (report.format, report.encoding) == ("opendata", "utf-8")
    # issue 12 item 7: an unreadable capacity (line 6, "多数") or secondary municipality code
    # (line 9) costs the cell, not the site
    assert outcomes(report) == {2: IMP, 3: COR, 4: REF, 5: REF, 6: COR, 7: COR, 8: REF, 9: COR}
    by_id = {s.id: s for s in sites}
    school = by_id["131016-001"]
    assert school.types == ["designated_emergency_evacuation_site", "designated_shelter"]
    assert school.neighbourhoods == ["六番町町会", "番町町会"]
    assert school.capacity.total == 1200 and school.elevation == 31.2
    assert school.name_kana == "チヨダクリツバンチョウショウガッコウ"
    assert len(school.raw) == 39
    hall = by_id["131016-002"]
    assert hall.municipality_code == "131016"
    assert "added the check digit 6" in corrections(report, 3)["全国地方公共団体コード"]
    assert (hall.capacity.indoor, hall.capacity.outdoor, hall.capacity.total) == (1700, 2250, 3950)
    assert (hall.name, hall.name_suffix, "welfare_shelter" in hall.types) == ("区民会館",
                                                                              "福祉避難所", True)
    assert "check digit (last digit) is wrong: expected 6, got 5" in problem(report, 4)
    assert "bosai.import.municipality_code" in problem(report, 4)
    assert "duplicate id '131016-001': first on line 2" in problem(report, 5)
    square = by_id["131016-005"]
    assert square.capacity is None and square.raw["想定収容人数"] == "多数"
    assert "'多数' has no number" in square.flagged["想定収容人数"]
    assert "imported without it" in corrections(report, 6)["想定収容人数"]
    joined = by_id["131016-006"]
    assert joined.address == "東京都千代田区神田和泉町1" and joined.capacity.total == 800
    assert joined.phone == ["03-3851-0001", "03-3851-0002"]
    assert "outside Japan" in problem(report, 8)
    assert "imported without it" in corrections(report, 9)["所在地_全国地方公共団体コード"]
    assert "所在地_全国地方公共団体コード" in by_id["131016-008"].flagged


def test_bad_bytes_refuse_only_their_rows():
    report, sites = read_shelters((DATA / "bad_bytes.csv").read_bytes())
    assert report.encoding == "utf-8"
    assert outcomes(report) == {2: IMP, 3: REF, 4: IMP, 5: REF}
    assert "都道府県名及び市町村名 has bytes that are not valid utf-8 (0xFF, 0xFE)" in problem(
        report, 3)
    assert "(0x00)" in problem(report, 5) and "bosai.import.encoding" in problem(report, 5)
    refused = report.to_dict()["rows"][1]
    assert refused["raw"][2] == "東京\\xff\\xfe"  # shown, not lost, and JSON-safe
    assert [s.id for s in sites] == ["E1310100003001", "E1310100003003"]


def test_shift_jis_with_one_bad_byte_is_still_shift_jis():
    data = (DATA / "gsi_shelter_sjis.csv").read_bytes().replace(
        "富士見小学校".encode("cp932"), b"\x85\x40" + "見小学校".encode("cp932"))
    report, sites = read_shelters(data)
    assert report.encoding == "cp932"
    assert outcomes(report)[6] is REF and "0x85" in problem(report, 6)
    assert outcomes(report)[3] is COR


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp932"])
def test_same_rows_whatever_the_encoding(encoding):
    text = (DATA / "opendata_emergency.csv").read_bytes().decode("utf-8")
    data = text.encode(encoding) if encoding != "utf-8" else ("\ufeff" + text).encode()
    report, sites = read_shelters(data)
    assert report.summary() == "imported 1, corrected 4, refused 3"
    assert len(sites) == 5


def test_format_forced_and_refused():
    data = (DATA / "gsi_emergency_bom.csv").read_bytes()
    assert read_shelters(data, format="gsi-emergency")[0].format == "gsi-emergency"
    with pytest.raises(SourceError) as info:
        read_shelters(data, format="opendata")
    assert info.value.code == "bosai.import.format"
    assert "missing 全国地方公共団体コード, ID, 名称" in info.value.message


@pytest.mark.parametrize("data", [b"", b"\n\n", b"a,b,c\n1,2,3\n", "名前,住所\n".encode(),
                                  b"\xff\xfe\x00\xd8"])
def test_not_a_shelter_list(data):
    with pytest.raises(SourceError):
        read_shelters(data)


def test_columns_in_another_order_and_extra_ones():
    lines = (DATA / "gsi_emergency_bom.csv").read_text(encoding="utf-8-sig").splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    order = list(reversed(range(len(header))))
    data = "\n".join([",".join([header[i] for i in order] + ["独自列"]),
                      ",".join([first[i] for i in order] + ["メモ"])]).encode()
    report, sites = read_shelters(data)
    assert report.summary() == "imported 1, corrected 0, refused 0"
    assert report.file_notes == ["columns kept in the raw row only: 独自列"]
    assert sites[0].raw["独自列"] == "メモ" and sites[0].lat == pytest.approx(35.688111802263)


def test_trailing_empty_fields_are_harmless_extra_values_are_not():
    lines = (DATA / "gsi_emergency_bom.csv").read_text(encoding="utf-8-sig").splitlines()
    data = "\n".join([lines[0], lines[1] + ",,", lines[2] + ",x"]).encode()
    report, _ = read_shelters(data)
    assert outcomes(report) == {2: IMP, 3: REF}
    assert "18 fields" in problem(report, 3)
