"""docs/dsp-https.md stays true: its openssl command makes a certificate the connector
loads, its [dsp_https] example is a valid config, its curl command run against a real
connector prints the version document the page shows, and its endpoint table is exactly
what the server serves."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
from pathlib import Path

from connector.dsp_http import paths
from connector.dsp_http.binding import server_context
from connector.runtime.config import load_config
from tests.dsp_http.conftest import Pair, pair, space  # noqa: F401 (fixtures)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "dsp-https.md").read_text("utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC, re.S | re.M)


def test_the_certificate_command_and_the_config_example(tmp_path: Path) -> None:
    for line in blocks("sh")[0].splitlines():
        subprocess.run(shlex.split(line), cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "participant.toml").write_text(
        '[participant]\nname = "仙台市"\ndata_dir = "."\n[authority]\ndids = ["did:key:z6Mk"]\n'
        + blocks("toml")[0], encoding="utf-8")
    config = load_config(tmp_path / "participant.toml")
    https = config.dsp_https
    assert https is not None and https.cert_file == tmp_path / "tls" / "cert.pem"
    server_context(https)  # the certificate and key load
    assert list(https.peers.values()) == ["https://127.0.0.1:9443/dsp"]


async def test_the_curl_command_prints_the_version_document(pair: Pair) -> None:  # noqa: F811
    https = pair.provider.dsp_http
    assert https is not None
    line = blocks("sh")[1].strip()
    port = https.base_url.rsplit(":", 1)[1].removesuffix("/dsp")
    line = line.replace("tls/cert.pem", str(https.settings.cert_file)).replace("8443", port)
    # asynchronously: the connector answering curl runs on this event loop
    curl = await asyncio.create_subprocess_exec(*shlex.split(line),
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(curl.communicate(), 20)
    assert curl.returncode == 0
    assert json.loads(out) == json.loads(blocks("json")[0])


def test_the_endpoint_table_is_what_is_served() -> None:
    rows = re.findall(r"^\| (GET|POST) \| `([^`]+)` \|", DOC, re.M)
    documented = {(method, re.sub(r":(\w+)", "{}", path)) for method, path in rows}
    served = {(r.method, re.sub(r"\{\w+\}", "{}", r.path)) for r in paths.ROUTES}
    served |= {("GET", paths.NEG + "/{}"), ("GET", paths.TRA + "/{}")}
    assert documented == served

