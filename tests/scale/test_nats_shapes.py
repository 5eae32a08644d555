"""``tsunagu authority nats-config --shape``: the files it writes for a cluster, a hub and a
leaf are complete configs nats-server accepts (``nats-server -t -c FILE``), private (0600),
never overwritten, and hold no secret in a config file."""

from __future__ import annotations

import logging
import stat
import subprocess
from pathlib import Path

import pytest

from authority.state import Authority
from connector.bus.connection import NatsSettings
from connector.bus.server import find_nats_server_binary
from connector.cli.main import main
from connector.data.datasets import stream_config
from connector.runtime.config import load_config
from connector.runtime.joining import Joined
from connector.runtime.setup import render_config
from trust.announcement import AnnouncementError, verify_announcement
from trust.keys import KeyPair
from trust.proofs import sign_document

MUNI = "271004"


@pytest.fixture(autouse=True)
def _restore_logging():
    """main() installs its own stderr handler; give pytest's capture back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def authority_dir(tmp_path: Path, capsys) -> Path:
    directory = tmp_path / "authority"
    assert main(["authority", "init", "--dir", str(directory), "--name", "県"]) == 0
    capsys.readouterr()
    return directory


def nats_config(capsys, *argv) -> tuple[int, str, str]:
    code = main(["authority", "nats-config", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def accepted(conf: Path) -> None:
    """nats-server parses it (operator, resolver, routes, leaf remotes and all)."""
    env = {"TSUNAGU_JETSTREAM_KEY": "k" + "00" * 32}
    result = subprocess.run([str(find_nats_server_binary()), "-t", "-c", str(conf)],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cluster_configs_are_complete_private_and_hold_no_key(authority_dir, tmp_path, capsys):
    out = tmp_path / "cluster"
    code, printed, _ = nats_config(capsys, "--dir", authority_dir, "--shape", "cluster",
                                   "--out", out)
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["jetstream.env", "n1.conf", "n2.conf", "n3.conf"]
    assert printed.split() == [str(out / n) for n in ["n1.conf", "n2.conf", "n3.conf",
                                                       "jetstream.env"]]
    key = (out / "jetstream.env").read_text().strip().split("=", 1)[1]
    assert len(key) == 65 and key.startswith("k")
    for i, port in ((1, 6222), (2, 6223), (3, 6224)):
        conf = out / f"n{i}.conf"
        text = conf.read_text()
        assert private(conf) and key not in text
        assert "key: $TSUNAGU_JETSTREAM_KEY" in text and 'name: "tsunagu"' in text
        assert f'listen: "127.0.0.1:{port}"' in text
        routes = [f"nats-route://127.0.0.1:{p}" for p in (6222, 6223, 6224) if p != port]
        assert all(r in text for r in routes) and f"127.0.0.1:{port}\"\n  routes" in text
        assert str(out / f"n{i}" / "jwt") in text  # a resolver directory of its own
        accepted(conf)
    assert private(out / "jetstream.env")


def test_existing_files_are_never_overwritten(authority_dir, tmp_path, capsys):
    out = tmp_path / "cluster"
    assert nats_config(capsys, "--dir", authority_dir, "--shape", "cluster", "--out", out)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = nats_config(capsys, "--dir", authority_dir, "--shape", "cluster",
                               "--out", out)
    assert code == 2 and "refusing to overwrite" in err and "n1.conf" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--node", "n1,127.0.0.1,4222,6222,8222", "--node", "n2,127.0.0.1,4223,6223,8223"],
     "odd number of nodes, at least 3"),
    (["--node", "n1,127.0.0.1,4222,6222"], "NAME,HOST,CLIENT_PORT,PEER_PORT,MONITOR_PORT"),
    (["--node", "n1,127.0.0.1,4222,x,8222"], "ports must be numbers"),
    (["--node", "n 1,127.0.0.1,4222,6222,8222"], "letters, digits"),
    (["--cluster-name", "a.b"], "cluster 'a.b'"),
])
def test_bad_cluster_input_is_named_and_nothing_is_written(authority_dir, tmp_path, capsys,
                                                           argv, fragment):
    out = tmp_path / "cluster"
    code, _, err = nats_config(capsys, "--dir", authority_dir, "--shape", "cluster",
                               "--out", out, *argv)
    assert code == 2 and fragment in err
    assert not out.exists() or not any(out.iterdir())


def test_hub_and_leaf_configs(authority_dir, tmp_path, capsys):
    muni = KeyPair.generate()
    assert main(["authority", "issue", "--dir", str(authority_dir), "--did", muni.did,
                 "--name", "堺市", "--legal-id", MUNI, "--role", "municipality",
                 "--out", str(tmp_path / "muni.jwt")]) == 0
    capsys.readouterr()
    hub = tmp_path / "hub"
    assert nats_config(capsys, "--dir", authority_dir, "--shape", "hub", "--domain", "pref-27",
                       "--out", hub)[0] == 0
    hub_text = (hub / "hub.conf").read_text()
    hub_key = (hub / "jetstream.env").read_text()
    assert 'domain: "pref-27"' in hub_text and 'listen: "127.0.0.1:7422"' in hub_text
    accepted(hub / "hub.conf")

    leaf = tmp_path / "leaf"
    code, _, _ = nats_config(capsys, "--dir", authority_dir, "--shape", "leaf",
                             "--domain", "muni-271004", "--participant", muni.did,
                             "--hub-url", "nats-leaf://127.0.0.1:7422", "--out", leaf)
    assert code == 0
    assert sorted(p.name for p in leaf.iterdir()) == [
        "jetstream.env", "leaf.account.creds", "leaf.conf", "leaf.sys.creds"]
    assert all(private(p) for p in leaf.iterdir())
    text = (leaf / "leaf.conf").read_text()
    assert 'domain: "muni-271004"' in text
    # the leaf's store key is its own: the authority's key stays with the authority
    leaf_key = (leaf / "jetstream.env").read_text()
    assert leaf_key.startswith("TSUNAGU_JETSTREAM_KEY=k") and leaf_key != hub_key
    for creds in ("leaf.sys.creds", "leaf.account.creds"):
        assert f'credentials: "{leaf / creds}"' in text
        seed = next(line for line in (leaf / creds).read_text().splitlines()
                    if line.startswith("SU"))
        assert seed not in text
    accepted(leaf / "leaf.conf")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--domain", "muni"], "--participant DID"),
    (["--participant", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"],
     "needs its own JetStream --domain"),
    (["--domain", "muni", "--participant",
      "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"], "no live NATS account"),
    (["--domain", "muni.x", "--participant", "did:key:z6Mk"], "domain 'muni.x'"),
])
def test_bad_leaf_input_is_named_and_nothing_is_written(authority_dir, tmp_path, capsys,
                                                        argv, fragment):
    out = tmp_path / "leaf"
    code, _, err = nats_config(capsys, "--dir", authority_dir, "--shape", "leaf",
                               "--hub-url", "nats-leaf://127.0.0.1:7422", "--out", out, *argv)
    assert code == 2 and fragment in err, err
    assert not out.exists() or not any(out.iterdir())


def test_connector_streams_take_their_replicas_from_the_nats_settings():
    did = KeyPair.generate().did
    assert stream_config(did, "https://example.jp/d").num_replicas == 1
    settings = NatsSettings(urls=["nats://a:4222", "nats://b:4222"], stream_replicas=3)
    assert stream_config(did, "https://example.jp/d", settings.stream_replicas
                         ).num_replicas == 3
    with pytest.raises(ValueError, match="stream_replicas"):
        NatsSettings(stream_replicas=0)


def test_the_announcement_carries_stream_replicas_into_the_connector_config(tmp_path: Path):
    authority = Authority.init(tmp_path / "authority", name="県")
    urls = ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222", "nats://10.0.0.3:4222"]
    found = verify_announcement(authority.announcement(urls, stream_replicas=3))
    assert found.nats_urls == tuple(urls) and found.stream_replicas == 3
    joined = Joined([found.authority], found.status_list_url, list(found.nats_urls), found)
    text = render_config(name="堺市", authority_dids=joined.authority_dids,
                         status_list_url=joined.status_list_url, nats_urls=joined.nats_urls,
                         api_port=18480, stream_replicas=joined.stream_replicas)
    (tmp_path / "participant.toml").write_text(text, encoding="utf-8")
    nats = load_config(tmp_path / "participant.toml").nats
    assert nats.urls == urls and nats.stream_replicas == 3
    # one server: nothing announced, nothing written, streams R1
    single = verify_announcement(authority.announcement(urls[:1]))
    assert "streamReplicas" not in single.document and single.stream_replicas == 1
    for bad in (0, 6, "3", True):
        document = sign_document({**single.document, "streamReplicas": bad},
                                 authority.signing_key)
        with pytest.raises(AnnouncementError, match="streamReplicas"):
            verify_announcement(document)
