"""Synthetic shelters for the demo and the bench: files in the public formats, never real data.

``write_shelter_files(directory, count)`` writes what a municipality would hand over: a GSI
指定避難所 list (mergeFromCity_1.csv: UTF-8 with BOM, 共通ID "E" + the 5-digit municipality
code + a sequence) and a status snapshot CSV with its column mapping (capacity, open,
people now, 和暦 timestamp, needs), and ``import_into(hub, files)`` puts them through the
real importers (as ``tsunagu bosai import-shelters`` / ``import-status`` do) rather than
straight into the store. The sites are fictional places in 仙台市 (the municipality of
``domains.bosai.demo_space`` and of the registry workload ``domains.bosai.registry.workload``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from domains.bosai.importers.formats import GSI_SHELTER
from domains.bosai.importers.report import ImportReport
from domains.bosai.imports import import_shelters
from domains.japanese.dates import JST, to_wareki

if TYPE_CHECKING:
    from domains.bosai.hub import BosaiHub

CITY_CODE5 = "04100"  # 仙台市 without its check digit, as GSI's 共通ID writes it
CITY = "宮城県仙台市"
TOWNS = ["青葉区国分町", "青葉区一番町", "宮城野区榴岡", "宮城野区新田", "若林区荒井",
         "若林区六丁の目", "太白区長町", "太白区富沢", "泉区泉中央", "泉区将監"]
KINDS = ["小学校", "中学校", "高等学校", "市民センター", "体育館", "コミュニティ・センター",
         "公民館", "児童館", "老人福祉センター（福祉避難所）", "地区集会所"]
NEEDS = ["毛布", "飲料水", "粉ミルク", "紙おむつ", "アレルギー対応食", "簡易トイレ", "常備薬"]
STATUS_COLUMNS = {"shelter_id": "避難所ID", "name": "避難所名", "open": "開設状況",
                  "capacity": "収容人数", "count": "避難者数", "timestamp": "更新日時",
                  "needs": "不足物資"}


@dataclass(frozen=True)
class SyntheticShelter:
    id: str  # the GSI 共通ID, which the importer keeps as the site id
    name: str
    address: str
    lat: float
    lon: float
    capacity: int
    welfare: bool


def shelters(count: int, *, seed: int = 2026, capacity: tuple[int, int] = (100, 900)
             ) -> list[SyntheticShelter]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        # Every town with every kind once per hundred, and a few sites already varied.
        town, kind = TOWNS[n % len(TOWNS)], KINDS[(n + n // len(TOWNS)) % len(KINDS)]
        round_ = n // (len(TOWNS) * len(KINDS))  # beyond 100 names: 第2, 第3 ...
        place = town.split("区", 1)[1]
        name = f"{place}{'' if round_ == 0 else f'第{round_ + 1}'}{kind}"
        # 号 21-40: the synthetic people's homes (domains.bosai.registry.workload) are at
        # 1-20, so no home has a shelter's address (tests/test_demo.py looks for them).
        chome, ban, go = rng.randint(1, 9), rng.randint(1, 30), rng.randint(21, 40)
        out.append(SyntheticShelter(
            id=f"E{CITY_CODE5}{n + 1:08d}", name=name,
            address=f"{CITY}{town}{chome}丁目{ban}-{go}",
            lat=round(38.20 + rng.random() * 0.15, 6), lon=round(140.80 + rng.random() * 0.15, 6),
            capacity=rng.randint(*capacity), welfare="福祉避難所" in kind))
    return out


def gsi_shelter_csv(sites: list[SyntheticShelter]) -> bytes:
    """A GSI 指定避難所 list (mergeFromCity_1.csv) with these sites: UTF-8 with BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GSI_SHELTER)
    for n, site in enumerate(sites, start=1):
        writer.writerow([n, site.id, CITY, site.name, site.address, "1", "",
                         "要配慮者" if site.welfare else "", f"{site.lat:.6f}",
                         f"{site.lon:.6f}", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def status_csv(sites: list[SyntheticShelter], at: datetime, *, seed: int = 2026) -> bytes:
    """Every site open, as a municipality's status sheet reports it (和暦, 午前/午後)."""
    rng = random.Random(seed)
    local = at.astimezone(JST)
    half = "午前" if local.hour < 12 else "午後"
    stamp = f"{to_wareki(local.date())}{half}{local.hour % 12}時{local.minute}分"
    out = io.StringIO()
    writer = csv.DictWriter(out, list(STATUS_COLUMNS.values()), lineterminator="\r\n")
    writer.writeheader()
    for site in sites:
        writer.writerow({"避難所ID": site.id, "避難所名": site.name.split("（")[0],
                         "開設状況": "開設",
                         "収容人数": str(site.capacity), "避難者数": "0", "更新日時": stamp,
                         "不足物資": "、".join(rng.sample(NEEDS, rng.randint(0, 2)))})
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class ShelterFiles:
    sites: list[SyntheticShelter]
    master: Path  # GSI 指定避難所
    status: Path  # the status snapshot
    mapping: Path  # its column mapping


def write_shelter_files(directory: Path, count: int, *, at: datetime, seed: int = 2026,
                        capacity: tuple[int, int] = (100, 900)) -> ShelterFiles:
    """The three files a municipality would hand over, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    sites = shelters(count, seed=seed, capacity=capacity)
    files = ShelterFiles(sites, directory / "mergeFromCity_1.csv",
                         directory / "shelter_status.csv", directory / "shelter_status.json")
    files.master.write_bytes(gsi_shelter_csv(sites))
    files.status.write_bytes(status_csv(sites, at, seed=seed))
    files.mapping.write_text(json.dumps({"columns": STATUS_COLUMNS}, ensure_ascii=False),
                             encoding="utf-8")
    return files


async def import_into(hub: BosaiHub, files: ShelterFiles) -> tuple[ImportReport, ImportReport]:
    """Import the files through the hub as the CLI would: the master into the site store,
    the status into the timeline (published as shelter-status records once the hub is set
    up as a municipality). Open dashboards are told."""
    master = import_shelters(files.master, hub.sites, format="gsi-shelter")
    hub.feed.notify("sites")
    status, _ = await hub.import_status(files.status, files.mapping)
    return master, status
