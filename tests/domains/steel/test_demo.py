"""``tsunagu demo steel`` on real connectors: the steps it prints, the provenance package it
writes verifying, the tampering caught, and each supply-chain view it prints answering with
the token it prints (and not without it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from domains.steel.demo import mill_sheet
from domains.steel.demo.scenario import DELIVERED, SUMMARY_FILE, succeeded
from domains.steel.package.bundle import verify_package
from tests.domains.steel.demo_support import serving_demo


async def test_the_demo_runs_the_chain_and_serves_the_views_it_prints(tmp_path: Path):
    said: list[str] = []
    async with serving_demo(tmp_path, said) as summary:
        out = "\n".join(said)
        for n in range(1, 12):
            assert re.search(rf"^{n}\. ", out, re.M), f"step {n} not printed"
        assert succeeded(summary)
        assert summary["verified"] is True and summary["delivered"] == DELIVERED
        assert summary["chain"] == ["certificate", "custody", "custody", "derivation",
                                    "derivation", "custody"]

        # The package verifies, and a changed byte in it does not.
        jsonld, html, pdf = (Path(p) for p in summary["package"])
        assert jsonld.parent == tmp_path / "package"
        assert html.read_text(encoding="utf-8").count(mill_sheet.HEAT)
        assert pdf.read_bytes().startswith(b"%PDF-")
        package = json.loads(jsonld.read_text(encoding="utf-8"))
        assert verify_package(package) == []
        text = jsonld.read_text(encoding="utf-8").replace('"0.05"', '"0.06"', 1)
        assert verify_package(json.loads(text)) != []

        # The tampered certificate and the double transfer: caught, with the reason printed.
        assert summary["tampering"] == {"altered": "C 0.05 % -> 0.09 %", "caught": True,
                                        "code": "proof.bad_signature"}
        assert any(line.startswith("8. ") and "proof.bad_signature" in line for line in said)
        assert summary["double_transfer"] == "steel.not_holder"

        tokens = re.findall(r"Bearer\): (tsu_\S+)", out)
        urls = re.findall(r"画面: (http\S+)", out)
        assert len(tokens) == len(urls) == 2 and urls == list(summary["views"].values())
        async with aiohttp.ClientSession() as http:
            for url, token in zip(urls, tokens, strict=True):
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                    page = await r.text()
                    assert r.status == 200, (url, page)
                assert f'data-piece="{DELIVERED}"' in page and mill_sheet.COIL in page
                bearer = {"Authorization": f"Bearer {token}"}
                base = url.split("?")[0]
                async with http.get(base, params={"q": mill_sheet.CERTIFICATE_NUMBER},
                                    headers=bearer) as r:
                    assert f'data-piece="{DELIVERED}"' in await r.text()
                async with http.get(base, params={"q": "NO-SUCH-HEAT"}, headers=bearer) as r:
                    assert "data-piece" not in await r.text()
                async with http.get(url, allow_redirects=False) as r:  # no token: log in
                    assert r.status == 303 and r.headers["Location"].endswith("/login")
                async with http.get(url, headers={"Authorization": "Bearer tsu_nope"}) as r:
                    assert r.status == 401
        assert "tsu_" not in (tmp_path / SUMMARY_FILE).read_text(encoding="utf-8")


def test_the_demo_is_listed(capsys):
    from connector.cli.main import main

    try:
        main(["demo", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "steel:" in " ".join(capsys.readouterr().out.split())
