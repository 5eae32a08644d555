"""Two tsunagu connectors that speak DSP to each other over HTTPS only.

Each runs its own embedded nats-server (its data plane's stream and nothing else): the two
servers know nothing of each other, so no DSP message and no record can pass between the
connectors over NATS; the HTTPS binding ([dsp_https]) is the only path. TLS on loopback with
a self-signed certificate per connector, made here with ``cryptography``; each trusts both
certificates through its ``ca_file`` (verification stays on). Every body either side sends
or receives over HTTPS is recorded (``Wire``), so tests can validate them all.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from authority.state import Authority
from connector.runtime.config import ConnectorConfig, load_config
from connector.runtime.connector import Connector
from tests.connector.conftest import status_lists
from tests.e2e.conftest import CITY_CODE, CITY_OFFER, DATASET, OPEN_OFFER, OPERATOR_NUMBER, tuning
from trust.keys import KeyPair, save_key
from trust.status_list import StatusListCache


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Wire:
    """Every body sent or received over DSP HTTPS, the bytes as they went on the socket,
    parsed here: (connector, direction, path, body; None for an empty one)."""

    seen: list[tuple[str, str, str, dict[str, Any] | None]] = field(default_factory=list)

    def tap(self, who: str) -> Callable[[str, str, bytes], None]:
        def record(direction: str, path: str, data: bytes) -> None:
            self.seen.append((who, direction, path, orjson.loads(data) if data.strip()
                              else None))
        return record


@dataclass
class Space:
    """The authority, the trust bundle both connectors use, and how to start one."""

    tmp: Path
    authority: Authority
    ca_file: Path
    certs: dict[str, tuple[Path, Path]]
    lists: StatusListCache
    wire: Wire
    running: list[Connector] = field(default_factory=list)
    bus_requests: list[tuple[str, str]] = field(default_factory=list)

    def config(self, name: str, legal_id: str, role: str, *, key: KeyPair | None = None,
               peers: dict[str, str] | None = None, port: int = 0) -> ConnectorConfig:
        folder = self.tmp / f"participant-{legal_id}"
        key = key or KeyPair.generate()
        save_key(key, folder / "participant.pem")
        issued = self.authority.issue(did=key.did, name=name, legal_id=legal_id, roles=[role])
        (folder / "credential.jwt").write_text(issued.jwt, encoding="ascii")
        cert, tls_key = self.certs[legal_id]
        peer_lines = "".join(f'"{did}" = "{url}"\n' for did, url in (peers or {}).items())
        (folder / "participant.toml").write_text(f"""
[participant]
name = "{name}"
data_dir = "."

[authority]
dids = ["{self.authority.did}"]

[nats]                      # its own embedded server: NATS joins no two connectors here
insecure_no_auth = true

[dsp_https]
host = "127.0.0.1"
port = {port}
cert_file = "{cert}"
key_file = "{tls_key}"
ca_file = "{self.ca_file}"

[dsp_https.peers]
{peer_lines}""", encoding="utf-8")
        return load_config(folder / "participant.toml")

    async def start(self, config: ConnectorConfig) -> Connector:
        connector = Connector(config, tuning=tuning(), status_lists=self.lists)
        await connector.start()
        self.running.append(connector)
        assert connector.dsp_http is not None
        connector.dsp_http.taps.append(self.wire.tap(config.participant.name))
        request = connector.bus.request

        async def counting(recipient: str, message_type: str, *args: Any, **kw: Any) -> Any:
            self.bus_requests.append((config.participant.name, message_type))
            return await request(recipient, message_type, *args, **kw)
        connector.bus.request = counting  # type: ignore[method-assign]
        return connector

    def revoke(self, did: str) -> None:
        self.authority.revoke(did=did, reason="test")
        self.lists.add(self.authority.status_list_jwt())


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[Space]:
    authority = Authority.init(tmp_path / "authority", name="test authority")
    certs = {legal_id: self_signed(tmp_path / f"tls-{legal_id}", name)
             for legal_id, name in ((CITY_CODE, "city"), (OPERATOR_NUMBER, "operator"))}
    ca_file = tmp_path / "peers.pem"
    ca_file.write_bytes(b"".join(cert.read_bytes() for cert, _ in certs.values()))
    found = Space(tmp_path, authority, ca_file, certs, status_lists(authority), Wire())
    yield found
    for connector in reversed(found.running):
        await connector.stop()


@dataclass
class Pair:
    provider: Connector
    consumer: Connector


@pytest.fixture
async def pair(space: Space) -> Pair:
    """仙台市 (provider, offering the shelter dataset) and 避難所運営 (consumer), which knows
    the provider's DSP base URL; the provider learns the consumer's from its callbackAddress."""
    provider = await space.start(space.config("仙台市", CITY_CODE, "municipality"))
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER])
    assert provider.dsp_http is not None
    consumer = await space.start(space.config(
        "避難所運営", OPERATOR_NUMBER, "shelter_operator",
        peers={provider.did: provider.dsp_http.base_url}))
    return Pair(provider, consumer)
