"""The three public shelter master formats and telling them apart by their header.

Columns are found by name, not position: real files reorder columns, add their own and
drop optional ones (GSI's per-municipality files have no 都道府県名及び市町村名). Header cells
are compared after width normalisation with spaces removed and "、"/"・" unified, so
"崖崩れ・土石流及び地滑り" and "災害種別_洪水" written with a full-width "＿" still match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domains.bosai.importers.source import FormatError, SourceError
from domains.japanese import normalize_width

HAZARDS: dict[str, str] = {
    "flood": "洪水",
    "landslide": "崖崩れ、土石流及び地滑り",
    "storm_surge": "高潮",
    "earthquake": "地震",
    "tsunami": "津波",
    "large_fire": "大規模な火事",
    "inland_flood": "内水氾濫",
    "volcano": "火山現象",
}

GSI_EMERGENCY = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所", *HAZARDS.values(),
    "指定避難所との住所同一", "緯度", "経度", "備考")
GSI_SHELTER = (
    "NO", "共通ID", "都道府県名及び市町村名", "施設・場所名", "住所",
    "指定緊急避難場所との住所同一", "その他市町村長が必要と認める事項", "受入対象者",
    "緯度", "経度", "備考")
OPENDATA = (
    "全国地方公共団体コード", "ID", "名称", "名称_カナ", "名称_英字",
    "所在地_全国地方公共団体コード", "町字ID", "所在地_連結表記", "所在地_都道府県",
    "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)", "緯度", "経度",
    "標高", "電話番号", "内線番号", "連絡先メールアドレス", "連絡先FormURL",
    "連絡先備考（その他、SNSなど）", "郵便番号", "市区町村コード", "地方公共団体名",
    *(f"災害種別_{h}" for h in HAZARDS.values()), "指定避難所との重複", "想定収容人数",
    "対象となる町会・自治会", "URL", "画像", "画像_ライセンス", "備考")


@dataclass(frozen=True)
class ShelterFormat:
    name: str
    label: str
    columns: tuple[str, ...]
    required: tuple[str, ...]


FORMATS: dict[str, ShelterFormat] = {f.name: f for f in (
    ShelterFormat("gsi-emergency", "国土地理院 指定緊急避難場所 (mergeFromCity_2.csv)",
                  GSI_EMERGENCY,
                  ("共通ID", "施設・場所名", "住所", "緯度", "経度", *HAZARDS.values())),
    ShelterFormat("gsi-shelter", "国土地理院 指定避難所 (mergeFromCity_1.csv)", GSI_SHELTER,
                  ("共通ID", "施設・場所名", "住所", "緯度", "経度", "受入対象者")),
    ShelterFormat("opendata", "自治体標準オープンデータセット 指定緊急避難場所一覧", OPENDATA,
                  ("全国地方公共団体コード", "ID", "名称", "緯度", "経度")),
)}
FORMAT_CHOICES = ("auto", *FORMATS)

_HEADER_NOISE = re.compile(r"[\s\ufeff]+")


def header_key(cell: str) -> str:
    return _HEADER_NOISE.sub("", normalize_width(cell)).replace("・", "、").casefold()


@dataclass(frozen=True)
class Header:
    format: ShelterFormat
    index: dict[str, int]  # canonical column name -> position in the row
    unknown: tuple[str, ...]  # columns of the file this format does not know (kept in raw)


def match_header(cells: list[str], fmt: ShelterFormat) -> Header:
    keys = [header_key(c) for c in cells]
    index: dict[str, int] = {}
    for column in fmt.columns:
        k = header_key(column)
        if k in keys:
            index[column] = keys.index(k)
    known = set(index.values())
    unknown = tuple(c for i, c in enumerate(cells) if i not in known and c.strip())
    return Header(fmt, index, unknown)


def detect(cells: list[str], wanted: str = "auto") -> Header:
    """The format of a header row; SourceError naming the missing columns if none fits."""
    if wanted != "auto" and wanted not in FORMATS:
        raise SourceError(f"unknown format {wanted[:40]!r}; use one of {', '.join(FORMAT_CHOICES)}")
    candidates = [FORMATS[wanted]] if wanted != "auto" else list(FORMATS.values())
    headers = [match_header(cells, f) for f in candidates]
    fitting = [h for h in headers if all(c in h.index for c in h.format.required)]
    if fitting:
        return max(fitting, key=lambda h: len(h.index) / len(h.format.columns))
    best = max(headers, key=lambda h: len(h.index))
    missing = [c for c in best.format.required if c not in best.index]
    raise FormatError(
        f"header is not a {best.format.label} header: missing {', '.join(missing)}"
        + ("" if wanted != "auto" else f" (formats tried: {', '.join(FORMATS)})"))


def find_header(rows: list[list[str]], wanted: str = "auto") -> tuple[int, Header]:
    """The first of ``rows`` (a file's first few records) that is a header: some files have
    a title line above it. Returns its position and the header."""
    error: FormatError | None = None
    for i, cells in enumerate(rows):
        try:
            return i, detect(cells, wanted)
        except FormatError as exc:
            error = error or exc
    raise error or FormatError("the file is empty")
