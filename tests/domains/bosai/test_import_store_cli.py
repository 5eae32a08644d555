"""Imports into the bosai store (raw file kept, runs recorded) and the ``tsunagu bosai`` CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.store.database import StoreError
from domains.bosai import plugin
from domains.bosai.importers import SourceError
from domains.bosai.imports import import_shelters, import_status
from domains.bosai.store import BosaiStore
from domains.japanese import JST

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store(tmp_path):
    s = BosaiStore(tmp_path / "hub" / "bosai.sqlite")
    yield s
    s.close()


def test_plugin_declares_importers_and_cli():
    assert plugin.importers == {"shelters": import_shelters, "status": import_status}
    assert plugin.cli is not None


def test_shelter_import_keeps_raw_file_and_records_the_run(store):
    source = DATA / "opendata_emergency.csv"
    report = import_shelters(source, store)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    kept = store.path.parent / report.raw_path
    assert kept.name == f"{digest}.csv" and kept.read_bytes() == source.read_bytes()
    [run] = store.runs()
    assert (run["kind"], run["sha256"], run["imported"], run["corrected"], run["refused"]) == (
        "shelters", digest, 1, 2, 5)
    assert store.run_report(run["id"])["summary"] == "imported 1, corrected 2, refused 5"
    assert [s["id"] for s in store.sites()] == ["131016-001", "131016-002", "131016-006"]
    site = store.site("131016-002")
    assert site["capacity"] == {"total": 3950, "indoor": 1700, "outdoor": 2250}
    assert site["raw"]["想定収容人数"] == "屋内1,700人／屋外2,250人"  # raw beside parsed
    assert store.sites(municipality_code="011002") == []


def test_reimport_adds_a_run_and_reports_every_row_unchanged(store):
    first = import_shelters(DATA / "gsi_emergency_bom.csv", store)
    again = import_shelters(DATA / "gsi_emergency_bom.csv", store)
    assert len(store.runs()) == 2 and len(store.sites()) == 7
    assert store.site("E1310100002201")["runId"] == 1  # the run that last changed it
    assert len(list((store.path.parent / "imports").iterdir())) == 1  # content-addressed
    read = first.counts()["imported"] + first.counts()["corrected"]
    assert again.summary() == (f"imported 0, corrected 0, refused {first.counts()['refused']}"
                               f", unchanged {read}")
    assert store.runs()[-1]["imported"] == 0
    assert store.run_report(2)["summary"].endswith(f"unchanged {read}")


def test_a_status_file_imported_twice_is_reported_unchanged(store, capsys):
    import_shelters(DATA / "gsi_shelter_sjis.csv", store)
    store_path = str(store.path)
    args = ["bosai", "import-status", str(DATA / "status_city_a.csv"),
            "--mapping", str(DATA / "status_city_a.toml"), "--store", store_path]
    store.close()
    main(args)
    assert capsys.readouterr().out.splitlines()[-1] == "imported 3, corrected 2, refused 5"
    main(args)
    assert capsys.readouterr().out.splitlines()[-1] == (
        "imported 0, corrected 0, refused 5, unchanged 5")


def test_refused_file_is_kept_and_its_run_recorded(store):
    with pytest.raises(SourceError):
        import_shelters(DATA / "status_city_a.csv", store)
    [run] = store.runs()
    assert run["error"].startswith("[bosai.import.format]")
    assert (store.path.parent / run["raw_path"]).read_bytes() == (
        DATA / "status_city_a.csv").read_bytes()


def test_unreadable_file(store, tmp_path):
    with pytest.raises(SourceError) as info:
        import_shelters(tmp_path / "nope.csv", store)
    assert info.value.code == "bosai.import.unreadable"


def test_status_timeline_apart_from_master(store):
    import_shelters(DATA / "gsi_shelter_sjis.csv", store)
    report = import_status(DATA / "status_city_a.csv", DATA / "status_city_a.toml", store)
    assert report.summary() == "imported 3, corrected 2, refused 5"
    adhoc = next(r for r in report.rows if r.line == 9)
    assert "not in the designated-site master" in adhoc.notes[0].message
    timeline = store.timeline("E1310100001001")
    assert [(t["observedAt"], t["count"]) for t in timeline] == [
        ("2024-04-29T21:00:00Z", 120), ("2024-04-30T09:00:00Z", 150)]
    morning = store.current_status(at=datetime(2024, 4, 30, 12, tzinfo=JST))
    assert {s["shelterId"]: s.get("count") for s in morning} == {
        "E1310100001001": 120, "E1310100001002": 12, "E1310100001003": 0,
        "E1310100009999": 20}
    assert {s["shelterId"]: s["count"] for s in store.current_status()}["E1310100001001"] == 150
    # City B's file has no name or type: taken from the master.
    import_status(DATA / "status_city_b.csv", DATA / "status_city_b.json", store)
    latest = {s["shelterId"]: s for s in store.current_status()}
    assert latest["E1310100001002"]["name"] == "髙橋記念ホール"
    assert set(latest["E1310100001002"]["shelterType"]) == {"designated_shelter",
                                                           "welfare_shelter"}
    # The status import did not touch the master.
    assert len(store.sites()) == 4
    # Importing the same file again adds a run but no duplicate history.
    before = len(store.timeline("E1310100001001"))
    import_status(DATA / "status_city_a.csv", DATA / "status_city_a.toml", store)
    assert len(store.timeline("E1310100001001")) == before
    mapping_digest = hashlib.sha256((DATA / "status_city_a.toml").read_bytes()).hexdigest()
    assert store.runs()[-1]["mapping_sha256"] == mapping_digest
    assert (store.path.parent / "imports" / f"{mapping_digest}.toml").is_file()


def test_store_on_a_directory_is_a_typed_error(tmp_path):
    (tmp_path / "d.sqlite").mkdir()
    with pytest.raises(StoreError):
        BosaiStore(tmp_path / "d.sqlite")


def test_cli_summary_line_and_exit_codes(tmp_path, capsys):
    db = str(tmp_path / "bosai.sqlite")
    assert main(["bosai", "import-shelters", str(DATA / "opendata_emergency.csv"),
                 "--store", db]) == 1  # some rows refused
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "imported 1, corrected 2, refused 5"
    assert any(line.startswith("  line 4: refused: 全国地方公共団体コード") for line in out)
    lines = (DATA / "opendata_emergency.csv").read_text(encoding="utf-8").splitlines()
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    assert main(["bosai", "import-shelters", str(clean), "--format", "opendata",
                 "--store", db]) == 0
    # The one row of clean.csv was imported from the first file already: nothing to add.
    assert capsys.readouterr().out.splitlines()[-1] == (
        "imported 0, corrected 0, refused 0, unchanged 1")
    assert main(["bosai", "import-shelters", str(DATA / "status_city_a.csv"),
                 "--store", db]) == 2
    assert "bosai.import.format" in capsys.readouterr().err


def test_cli_status_json_report(tmp_path, capsys):
    code = main(["bosai", "import-status", str(DATA / "status_city_b.csv"), "--mapping",
                 str(DATA / "status_city_b.json"), "--store", str(tmp_path / "b.sqlite"),
                 "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 1 and report["counts"] == {"imported": 1, "corrected": 1, "refused": 2,
                                                  "unchanged": 0}
    assert [(r["line"], r["outcome"]) for r in report["rows"]] == [
        (2, "corrected"), (3, "imported"), (4, "refused"), (5, "refused")]
    assert report["rows"][2]["problems"][0]["code"] == "ja.date_invalid"
    assert captured.err.splitlines()[-1] == "imported 1, corrected 1, refused 2"


def test_cli_as_a_process_with_progress_bar(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "bosai", "import-shelters",
         str(DATA / "gsi_shelter_sjis.csv"), "--store", str(tmp_path / "s.sqlite"),
         "--progress"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1] == "imported 0, corrected 4, refused 2"
    assert "100% 7/7 lines" in result.stderr
    quiet = subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "bosai", "import-shelters",
         str(DATA / "gsi_shelter_sjis.csv"), "--store", str(tmp_path / "s.sqlite")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "lines" not in quiet.stderr  # stderr is not a terminal: no bar


@pytest.mark.parametrize("command", ["import-shelters", "import-status"])
def test_help_of_each_importer_says_a_refused_row_exits_1(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bosai", command, "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 when any row was refused" in out and "0 when no row was refused" in out
    assert "2 when the file" in out


@pytest.mark.parametrize("command", ["import-shelters", "import-status"])
def test_an_excel_workbook_is_named_as_such_not_read_as_text(command, tmp_path, capsys):
    import zipfile

    workbook = tmp_path / "避難所一覧.xlsx"  # what a clerk exports from Excel by default
    with zipfile.ZipFile(workbook, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet>避難所</worksheet>")
    extra = ["--mapping", str(DATA / "status_city_a.toml")] if command == "import-status" else []
    code = main(["bosai", command, str(workbook), *extra, "--store", str(tmp_path / "b.sqlite")])
    err = capsys.readouterr().err
    assert code == 2
    assert "this is not a CSV file" in err and "Excel workbook (.xlsx)" in err
    assert "no column" not in err


@pytest.mark.parametrize(("encoding", "data"), [
    ("cp932", "utf-8"),  # a UTF-8 file, the mapping says Shift_JIS
    ("utf-8", "cp932"),  # a Shift_JIS file, the mapping says UTF-8
])
def test_a_wrong_encoding_is_named_not_shown_as_mojibake(encoding, data, tmp_path, capsys):
    source = tmp_path / "status.csv"
    source.write_bytes((DATA / "status_city_a.csv").read_text(encoding="utf-8")
                       .encode(data, errors="replace"))
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(f'encoding = "{encoding}"\n'
                       + (DATA / "status_city_a.toml").read_text(encoding="utf-8"),
                       encoding="utf-8")
    code = main(["bosai", "import-status", str(source), "--mapping", str(mapping),
                 "--store", str(tmp_path / "b.sqlite")])
    err = capsys.readouterr().err
    assert code == 2
    assert "encoding looks wrong" in err and f"read as {encoding} (from the mapping)" in err
    assert "its first line has" not in err  # no mojibake echoed back
