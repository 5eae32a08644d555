"""Federated catalog benchmark: index cost, search latency and node memory at N datasets.

    .venv/bin/python bench/catalog.py --datasets 10000 --json out.json

Generates 100 participants (municipalities, shelter operators, river offices, hospitals,
suppliers) with N/100 datasets each: Japanese and English titles and descriptions built from
real place names and disaster-data vocabulary, keywords, themes, types, spatial coverage
(prefecture or municipality codes with check digits), temporal coverage, and two to four
offers each from a dozen policy shapes (roles, purposes, regions, time windows, prohibitions).

What runs is the catalog node's own ingestion (``catalog.service.Catalog.ingest_catalog``,
DSP Catalog documents as connectors answer them, parsed, policy-checked and indexed); the
NATS crawl in front of it is not measured here (no crawler yet, see docs/catalog.md), so
``crawl_s`` is the ingestion of every participant's catalog, and ``change_visible_ms_p99`` the
time from a changed entry handed to the node until a search returns it.

Search mix (``--queries``, default 2,000): 40 % text (1 to 6 characters, kanji, kana
readings, English), 30 % text + facets (area, role, type, temporal), 30 % policy-filtered
(asker role, purpose, area) with text. ``node_rss_mb`` is this process's VmRSS after the
searches (SudachiPy dictionary included: it is memory-mapped, see docs/catalog.md).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.index import Filters
from catalog.policy import Asker
from catalog.service import Catalog

PLACES = [("04100", "仙台市", "Sendai"), ("04202", "石巻市", "Ishinomaki"),
          ("04203", "塩竈市", "Shiogama"), ("13101", "千代田区", "Chiyoda"),
          ("13104", "新宿区", "Shinjuku"), ("27100", "大阪市", "Osaka"),
          ("23100", "名古屋市", "Nagoya"), ("01100", "札幌市", "Sapporo"),
          ("40130", "福岡市", "Fukuoka"), ("22100", "静岡市", "Shizuoka"),
          ("15100", "新潟市", "Niigata"), ("34100", "広島市", "Hiroshima"),
          ("07201", "福島市", "Fukushima"), ("03201", "盛岡市", "Morioka"),
          ("43100", "熊本市", "Kumamoto"), ("47201", "那覇市", "Naha")]
SUBJECTS = [("指定避難所一覧", "designated evacuation shelters", "bosai:ShelterList"),
            ("指定緊急避難場所", "emergency evacuation sites", "bosai:EvacuationSite"),
            ("避難所開設状況", "shelter opening status", "bosai:ShelterStatus"),
            ("避難行動要支援者名簿", "list of people needing evacuation support",
             "bosai:SupportList"),
            ("河川水位観測データ", "river water level observations", "river:WaterLevel"),
            ("雨量観測データ", "rainfall observations", "river:Rainfall"),
            ("ハザードマップ（洪水）", "flood hazard map", "bosai:HazardMap"),
            ("ハザードマップ（土砂災害）", "landslide hazard map", "bosai:HazardMap"),
            ("救援物資の要請", "relief supply requests", "bosai:SupplyRequest"),
            ("医療機関の受入可能状況", "hospital admission capacity", "pmh:Capacity"),
            ("予防接種記録", "vaccination records", "pmh:Immunization"),
            ("給水所の位置", "water supply points", "bosai:WaterPoint"),
            ("道路通行止め情報", "road closures", "road:Closure"),
            ("被害状況報告", "damage reports", "bosai:DamageReport"),
            ("鋼材検査証明書", "steel mill test certificates", "steel:Certificate")]
ROLES = ["municipality", "shelter_operator", "river_office", "medical_institution",
         "relief_supplier"]
PURPOSES = ["disaster_response", "research", "medical_care", "statistics"]
THEMES = ["http://publications.europa.eu/resource/authority/data-theme/ENVI",
          "http://publications.europa.eu/resource/authority/data-theme/HEAL",
          "http://publications.europa.eu/resource/authority/data-theme/GOVE",
          "http://publications.europa.eu/resource/authority/data-theme/TRAN"]


def check_digit(code5: str) -> str:
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True))
    rest = total % 11
    return str((11 - rest) % 10) if rest else "0"


def c(left: str, op: str, right: object) -> dict:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def offers_for(rng: random.Random, ident: str, pref: str) -> list[dict]:
    shapes = [
        [],
        [c("tsunagu:role", "isAnyOf", ["shelter_operator"]), c("odrl:purpose", "eq",
                                                                "disaster_response")],
        [c("tsunagu:role", "isAnyOf", ["municipality", "shelter_operator"])],
        [c("odrl:spatial", "isPartOf", pref)],
        [c("odrl:purpose", "eq", rng.choice(PURPOSES))],
        [c("tsunagu:role", "isAnyOf", [rng.choice(ROLES)]), c("odrl:spatial", "isPartOf",
                                                              pref)],
        [c("odrl:dateTime", "lteq", {"@value": "2030-03-31T00:00:00Z",
                                     "@type": "xsd:dateTime"})],
        [c("tsunagu:role", "isAnyOf", ["medical_institution"]),
         c("odrl:purpose", "eq", "medical_care")],
        [c("odrl:count", "lteq", {"@value": 100, "@type": "xsd:integer"})],  # DSP: typed
    ]
    out = []
    for j in range(rng.randint(2, 4)):
        shape = rng.choice(shapes)
        o = {"@id": f"{ident}#offer-{j}", "@type": "Offer",
             "permission": [{"action": "use", "constraint": shape}]}
        if rng.random() < 0.1:
            o["prohibition"] = [{"action": "odrl:distribute"}]
        out.append(o)
    return out


def participants_of() -> list[dict]:
    participants = []
    for i in range(100):
        code, ja, en = PLACES[i % len(PLACES)]
        role = ROLES[i % len(ROLES)]
        participants.append({"id": f"did:key:z6MkBench{i:03d}", "roles": [role],
                             "name": f"{ja}{KINDS[i % 5]} {i}"})
    return participants


KINDS = ["役所", "避難所運営会", "河川事務所", "病院", "物資センター"]


def catalog_of(p: dict, i: int, n: int, seed: int = 7) -> dict:
    """Participant ``i``'s DSP Catalog (made when asked: the node's memory is measured, not
    the generator's)."""
    rng = random.Random(seed * 1000 + i)
    per = max(1, n // 100)
    datasets = []
    for k in range(per):
        code, ja, en = rng.choice(PLACES)
        subj_ja, subj_en, dtype = rng.choice(SUBJECTS)
        year = rng.randint(2015, 2026)
        ident = f"https://data.example.jp/{i}/{k}"
        spatial = code + check_digit(code) if rng.random() < 0.7 else code[:2]
        entry = {
            "@id": ident, "@type": "Dataset",
            "dct:title": f"{ja} {subj_ja} {year}年度" if rng.random() < 0.8 else
            f"{en} {subj_en} {year}",
            "dct:description": f"{ja}が公開する{subj_ja}。{subj_en} published by {en} "
                               f"city for fiscal year {year}. 更新頻度は毎日。",
            "dcat:keyword": [subj_ja[:4], en, "防災" if dtype.startswith("bosai")
                             else "オープンデータ"],
            "dcat:theme": [rng.choice(THEMES)],
            "dct:type": dtype, "tsunagu:domain": dtype.split(":")[0],
            "dct:spatial": spatial,
            "dct:temporal": {"dcat:startDate": f"{year}-04-01",
                             "dcat:endDate": f"{year + 1}-03-31"},
            "dct:modified": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                            f"T0{rng.randint(0, 9)}:00:00Z",
            "hasPolicy": offers_for(rng, ident, code[:2]),
            "distribution": [{"@type": "Distribution", "format": "nats-jetstream",
                              "accessService": f"{p['id']}#dsp"}],
        }
        datasets.append(entry)
    return {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "Catalog", "@id": f"{p['id']}#catalog",
            "participantId": p["id"], "dataset": datasets}


QUERIES = ["避難所", "避難", "ひなんじょ", "河川", "水位", "ハザード", "はざーどまっぷ",
           "shelter", "river water", "仙台", "せんだい", "物資", "医療", "予防接種", "雨",
           "Sendai shelters", "道路", "被害", "鋼材", "2024年度", "所", "hospital", "map"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def search_mix(node: Catalog, queries: int) -> tuple[list[float], dict[str, list[float]]]:
    """Search latencies (ms) of the query mix, all and by kind."""
    rng = random.Random(11)
    lat: list[float] = []
    kinds: dict[str, list[float]] = {"text": [], "facet": [], "policy": []}
    for _ in range(queries):
        r = rng.random()
        q = rng.choice(QUERIES)
        code = rng.choice(PLACES)[0]
        start = time.perf_counter()
        if r < 0.4:
            node.search(q)
            kind = "text"
        elif r < 0.7:
            f = rng.choice([Filters(area=code[:2]), Filters(area=code),
                            Filters(role=(rng.choice(ROLES),)),
                            Filters(dataset_type=(rng.choice(SUBJECTS)[2],)),
                            Filters(temporal_from="2024-01-01", temporal_to="2024-12-31")])
            node.search(q if rng.random() < 0.7 else "", f, facets=rng.random() < 0.5)
            kind = "facet"
        else:
            asker = Asker(roles=(rng.choice(ROLES),), purpose=rng.choice(PURPOSES),
                          area=code[:2])
            node.search(q if rng.random() < 0.7 else "", asker=asker)
            kind = "policy"
        ms = (time.perf_counter() - start) * 1000
        lat.append(ms)
        kinds[kind].append(ms)
    return lat, kinds


def figures(node: Catalog, crawl_s: float, change: list[float], lat: list[float],
            kinds: dict[str, list[float]], queries: int) -> dict:
    """The JSON result both modes print (``node_rss_mb``: this process, the node's)."""
    return {
        "datasets": node.index.count(), "participants": len(node.index.participants()),
        "crawl_s": round(crawl_s, 2),
        "change_visible_ms_p50": round(pct(change, 50), 2),
        "change_visible_ms_p99": round(pct(change, 99), 2),
        "search_ms_p50": round(pct(lat, 50), 2), "search_ms_p99": round(pct(lat, 99), 2),
        **{f"search_{k}_ms_p50": round(pct(v, 50), 2) for k, v in kinds.items() if v},
        **{f"search_{k}_ms_p99": round(pct(v, 99), 2) for k, v in kinds.items() if v},
        "distinct_policies": len(node.index.policies()),
        "node_rss_mb": round(rss_mb(), 1), "queries": queries,
        "mean_search_ms": round(statistics.fmean(lat), 2),
    }


def changed_entry(doc: dict, i: int) -> tuple[dict, str]:
    """Change ``i`` of the benchmark: an entry of ``doc`` retitled with a unique marker."""
    entry = dict(doc["dataset"][i % len(doc["dataset"])])
    marker = f"変更{i:04d}テスト"
    entry["dct:title"] = f"{marker} {entry['dct:title']}"
    return entry, marker


def run(n: int, queries: int, path: str) -> dict:
    participants = participants_of()
    node = Catalog(path)
    node.set_participants(participants)
    crawl_s = 0.0
    for i, p in enumerate(participants):
        doc = catalog_of(p, i, n)
        t0 = time.perf_counter()
        node.ingest_catalog(p["id"], doc)
        crawl_s += time.perf_counter() - t0
    del doc
    lat, kinds = search_mix(node, queries)
    # a change until a search returns it
    change: list[float] = []
    did, doc = participants[0]["id"], catalog_of(participants[0], 0, n)
    for i in range(200):
        entry, marker = changed_entry(doc, i)
        start = time.perf_counter()
        node.ingest_dataset(did, entry)
        page = node.search(marker)
        assert page.total == 1 and page.hits[0].dataset.id == entry["@id"], marker
        change.append((time.perf_counter() - start) * 1000)
    out = figures(node, crawl_s, change, lat, kinds, queries)
    node.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--db", default="",
                        help="index file (default: a temporary file, as a node keeps it; "
                             "':memory:' puts it in the RSS)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--nats", action="store_true",
                        help="crawl and follow change events over NATS: 100 participants "
                             "answering DSP catalog requests with signed envelopes in pages "
                             "and publishing signed change events (bench/catalog_nats.py)")
    parser.add_argument("--operator", action="store_true",
                        help="with --nats: every participant in its own NATS account, the "
                             "node following the change events its account imports")
    args = parser.parse_args()
    if args.nats:
        from bench.catalog_nats import run as run_nats
        result = run_nats(args.datasets, args.queries, args.db, operator=args.operator)
    elif args.db:
        result = run(args.datasets, args.queries, args.db)
    else:
        with tempfile.TemporaryDirectory(prefix="tsunagu-catalog-") as tmp:
            result = run(args.datasets, args.queries, str(Path(tmp) / "catalog.sqlite"))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
