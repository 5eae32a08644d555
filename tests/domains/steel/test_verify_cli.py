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


def registry(tmp_path, *, mill_legal_id="8000000000001", leave_out=None, key=None):
    """The authority's signed participant registry naming the chain's four parties."""
    from tests.domains.steel.chain import CUSTOMER, MILL, PROCESSOR, TRADER
    from trust.keys import KeyPair
    from trust.participant_registry import sign_registry

    authority = key or KeyPair.from_seed(b"\x09" * 32)
    legal = {MILL: mill_legal_id, TRADER: "7000012050002", PROCESSOR: "2000012010019",
             CUSTOMER: "5000012010024"}
    entries = [{"id": p.did, "name": p.name, "roles": ["trader"],
                "dspSubject": f"tsunagu.dsp.{p.name}",
                "legalIdentifier": {"scheme": "jp-corporate-number", "value": value}}
               for p, value in legal.items() if p is not leave_out]
    path = write(tmp_path, sign_registry(authority, entries), "registry.json")
    return path, authority.did


def test_signers_bound_to_their_registered_corporate_numbers(capsys, tmp_path):
    """--registry: each signer must be a participant in the authority's signed registry,
    and the 法人番号 a certificate states must be the one registered for its signer."""
    records, _ = six_levels()
    chain = write(tmp_path, records[-1])
    path, authority = registry(tmp_path)
    assert main(["steel", "verify", chain, "--registry", path, "--authority", authority]) == 0
    assert "issuer_identity ok" in capsys.readouterr().out

    path, authority = registry(tmp_path, mill_legal_id="9000000000008")  # another company's
    assert main(["steel", "verify", chain, "--registry", path, "--authority", authority,
                 "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    failing = [(link["kind"], c["name"], c["reason_en"]) for link in out["links"]
               for c in link["checks"] if not c["ok"]]
    assert failing == [("certificate", "issuer_identity",
                        "the record states 法人番号 8000000000001, the authority registered "
                        "9000000000008 for its signer 例示製鋼")]

    from tests.domains.steel.chain import TRADER
    path, authority = registry(tmp_path, leave_out=TRADER)  # revoked: not listed any more
    assert main(["steel", "verify", chain, "--registry", path, "--authority", authority,
                 "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert {c["name"] for link in out["links"] for c in link["checks"] if not c["ok"]} \
        == {"issuer_identity"}


def test_a_registry_not_signed_by_the_authority_named_is_status_2(capsys, tmp_path):
    records, _ = six_levels()
    path, _ = registry(tmp_path)
    other = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert main(["steel", "verify", write(tmp_path, records[-1]), "--registry", path,
                 "--authority", other]) == 2
    assert "not by the authority expected" in capsys.readouterr().err
    assert main(["steel", "verify", write(tmp_path, records[-1]), "--registry", path]) == 2
    assert "--authority" in capsys.readouterr().err
