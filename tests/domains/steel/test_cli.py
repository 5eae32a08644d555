"""``tsunagu steel import`` and ``export`` end to end, with real files: EN 10168 JSON and the
CSV layout, each run ending with ``imported N, flagged M, refused K``."""

from __future__ import annotations

import json
from pathlib import Path

from connector.cli.main import main
from tests.domains.steel.certs import FIXTURES
from trust.canonical import canonical_json

CSV = FIXTURES.parent / "csv"


def test_json_certificates_import_flag_and_refuse(capsys, tmp_path):
    files = [str(FIXTURES / f"{n}.json") for n in
             ("valid_certificate_1", "valid_certificate_5", "malformed_logo")]
    status = main(["steel", "import", *files, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 1
    assert out.splitlines()[-1] == "imported 2, flagged 1, refused 1"
    assert "malformed_logo.json: /Certificate/CommercialTransaction/A04: " \
           "[steel.attachment_broken]" in err
    assert "flagged [C 検査・化学成分] /Certificate/Inspection/ChemicalComposition/C71: " \
           "[steel.unit_slip] 150.5" in out
    # Both examples are document 1866645/001 of the same mill: one record id, two versions.
    assert len(list(tmp_path.glob("*.jsonld"))) == 1


def test_export_gives_back_the_input(capsys, tmp_path):
    source = FIXTURES / "valid_certificate_2.json"
    assert main(["steel", "import", str(source), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    record = next(tmp_path.glob("*.jsonld"))
    assert main(["steel", "export", str(record)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert canonical_json(exported) == canonical_json(json.loads(source.read_bytes()))


def test_csv_rows_become_certificates(capsys, tmp_path):
    status = main(["steel", "import", str(CSV / "mill.csv"), "--logo", str(CSV / "mark.png"),
                   "--json", "--out", str(tmp_path)])
    outcome = json.loads(capsys.readouterr().out)
    assert status == 1 and outcome["summary"] == "imported 2, flagged 1, refused 1"
    assert outcome["refused"][0]["problems"][0]["code"] == "steel.csv_invalid"
    assert "溶鋼番号" in outcome["refused"][0]["problems"][0]["message"]
    flagged = next(i for i in outcome["imported"] if i["flagged"])
    codes = {f["code"] for f in flagged["failures"]}
    assert codes == {"steel.grade_limit", "steel.unit_slip"}  # P 0.040 > 0.035; TS 46
    records = [json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.glob("*.jsonld")]
    ss400 = next(r for r in records if r["gradeDesignation"] == "SS400")
    assert ss400["heatNumbers"] == ["H50001"] and ss400["manufacturer"] == "例示製鋼株式会社"
    assert not ss400["flagged"]


def test_csv_without_a_logo_is_refused(capsys):
    assert main(["steel", "import", str(CSV / "mill.csv")]) == 1
    assert "refused 1" in capsys.readouterr().out


def test_fixtures_carry_their_licence():
    assert (FIXTURES / "LICENSE").exists() and "7ffbf24" in (FIXTURES / "SOURCE.md").read_text()
    assert Path(FIXTURES / "schema.json").read_bytes() == (
        Path(__file__).resolve().parents[3] / "domains/steel/spec/schema.json").read_bytes()


def test_a_mills_own_columns_and_encoding_through_a_mapping(capsys, tmp_path):
    status = main(["steel", "import", str(CSV / "mill-cp932.csv"), "--logo",
                   str(CSV / "mark.png"), "--mapping", str(CSV / "mill-cp932.toml"),
                   "--out", str(tmp_path)])
    assert status == 0 and capsys.readouterr().out.splitlines()[-1] == (
        "imported 2, flagged 1, refused 0")
    numbers = {json.loads(p.read_text(encoding="utf-8"))["certificateNumber"]
               for p in tmp_path.glob("*.jsonld")}
    assert numbers == {"MC-CSV-0001", "MC-CSV-0002"}


def test_a_mapping_with_an_unknown_key_is_refused(capsys, tmp_path):
    mapping = tmp_path / "typo.toml"
    mapping.write_text('[columns]\nA3 = "証明書番号"\n', encoding="utf-8")
    status = main(["steel", "import", str(CSV / "mill.csv"), "--logo", str(CSV / "mark.png"),
                   "--mapping", str(mapping)])
    out, err = capsys.readouterr()
    assert status == 1 and "columns.A3" in err and out.endswith("refused 1\n")


def test_the_csv_layout_reads_the_actual_mass_a_split_divides(tmp_path):
    from domains.steel.certificate import to_record
    from domains.steel.chain_records import certificate_mass_kg
    from domains.steel.csv_import import read_csv
    from domains.steel.demo import mill_sheet

    path = tmp_path / "mill.csv"
    path.write_text(mill_sheet.csv_text(), encoding="utf-8")
    (_, document), = read_csv(path, mill_sheet.LOGO)
    assert document["Certificate"]["ProductDescription"]["B13"] == {
        "Property": "Actual mass", "Value": mill_sheet.MASS_KG, "Unit": "kg"}
    assert certificate_mass_kg(to_record(document)) == mill_sheet.MASS_KG
    without = {k: v for k, v in mill_sheet.ROW.items() if k != "実質量"}
    path.write_text(",".join(without) + "\n" + ",".join(without.values()) + "\n",
                    encoding="utf-8")
    (_, document), = read_csv(path, mill_sheet.LOGO)
    assert "B13" not in document["Certificate"]["ProductDescription"]  # optional column
