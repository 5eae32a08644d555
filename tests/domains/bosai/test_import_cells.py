"""The tolerant cell readers, one tolerance at a time; and encoding detection."""

from __future__ import annotations

import io

import pytest

from domains.bosai.importers import cells
from domains.bosai.importers.report import CellError, RowReport
from domains.bosai.importers.source import decode
from domains.bosai.progress import ProgressBar


def read(reader, *args):
    row = RowReport(1)
    value = reader(row, *args)
    return value, [n.message for n in row.corrections]


@pytest.mark.parametrize(("text", "value", "corrected"), [
    ("1", True, False), ("", False, False), ("0", False, False), (" 1 ", True, False),
    ("1.0", True, True), ("○", True, True), ("◯", True, True), ("〇", True, True),
    ("１", True, True), ("有", True, True), ("TRUE", True, True), ("0.0", False, True),
    ("×", False, True), ("なし", False, True), ("△", None, True), ("2", None, True),
])
def test_flags(text, value, corrected):
    result, notes = read(cells.flag, "洪水", text)
    assert result is value and bool(notes) is corrected


@pytest.mark.parametrize(("lat", "lon", "expected", "corrected"), [
    ("35.6895", "139.6917", (35.6895, 139.6917), False),
    ("３５．６８９５", "１３９．６９１７", (35.6895, 139.6917), True),
    ("139.6917", "35.6895", (35.6895, 139.6917), True),  # swapped
    ("35°41′22.2″", "139°41′30.1″", (35.68950, 139.6917), True),
    ("35度41分22.2秒", "139度41分30.1秒", (35.68950, 139.6917), True),
    ("24.4706", "122.9875", (24.4706, 122.9875), False),  # 与那国島, inside the box
    ("45.5228", "141.9364", (45.5228, 141.9364), False),  # 宗谷岬
])
def test_coordinates(lat, lon, expected, corrected):
    row = RowReport(1)
    result = cells.coordinates(row, lat, lon)
    assert result == pytest.approx(expected, abs=1e-4)
    assert bool(row.corrections) is corrected


@pytest.mark.parametrize(("lat", "lon", "words"), [
    ("", "139.7", "緯度 is empty"), ("35.7", "", "経度 is empty"),
    ("0", "0", "outside Japan"), ("31.2304", "121.4737", "outside Japan"),  # Shanghai
    ("-35.7", "139.7", "outside Japan"), ("nan", "139.7", "not a coordinate"),
    ("1e3", "139.7", "not a coordinate"), ("北緯35度", "139.7", "whole degrees"),
    ("35°61′", "139.7", "below 60"),
])
def test_bad_coordinates(lat, lon, words):
    with pytest.raises(CellError, match=words) as info:
        cells.coordinates(RowReport(1), lat, lon)
    assert info.value.code == "bosai.import.coordinates"


@pytest.mark.parametrize(("text", "code", "corrected"), [
    ("131016", "131016", False), ("13101", "131016", True), ("１３１０１６", "131016", True),
    ("1100", "011002", True), ("011002", "011002", False), ("131016.0", "131016", True),
    ("", None, False),
])
def test_municipality_codes(text, code, corrected):
    result, notes = read(cells.municipality_code, "全国地方公共団体コード", text)
    assert result == code and bool(notes) is corrected


@pytest.mark.parametrize(("text", "words"), [
    ("131015", "expected 6, got 5"), ("991234", "prefecture 99"), ("千代田区", "not a"),
    ("1310161", "6 digits"),
])
def test_bad_municipality_codes(text, words):
    with pytest.raises(CellError, match=words):
        cells.municipality_code(RowReport(1), "全国地方公共団体コード", text)


@pytest.mark.parametrize(("text", "total", "indoor", "outdoor"), [
    ("1700", 1700, None, None), ("１，７００人", 1700, None, None), ("約1,700名", 1700, None, None),
    ("屋内1,700人／屋外2,250人", 3950, 1700, 2250), ("屋内 1700 屋外 2250", 3950, 1700, 2250),
    ("1700人(屋内)", 1700, 1700, None), ("グラウンド3千人", 3000, None, 3000),
    ("1万2千人", 12000, None, None),
])
def test_capacities(text, total, indoor, outdoor):
    result, _ = read(cells.capacity, "想定収容人数", text)
    assert (result.total, result.indoor, result.outdoor) == (total, indoor, outdoor)


@pytest.mark.parametrize("text", ["多数", "100～200人", "屋内1700人、2250人", "屋内100屋内200"])
def test_unreadable_capacities(text):
    with pytest.raises(CellError) as info:
        cells.capacity(RowReport(1), "想定収容人数", text)
    assert info.value.code == "bosai.import.capacity"


@pytest.mark.parametrize(("text", "name", "suffix", "welfare"), [
    ("中央公民館（福祉避難所）", "中央公民館", "福祉避難所", True),
    ("中央公民館 (福祉避難所)", "中央公民館", "福祉避難所", True),
    ("第一小学校【指定避難所】", "第一小学校", "指定避難所", False),
    ("市民体育館［二次避難所・福祉避難所］", "市民体育館", "二次避難所・福祉避難所", True),
    ("旧校舎（旧第三小学校）", "旧校舎(旧第三小学校)", None, False),
    ("ｾﾝﾀｰ", "センター", None, False),
])
def test_names(text, name, suffix, welfare):
    result, _ = read(cells.site_name, "名称", text)
    assert (result.name, result.suffix, result.welfare) == (name, suffix, welfare)


@pytest.mark.parametrize(("text", "value"), [("120", 120), ("１２０人", 120), ("約120名", 120),
                                             ("1,200", 1200), ("", None), ("-", None)])
def test_counts(text, value):
    assert read(cells.count, "避難者数", text)[0] == value


@pytest.mark.parametrize(("data", "encoding"), [
    ("避難所".encode(), "utf-8"), ("\ufeff避難所".encode(), "utf-8-sig"),
    ("避難所".encode("cp932"), "cp932"), ("避難所".encode("utf-16"), "utf-16"),
    (b"plain ascii", "utf-8"), ("避難所".encode() * 5 + b"\xff", "utf-8"),
    ("避難所".encode("cp932") * 5 + b"\x85\x40", "cp932"),
    ("ﾋﾅﾝｼﾞｮ".encode("cp932") * 3, "cp932"),
])
def test_encoding_detection(data, encoding):
    assert decode(data).encoding == encoding


def test_bytes_shift_jis_leaves_undefined_are_bad_bytes():
    decoded = decode("避難所".encode("cp932") + b"\xa0\xfd")
    assert (decoded.encoding, decoded.undecodable) == ("cp932", 2)


def test_progress_bar_draws_only_when_enabled():
    out = io.StringIO()
    bar = ProgressBar("x.csv", out)
    bar(5, 10)
    bar(10, 10)
    bar.close()
    assert out.getvalue().endswith("100% 10/10 lines\n") and "x.csv [" in out.getvalue()
    quiet = io.StringIO()
    off = ProgressBar("x.csv", quiet, enabled=False)
    off(10, 10)
    off.close()
    assert quiet.getvalue() == ""


# --- issue 12 items 7 and 9a: one capacity reader for both importers -------------------------

def test_a_capacity_with_an_annotation_keeps_indoor_outdoor_the_note_and_the_text():
    written = "屋内1,700人／屋外2,250人(面積の1/2)"
    result, corrections = read(cells.capacity, "想定収容人数", written)
    assert (result.total, result.indoor, result.outdoor) == (3950, 1700, 2250)
    assert result.notes == ("面積の1/2",) and result.raw == written
    assert result.to_dict() == {"total": 3950, "indoor": 1700, "outdoor": 2250,
                                "notes": ["面積の1/2"], "raw": written}
    assert "面積の1/2" in corrections[0]  # the correction says what was read


@pytest.mark.parametrize(("text", "total", "notes"), [
    ("1700人（うち福祉スペース20人）", 1700, ("うち福祉スペース20人",)),
    ("屋内1700人【体育館のみ】", 1700, ("体育館のみ",)),
    ("1700人(屋内)", 1700, ()),  # a label in brackets is not an annotation
])
def test_bracketed_annotations_are_notes_and_their_numbers_not_capacities(text, total, notes):
    result, _ = read(cells.capacity, "収容人数", text)
    assert (result.total, result.notes) == (total, notes)


@pytest.mark.parametrize(("text", "approximate"), [
    ("約1,700名", True), ("およそ300人", True), ("1700", False), ("１，７００人", False)])
def test_an_approximate_capacity_or_count_is_flagged_not_lost(text, approximate):
    result, _ = read(cells.capacity, "収容人数", text)
    assert result.approximate is approximate
    assert cells.approximate(text) is approximate
