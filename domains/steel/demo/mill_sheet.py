"""The demo mill's inspection certificate as its CSV layout row (``domains.steel.csv_import``,
default Japanese headers): one hot-rolled coil of JIS G 3131 SPHC. Made-up values of a made-up
mill; the logo (A04, which EN 10168 requires) is a 1x1 PNG."""

from __future__ import annotations

import base64
import csv
import io

LOGO_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
LOGO = "data:image/png;base64," + base64.b64encode(LOGO_PNG).decode("ascii")

COIL = "TH-C2607-0001"
HEAT = "TH26A0417"
CERTIFICATE_NUMBER = "THS-2026-000123"
MASS_KG = 12000.0

ROW = {
    "製造者": "東北製鉄株式会社 (架空)", "製造者住所": "港町1-2-3", "製造者郵便番号": "985-0000",
    "製造者市区町村": "宮城県塩竈市", "製造者登録番号": "T8000000000001",
    "証明書種類": "Mill Certificate EN 10204 3.1", "証明書番号": CERTIFICATE_NUMBER,
    "注文者": "つなぐ商事株式会社 (架空)", "注文者住所": "一番町4-5-6",
    "注文者郵便番号": "980-0000", "注文者市区町村": "宮城県仙台市青葉区",
    "注文者登録番号": "T7000012050002", "注文番号": "PO-2026-0417",
    "品名": "熱間圧延鋼帯 (コイル)", "鋼種": "SPHC", "溶鋼番号": HEAT, "数量": "1",
    "厚さ": "3.2", "幅": "1219", "実質量": f"{MASS_KG:.1f}",
    "降伏点": "245", "引張強さ": "355", "伸び": "38",
    "C": "0.05", "Si": "0.01", "Mn": "0.25", "P": "0.015", "S": "0.008",
    "証明文": "We hereby certify that the material described above has been tested and "
              "complies with the order.",
    "発行日": "2026-07-01",
}


def csv_text() -> str:
    """The row as the mill's CSV file (what ``tsunagu steel import`` reads)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ROW))
    writer.writeheader()
    writer.writerow(ROW)
    return out.getvalue()
