"""``tsunagu demo pmh``, run small on real connectors: its summary, the views it prints
answering with the tokens it prints, and no synthetic person's name or birth date in what
it says."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp

from domains.pmh.demo.people import families
from domains.pmh.demo.scenario import START, SUMMARY_FILE, TOWN, run_demo, succeeded

PEOPLE, MONTHS = 20, 2


async def test_the_demo_runs_its_months_and_serves_the_views_it_prints(tmp_path: Path):
    said: list[str] = []
    task = asyncio.create_task(run_demo(tmp_path, said.append, people=PEOPLE, months=MONTHS,
                                        serve=True))
    try:
        async with asyncio.timeout(120):
            while not (tmp_path / SUMMARY_FILE).exists():
                assert not task.done(), task.exception()
                await asyncio.sleep(0.1)
        summary = json.loads((tmp_path / SUMMARY_FILE).read_text(encoding="utf-8"))
        drawn = families(PEOPLE, START, MONTHS, TOWN.code)
        pregnant = sum(1 for f in drawn if f.expected_delivery is not None)
        assert (summary["mothers"], summary["children"], summary["pregnant"]) == (12, 8, 4)
        assert summary["checkups"] == pregnant * MONTHS  # one a month each, all accepted
        assert summary["claims"] == summary["satogaeri"] > 0  # Sapporo: a claim each
        assert summary["refused"] == {"pmh.voucher_used": 1}  # only the voucher used twice
        assert summary["vaccinations"] > 0 and summary["audit_ok"] is True
        assert succeeded(summary)
        assert summary["settled_batches"] >= 1 and summary["paid_yen"] > 0

        out = "\n".join(said)
        tokens = re.findall(r"Bearer\): (tsu_\S+)", out)
        assert len(tokens) == 2
        async with aiohttp.ClientSession() as http:
            for key, token in zip(("municipality", "family"), tokens, strict=True):
                for url in summary[f"{key}_urls"]:
                    assert url in out
                    async with http.get(url, headers={"Authorization": f"Bearer {token}"}
                                        ) as resp:
                        assert resp.status == 200, (url, await resp.text())
                for url in summary[f"{key}_urls"]:  # no token, no view: 401, or the login page
                    async with http.get(url) as resp:
                        assert resp.status == 401 or (
                            resp.status == 200 and resp.url.path.endswith("/login")), url
        for family in drawn:
            for person in (family.mother, family.child):
                if person is not None:
                    assert person["birthDate"] not in out
                    assert person["familyName"] + person["givenName"] not in out
        assert "tsu_" not in (tmp_path / SUMMARY_FILE).read_text(encoding="utf-8")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_demo_is_listed(capsys):
    from connector.cli.main import main

    try:
        main(["demo", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "pmh:" in " ".join(capsys.readouterr().out.split())
