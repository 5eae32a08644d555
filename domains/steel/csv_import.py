"""A CSV layout for mills without EN 10168 JSON: one row per certificate, columns mapped to
EN 10168 fields (the default mapping reads Japanese headers; a mill passes its own). Each row
becomes an EN 10168 v0.5.0 document and goes through the same import as JSON.

A mapping file (TOML or JSON, same structure) overrides the default column names, like the
bosai status import's:

    encoding = "cp932"              # default utf-8 (a BOM is skipped)
    [columns]                       # EN 10168 field -> column (keys of DEFAULT_COLUMNS)
    A03 = "ミルシートNo"
    B07 = "チャージNo"              # several heat numbers: separated by spaces
    [chemistry]                     # element symbol -> column (mass %); replaces the default
    C = "C(%)"
    Mn = "Mn(%)"

Unknown keys are errors: a typo must not silently drop a column.
"""

from __future__ import annotations

import base64
import csv
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domains.steel import vocab
from domains.steel.errors import Problem, SteelCode

# EN 10168 field -> CSV column. Chemistry: element symbol -> column (mass %). EN 10168 wants
# an identifier of each company (VAT or DUNS): a Japanese company gives its 適格請求書発行事業者
# 登録番号 ("T" + 13 digits) as its VAT-like identifier.
DEFAULT_COLUMNS: dict[str, str] = {
    "A01.Name": "製造者", "A01.Street": "製造者住所", "A01.ZipCode": "製造者郵便番号",
    "A01.City": "製造者市区町村", "A01.VAT": "製造者登録番号",
    "A02": "証明書種類", "A03": "証明書番号", "A05": "検査部門",
    "A06.Name": "注文者", "A06.Street": "注文者住所", "A06.ZipCode": "注文者郵便番号",
    "A06.City": "注文者市区町村", "A06.VAT": "注文者登録番号", "A07": "注文番号",
    "B01": "品名", "B02": "鋼種", "B07": "溶鋼番号", "B08": "数量", "B09.Thickness": "厚さ",
    "B09.Width": "幅", "B10": "長さ", "B13": "実質量",
    "C11": "降伏点", "C12": "引張強さ", "C13": "伸び", "C43": "シャルピー",
    "Z01": "証明文", "Z02": "発行日",
}
DEFAULT_CHEMISTRY: dict[str, str] = {e: e for e in ("C", "Si", "Mn", "P", "S", "Cu", "Ni",
                                                    "Cr", "Mo", "V", "Nb", "Ti", "B")}
REQUIRED = ("A01.Name", "A01.Street", "A01.ZipCode", "A01.City", "A01.VAT", "A03", "A06.Name",
            "A06.Street", "A06.ZipCode", "A06.City", "A06.VAT", "A07", "B02", "B07",
            "B09.Thickness", "B09.Width", "Z02")


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str]
    chemistry: dict[str, str]
    encoding: str = "utf-8-sig"


DEFAULT_MAPPING = ColumnMapping(DEFAULT_COLUMNS, DEFAULT_CHEMISTRY)


def load_mapping(path: Path) -> ColumnMapping:
    """The mapping of a TOML or JSON file over the default; ``ValueError`` naming what is
    wrong (an unknown key, a value that is not a column name)."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    unknown = set(data) - {"encoding", "columns", "chemistry"}
    unknown |= {f"columns.{k}" for k in data.get("columns", {}) if k not in DEFAULT_COLUMNS}
    if unknown:
        raise ValueError(f"unknown keys in the mapping: {', '.join(sorted(unknown))}")
    for table in ("columns", "chemistry"):
        for key, column in data.get(table, {}).items():
            if not isinstance(column, str) or not column:
                raise ValueError(f"{table}.{key} must name a column")
    return ColumnMapping({**DEFAULT_COLUMNS, **data.get("columns", {})},
                    dict(data.get("chemistry") or DEFAULT_CHEMISTRY),
                    "utf-8-sig" if data.get("encoding", "utf-8") == "utf-8"
                    else data["encoding"])


def _company(get: Mapping[str, str], prefix: str) -> dict[str, Any]:
    return {"Name": get[f"{prefix}.Name"], "Street": [get[f"{prefix}.Street"]],
            "ZipCode": get[f"{prefix}.ZipCode"], "City": get[f"{prefix}.City"],
            "Country": "JP", "Identifiers": {"VAT": get[f"{prefix}.VAT"]}}


def _num(row: Mapping[str, str], column: str | None) -> float | None:
    text = (row.get(column) or "").strip() if column else ""
    return float(text) if text else None


def row_to_document(row: Mapping[str, str], line: int, logo: str,
                    columns: Mapping[str, str] = DEFAULT_COLUMNS,
                    chemistry: Mapping[str, str] = DEFAULT_CHEMISTRY) -> dict[str, Any]:
    """The EN 10168 document of one row; ``logo`` is the mill's mark (A04, a PNG data URL
    EN 10168 requires). ``ValueError`` naming the column when a value is missing or cannot
    be read (the caller reports it as ``steel.csv_invalid``)."""
    get = {k: (row.get(c) or "").strip() for k, c in columns.items()}
    missing = [columns[k] for k in REQUIRED if not get.get(k)]
    if missing:
        raise ValueError(f"line {line}: missing {', '.join(missing)}")
    try:
        tensile = {k: {"Property": p, "Value": v, "Unit": u} for k, p, u in (
            ("C11", "降伏点 Yield point", "MPa"), ("C12", "引張強さ Tensile strength", "MPa"),
            ("C13", "伸び Elongation", "%")) if (v := _num(row, columns.get(k))) is not None}
        elements = {f"C{71 + i}": {"Symbol": sym, "Actual": {"Value": row[col].strip()},
                                   "Unit": "%"}
                    for i, (sym, col) in enumerate(chemistry.items())
                    if (row.get(col) or "").strip()}
        for e in elements.values():
            float(e["Actual"]["Value"])
        thickness = _num(row, columns.get("B09.Thickness"))
        width = _num(row, columns.get("B09.Width"))
        length = _num(row, columns.get("B10"))
        pieces = _num(row, columns.get("B08"))
        actual_kg = _num(row, columns.get("B13"))
        charpy = _num(row, columns.get("C43"))
    except ValueError as exc:
        raise ValueError(f"line {line}: a number cannot be read ({exc})") from None
    inspection: dict[str, Any] = {"C00": get["B07"].split()[0]}
    if elements:
        inspection["ChemicalComposition"] = elements
    if tensile:
        inspection["TensileTest"] = tensile
    if charpy is not None:
        inspection["NotchedBarImpactTest"] = {"C43": {"Value": charpy, "Unit": "J"}}
    product: dict[str, Any] = {"B01": get.get("B01") or "steel product",
                               "B02": {"SteelDesignation": [get["B02"]]},
                               "B07": get["B07"].split()}
    if pieces is not None:
        product["B08"] = int(pieces)
    product["B09"] = {"Form": "Plate", "Thickness": thickness, "Width": width, "Unit": "mm"}
    if length is not None:
        product["B10"] = {"Property": "Length", "Value": length, "Unit": "mm"}
    if actual_kg is not None:  # what a processor's derived certificates divide
        product["B13"] = {"Property": "Actual mass", "Value": actual_kg, "Unit": "kg"}
    return {"RefSchemaUrl": vocab.EN10168_SCHEMA_URL, "Certificate": {
        "CertificateLanguages": ["EN"],
        "CommercialTransaction": {"A01": _company(get, "A01"),
                                  "A02": get.get("A02") or "Mill Certificate EN 10204 3.1",
                                  "A03": get["A03"], "A04": logo,
                                  "A05": get.get("A05") or "Factory Production Control",
                                  "A06": _company(get, "A06"), "A07": get["A07"]},
        "ProductDescription": product,
        "Inspection": inspection,
        "Validation": {"Z01": get.get("Z01") or "We hereby certify that the material "
                       "described above has been tested and complies with the order.",
                       "Z02": get["Z02"]},
    }}


def logo_data_url(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def read_csv(path: Path, logo: str, mapping: ColumnMapping = DEFAULT_MAPPING
             ) -> Iterator[tuple[str, dict[str, Any] | Problem]]:
    """(row label, document or the problem of that row) for each row of ``path``."""
    with path.open(encoding=mapping.encoding, newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            label = f"{path}:{n}"
            try:
                yield label, row_to_document(row, n, logo, mapping.columns,
                                             mapping.chemistry)
            except ValueError as exc:
                yield label, Problem(f"/line/{n}", SteelCode.CSV_INVALID, str(exc))
