"""Shelter master CSVs (GSI 指定緊急避難場所 / 指定避難所, 自治体標準オープンデータセット) to sites.

``read_shelters(data)`` decodes, finds the header, reads every row and returns the sites
and a report in which every data row is imported, corrected or refused. It does no I/O and
raises only TsunaguError (a file that is not a shelter list at all); bad rows are reported,
never raised.

Site keys: GSI's 共通ID is national ("E1310100002201": E, the 5-digit municipality code,
a sequence), so it is the key as is. The open data set's ID is only unique within its
municipality, so its key is "<全国地方公共団体コード>-<ID>".

A capacity, an elevation or a secondary municipality code that cannot be read ("多数",
"約10m") does not refuse its row: the site is imported without it, the column in
``Site.flagged`` and the cell kept as written. What identifies and places a site (its id
and municipality code, its name, its coordinates) still refuses the row.

A cell holding a My Number (個人番号) is withheld by ``table.rows`` (see there) before this
module reads the row. What happens to the row follows the rule for an unusable cell in
that column: in the columns a site cannot be imported without (``REQUIRED``: its id, its
name, its coordinates, and for the open data set its 全国地方公共団体コード) the row is
refused with ``personal_number.refused``; in any other column (address, notes, capacity,
elevation, phone, a column of the municipality's own ...) the site is imported as if the
cell were empty, with a correction naming the column. Either way the cell is in neither
``Site.raw`` nor anything parsed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domains.bosai.errors import BosaiCode
from domains.bosai.importers import cells, personal, table
from domains.bosai.importers.formats import HAZARDS, Header, find_header
from domains.bosai.importers.report import CellError, ImportReport, RowReport
from domains.bosai.importers.source import SourceText, decode
from domains.bosai.importers.table import Progress
from domains.japanese import normalize_width
from trust.legal_id import local_government_check_digit

_GSI_ID = re.compile(r"[A-Za-z]?(\d{5})\d+")
MAX_ID = 64
_GSI_REQUIRED = ("共通ID", "施設・場所名", "緯度", "経度")
REQUIRED: dict[str, tuple[str, ...]] = {
    "gsi-emergency": _GSI_REQUIRED, "gsi-shelter": _GSI_REQUIRED,
    "opendata": ("全国地方公共団体コード", "ID", "名称", "緯度", "経度"),
}


@dataclass
class Site:
    """One designated site of the master, parsed, with the row it came from."""

    id: str
    local_id: str
    name: str
    format: str
    line: int
    raw: dict[str, str]
    types: list[str]
    lat: float
    lon: float
    name_suffix: str | None = None
    name_kana: str | None = None
    name_en: str | None = None
    municipality_code: str | None = None
    municipality_name: str | None = None
    address: str | None = None
    building: str | None = None
    postal_code: str | None = None
    phone: list[str] = field(default_factory=list)
    elevation: float | None = None
    hazards: dict[str, bool | None] = field(default_factory=dict)
    same_address_as_other_type: bool | None = None
    also_designated_shelter: bool | None = None
    capacity: cells.Capacity | None = None
    accepted_people: str | None = None
    other_matters: str | None = None
    neighbourhoods: list[str] = field(default_factory=list)
    url: str | None = None
    notes: str | None = None
    flagged: dict[str, str] = field(default_factory=dict)  # column -> why it was not read

    def parsed(self) -> dict[str, Any]:
        """The parsed values as JSON (``raw`` apart)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("raw", "capacity")}
        out["capacity"] = self.capacity.to_dict() if self.capacity else None
        return {k: v for k, v in out.items() if v not in (None, [], {})}


def _cell(row: RowReport, read: Callable[..., Any], *args: Any) -> Any:
    """Run a cell reader; a CellError becomes a problem of the row (and None)."""
    try:
        return read(row, *args)
    except CellError as exc:
        row.refuse(args[0] if args and isinstance(args[0], str) else None, exc.message, exc.code)
        return None


class _RowReader:
    def __init__(self, header: Header, values: list[str], row: RowReport) -> None:
        self.header, self.values, self.row = header, values, row

    def get(self, column: str) -> str:
        i = self.header.index.get(column)
        return self.values[i] if i is not None and i < len(self.values) else ""

    def text(self, column: str) -> str | None:
        raw = self.get(column)
        return (cells.text(self.row, column, raw) or None) if raw.strip() else None

    def flag(self, column: str) -> bool | None:
        return cells.flag(self.row, column, self.get(column))


@functools.lru_cache(maxsize=4096)  # ~1,700 municipalities; the national file repeats them
def _with_check_digit(base: str) -> str:
    return base + str(local_government_check_digit(base))


def _gsi_site(r: _RowReader, fmt: str) -> Site | None:
    row = r.row
    local_id = normalize_width(r.get("共通ID")).strip()
    row.key = local_id or None
    code = None
    if not local_id:
        row.refuse("共通ID", "共通ID is empty", BosaiCode.IMPORT_ID)
    elif m := _GSI_ID.fullmatch(local_id):
        base = m[1]
        if not 1 <= int(base[:2]) <= 47:
            row.refuse("共通ID", f"共通ID {local_id!r} names prefecture {base[:2]}; "
                       "prefecture codes run from 01 to 47", BosaiCode.IMPORT_MUNICIPALITY_CODE)
        else:
            code = _with_check_digit(base)
    if local_id and local_id != r.get("共通ID").strip():
        row.correct("共通ID", f"{r.get('共通ID').strip()!r} read as {local_id!r}")
    name = _cell(row, cells.site_name, "施設・場所名", r.get("施設・場所名"))
    point = _coordinates(r)
    address = cells.address(row, "住所", r.get("住所")) or None
    if row.problems:
        return None
    types = (["designated_emergency_evacuation_site"] if fmt == "gsi-emergency"
             else ["designated_shelter"])
    site = Site(id=local_id, local_id=local_id, name=name.name, format=fmt, line=row.line,
                raw={}, types=types, lat=point[0], lon=point[1], name_suffix=name.suffix,
                municipality_code=code, municipality_name=r.text("都道府県名及び市町村名"),
                address=address, notes=r.text("備考"))
    if fmt == "gsi-emergency":
        site.hazards = {k: r.flag(v) for k, v in HAZARDS.items()}
        site.same_address_as_other_type = r.flag("指定避難所との住所同一")
    else:
        site.same_address_as_other_type = r.flag("指定緊急避難場所との住所同一")
        site.accepted_people = r.text("受入対象者")
        site.other_matters = r.text("その他市町村長が必要と認める事項")
    if name.welfare or "福祉避難所" in (site.accepted_people or "") + (site.notes or ""):
        site.types.append("welfare_shelter")
    return site


def _coordinates(r: _RowReader) -> tuple[float, float]:
    try:
        return cells.coordinates(r.row, r.get("緯度"), r.get("経度"))
    except CellError as exc:
        r.row.refuse("緯度/経度", exc.message, exc.code)
        return (0.0, 0.0)


def _flag(row: RowReport, flagged: dict[str, str], column: str, message: str,
          code: str) -> None:
    """A cell that costs itself, not the site (issue 12): imported without it, the column
    flagged (a correction), the cell kept as written in ``raw``."""
    row.correct(column, f"{message}: imported without it, kept as written", code)
    flagged[column] = message


def _capacity(r: _RowReader, flagged: dict[str, str], column: str = "想定収容人数"
              ) -> cells.Capacity | None:
    """A capacity no reader understands ("多数")."""
    try:
        return cells.capacity(r.row, column, r.get(column))
    except CellError as exc:
        _flag(r.row, flagged, column, exc.message, exc.code)
        return None


def _opendata_site(r: _RowReader) -> Site | None:
    row = r.row
    code_column = "全国地方公共団体コード"
    code = _cell(row, cells.municipality_code, code_column, r.get(code_column))
    if code is None and not row.problems:
        row.refuse("全国地方公共団体コード", "全国地方公共団体コード is empty",
                   BosaiCode.IMPORT_MUNICIPALITY_CODE)
    flagged: dict[str, str] = {}
    for column in ("所在地_全国地方公共団体コード", "市区町村コード"):
        # Secondary codes: one that cannot be read costs the cell, not the site.
        try:
            cells.municipality_code(row, column, r.get(column))
        except CellError as exc:
            _flag(row, flagged, column, exc.message, exc.code)
    local_id = normalize_width(r.get("ID")).strip()
    row.key = f"{code or r.get(code_column).strip()}-{local_id}"
    if not local_id:
        row.refuse("ID", "ID is empty", BosaiCode.IMPORT_ID)
    name = _cell(row, cells.site_name, "名称", r.get("名称"))
    point = _coordinates(r)
    address = r.get("所在地_連結表記")
    if not address.strip():
        address = "".join(r.get(c) for c in ("所在地_都道府県", "所在地_市区町村", "所在地_町字",
                                             "所在地_番地以下"))
        if address.strip():
            row.correct("所在地_連結表記", "empty: joined from 所在地_都道府県 .. 所在地_番地以下")
    address = cells.address(row, "所在地_連結表記", address) or None
    capacity = _capacity(r, flagged)
    elevation = None
    if (raw_elevation := normalize_width(r.get("標高")).strip()):
        try:
            elevation = float(raw_elevation)
        except ValueError:
            _flag(row, flagged, "標高", f"標高 {raw_elevation[:40]!r} is not a number of metres",
                  BosaiCode.IMPORT_CELL)
    if row.problems:
        return None
    also_shelter = r.flag("指定避難所との重複")
    types = ["designated_emergency_evacuation_site"]
    if also_shelter:
        types.append("designated_shelter")
    if name.welfare:
        types.append("welfare_shelter")
    return Site(
        id=f"{code}-{local_id}", local_id=local_id, name=name.name, format="opendata",
        line=row.line, raw={}, types=types, lat=point[0], lon=point[1],
        name_suffix=name.suffix, name_kana=r.text("名称_カナ"), name_en=r.text("名称_英字"),
        municipality_code=code, municipality_name=r.text("地方公共団体名"), address=address,
        building=r.text("建物名等(方書)"), postal_code=r.text("郵便番号"),
        phone=cells.values(r.get("電話番号")), elevation=elevation,
        hazards={k: r.flag(f"災害種別_{v}") for k, v in HAZARDS.items()},
        also_designated_shelter=also_shelter, capacity=capacity,
        neighbourhoods=cells.values(r.get("対象となる町会・自治会")), url=r.text("URL"),
        notes=r.text("備考"), flagged=flagged)


def read_shelters(data: bytes, format: str = "auto", encoding: str = "auto",
                  source: str = "", progress: Progress | None = None,
                  decoded: SourceText | None = None) -> tuple[ImportReport, list[Site]]:
    """Parse a shelter master CSV; every data row is in the report, valid ones in the sites.
    ``decoded``: ``data`` already decoded with ``encoding`` (it is not decoded again)."""
    decoded = decoded or decode(data, encoding)
    report = ImportReport("shelters", source, decoded.sha256, decoded.encoding)
    header, names, data_rows = table.rows(
        decoded, report, lambda head: find_header(head, format), progress,
        required=lambda h: {h.index[c] for c in REQUIRED[h.format.name] if c in h.index})
    report.format = header.format.name
    if unknown := [c for c in header.unknown if not personal.my_number_columns([c])]:
        report.file_notes.append(f"columns kept in the raw row only: {', '.join(unknown)}")
    id_column = "ID" if header.format.name == "opendata" else "共通ID"
    sites: list[Site] = []
    seen: dict[str, int] = {}
    for row, values in data_rows:
        reader = _RowReader(header, values, row)
        site = (_opendata_site(reader) if header.format.name == "opendata"
                else _gsi_site(reader, header.format.name))
        if site is None:
            continue
        row.key = site.id
        if len(site.id) > MAX_ID:
            row.refuse(id_column, f"id is longer than {MAX_ID} characters", BosaiCode.IMPORT_ID)
        elif site.id in seen:
            row.refuse(id_column, f"duplicate id {site.id!r}: first on line {seen[site.id]}",
                       BosaiCode.IMPORT_DUPLICATE)
        else:
            seen[site.id] = row.line
            site.raw = table.raw_cells(names, values, row)
            sites.append(site)
    return report, sites
