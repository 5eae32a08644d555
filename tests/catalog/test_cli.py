"""``tsunagu authority registry`` and ``tsunagu catalog participants|add|search``."""

from __future__ import annotations

import json

from authority.state import Authority
from connector.cli.main import main
from tests.catalog.helpers import catalog, entry, offer, role, until
from trust.keys import KeyPair


def test_registry_add_and_search(tmp_path, capsys):
    authority = Authority.init(tmp_path / "auth", name="テスト認証局")
    city = KeyPair.generate().did
    authority.issue(did=city, name="仙台市", legal_id="041009", roles=["municipality"])
    assert main(["authority", "registry", "--dir", str(tmp_path / "auth")]) == 0
    (tmp_path / "registry.json").write_text(capsys.readouterr().out, encoding="utf-8")
    (tmp_path / "city.json").write_text(json.dumps(catalog(city, [
        entry(city, "urn:ds:shelters", "指定避難所一覧", [offer(
            "urn:o:1", role("shelter_operator"), until("2030-12-31T00:00:00Z"))],
            **{"dct:spatial": "041009"}),
        entry(city, "urn:ds:staff", "職員名簿", [offer("urn:o:2", role("municipality"))]),
        {"@id": "urn:ds:broken", "@type": "Dataset"},
    ]), ensure_ascii=False), encoding="utf-8")
    index = str(tmp_path / "cat.db")
    assert main(["catalog", "participants", "--index", index, "--registry",
                 str(tmp_path / "registry.json"), "--authority", authority.did]) == 0
    assert main(["catalog", "add", "--index", index, str(tmp_path / "city.json")]) == 0
    out = capsys.readouterr().out
    assert "2 indexed, 1 dropped" in out

    assert main(["catalog", "search", "ひなんじょ", "--index", index]) == 0
    out = capsys.readouterr().out
    assert "指定避難所一覧" in out and "1 件" in out

    assert main(["catalog", "search", "", "--index", index, "--role", "shelter_operator",
                 "--area", "04", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    [ds] = page["dataset"]
    assert ds["@id"] == "urn:ds:shelters"
    decision = ds["hasPolicy"][0]["tsunagu:decision"]
    assert decision["outcome"] == "conditional"
    assert main(["catalog", "search", "", "--index", index, "--role", "shelter_operator",
                 "--strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == []

    for hostile in ['"', "NEAR((", "*", "a" * 3000]:
        assert main(["catalog", "search", hostile, "--index", index]) == 0
    assert main(["catalog", "search", "", "--index", index, "--cursor", "garbage"]) == 2

    other = Authority.init(tmp_path / "other", name="別の認証局")
    assert main(["catalog", "participants", "--index", index, "--registry",
                 str(tmp_path / "registry.json"), "--authority", other.did]) == 2
