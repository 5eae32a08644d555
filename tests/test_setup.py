"""``connector init`` writes key, config and a signed credential request the authority accepts."""

import json
import socket
import stat

import pytest

from authority.state import Authority
from connector.cli.main import main
from connector.runtime.config import load_config
from connector.runtime.setup import init_participant
from trust.errors import ConfigError, TsunaguError


@pytest.fixture
def authority(tmp_path):
    return Authority.init(tmp_path / "authority", name="test authority")


def test_init_then_issue_from_request(tmp_path, authority, capsys):
    result = init_participant(tmp_path / "city", name="仙台市", legal_id="０４１００９",
                              roles=["municipality"], authority_dids=[authority.did],
                              status_list_url="http://127.0.0.1:8470/status-list")
    assert stat.S_IMODE((tmp_path / "city" / "participant.pem").stat().st_mode) == 0o600
    config = load_config(result.config_path)
    assert config.participant.name == "仙台市"
    assert config.authority.dids == [authority.did]
    assert config.data_dir == (tmp_path / "city").resolve()
    out = tmp_path / "city" / "credential.jwt"
    assert main(["authority", "issue", "--dir", str(authority.directory),
                 "--request", str(result.request_path), "--out", str(out)]) == 0
    (entry,) = authority.credentials()
    assert entry["did"] == result.did and entry["roles"] == ["municipality"]
    assert entry["legalIdentifier"]["value"] == "041009"


def test_tampered_request_is_refused_and_nothing_issued(tmp_path, authority, capsys):
    result = init_participant(tmp_path / "p", name="避難所運営", legal_id="7000012050002",
                              roles=["shelter_operator"], authority_dids=[authority.did])
    request = json.loads(result.request_path.read_text())
    request["roles"] = ["municipality"]  # privilege escalation attempt
    result.request_path.write_text(json.dumps(request))
    assert main(["authority", "issue", "--dir", str(authority.directory),
                 "--request", str(result.request_path)]) == 2
    assert "credential_request.bad_signature" in capsys.readouterr().err
    assert authority.credentials() == []


def test_issue_without_request_needs_all_fields(authority, capsys):
    assert main(["authority", "issue", "--dir", str(authority.directory),
                 "--did", "did:key:z6Mk"]) == 2
    assert "--name" in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"legal_id": "041008"}, "check digit"),
    ({"roles": ["emperor"]}, "emperor"),
    ({"authority_dids": ["did:web:x"]}, "authority"),
    ({"name": ""}, "name"),
])
def test_bad_input_writes_nothing(tmp_path, authority, kwargs, fragment):
    args = {"name": "仙台市", "legal_id": "041009", "roles": ["municipality"],
            "authority_dids": [authority.did]} | kwargs
    with pytest.raises(TsunaguError) as info:
        init_participant(tmp_path / "x", **args)
    assert fragment in str(info.value)
    assert not (tmp_path / "x").exists() or list((tmp_path / "x").iterdir()) == []


def test_init_never_overwrites(tmp_path, authority):
    args = {"name": "仙台市", "legal_id": "041009", "roles": ["municipality"],
            "authority_dids": [authority.did]}
    init_participant(tmp_path / "c", **args)
    key = (tmp_path / "c" / "participant.pem").read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_participant(tmp_path / "c", **args)
    assert (tmp_path / "c" / "participant.pem").read_bytes() == key


def test_config_errors_name_the_field(tmp_path):
    path = tmp_path / "participant.toml"
    path.write_text('[participant]\nname = "x"\ndata_dir = "."\n[authority]\ndids = []\n')
    with pytest.raises(ConfigError, match="authority.dids"):
        load_config(path)
    path.write_text("not toml ===")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_init_picks_a_free_api_port_not_given_to_a_participant_beside_it(
        tmp_path, authority, capsys):
    """Two connectors initialised side by side on one machine never share the app API port,
    and a port another program listens on is skipped; init says which port it chose."""
    from connector.runtime.ports import DEFAULT_API_PORT, bindable

    first_free = next(p for p in range(DEFAULT_API_PORT, DEFAULT_API_PORT + 50) if bindable(p))
    ports = []
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", first_free))
        other_program.listen()
        for label in ("city", "npo"):
            assert main(["connector", "init", "--dir", str(tmp_path / label), "--name", "仙台市",
                         "--legal-id", "041009", "--role", "municipality",
                         "--authority-did", authority.did, "--insecure-no-auth"]) == 0
            port = load_config(tmp_path / label / "participant.toml").api.port
            assert f"http://127.0.0.1:{port}" in capsys.readouterr().out
            ports.append(port)
    assert first_free not in ports and ports[0] != ports[1]
    assert all(DEFAULT_API_PORT <= p < DEFAULT_API_PORT + 500 for p in ports)
    # --api-port still decides when given.
    assert main(["connector", "init", "--dir", str(tmp_path / "shop"), "--name", "商店",
                 "--legal-id", "041009", "--role", "municipality",
                 "--authority-did", authority.did, "--insecure-no-auth",
                 "--api-port", str(ports[0])]) == 0
    assert load_config(tmp_path / "shop" / "participant.toml").api.port == ports[0]
