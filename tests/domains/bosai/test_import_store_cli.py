"""Imports into the bosai store (raw file kept, runs recorded) and the ``tsunagu bosai`` CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
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
        "shelters", digest, 1, 4, 3)
    assert store.run_report(run["id"])["summary"] == "imported 1, corrected 4, refused 3"
    assert [s["id"] for s in store.sites()] == [
        "131016-001", "131016-002", "131016-005", "131016-006", "131016-008"]
    site = store.site("131016-002")
    assert site["capacity"] == {"total": 3950, "indoor": 1700, "outdoor": 2250,
                                "raw": "屋内1,700人／屋外2,250人"}  # issue 12 item 7
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
    assert capsys.readouterr().out.splitlines()[-1] == "imported 3, corrected 4, refused 3"
    main(args)
    assert capsys.readouterr().out.splitlines()[-1] == (
        "imported 0, corrected 0, refused 3, unchanged 7")


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
    assert report.summary() == "imported 3, corrected 4, refused 3"  # item 7: flagged cells
    adhoc = next(r for r in report.rows if r.line == 9)
    assert "not in the designated-site master" in adhoc.notes[0].message
    timeline = store.timeline("E1310100001001")
    assert [(t["observedAt"], t["count"]) for t in timeline] == [
        ("2024-04-29T21:00:00Z", 120), ("2024-04-30T09:00:00Z", 150)]
    morning = store.current_status(at=datetime(2024, 4, 30, 12, tzinfo=JST))
    assert {s["shelterId"]: s.get("count") for s in morning} == {
        "E1310100001001": 120, "E1310100001002": 12, "E1310100001003": 0,
        "E1310100009999": 20, "E1310100001005": None}  # item 7: open flagged
    assert {s["shelterId"]: s.get("count") for s in store.current_status()}["E1310100001001"] == 150
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
    assert out[-1] == "imported 1, corrected 4, refused 3"
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


# --- issue 12: schema version 2 ---------------------------------------------------------------

# status_history as schema version 1 made it (open NOT NULL, one row per shelter, time and
# parse), with a re-import that doubled an observation, as version 1 did.
V1_STORE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('bosai_schema_version', '1');
CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, source TEXT NOT NULL,
    sha256 TEXT NOT NULL, raw_path TEXT NOT NULL, mapping_sha256 TEXT,
    format TEXT NOT NULL DEFAULT '', encoding TEXT NOT NULL DEFAULT '', started TEXT NOT NULL,
    finished TEXT NOT NULL, imported INTEGER NOT NULL DEFAULT 0,
    corrected INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0, error TEXT,
    report BLOB NOT NULL);
CREATE TABLE status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, shelter_id TEXT NOT NULL,
    observed_at TEXT NOT NULL, open INTEGER NOT NULL, parsed BLOB NOT NULL, raw BLOB NOT NULL,
    run_id INTEGER NOT NULL REFERENCES import_runs(id), line INTEGER NOT NULL,
    digest TEXT NOT NULL, UNIQUE (shelter_id, observed_at, digest));
CREATE INDEX status_by_shelter ON status_history(shelter_id, observed_at);
INSERT INTO import_runs (kind, source, sha256, raw_path, started, finished, report) VALUES
    ('status', '開設状況.csv', 'a', 'imports/a.csv', 't', 't', x''),
    ('status', '開設状況.csv', 'b', 'imports/b.csv', 't', 't', x''),
    ('status', 'other.csv', 'c', 'imports/c.csv', 't', 't', x'');
INSERT INTO status_history (shelter_id, observed_at, open, parsed, raw, run_id, line, digest)
VALUES ('A', '2024-04-29T21:00:00Z', 1, '{"shelterId":"A","open":true,"count":5}', '{}', 1,
        2, 'd1'),
       ('A', '2024-04-29T21:00:00Z', 1, '{"shelterId":"A","open":true,"count":5,
        "shelterType":["designated_shelter"]}', '{}', 2, 2, 'd2'),
       ('A', '2024-04-29T21:00:00Z', 0, '{"shelterId":"A","open":false}', '{}', 3, 2, 'd3');
"""


def test_a_store_of_schema_version_1_is_upgraded_when_opened(tmp_path):
    path = tmp_path / "bosai.sqlite"
    old = sqlite3.connect(path)
    old.executescript(V1_STORE)
    old.close()
    store = BosaiStore(path)
    try:
        assert store.query("SELECT value FROM meta WHERE key='bosai_schema_version'")[0][0] \
            == "2"
        # The doubled observation (same shelter, time and file) is one, the earlier version
        # superseded; the other file's observation of the same moment is its own.
        shown = store.timeline("A")
        assert [(t["source"], t["runId"]) for t in shown] == [("開設状況.csv", 2),
                                                              ("other.csv", 3)]
        every = store.timeline("A", superseded=True)
        assert (every[0]["runId"], every[0]["supersededBy"]) == (1, 2)  # run 2's row, seq 2
        # Version 2 columns work on the upgraded file: an unknown open state is stored.
        import_status(_csv(tmp_path, "s.csv", "ID,状況,日時\nA,調整中,2024/4/30 7:00\n"),
                      _mapping(tmp_path), store)
        assert store.current_status()[0].get("open") is None
    finally:
        store.close()
    reopened = BosaiStore(path)  # an upgraded store opens as it is
    assert reopened.timeline("A")[-1]["observedAt"] == "2024-04-29T22:00:00Z"
    reopened.close()


def test_a_store_newer_than_the_code_is_refused_by_name(tmp_path):
    path = tmp_path / "bosai.sqlite"
    BosaiStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='bosai_schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99, this version needs 2"):
        BosaiStore(path)


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _mapping(tmp_path: Path, extra: str = "", name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(extra + '[columns]\nshelter_id = "ID"\nopen = "状況"\ntimestamp = "日時"\n',
                    encoding="utf-8")
    return path


# --- issue 12 item 8: an observation is shelter, time and file --------------------------------

def test_reimporting_with_a_corrected_mapping_replaces_never_doubles(store, tmp_path):
    import_shelters(DATA / "gsi_shelter_sjis.csv", store)
    import_status(DATA / "status_city_a.csv", DATA / "status_city_a.toml", store)
    assert not store.timeline("E1310100009999")[0].get("shelterType")
    corrected = tmp_path / "status_city_a.toml"
    corrected.write_text((DATA / "status_city_a.toml").read_text(encoding="utf-8")
                         + '\n[defaults]\ntype = "指定避難所"\n', encoding="utf-8")
    report = import_status(DATA / "status_city_a.csv", corrected, store)
    [adhoc] = store.timeline("E1310100009999")  # one observation, the corrected one
    assert adhoc["shelterType"] == ["designated_shelter"] and adhoc["runId"] == 3
    old, new = store.timeline("E1310100009999", superseded=True)
    assert old["runId"] == 2 and "supersededBy" in old and "supersededBy" not in new
    row = next(r for r in report.rows if r.line == 9)
    assert row.outcome.value == "corrected"
    assert any("replaces this observation as imported by run 2" in n.message
               for n in row.notes)
    # Rows the default changed nothing in are unchanged, not replaced.
    assert next(r for r in report.rows if r.line == 2).outcome.value == "unchanged"
    assert [s["shelterId"] for s in store.current_status()].count("E1310100009999") == 1


def test_the_same_moment_from_another_file_is_another_observation(store, tmp_path):
    mapping = _mapping(tmp_path)
    import_status(_csv(tmp_path, "city.csv", "ID,状況,日時\nA,開設,2024/4/30 6:00\n"),
                  mapping, store)
    import_status(_csv(tmp_path, "pref.csv", "ID,状況,日時\nA,閉鎖,2024/4/30 6:00\n"),
                  mapping, store)
    assert [(t["source"], t["open"]) for t in store.timeline("A")] == [
        ("city.csv", True), ("pref.csv", False)]


# --- issue 12 item 9: complete snapshots, when shelters opened and closed, report age ---------

MORNING = "ID,状況,日時\nA,開設,2024/4/30 6:00\nB,開設,2024/4/30 6:00\nC,開設,2024/4/30 6:00\n"
NOON = ("ID,状況,日時\nA,開設,2024/4/30 12:00\n"
        "C,開設,2024/4/31 12:00\n")  # C's row is refused (no such day), yet it names C


@pytest.mark.parametrize("how", ["mapping", "flag"])
def test_a_complete_snapshot_records_the_shelters_it_leaves_out_as_closed(store, tmp_path,
                                                                          how):
    mapping = _mapping(tmp_path, "complete_snapshot = true\n" if how == "mapping" else "")
    import_status(_csv(tmp_path, "morning.csv", MORNING), mapping, store)
    noon = _csv(tmp_path, "noon.csv", NOON)
    saved: list = []
    report = import_status(noon, mapping, store, entries_out=saved,
                           complete_snapshot=how == "flag")
    state = {s["shelterId"]: s for s in store.current_status()}
    assert (state["A"]["open"], state["B"]["open"], state["C"]["open"]) == (True, False, True)
    assert state["B"]["observedAt"] == "2024-04-30T03:00:00Z"
    assert state["B"]["inferred"] == "absent from the complete snapshot noon.csv"
    assert report.file_notes == [
        "complete snapshot: 1 shelter not in it recorded as closed at 2024-04-30T03:00:00Z: B"]
    assert [e.shelter_id for e in saved if e.inferred] == ["B"]  # published as closed too
    # The timeline says when B opened and closed.
    assert [t.get("change") for t in store.timeline("B")] == ["opened", "closed"]
    assert store.open_periods("B") == [{"opened": "2024-04-29T21:00:00Z",
                                        "closed": "2024-04-30T03:00:00Z"}]
    assert store.open_periods("A") == [{"opened": "2024-04-29T21:00:00Z", "closed": None}]
    # The same file again closes nothing twice.
    again = import_status(noon, mapping, store, complete_snapshot=how == "flag")
    assert len(store.timeline("B")) == 2 and not any("closed at" in n
                                                     for n in again.file_notes)


def test_without_complete_snapshot_a_shelter_left_out_keeps_its_status(store, tmp_path):
    mapping = _mapping(tmp_path)
    import_status(_csv(tmp_path, "morning.csv", MORNING), mapping, store)
    import_status(_csv(tmp_path, "noon.csv", NOON), mapping, store)
    assert {s["shelterId"]: s["open"] for s in store.current_status()} == {
        "A": True, "B": True, "C": True}


def test_each_shelters_last_report_has_an_age_and_a_stale_flag(store, tmp_path):
    mapping = _mapping(tmp_path, "complete_snapshot = true\n")
    import_status(_csv(tmp_path, "morning.csv", MORNING), mapping, store)
    import_status(_csv(tmp_path, "noon.csv", NOON), mapping, store)
    at = datetime(2024, 4, 30, 13, 0, tzinfo=JST)
    reports = store.last_reports(now=at)
    assert store.stale_after() == timedelta(hours=6)  # the default
    # A reported at noon; B was closed by absence at noon, which is no report of B's.
    assert reports["A"].reported_at == datetime(2024, 4, 30, 3, tzinfo=UTC)
    assert (reports["A"].age, reports["A"].stale) == (timedelta(hours=1), False)
    assert (reports["B"].age, reports["B"].stale) == (timedelta(hours=7), True)
    store.set_stale_after(timedelta(hours=8))
    assert not store.last_reports(now=at)["B"].stale
    with pytest.raises(ValueError, match="a minute or more"):
        store.set_stale_after(timedelta(seconds=5))


def test_cli_complete_snapshot_flag_and_stale_after(tmp_path, capsys):
    db = str(tmp_path / "b.sqlite")
    mapping = str(_mapping(tmp_path))
    assert main(["bosai", "import-status", str(_csv(tmp_path, "m.csv", MORNING)), "--mapping",
                 mapping, "--store", db]) == 0
    assert main(["bosai", "import-status", str(_csv(tmp_path, "n.csv", NOON)), "--mapping",
                 mapping, "--store", db, "--complete-snapshot"]) == 1  # C's row refused
    assert "recorded as closed at 2024-04-30T03:00:00Z: B" in capsys.readouterr().out
    assert main(["bosai", "stale-after", "--store", db]) == 0
    assert capsys.readouterr().out.strip() == "a shelter's status report is stale after 6 hours"
    assert main(["bosai", "stale-after", "1.5", "--store", db]) == 0
    assert capsys.readouterr().out.strip().endswith("stale after 1.5 hours")
    with pytest.raises(SystemExit):
        main(["bosai", "stale-after", "soon", "--store", db])
    assert "'soon' is not a number of hours" in capsys.readouterr().err
    s = BosaiStore(Path(db))
    assert s.stale_after() == timedelta(minutes=90)
    s.close()
    with pytest.raises(SystemExit) as exit_:
        main(["bosai", "import-status", "--help"])
    assert exit_.value.code == 0 and "--complete-snapshot" in capsys.readouterr().out


# --- issue 12 item 9a: .xlsx workbooks read directly ----------------------------------------

def _workbook(path: Path, rows: list[list]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    other = book.create_sheet("メモ")  # never read, never kept
    other.append(["担当者メモ", "090-0000-0000"])
    book.save(path)
    return path


def test_a_workbook_is_read_through_the_same_mapping_as_a_csv(store, tmp_path):
    header = ["避難所ID", "避難所名", "開設状況", "種別", "収容人数", "避難者数", "昼間避難者数",
              "夜間避難者数", "更新日時", "不足物資", "飲料水", "毛布"]
    book = _workbook(tmp_path / "開設状況.xlsx", [
        header,
        ["E1310100001001", "番町小学校", "開設", "指定避難所", 450, "約30", 100, 310,
         datetime(2024, 4, 30, 6, 0), "粉ミルク\nおむつ", 1, None],
        [],
        ["E1310100001002", "髙橋記念ホール", "開設", "指定避難所", "屋内80人(面積の1/2)", 12.0,
         None, None, "令和6年4月30日午前6時", None, None, "○"],
        ["E1310100001003", "千代田区民会館", "閉鎖", None, 200, "3世帯", 0, 0,
         "2024/4/31 6:00", None, None, None],
    ])
    report = import_status(book, DATA / "status_city_a.toml", store)
    assert report.encoding == "xlsx"
    assert {r.line: r.outcome.value for r in report.rows} == {  # the sheet's row numbers
        2: "corrected", 4: "corrected", 5: "refused"}
    [first] = store.timeline("E1310100001001")
    assert (first["observedAt"], first["count"], first["approximate"]) == (
        "2024-04-29T21:00:00Z", 30, ["count"])
    assert first["needs"] == ["粉ミルク", "おむつ", "飲料水"]
    assert first["raw"]["収容人数"] == "450" and first["raw"]["避難者数"] == "約30"
    [second] = store.timeline("E1310100001002")
    assert second["capacity"] == 80 and second["capacityDetail"]["notes"] == ["面積の1/2"]
    assert second["count"] == 12
    # The kept copy is the first sheet as CSV text, not the workbook with its other sheets.
    kept = (store.path.parent / report.raw_path)
    assert kept.suffix == ".csv" and "担当者メモ" not in kept.read_text(encoding="utf-8")
    assert report.sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert any("first sheet" in n for n in report.file_notes)


def test_a_broken_workbook_is_named_and_other_binary_files_still_refused(store, tmp_path):
    import zipfile

    broken = tmp_path / "壊れた.xlsx"
    with zipfile.ZipFile(broken, "w") as book:
        book.writestr("xl/workbook.xml", "<not a workbook")
    with pytest.raises(SourceError, match=r"this Excel workbook \(\.xlsx\) cannot be read"):
        import_status(broken, DATA / "status_city_a.toml", store)
    pdf = _csv(tmp_path, "status.pdf", "%PDF-1.4 ...")
    with pytest.raises(SourceError, match="this is not a CSV file: it looks like a PDF"):
        import_status(pdf, DATA / "status_city_a.toml", store)


async def test_dashboard_queries_carry_report_age_stale_flag_and_open_periods(
        bosai_connector, tmp_path):
    from domains.bosai.dashboard.queries import Queries

    hub = bosai_connector.plugin_services["bosai"]
    mapping = _mapping(tmp_path, "complete_snapshot = true\n")
    import_status(_csv(tmp_path, "morning.csv", MORNING), mapping, hub.sites)
    import_status(_csv(tmp_path, "noon.csv", NOON), mapping, hub.sites)
    queries, at = Queries(hub, hub.sites), datetime(2024, 4, 30, 13, tzinfo=JST)
    shown = {s.id: s for s in queries.overview(now=at).shelters}
    assert set(shown) == {"A", "C"}  # B was closed by the complete snapshot
    assert (shown["A"].report_age, shown["A"].stale) == (timedelta(hours=1), False)
    assert shown["C"].reported_at == datetime(2024, 4, 29, 21, tzinfo=UTC)  # its noon row
    assert shown["C"].stale  # was refused: 7 hours without a report
    closed = queries.shelter("B", now=at)
    assert closed.shelter.open is False and closed.shelter.stale
    assert closed.periods == ({"opened": "2024-04-29T21:00:00Z",
                               "closed": "2024-04-30T03:00:00Z"},)


def test_a_my_number_in_a_workbook_is_withheld_and_blotted_in_the_kept_copy(store, tmp_path):
    from domains.japanese.mynumber import check_digit

    number = "12345678901" + str(check_digit("12345678901"))
    book = _workbook(tmp_path / "s.xlsx", [["ID", "状況", "日時", "メモ"],
                                            ["A", "開設", "2024/4/30 6:00", f"連絡 {number}"]])
    mapping = _mapping(tmp_path)
    report = import_status(book, mapping, store)
    assert report.redacted_cells == 1 and report.rows[0].outcome.value == "corrected"
    kept = (store.path.parent / report.raw_path).read_text(encoding="utf-8")
    assert number not in kept and "連絡 ＊＊＊＊" in kept
    assert "メモ" not in store.timeline("A")[0]["raw"]


def test_the_help_text_default_is_the_stores_default():
    from domains.bosai import cli
    from domains.bosai.store import DEFAULT_STALE_AFTER

    assert timedelta(hours=cli.DEFAULT_STALE_HOURS) == DEFAULT_STALE_AFTER
