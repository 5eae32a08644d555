"""The steel vocabulary in one place: context URL and pin, the record type, the JIS grades the
hub knows with their Japanese labels."""

from __future__ import annotations

from pathlib import Path

from connector.plugins.contract import ContextSpec
from trust.jsonld import CREDENTIALS_V2, TSUNAGU_V1

HERE = Path(__file__).parent

CONTEXT_URL = "https://w3id.org/tsunagu/steel/v1"
NAMESPACE = "https://w3id.org/tsunagu/steel#"
# Pinned here, not computed: an edited context file must be refused, not trusted.
CONTEXT = ContextSpec(CONTEXT_URL, HERE / "steel-v1.jsonld",
                      "2603ea8ca9cbcbfd80678852e1af91b132d84d253b4dd17c89a7affc99545eb9")
RECORD_CONTEXT = (CREDENTIALS_V2, TSUNAGU_V1, CONTEXT_URL)

CERTIFICATE = "MillCertificate"
CUSTODY_EVENT = "CustodyEvent"
DERIVED_CERTIFICATE = "DerivedCertificate"
EN10168_SCHEMA = HERE / "spec" / "schema.json"
EN10168_SCHEMA_URL = "https://schemas.materialidentity.org/en10168-schemas/v0.5.0/schema.json"


def type_iri(term: str) -> str:
    return NAMESPACE + term


# EN 10168 groups with their Japanese labels, for pages and CLI output.
GROUPS: dict[str, tuple[str, str]] = {
    "CommercialTransaction": ("A 商取引", "A commercial transaction"),
    "ProductDescription": ("B 製品", "B product description"),
    "Inspection": ("C 検査・化学成分", "C inspection and chemistry"),
    "OtherTests": ("D その他の試験", "D other tests"),
    "Validation": ("Z 証明", "Z validation"),
}


def group_of(path: str) -> str:
    """The Japanese label of the EN 10168 group a JSON pointer is in ("C 検査・化学成分")."""
    parts = path.split("/")
    return GROUPS.get(parts[2], ("", ""))[0] if len(parts) > 2 else ""
