"""Property: the CSV importers raise nothing but TsunaguError, and lose no row.

Arbitrary bytes (any encoding, any garbage), and arbitrary rows under each real header with
cells drawn from messy real-world values as well as random text: every non-blank record is
in the report, and the imported + corrected ones are exactly the rows returned. With My
Numbers spliced into random cells: the kept copy is the same CSV with no cell holding one,
and nothing the importer returns holds one.
"""

from __future__ import annotations

import csv
import io

import orjson
from hypothesis import given
from hypothesis import strategies as st

from domains.bosai.importers import parse_mapping, read_shelters, read_status
from domains.bosai.importers.formats import FORMATS
from domains.bosai.importers.personal import holds_my_number, redact_file
from domains.bosai.importers.source import csv_rows, decode
from domains.japanese.mynumber import check_digit
from tests.fuzz.strategies import FUZZ, json_values
from trust.errors import TsunaguError

MESSY = ["", "1", "1.0", "0", "○", "◯", "△", "×", " ", "１", "35.6895", "139.6917", "３５．６９",
         "139.75", "0", "-", "nan", "inf", "1e309", "35°41′10.5″", "北緯35度", "131016", "13101",
         "131015", "1100", "E1310100002201", "E9910100000001", "屋内1,700人／屋外2,250人",
         "1,700", "約120名", "3世帯", "多数", "100～200人", "（福祉避難所）",
         "区民会館（福祉避難所）", "東京都千代田区１ー２－３", "ﾁﾖﾀﾞ", "令和6年4月30日午前6時",
         "令和6年4月31日", "平成31年5月1日",
         "R6.4.30 6:00", "2024/4/30 24:00", "午前12時", "開設", "閉鎖", "調整中", "a;b;;c",
         "\"", "\n", "\r", "\x00", "\ufeff", "髙", "①", "\U0002f800", "9" * 40, "１" * 70]
cell = st.sampled_from(MESSY) | st.text(max_size=12)


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def nonblank(rows: list[list[str]]) -> int:
    return sum(1 for r in rows if any(c.strip() for c in r))


def only_typed(call):
    try:
        return call()
    except TsunaguError:
        return None


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["auto", "gsi-emergency", "opendata"]))
def test_shelters_arbitrary_bytes(data, fmt):
    only_typed(lambda: read_shelters(data, format=fmt))


# A valid row per format; fuzzed rows are these with some cells replaced, so the readers
# behind the first refusal (flags, capacities...) are reached too.
VALID = {
    "gsi-emergency": {"共通ID": "E1310100002201", "施設・場所名": "番町小学校", "住所": "千代田区",
                      "緯度": "35.69", "経度": "139.74"},
    "gsi-shelter": {"共通ID": "E1310100001001", "施設・場所名": "番町小学校", "住所": "千代田区",
                    "緯度": "35.69", "経度": "139.74"},
    "opendata": {"全国地方公共団体コード": "131016", "ID": "001", "名称": "番町小学校",
                 "緯度": "35.69", "経度": "139.74"},
}


def fuzzed_row(name: str) -> st.SearchStrategy[list[str]]:
    columns = FORMATS[name].columns
    base = [VALID[name].get(c, "") for c in columns]
    changes = st.dictionaries(st.integers(0, len(columns) - 1), cell, max_size=6)
    shaped = st.lists(cell, min_size=len(columns) - 1, max_size=len(columns) + 1)
    return (changes.map(lambda ch: [ch.get(i, v) for i, v in enumerate(base)])
            | shaped)


@FUZZ
@given(st.sampled_from(sorted(FORMATS)), st.data(),
       st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16"]))
def test_shelters_arbitrary_rows_lose_nothing(name, data, encoding):
    header = list(FORMATS[name].columns)
    rows = data.draw(st.lists(fuzzed_row(name), max_size=6))
    text = csv_text([header, *rows])
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    result = only_typed(lambda: read_shelters(raw))
    if result is None:
        return
    report, sites = result
    decoded = raw.decode(report.encoding.replace("-sig", ""), errors="replace")
    if decoded.lstrip("\ufeff") == text:  # read back as written: every row is reported
        assert len(report.rows) == nonblank(rows)
    counts = report.counts()
    assert counts["imported"] + counts["corrected"] == len(sites)
    assert len({s.id for s in sites}) == len(sites)
    report.to_dict()  # the report always serialises


STATUS = parse_mapping({
    "columns": {"shelter_id": "id", "name": "名称", "open": "開設", "type": "種別",
                "capacity": "定員", "count": "人数", "day_count": "昼", "night_count": "夜",
                "timestamp": ["日付", "時刻"], "needs": "不足", "need_flags": ["水"]},
})
STATUS_HEADER = ["id", "名称", "開設", "種別", "定員", "人数", "昼", "夜", "日付", "時刻", "不足",
                 "水"]


STATUS_VALID = ["A1", "番町小学校", "開設", "指定避難所", "450", "120", "100", "310", "R6.4.30",
                "6:00", "毛布", "1"]
status_row = (st.dictionaries(st.integers(0, 11), cell, max_size=5).map(
    lambda ch: [ch.get(i, v) for i, v in enumerate(STATUS_VALID)])
    | st.lists(cell, min_size=11, max_size=13))


@FUZZ
@given(st.lists(status_row, max_size=6))
def test_status_arbitrary_rows_lose_nothing(rows):
    text = csv_text([STATUS_HEADER, *rows])
    result = only_typed(lambda: read_status(text.encode(), STATUS))
    if result is None:
        return
    report, entries = result
    assert len(report.rows) == nonblank(rows)
    counts = report.counts()
    assert counts["imported"] + counts["corrected"] == len(entries)
    for entry in entries:
        assert entry.observed_at.tzinfo is not None
        entry.record_fields()


@FUZZ
@given(st.binary(max_size=300))
def test_status_arbitrary_bytes(data):
    only_typed(lambda: read_status(data, STATUS))


@FUZZ
@given(json_values(max_leaves=10) | st.fixed_dictionaries(
    {"columns": st.dictionaries(st.sampled_from(["shelter_id", "open", "timestamp", "needs",
                                                 "type", "x"]),
                                st.text(max_size=5) | st.lists(st.text(max_size=5)))},
    optional={"defaults": st.dictionaries(st.sampled_from(["open", "type", "timestamp"]),
                                          st.booleans() | st.text(max_size=12)),
              "encoding": st.text(max_size=8)}))
def test_mapping_arbitrary_input(data):
    only_typed(lambda: parse_mapping(data))


# --------------------------------------------------------------------------- My Numbers

FIRST11 = "27182818284"
MY_NUMBER = FIRST11 + str(check_digit(FIRST11))
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")
NUMBERS = [MY_NUMBER, MY_NUMBER.translate(WIDE),
           f"{MY_NUMBER[:4]}-{MY_NUMBER[4:8]}-{MY_NUMBER[8:]}",
           f"{MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]}", f"番号:{MY_NUMBER}です"]
secret_cell = cell | st.sampled_from(NUMBERS)


def no_cell_holds_one(data: bytes, encoding: str) -> bool:
    decoded = decode(data, encoding)
    return not any(holds_my_number(c, decoded.encoding)
                   for r in csv_rows(decoded.text) for c in r.fields or [])


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["auto", "utf-8", "cp932"]))
def test_redact_file_arbitrary_bytes(data, encoding):
    copy = only_typed(lambda: redact_file(data, encoding))
    if copy is None:
        return
    if copy.cells == 0:
        assert copy.data == data
    assert no_cell_holds_one(copy.data, encoding)


@FUZZ
@given(st.lists(st.lists(secret_cell, min_size=11, max_size=13), max_size=6),
       st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16"]))
def test_no_my_number_is_kept_or_imported(rows, encoding):
    text = csv_text([STATUS_HEADER, *rows])
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    copy = only_typed(lambda: redact_file(data))
    if copy is None:
        return
    assert no_cell_holds_one(copy.data, "auto")
    kept = decode(copy.data)
    original = decode(data)
    assert kept.encoding == original.encoding
    assert [len(r.fields or []) for r in csv_rows(kept.text)] == [
        len(r.fields or []) for r in csv_rows(original.text)]  # the same CSV, cell for cell
    result = only_typed(lambda: read_status(data, STATUS))
    if result is None:
        return
    report, entries = result
    shown = orjson.dumps(report.to_dict()).decode()
    assert not any(n in shown for n in NUMBERS[:4])
    for entry in entries:
        assert not any(holds_my_number(v) for v in entry.raw.values())
        assert not holds_my_number(orjson.dumps(entry.parsed()).decode())
