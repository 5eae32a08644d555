"""[dsp_https] in participant.toml: what is wrong is named in one line before anything
starts (TLS files missing or unreadable, the port taken, a peer not reached over https)."""

from __future__ import annotations

import socket

import pytest

from connector.errors import ConnectorCode
from connector.runtime.connector import Connector
from connector.runtime.ports import PortInUse
from tests.dsp_http.conftest import Space
from tests.e2e.conftest import CITY_CODE
from trust.errors import ConfigError


def _with(space: Space, **changes: object):
    config = space.config("仙台市", CITY_CODE, "municipality")
    assert config.dsp_https is not None
    return config.model_copy(update={"dsp_https": config.dsp_https.model_copy(update=changes)})


async def test_missing_tls_files_are_named(space: Space, tmp_path) -> None:
    config = _with(space, cert_file=tmp_path / "nowhere.pem")
    with pytest.raises(ConfigError) as caught:
        await Connector(config, status_lists=space.lists).start()
    assert caught.value.code == ConnectorCode.START_MISSING
    assert f"no TLS certificate at {tmp_path / 'nowhere.pem'}" in caught.value.message


async def test_an_unreadable_certificate_is_one_line(space: Space, tmp_path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate", encoding="ascii")
    connector = Connector(_with(space, cert_file=bad), status_lists=space.lists)
    with pytest.raises(ConfigError) as caught:
        await connector.start()
    assert "[dsp_https] cannot load the TLS certificate" in caught.value.message
    assert "\n" not in caught.value.message
    assert connector.nc is None  # refused before NATS or the store were touched


async def test_a_taken_port_is_one_line(space: Space) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        connector = Connector(_with(space, port=port), status_lists=space.lists)
        with pytest.raises(PortInUse) as caught:
            await connector.start()
    assert f"DSP over HTTPS port {port}" in caught.value.message
    assert "[dsp_https]" in caught.value.message
    assert connector.nc is None


def test_peers_must_be_https_did_keys(space: Space) -> None:
    with pytest.raises(ConfigError, match="is not an https:// URL"):
        space.config("仙台市", CITY_CODE, "municipality",
                     peers={"did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH":
                            "http://plain.example/dsp"})
