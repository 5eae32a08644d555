"""A My Number (個人番号) in an imported CSV never reaches storage (issue 10, item 1).

Shelter lists and status snapshots go through ``domains.bosai.imports`` into a real
``BosaiStore`` file, on disk, also through the ``tsunagu bosai`` CLI (text and ``--json``);
person lists go through the registry's CSV import into a real registry file. After each
import every place the number could land is read back and searched for every spelling of
it (ASCII, full width, grouped 4-4-4, in UTF-8, Shift_JIS and UTF-16): the store's database
and its ``-wal`` / ``-shm``, every file under ``imports/``, the report JSON, the CLI output
and the log (DEBUG).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import orjson
import pytest

from connector.cli import main as connector_cli
from connector.cli.main import main
from domains.bosai.importers import MappingError, SourceError
from domains.bosai.imports import import_shelters, import_status
from domains.bosai.registry import AddressContext, MyNumberRefused, Registry
from domains.bosai.registry.csv_import import import_csv
from domains.bosai.store import BosaiStore
from domains.japanese.mynumber import check_digit, is_my_number
from tests.privacy import store_files

DATA = Path(__file__).parent / "data"
FIRST11 = "27182818284"
MY_NUMBER = FIRST11 + str(check_digit(FIRST11))
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


def grouped(number: str, sep: str) -> str:
    return f"{number[:4]}{sep}{number[4:8]}{sep}{number[8:]}"


# How a person could have typed it into a cell.
SPELLINGS = {
    "ascii": MY_NUMBER,
    "full-width": MY_NUMBER.translate(WIDE),
    "hyphens": grouped(MY_NUMBER, "-"),
    "spaces": grouped(MY_NUMBER, " "),
    "full-width-hyphens": grouped(MY_NUMBER.translate(WIDE), "－"),
    "ideographic-spaces": grouped(MY_NUMBER, "\u3000"),
}


def forms(number: str) -> set[bytes]:
    """Every byte sequence the number could be stored as: each spelling (and its last eight
    digits) in each encoding a file, a database or a report could use."""
    texts = set()
    for digits in (number, number.translate(WIDE)):
        texts |= {digits, digits[4:]}
        for sep in (" ", "-", "－", "\u3000", "ー", "‐"):
            texts |= {grouped(digits, sep), f"{digits[4:8]}{sep}{digits[8:]}"}
    out = set()
    for text in texts:
        for encoding in ("utf-8", "cp932", "utf-16-le", "utf-16-be"):
            try:
                out.add(text.encode(encoding))
            except UnicodeEncodeError:
                pass
        out.add(json.dumps(text).strip('"').encode())  # \uff12 ... escapes
    return out


FORMS = forms(MY_NUMBER)


def found(data: bytes | str, where: str) -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    return [f"{where}: {form!r}" for form in FORMS if form in raw]


def kept_files(store: BosaiStore) -> list[Path]:
    folder = store.path.parent / "imports"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def leaks(store: BosaiStore, *texts: str) -> list[str]:
    """Every spelling of the number in the store's files, its kept imports, and ``texts``."""
    hits = []
    for path in [*store_files(store.path), *kept_files(store)]:
        hits += found(path.read_bytes(), str(path.relative_to(store.path.parent)))
    for i, text in enumerate(texts):
        hits += found(text, f"text {i}")
    return hits


def blot(text: str) -> str:
    """``text`` with its digits (either width) replaced by "＊", as the kept copy has it."""
    return "".join("＊" if c.isdigit() else c for c in text)


@pytest.fixture
def store(tmp_path):
    s = BosaiStore(tmp_path / "hub" / "bosai.sqlite")
    yield s
    s.close()


@pytest.fixture
def cli(monkeypatch, capsys, caplog):
    """``tsunagu bosai ...`` in-process; its log stays in caplog (DEBUG), its output is
    returned (stdout + stderr)."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(connector_cli, "configure_logging", lambda *a, **k: None)

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["bosai", *args])
        out = capsys.readouterr()
        return code, out.out + out.err
    return run


def encode(text: str, encoding: str) -> bytes:
    return text.encode("utf-8-sig" if encoding == "utf-8-sig" else encoding)


# --------------------------------------------------------------------------- status files

STATUS_HEADER = ("避難所ID,避難所名,開設状況,種別,収容人数,避難者数,昼間避難者数,夜間避難者数,"
                 "更新日時,不足物資,飲料水,毛布")
STATUS_ROW = ("E1310100001001,番町小学校,開設,指定避難所,450,120,100,310,"
              "令和6年4月30日午前6時,粉ミルク、{n},1,")
STATUS_OTHER = "E1310100001002,髙橋記念ホール,開設中,指定避難所,80,12,10,25,2024/4/30 6:00,毛布,,"


def status_text(cell_number: str) -> str:
    return "\r\n".join([STATUS_HEADER, STATUS_ROW.format(n=cell_number), STATUS_OTHER]) + "\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_status_row_with_a_my_number_in_needs_keeps_its_counts_and_loses_the_cell(
        tmp_path, store, cli, caplog, spelling, encoding):
    number = SPELLINGS[spelling]
    text = status_text(number)
    source = tmp_path / "status.csv"
    source.write_bytes(encode(text, encoding))
    mapping = DATA / "status_city_a.toml"

    report = import_status(source, mapping, store)

    # The row is imported with its counts, without the cell, and the report says which cell.
    row = next(r for r in report.rows if r.line == 2)
    assert row.outcome.value == "corrected", row.to_dict()
    [withheld] = [n for n in row.corrections if n.code == "personal_number.refused"]
    assert withheld.column == "不足物資" and not any(c.isdigit() for c in withheld.message)
    assert report.counts() == {"imported": 1, "corrected": 1, "refused": 0,
                               "unchanged": 0}
    [entry] = store.timeline("E1310100001001")
    assert (entry["capacity"], entry["count"], entry["population"]) == (
        450, 120, {"day": 100, "night": 310})
    assert entry["needs"] == ["飲料水"]  # the flag column; the withheld cell is gone whole
    assert "不足物資" not in entry["raw"] and entry["raw"]["避難者数"] == "120"
    assert store.timeline("E1310100001002")[0]["needs"] == ["毛布"]

    # The kept copy: the cell's digits blotted, in the file's own encoding (BOM kept), named
    # by the hash of the bytes kept, which is the hash the run and the report carry.
    [run] = store.runs()
    kept = store.path.parent / run["raw_path"]
    expected = encode(text.replace(number, blot(number)), encoding)
    assert kept.read_bytes() == expected
    digest = hashlib.sha256(expected).hexdigest()
    assert kept.name == f"{digest}.csv" and run["sha256"] == report.sha256 == digest
    saved = store.run_report(run["id"])
    assert saved["redactedCells"] == 1 and saved["sha256"] == digest
    original = hashlib.sha256(source.read_bytes()).hexdigest()  # reversible: try every number

    # The CLI, both ways, into the same store.
    code, as_json = cli("import-status", str(source), "--mapping", str(mapping),
                        "--store", str(store.path), "--json")
    # Both rows are held already (the import above): reported unchanged, the cell still out.
    assert code == 0 and json.loads(as_json.split("\n}\n")[0] + "}")["counts"]["unchanged"] == 2
    code, as_text = cli("import-status", str(source), "--mapping", str(mapping),
                        "--store", str(store.path))
    assert code == 0 and as_text.splitlines()[-1] == (
        "imported 0, corrected 0, refused 0, unchanged 2")

    shown = [orjson.dumps(report.to_dict()).decode(), orjson.dumps(saved).decode(), as_json,
             as_text, caplog.text]
    assert not leaks(store, *shown)
    assert not [s for s in shown if original in s]
    assert not [p for p in store_files(store.path) if original.encode() in p.read_bytes()]
    assert sorted(p.suffix for p in kept_files(store)) == [".csv", ".toml"]


def test_a_my_number_column_is_withheld_whatever_its_cells_hold(tmp_path, store, caplog):
    caplog.set_level(logging.DEBUG)
    typo = MY_NUMBER[:11] + str((int(MY_NUMBER[11]) + 1) % 10)  # a wrong check digit
    assert not is_my_number(typo)
    text = (STATUS_HEADER + ",マイナンバー\r\n" + STATUS_ROW.format(n="なし") + f",{typo}\r\n")
    source = tmp_path / "status.csv"
    source.write_bytes(text.encode())
    report = import_status(source, DATA / "status_city_a.toml", store)
    [entry] = store.timeline("E1310100001001")
    assert "マイナンバー" not in entry["raw"] and entry["count"] == 120
    [row] = report.rows
    assert [(n.column, n.code) for n in row.corrections] == [
        ("マイナンバー", "personal_number.refused")]
    kept = (store.path.parent / store.runs()[0]["raw_path"]).read_bytes()
    assert kept == text.replace(typo, blot(typo)).encode()
    assert typo.encode() not in b"".join(p.read_bytes() for p in store_files(store.path))
    assert typo not in orjson.dumps(report.to_dict()).decode() + caplog.text


def test_a_status_file_refused_whole_keeps_no_number(tmp_path, store, caplog):
    """Its first line is not the mapped header: the error lists what the line has."""
    caplog.set_level(logging.DEBUG)
    text = f"ID,{grouped(MY_NUMBER, '-')}\r\n避難所ID,メモ\r\nE1,{MY_NUMBER}\r\n"
    source = tmp_path / "status.csv"
    source.write_bytes(text.encode())
    with pytest.raises(SourceError) as caught:
        import_status(source, DATA / "status_city_a.toml", store)
    [run] = store.runs()
    assert run["error"] and run["sha256"] == hashlib.sha256(
        (store.path.parent / run["raw_path"]).read_bytes()).hexdigest()
    assert not leaks(store, str(caught.value), repr(caught.value.to_dict()), caplog.text,
                     orjson.dumps(store.run_report(run["id"])).decode())


def test_an_undecodable_file_is_not_kept(tmp_path, store, cli, caplog):
    """A UTF-16 file broken half-way cannot be searched for a number: nothing is kept, and
    the run says so."""
    text = f"NO,共通ID,施設・場所名\r\n1,E1,{MY_NUMBER}\r\n"
    source = tmp_path / "broken.csv"
    source.write_bytes(b"\xff\xfe" + text.encode("utf-16-le") + b"\x00")
    with pytest.raises(SourceError):
        import_shelters(source, store)
    code, out = cli("import-shelters", str(source), "--store", str(store.path))
    assert code == 2
    runs = store.runs()
    assert len(runs) == 2 and {r["raw_path"] for r in runs} == {""}
    report = store.run_report(runs[0]["id"])
    assert report["rawPath"] is None and any("not kept" in n for n in report["fileNotes"])
    assert kept_files(store) == []
    assert not leaks(store, out, caplog.text, orjson.dumps(report).decode())


def test_a_my_number_in_a_mapping_refuses_it_before_anything_is_kept(tmp_path, store):
    mapping = tmp_path / "map.toml"
    mapping.write_text((DATA / "status_city_a.toml").read_text(encoding="utf-8")
                       + f'\n[defaults]\ntype = "指定避難所 {MY_NUMBER}"\n', encoding="utf-8")
    source = tmp_path / "status.csv"
    source.write_bytes(status_text("なし").encode())
    with pytest.raises(MappingError) as caught:
        import_status(source, mapping, store)
    assert caught.value.code == "personal_number.refused"
    assert MY_NUMBER not in str(caught.value)
    assert store.runs() == [] and kept_files(store) == []


def test_a_row_in_another_encoding_is_searched_in_that_encoding_too(tmp_path, store, caplog):
    """A Shift_JIS line pasted into a UTF-8 file: its full-width digits do not decode as
    UTF-8, but they are still a My Number (and would be the moment someone re-read it)."""
    caplog.set_level(logging.DEBUG)
    wide = MY_NUMBER.translate(WIDE)
    lines = status_text(wide).split("\r\n")
    data = (lines[0] + "\r\n").encode() + (lines[1] + "\r\n").encode("cp932") + (
        lines[2] + "\r\n").encode()
    source = tmp_path / "mixed.csv"
    source.write_bytes(data)
    report = import_status(source, DATA / "status_city_a.toml", store)
    assert not leaks(store, orjson.dumps(report.to_dict()).decode(), caplog.text)
    row = next(r for r in report.rows if r.line == 2)
    assert ("不足物資", "personal_number.refused") in [
        (n.column, n.code) for n in [*row.corrections, *row.problems]]


def test_a_source_name_with_a_my_number_is_not_recorded(tmp_path, store):
    source = tmp_path / f"避難者_{grouped(MY_NUMBER, '-')}.csv"
    source.write_bytes(status_text("なし").encode())
    report = import_status(source, DATA / "status_city_a.toml", store)
    assert report.source.startswith("避難者_") and not leaks(
        store, orjson.dumps(report.to_dict()).decode())


# --------------------------------------------------------------------------- shelter lists

GSI_LINES = (DATA / "gsi_emergency_bom.csv").read_text(encoding="utf-8-sig").splitlines()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
@pytest.mark.parametrize("spelling", ["ascii", "full-width", "hyphens", "spaces"])
def test_shelter_row_with_a_my_number_in_its_name_is_refused(tmp_path, store, cli, caplog,
                                                            spelling, encoding):
    number = SPELLINGS[spelling]
    header, first, second = GSI_LINES[:3]
    assert ",番町小学校," in first
    text = "\r\n".join([header, first.replace(",番町小学校,", f",番町小学校 {number},"),
                        second]) + "\r\n"
    source = tmp_path / "gsi.csv"
    source.write_bytes(encode(text, encoding))

    report = import_shelters(source, store)

    row = next(r for r in report.rows if r.line == 2)
    assert row.outcome.value == "refused"
    assert [(p.column, p.code) for p in row.problems] == [
        ("施設・場所名", "personal_number.refused")]
    assert [s["id"] for s in store.sites()] == ["E1310100002202"]
    shown_row = row.to_dict()
    assert "番町小学校 " + blot(number) in shown_row["raw"]  # what the kept copy has
    [run] = store.runs()
    kept = store.path.parent / run["raw_path"]
    assert kept.read_bytes() == encode(text.replace(number, blot(number)), encoding)
    assert run["sha256"] == hashlib.sha256(kept.read_bytes()).hexdigest() == report.sha256

    code, as_json = cli("import-shelters", str(source), "--store", str(store.path), "--json")
    assert code == 1
    code, as_text = cli("import-shelters", str(source), "--store", str(store.path))
    assert code == 1 and "line 2: refused: 施設・場所名" in as_text
    assert not leaks(store, orjson.dumps(report.to_dict()).decode(), as_json, as_text,
                     caplog.text, orjson.dumps(store.run_report(run["id"])).decode())


def test_shelter_row_with_a_my_number_in_an_optional_column_is_imported_without_it(
        tmp_path, store, caplog):
    caplog.set_level(logging.DEBUG)
    lines = (DATA / "opendata_emergency.csv").read_text(encoding="utf-8-sig").splitlines()
    header, first = lines[:2]
    cells = first.split(",")
    columns = header.split(",")
    cells[columns.index("備考")] = f"連絡先 {grouped(MY_NUMBER, '-')}"
    cells[columns.index("標高")] = MY_NUMBER
    typo = MY_NUMBER[:11] + str((int(MY_NUMBER[11]) + 1) % 10)  # not a My Number
    text = "\n".join([header + ",個人番号", ",".join(cells) + f",{typo}"]) + "\n"
    source = tmp_path / "opendata.csv"
    source.write_text(text, encoding="utf-8")
    report = import_shelters(source, store, format="opendata")
    [row] = report.rows
    assert row.outcome.value == "corrected"
    assert sorted((n.column, n.code) for n in row.corrections
                  if n.code == "personal_number.refused") == [
        ("個人番号", "personal_number.refused"), ("備考", "personal_number.refused"),
        ("標高", "personal_number.refused")]
    [site] = store.sites()
    assert not {"備考", "標高", "個人番号"} & set(site["raw"])
    assert "notes" not in site and "elevation" not in site
    assert not [n for n in report.file_notes if "raw row only" in n]  # not kept anywhere
    assert report.redacted_cells == 3
    shown = orjson.dumps(report.to_dict()).decode()
    assert not leaks(store, shown, caplog.text)
    assert typo.encode() not in b"".join(p.read_bytes() for p in [
        *store_files(store.path), *kept_files(store)]) and typo not in shown


def test_twelve_decimals_of_a_coordinate_are_not_a_my_number(tmp_path, store):
    """GSI writes coordinates with up to 15 decimals; one in ten 12-decimal fractions has a
    "valid" check digit. A fraction is not a My Number: such a row imports as it did."""
    fraction = "68811180226"
    fraction += str(check_digit(fraction))
    header, first = GSI_LINES[:2]
    assert "35.688111802263" in first
    text = "\n".join([header, first.replace("35.688111802263", f"35.{fraction}")]) + "\n"
    source = tmp_path / "gsi.csv"
    source.write_text(text, encoding="utf-8")
    report = import_shelters(source, store)
    assert report.counts()["refused"] == 0
    assert store.sites()[0]["lat"] == float(f"35.{fraction}")
    assert (store.path.parent / store.runs()[0]["raw_path"]).read_bytes() == text.encode()


# --------------------------------------------------------------------------- person lists

@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
@pytest.mark.parametrize("spelling", ["ascii", "full-width", "hyphens", "spaces"])
def test_person_row_with_a_my_number_is_refused_and_nothing_of_it_is_stored(
        tmp_path, caplog, spelling, encoding):
    caplog.set_level(logging.DEBUG)
    registry = Registry.open(tmp_path / "registry.sqlite",
                             place=AddressContext("兵庫県", "神戸市"))
    text = ("氏,名,生年月日,性別,住所,安否情報の開示,備考\r\n"
            f"佐藤,一郎,1950-01-01,男,神戸市中央区1-1,はい,番号 {SPELLINGS[spelling]}\r\n"
            "鈴木,二郎,1951-01-01,男,神戸市中央区1-2,はい,\r\n")
    try:
        report = import_csv(registry, text.encode(encoding), source="csv:list.csv")
        assert [(line.line, line.outcome, line.code, line.column) for line in report.lines] == [
            (2, "refused", "personal_number.refused", "備考"), (3, "new", None, None)]
        assert registry.count() == 1
        with pytest.raises(MyNumberRefused) as whole:
            import_csv(registry, f"氏,名,{MY_NUMBER}\r\n山田,花子\r\n".encode(encoding),
                       source="csv:header.csv")
        registry.store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        stored = b"".join(p.read_bytes() for p in store_files(registry.store.path))
    finally:
        registry.close()
    assert b"\xe4\xbd\x90\xe8\x97\xa4" not in stored  # 佐藤: nothing of the refused row
    shown = [orjson.dumps(report.to_json()).decode(), str(whole.value),
             orjson.dumps(whole.value.to_dict()).decode(), caplog.text]
    assert not [h for h in found(stored, "registry") + found("\n".join(shown), "shown")]
