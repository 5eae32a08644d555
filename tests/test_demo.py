"""The README's main commands: ``tsunagu demo`` and ``tsunagu demo bosai`` run end to end and
leak no secrets or personal data.

What is scanned, from one run of each demo:

* its output: stdout and every stderr log line (DEBUG, as JSON);
* the ``/metrics`` exposition of every connector (each one's ``metrics.exposition()`` when it
  stops: only the city's connector serves HTTP in the demos; its ``GET /metrics`` is
  scanned too, after the pages below were asked for);
* for ``tsunagu demo bosai`` (kept serving with ``--serve`` while the test asks): every page
  that must hold no personal value: the public ones (the hub's index, the catalog page, the
  dashboard's login, vocabularies, dataset types), the staff pages that show aggregates
  (overview and every shelter, in both languages, and their live stream), the search and
  inquiry forms, the app API's catalog and agreements, and error bodies (a refused login, a
  denied page, a missing shelter, a bad search, a registration and an inquiry refused for a
  bad date, a missing token). Not scanned: the pages whose purpose is to show a person to
  staff who may see them (search results for ``bosai:person-search``, safety inquiry answers
  for ``bosai:inquiry``, held records for ``records:read``).

Every personal value is looked for in every form it could leak in: family and given name
alone and together (with and without a space), their kana alone and together in katakana
and hiragana (half-width kana and full-width digits are found by scanning the text's
width-normalised copy too), the birth date as 1950-04-01, 1950/4/1, 1950年4月1日 and 和暦
(昭和25年4月1日; 平成元年 also as 平成1年), and the address as written and by its parts
(国分町3-12-5, 国分町3丁目12番, 3丁目12番5号 ...). A town alone is not looked for: the
shelters are in the same towns, and their public names and addresses say so.

Looking for a family name alone only means something if the name cannot appear in the
output for another reason: a family name 田中 is in the shelter name 新田中学校, 千葉 in 千葉県,
a given name 実 in 実行. So the synthetic people are drawn from pools checked against the
words the demos and their pages are made of (``test_synthetic_people_are_no_words_of_the_demo``),
and each run's people against those words and the place names the run used: a collision
fails as a collision of the generator, not as a leak.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from connector.runtime.at_rest import NATS_CREDS_ROLE
from connector.runtime.config import load_config
from domains.bosai import synthetic
from domains.bosai.demo import SUMMARY_FILE
from domains.bosai.demo_people import FAMILY, GIVEN, evacuees
from domains.bosai.demo_space import SHELTER_IDS
from domains.bosai.registry.normalize import to_katakana
from domains.bosai.registry.workload import MORE_FAMILY, MORE_GIVEN, workload
from domains.japanese.dates import parse_date, to_wareki
from domains.japanese.text import fold_kana, normalize_address, normalize_width
from trust.at_rest import AtRestKey, encode_key, read_secret
from trust.keys import load_key
from trust.nats_jwt import parse_creds

ROOT = Path(__file__).parents[1]

# ---------------------------------------------------------------------------- running a demo

# ``tsunagu`` itself, keeping what each connector's /metrics would say when it stops (the
# demos' other connectors serve no HTTP): one JSON line per connector in the file named first.
WRAPPER = """
import json, sys
from connector.runtime.connector import Connector
kept, stop = sys.argv.pop(1), Connector.stop
async def stop_keeping_metrics(self):
    with open(kept, "a", encoding="utf-8") as out:
        out.write(json.dumps({"did": self.did, "text": self.metrics.exposition()}) + "\\n")
    await stop(self)
Connector.stop = stop_keeping_metrics
from connector.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Run:
    """What one run of a demo put out, by where it came from."""

    tmp: Path
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def out(self) -> str:
        return self.outputs["stdout"]

    @property
    def everything(self) -> str:
        return "\n".join(self.outputs.values())


def start_demo(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """``tsunagu --log-format json --log-level DEBUG demo ARGS`` with stdout and stderr in
    files under ``tmp_path`` (the demo's own directory is ``tmp_path/work``)."""
    with (tmp_path / "stdout").open("wb") as out, (tmp_path / "stderr").open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-u", "-c", WRAPPER, str(tmp_path / "metrics.jsonl"),
             "--log-format", "json", "--log-level", "DEBUG", "demo", *args,
             "--dir", str(tmp_path / "work")],
            stdout=out, stderr=err, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def finished(tmp_path: Path, process: subprocess.Popen[bytes], run: Run) -> Run:
    assert process.wait(timeout=300) == 0, (tmp_path / "stderr").read_text()[-3000:]
    run.outputs["stdout"] = (tmp_path / "stdout").read_text(encoding="utf-8")
    run.outputs["stderr"] = err = (tmp_path / "stderr").read_text(encoding="utf-8")
    # Every stderr line is a JSON object (the --log-format json promise).
    lines = [orjson.loads(line) for line in err.splitlines() if line.strip()]
    assert any(line["msg"] == "connector started" for line in lines)
    kept = [json.loads(line) for line in
            (tmp_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(kept) >= 2 and all("tsunagu_" in k["text"] for k in kept)
    for k in kept:
        run.outputs[f"/metrics of {k['did']}"] = k["text"]
    if (tmp_path / "work" / SUMMARY_FILE).exists():  # counts and the URL, for scripts
        run.outputs[SUMMARY_FILE] = (tmp_path / "work" / SUMMARY_FILE).read_text("utf-8")
    return run


def run_demo(tmp_path: Path, *args: str) -> Run:
    return finished(tmp_path, start_demo(tmp_path, *args), Run(tmp_path))


async def _line(path: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    """Wait for a line of ``path`` matching ``pattern`` (while the process runs)."""
    async with asyncio.timeout(300):
        while True:
            if m := re.search(pattern, path.read_text(encoding="utf-8"), re.M):
                return m
            assert process.poll() is None, (path.parent / "stderr").read_text()[-3000:]
            await asyncio.sleep(0.1)


async def serve_bosai(tmp_path: Path, people: int) -> Run:
    """``tsunagu demo bosai --serve``: once the scenario is done, ask the city's connector
    for every page that must hold no personal value; then Ctrl-C."""
    process = start_demo(tmp_path, "bosai", "--people", str(people), "--serve")
    run = Run(tmp_path)
    try:
        await _line(tmp_path / "stdout", "^ダッシュボードを表示し続けます", process)
        stdout = (tmp_path / "stdout").read_text(encoding="utf-8")
        origin = re.search(r"(http://127\.0\.0\.1:\d+)/domains/bosai/dashboard/", stdout)[1]
        staff = re.search(r"職員用トークン.*: (\S+)$", stdout, re.M)[1]
        await ask_pages(run, origin, staff, app_token(tmp_path))
    finally:
        process.send_signal(signal.SIGINT)  # the --serve way to stop
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    return finished(tmp_path, process, run)


def app_token(tmp_path: Path) -> str:
    """A token for the city's app API, issued as its operator would (``tsunagu connector
    token``) while the connector runs."""
    scopes = ("catalog:read", "contracts:read", "bosai:register", "bosai:inquiry")
    issued = subprocess.run(
        [sys.executable, "-m", "connector.cli.main", "connector", "token", "--store",
         str(tmp_path / "work" / "city" / "connector.sqlite"),
         *(a for s in scopes for a in ("--scope", s))],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)
    return issued.stdout.strip()


async def ask_pages(run: Run, origin: str, staff: str, app: str) -> None:
    dash = f"{origin}/domains/bosai/dashboard/"
    same_origin = {"Origin": origin}
    bearer = {"Authorization": f"Bearer {app}"}
    first = workload(1).forms[0]  # someone the demo registered

    async def keep(http: aiohttp.ClientSession, method: str, url: str, status: int,
                   **kwargs: Any) -> str:
        async with http.request(method, url, allow_redirects=False, **kwargs) as resp:
            text = await resp.text()
            assert resp.status == status, (method, url, resp.status, text[:500])
            key = f"{method} {url} ({resp.status})"
            run.outputs[key if key not in run.outputs else f"{key} #{len(run.outputs)}"] = text
            return text

    jar = aiohttp.CookieJar(unsafe=True)  # keeps the session cookie from 127.0.0.1
    async with aiohttp.ClientSession() as visitor, \
            aiohttp.ClientSession(cookie_jar=jar) as http:
        # Public: the hub's pages, the dashboard's login, metrics and probes.
        for path in ("/domains/bosai/", "/domains/bosai/?lang=en", "/domains/bosai/catalog",
                     "/domains/bosai/catalog?lang=en", "/domains/bosai/vocabularies",
                     "/domains/bosai/dataset-types", "/domains/bosai/dashboard/login",
                     "/domains/bosai/dashboard/login?lang=en", "/healthz", "/readyz"):
            await keep(visitor, "GET", origin + path, 200)
        await keep(visitor, "POST", dash + "login", 401, data={"token": "tsu_wrong"},
                   headers=same_origin)
        await keep(visitor, "POST", f"{origin}/domains/bosai/inquiries", 401,
                   json={"name": first["familyName"] + first["givenName"]})
        # Staff with the printed token: the aggregate pages, every shelter, the forms.
        await keep(http, "POST", dash + "login", 303, data={"token": staff},
                   headers=same_origin)
        shelters: set[str] = set()
        for lang in ("ja", "en"):
            page = await keep(http, "GET", f"{dash}?lang={lang}", 200)
            shelters |= set(re.findall(r'href="[^"]*/shelters/([^"?]+)"', page))
            await keep(http, "GET", f"{dash}search?lang={lang}", 200)
        assert len(shelters) >= 10
        for lang in ("ja", "en"):
            for shelter in sorted(shelters):
                await keep(http, "GET", f"{dash}shelters/{shelter}?lang={lang}", 200)
        await keep(http, "GET", dash + "shelters/E0410099999999", 404)
        await keep(http, "GET", dash + "inquiry", 403)  # the printed token may not
        await keep(http, "POST", dash + "search", 200, data={"q": "該当者なし"},
                   headers=same_origin)
        await keep(http, "POST", dash + "search", 400,
                   data={"q": "該当者なし", "birth": "昭和99年"}, headers=same_origin)
        async with http.get(f"{dash}events?view=overview&since=0&lang=ja") as resp:
            stream = b""
            async with asyncio.timeout(10):
                while b"event: sections" not in stream:
                    stream += await resp.content.readany()
            run.outputs["GET dashboard events"] = stream.decode()
        # An app of the city: its catalog and agreements, and errors about a real person.
        await keep(http, "GET", f"{origin}/api/v1/datasets", 200, headers=bearer)
        await keep(http, "GET", f"{origin}/api/v1/agreements", 200, headers=bearer)
        await keep(http, "POST", f"{origin}/domains/bosai/registrations", 422, headers=bearer,
                   json={**first, "birthDate": "1950-02-30"})
        await keep(http, "POST", f"{origin}/domains/bosai/inquiries", 422, headers=bearer,
                   json={"name": first["familyName"] + first["givenName"],
                         "birthDate": "2月30日"})
        await keep(visitor, "GET", origin + "/metrics", 200)  # after all of the above


# ---------------------------------------------------------------------------- secrets

def at_rest_key_of(directory: Path) -> AtRestKey | None:
    """The at-rest key of the participant in ``directory`` (None: nothing sealed there)."""
    config = directory / "participant.toml"
    return load_config(config).load_at_rest_key() if config.is_file() else None


def assert_no_secrets(tmp_path: Path, everything: str, participants: int) -> None:
    """No private key, credential or NATS seed of the run's participants and authority."""
    secrets = []
    for pem in tmp_path.rglob("*.pem"):
        at_rest = at_rest_key_of(pem.parent)
        key = load_key(pem, at_rest)
        secrets += [key.secret_key_multibase(), key.to_pem().decode().splitlines()[1]]
        if at_rest is not None:
            secrets.append(encode_key(at_rest.key))
    secrets += [p.read_text().strip() for p in tmp_path.rglob("credential.jwt")]
    # NATS: each participant's user seed, and every operator/account seed the authority holds.
    secrets += [parse_creds(read_secret(p, NATS_CREDS_ROLE, at_rest_key_of(p.parent)).decode()
                            ).seed for p in tmp_path.rglob("nats.creds")]
    secrets += re.findall(r'"(S[OAU][A-Z2-7]{50,})"',
                          (tmp_path / "authority" / "nats.json").read_text())
    assert len(secrets) >= 6 * participants
    leaked = [s[:12] for s in secrets if s in everything]
    assert leaked == []
    assert "PRIVATE KEY" not in everything


# ---------------------------------------------------------------------------- personal data

def name_forms(family: str, given: str, family_kana: str, given_kana: str
               ) -> dict[str, str]:
    """A name in the forms it could be written in (kana: katakana and hiragana)."""
    family, given = "".join(family.split()), "".join(given.split())
    kata = (to_katakana(family_kana).replace(" ", ""), to_katakana(given_kana).replace(" ", ""))
    hira = (fold_kana(kata[0]), fold_kana(kata[1]))
    forms = {"family name": family, "given name": given}
    for script, (f, g) in (("katakana", kata), ("hiragana", hira)):
        forms |= {f"family kana ({script})": f, f"given kana ({script})": g,
                  f"full kana ({script})": f + g, f"full kana, spaced ({script})": f"{f} {g}"}
    forms |= {"full name": family + given, "full name, spaced": f"{family} {given}",
              "full name, spaced (全角)": f"{family}\u3000{given}"}
    return forms


def date_forms(born: date) -> dict[str, str]:
    wareki = to_wareki(born)
    forms = {"birth date": born.isoformat(), "birth date (slashes)":
             f"{born.year}/{born.month}/{born.day}",
             "birth date (年月日)": f"{born.year}年{born.month}月{born.day}日",
             "birth date (和暦)": wareki}
    if "元年" in wareki:
        forms["birth date (和暦, 1年)"] = wareki.replace("元年", "1年")
    return forms


_ADDRESS = re.compile(r"(?:宮城県)?(?:仙台市)?(?P<town>\D+?)(?P<numbers>\d.*)")


def address_forms(address: str) -> dict[str, str]:
    """The address as written and its parts below the town (丁目, 番, 号)."""
    written = normalize_address(address)
    m = _ADDRESS.fullmatch(written)
    assert m, address
    town, numbers = m["town"], re.findall(r"\d+", m["numbers"])
    forms = {"address": written}
    for place in dict.fromkeys((town, town.split("区", 1)[-1])):  # with its ward and without
        forms[f"address ({place}, numbers)"] = place + "-".join(numbers)
        if len(numbers) >= 2:
            forms[f"address ({place}, 丁目, 番)"] = f"{place}{numbers[0]}丁目{numbers[1]}番"
        if len(numbers) == 3:
            forms[f"address ({place}, 丁目, 番-号)"] = \
                f"{place}{numbers[0]}丁目{numbers[1]}-{numbers[2]}"
    if len(numbers) == 3:
        c, b, g = numbers
        forms |= {"address (丁目番号)": f"{c}丁目{b}番{g}号",
                  "address (丁目番地)": f"{c}丁目{b}番地{g}"}
    return forms


def personal_forms(person: Mapping[str, Any]) -> dict[str, str]:
    """Every form of every personal value of one registration (a form as the registry
    takes it: variants with 和暦 dates, hiragana or half-width kana are read as such)."""
    return {**name_forms(person["familyName"], person["givenName"],
                         person["familyNameKana"], person["givenNameKana"]),
            **date_forms(parse_date(person["birthDate"])),
            **address_forms(person["address"])}


@dataclass(frozen=True)
class Found:
    where: str
    what: str
    value: str
    context: str


def find_personal(outputs: Mapping[str, str], people: Iterable[Mapping[str, Any]]
                  ) -> list[Found]:
    """Where any form of any person's values occurs, in an output as it is or with its
    widths normalised (half-width kana, full-width digits)."""
    wanted: dict[str, str] = {}
    for person in people:
        for what, value in personal_forms(person).items():
            wanted.setdefault(value, what)
    found = []
    for where, text in outputs.items():
        for candidate in dict.fromkeys((text, normalize_width(text))):
            hits = [Found(where, what, value, candidate[max(0, at - 40):at + len(value) + 40])
                    for value, what in wanted.items() if (at := candidate.find(value)) >= 0]
            if hits:
                found += hits
                break
    return found


def assert_no_personal_data(outputs: Mapping[str, str], people: list[dict[str, Any]]
                            ) -> None:
    assert len(people) >= 50
    assert find_personal(outputs, people) == []


# ---------------------------------------------------------------------------- collisions

# Modules whose words the demos print or show: the bosai hub's (pages, messages, vocabularies,
# place names, error bodies) but for its pools of names (workload.py) and its table of
# character variants (variants.py, never printed), the Japanese dates' and numbers' messages,
# the app API's, the demos' sentences and the offers in words. Log messages are English: a
# Japanese name, kana or date cannot be one of their words.
WORDS_FROM = sorted(
    {p for p in (ROOT / "domains/bosai").rglob("*.py")
     if p.name not in ("workload.py", "variants.py", "demo_people.py")}  # the pools themselves
    | {*(ROOT / "domains/japanese").glob("*.py"), *(ROOT / "connector/api").glob("*.py"),
       ROOT / "domains/bosai/demo_space.py", ROOT / "usage_policies/explain.py"})


def _strings(path: Path) -> list[str]:
    """The string constants of a module (parts of f-strings too), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def demo_words() -> str:
    """What the demos and their pages are made of, persons aside: their sentences, the
    pages' words, the place names the synthetic shelters are given (as many as 100)."""
    words = [s for module in WORDS_FROM for s in _strings(module)]
    words += [text for site in synthetic.shelters(100) for text in (site.name, site.address)]
    return "\n".join(words)


def collisions(people: Iterable[Mapping[str, Any]], text: str) -> list[tuple[str, str]]:
    return sorted({(what, value) for person in people
                   for what, value in personal_forms(person).items() if value in text})


def place_names(tmp_path: Path) -> str:
    """The shelter names and addresses a bosai demo run used (its city's files)."""
    return "\n".join(p.read_text(encoding="utf-8-sig")
                     for p in sorted((tmp_path / "work" / "city-files").glob("*.csv")))


# ---------------------------------------------------------------------------- tests

def test_synthetic_people_are_no_words_of_the_demo():
    """Every name the generators can draw, in every form, and the dates and addresses of
    many more people than the demos register, are absent from the demos' own words: else
    finding one in the output would say nothing (田中 is in 新田中学校, 千葉 in 千葉県, 実 in
    実行, メイ a CSV header, a home at a shelter's address is on the shelter's page)."""
    words = demo_words()
    assert "新田中学校" in words and "千葉県" in words and "実行" in words  # what they avoid
    names = {value: what for f, fk in FAMILY + MORE_FAMILY for g, gk in GIVEN + MORE_GIVEN
             for what, value in name_forms(f, g, fk, gk).items()}
    assert sorted((what, value) for value, what in names.items() if value in words) == []
    assert collisions([*workload(600).forms, *evacuees(300, SHELTER_IDS)], words) == []


def test_the_scan_finds_each_value_alone_in_each_form():
    """The scan can fail: one value of one person, in one form, in otherwise ordinary
    output, is found (and nothing is found in the ordinary output alone)."""
    someone = {"familyName": "髙橋", "givenName": "蓮", "familyNameKana": "ﾀｶﾊｼ",
               "givenNameKana": "れん", "birthDate": "平成元年1月8日",
               "address": "宮城県仙台市若林区荒井３丁目１２番５号"}
    ordinary = {"log": '{"msg":"registered","person":"urn:uuid:1"}', "page": "<p>荒井小学校</p>"}
    assert find_personal(ordinary, [someone]) == []
    leaks = {"given name": "蓮", "family kana (katakana)": "タカハシ",
             "given kana (hiragana)": "れん", "birth date": "1989-01-08",
             "birth date (和暦)": "平成元年1月8日", "birth date (和暦, 1年)": "平成1年1月8日",
             "birth date (年月日)": "1989年1月8日", "address (丁目番号)": "3丁目12番5号",
             "address (若林区荒井, numbers)": "若林区荒井3-12-5",
             "address (荒井, 丁目, 番)": "荒井3丁目12番", "full name, spaced": "髙橋 蓮"}
    for what, value in leaks.items():
        found = find_personal({**ordinary, "log": f"... {value} ..."}, [someone])
        assert ("log", what, value) in {(f.where, f.what, f.value) for f in found}
    half_width = find_personal({"log": "ﾀｶﾊｼ"}, [someone])  # found through its width
    assert [f.value for f in half_width] == ["タカハシ"]


def test_demo_runs_and_leaks_no_key_material_or_personal_data(tmp_path: Path):
    people = 120
    run = run_demo(tmp_path, "--people", str(people))
    for step in ("operator mode", "negotiation FINALIZED",
                 f"received and verified {people} signed records",
                 "refused for research (usage.denied)", "purged every record",
                 "the nats-server disconnected it", "the city refuses it: credential.revoked",
                 "intact"):
        assert step in run.out, step
    assert len([k for k in run.outputs if k.startswith("/metrics of ")]) == 2
    assert_no_secrets(tmp_path / "work", run.everything, participants=2)
    registered = evacuees(people, SHELTER_IDS)
    assert collisions(registered, demo_words()) == []
    assert_no_personal_data(run.outputs, registered)


async def test_bosai_demo_runs_its_flows_and_leaks_no_key_material_or_personal_data(
        tmp_path: Path):
    registrations = 80
    run = await serve_bosai(tmp_path, registrations)
    summary = json.loads(run.outputs[SUMMARY_FILE])
    kinds = workload(registrations).kinds
    # Registration: every re-registration merged into its person, near matches to review.
    assert summary["registrations"] == registrations
    assert summary["merged"] == kinds.count("variant") > 0
    assert summary["review"] >= kinds.count("near")
    assert summary["people"] == registrations - summary["merged"]
    # Check-ins through the operators' connectors: 70 % arrive, some move, some leave.
    assert summary["checked_in"] == int(summary["people"] * 0.7)
    assert summary["moved"] >= 1 and summary["checked_out"] >= 1
    assert summary["in_shelters"] == summary["checked_in"] - summary["checked_out"]
    # Supplies: all committed, all but the last delivered, as the city's dashboard sees them.
    assert (summary["supplies_requested"], summary["supplies_committed"],
            summary["supplies_delivered"]) == (4, 4, 3)
    # Safety inquiries: answered only for the person who consented.
    assert summary["inquiry_with_consent_answered"] is True
    assert summary["inquiry_without_consent_answered"] is False
    assert summary["audit_ok"] is True
    # Once only across domains: the health department's flags, matched on the 4 items.
    assert summary["care_flags"] == 3
    for step in ("operator モード", f"受付で {registrations}件の登録", "改ざんなし",
                 summary["dashboard_url"], "職員用トークン", "終了しました"):
        assert step in run.out, step
    numbers = re.findall(r"^\s*([0-9]+[a-z]?)\. ", run.out, re.MULTILINE)
    assert len(numbers) >= 10 and len(numbers) == len(set(numbers)), numbers  # no step twice
    assert len([k for k in run.outputs if k.startswith("/metrics of ")]) == 5  # + health
    assert "tsunagu_api_requests_total" in run.outputs[
        next(k for k in run.outputs if k.startswith("GET") and k.endswith("/metrics (200)"))]
    assert_no_secrets(tmp_path / "work", run.everything, participants=5)
    registered = workload(registrations).forms
    assert collisions(registered, demo_words() + place_names(tmp_path)) == []
    assert_no_personal_data(run.outputs, registered)


def test_demo_help_says_what_the_demos_run(capsys):
    from connector.cli.main import main

    try:
        main(["demo", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "operator mode" in out and "authority" in out and "embedded" not in out
    assert "bosai:" in out and "data-space:" in out
