"""``tsunagu steel verify``: a piece's chain from a file (one custody event carrying its
chain, or a package), exit status 0 verified, 1 not, 2 unreadable."""

from __future__ import annotations

import copy
import json

from connector.cli.main import main
from tests.domains.steel.chain import ISSUERS, six_levels


def write(tmp_path, data, name="chain.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_the_last_event_alone_verifies_and_prints_the_chain(capsys, tmp_path):
    records, piece = six_levels()
    trusted = [f"--issuer={did}={name}" for did, name in ISSUERS.items()]
    status = main(["steel", "verify", write(tmp_path, records[-1]), *trusted])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"piece 品 {piece}  holder 保有者 例示建設")
    assert [line.split()[1] for line in lines[1:7]] == [
        "certificate", "custody", "custody", "derivation", "derivation", "custody"]
    assert lines[-1] == "verified 検証済み"


def test_a_tampered_package_fails_with_the_reason(capsys, tmp_path):
    records, piece = six_levels()
    altered = copy.deepcopy(records)
    altered[3]["pieces"][1]["massKg"] = 1800.0  # the strip the cut lengths came from
    status = main(["steel", "verify", write(tmp_path, {"pieceId": piece, "records": altered}),
                   "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1 and out["verified"] is False
    failing = [(link["kind"], c["name"], c["code"]) for link in out["links"]
               for c in link["checks"] if not c["ok"]]
    assert ("derivation", "signature", "proof.bad_signature") in failing
    assert ("derivation", "parent_hash", "steel.parent_hash_mismatch") in failing


def test_an_unreadable_file_is_status_2(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    assert main(["steel", "verify", str(path)]) == 2
