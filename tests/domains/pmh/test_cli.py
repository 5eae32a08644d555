"""``tsunagu pmh import-fhir`` and ``export-fhir`` end to end, with real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

from connector.cli.main import main
from domains.pmh.errors import PmhCode
from tests.domains.pmh import family
from tests.domains.pmh.test_fhir_import import FIXTURE, clinic, entry


def test_import_writes_one_file_per_record_and_export_gives_the_bundle_back(tmp_path, capsys):
    out = tmp_path / "records"
    assert main(["pmh", "import-fhir", str(FIXTURE), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"Mother": 1, "Child": 1, "MotherChildLink": 1, "Encounter": 1,
                                "Observation": 3, "SubsidyCoverage": 1}
    files = sorted(out.glob("*.jsonld"))
    assert [str(f) for f in files] == sorted(report["written"]) and len(files) == 8
    assert not list(out.glob(".import-*"))  # the staging directory is gone
    bundle_file = tmp_path / "bundle.json"
    assert main(["pmh", "export-fhir", str(out), "--out", str(bundle_file)]) == 0
    bundle = orjson.loads(bundle_file.read_bytes())
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 8
    again = tmp_path / "again"
    assert main(["pmh", "import-fhir", str(bundle_file), "--out", str(again)]) == 0
    assert {f.name: orjson.loads(f.read_bytes()) for f in again.iterdir()} == \
        {f.name: orjson.loads(f.read_bytes()) for f in files}


def test_import_prints_the_records_without_out(tmp_path, capsys):
    assert main(["pmh", "import-fhir", str(FIXTURE)]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert len(records) == 8 and "converted 8 records" in captured.err


def test_a_refused_bundle_writes_nothing_and_lists_every_problem(tmp_path, capsys):
    bundle = clinic()
    entry(bundle, "o-2")["valueInteger"] = 31
    entry(bundle, "c-1")["payor"][0]["identifier"]["value"] = "88011003"
    source = tmp_path / "bad.json"
    source.write_bytes(orjson.dumps(bundle))
    out = tmp_path / "records"
    assert main(["pmh", "import-fhir", str(source), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Bundle.entry[5].resource.valueInteger: [pmh.measurement_impossible]" in err
    assert "Bundle.entry[7].resource.payor[0].identifier.value: [pmh.subsidy_number]" in err
    assert "nothing written" in err and not out.exists()
    assert main(["pmh", "import-fhir", str(source), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p["code"] for p in problems] == [PmhCode.MEASUREMENT_IMPOSSIBLE,
                                             PmhCode.SUBSIDY_NUMBER_INVALID]


def test_a_my_number_or_an_unreadable_file_is_a_typed_error(tmp_path, capsys):
    bundle = clinic()
    entry(bundle, "p-100")["telecom"][0]["value"] = "1234-5678-9018"
    source = tmp_path / "mynumber.json"
    source.write_bytes(orjson.dumps(bundle))
    assert main(["pmh", "import-fhir", str(source)]) == 2
    err = capsys.readouterr().err
    assert "personal_number.refused" in err and "9018" not in err
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert main(["pmh", "import-fhir", str(tmp_path / "broken.json")]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_export_refuses_records_that_fail_their_checks(tmp_path, capsys):
    (tmp_path / "records.json").write_bytes(orjson.dumps(
        [family.mother(), family.subsidy(payerNumber="52131001")]))
    assert main(["pmh", "export-fhir", str(tmp_path / "records.json"), "--json"]) == 1
    [problem] = json.loads(capsys.readouterr().out)["problems"]
    assert problem["path"] == "records[1] $.payerNumber"
    assert problem["code"] == PmhCode.SUBSIDY_NUMBER_INVALID


def test_the_installed_command_runs(tmp_path):
    """The real ``tsunagu`` entry point, as a clinic's operator would run it."""
    tsunagu = Path(sys.executable).with_name("tsunagu")
    done = subprocess.run([str(tsunagu), "pmh", "import-fhir", str(FIXTURE), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote 8 records to")
    help_text = subprocess.run([str(tsunagu), "pmh", "import-fhir", "--help"],
                               capture_output=True, text=True, timeout=60).stdout
    assert "POST /api/v1/datasets/{dataset}/records" in " ".join(help_text.split())
